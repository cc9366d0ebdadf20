"""The data contract's features as the scikit-learn model reads them, for train.py and inference.py.

The preprocess step writes each split label first, then the features in the contract's order
as the raw data holds them: numbers, a categorical feature's text, an empty cell for a missing
value. Requests carry the same feature cells, without the label. data_contract.json (beside the
training split, and copied into the model) says which feature is which. Python 3.9 and the
scikit-learn image's packages (numpy, pandas 1.1) only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# The preprocess step's name for it (contracts.DATA_CONTRACT_FILE; a test keeps them equal).
CONTRACT_FILE = "data_contract.json"
CATEGORICAL = "categorical"


def read_contract(directory: Path) -> dict[str, Any]:
    path = directory / CONTRACT_FILE
    if not path.is_file():
        raise ValueError(f"{path} is missing: the preprocess step writes the data contract beside each split.")
    return dict(json.loads(path.read_text()))


def names(contract: Mapping[str, Any], categorical: bool) -> list[str]:
    """The numeric (and integer) or the categorical features, in the contract's order."""
    return [f["name"] for f in contract["features"] if (f["kind"] == CATEGORICAL) is categorical]


def feature_table(cells: pd.DataFrame, contract: Mapping[str, Any]) -> pd.DataFrame:
    """Text cells, one column per feature in contract order -> typed columns (missing: NaN).

    Raises ValueError naming the column and value that is not what the contract says.
    """
    features = contract["features"]
    if cells.shape[1] != len(features):
        raise ValueError(f"The model expects {len(features)} features; got {cells.shape[1]}.")
    table = pd.DataFrame(index=cells.index)
    for position, feature in enumerate(features):
        text = cells.iloc[:, position].astype(str).str.strip()
        present = text.where(text != "")
        if feature["kind"] == CATEGORICAL:
            table[feature["name"]] = present
            continue
        values = pd.to_numeric(present, errors="coerce")
        # Infinity too: scikit-learn's estimators raise on it.
        bad = (values.isna() & present.notna()) | np.isinf(values.astype(float))
        if bad.any():
            value = text[bad].iloc[0]
            raise ValueError(f"Feature '{feature['name']}' takes finite numbers; got {value[:40]!r}.")
        table[feature["name"]] = values.astype(float)
    return table


def labelled_rows(directory: Path, channel: str, contract: Mapping[str, Any]) -> tuple[pd.DataFrame, np.ndarray]:
    """Every *.csv of a channel -> (features, labels): class positions for a classifier, numbers for regression."""
    files = sorted(directory.glob("*.csv")) if directory.is_dir() else []
    if not files:
        raise ValueError(f"Channel '{channel}': no *.csv file in {directory}.")
    cells = pd.concat(
        [pd.read_csv(path, header=None, dtype=str, keep_default_na=False) for path in files], ignore_index=True
    )
    labels = pd.to_numeric(cells.iloc[:, 0], errors="coerce")
    if labels.isna().any():
        raise ValueError(f"Channel '{channel}': expected a numeric label first in every row of {directory}.")
    classifier = bool(contract.get("classes"))
    return feature_table(cells.iloc[:, 1:], contract), labels.to_numpy(dtype=int if classifier else float)
