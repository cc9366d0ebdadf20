"""CSV reading shared by train.py and inference.py: a second file in the source directory.

Label-first, header-less rows (what the preprocess step writes) for training; features only
for serving. Python 3.9 and the scikit-learn image's packages (numpy, pandas) only.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd


def labelled_rows(directory: Path, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """Every *.csv of a channel -> (features, labels)."""
    files = sorted(directory.glob("*.csv")) if directory.is_dir() else []
    if not files:
        raise ValueError(f"Channel '{channel}': no *.csv file in {directory}.")
    table = pd.concat([pd.read_csv(path, header=None) for path in files], ignore_index=True)
    values = table.apply(pd.to_numeric, errors="coerce")
    if table.shape[1] < 2 or values.isna().any().any():
        raise ValueError(f"Channel '{channel}': expected numeric rows, label first, no header, in {directory}.")
    return values.iloc[:, 1:].to_numpy(dtype=float), values.iloc[:, 0].to_numpy(dtype=int)


def feature_rows(text: str) -> np.ndarray:
    """CSV text of feature rows (no label) -> a 2-D array."""
    return np.atleast_2d(np.loadtxt(io.StringIO(text), delimiter=",", dtype=float))
