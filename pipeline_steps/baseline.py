"""Baseline step: data-quality statistics and constraints of the training data.

Our own step (SageMaker Model Monitor is closed to new customers), writing Model Monitor's
baseline file format so any checker can read it: statistics.json (per-feature counts, mean,
sum, std_dev, min, max and 10 equal-width histogram buckets under distribution.kll) and
constraints.json (per-feature type, completeness, non-negativity). The drift check compares
captured inference data with these buckets.

Runs in a SageMaker processing container (defaults below) and locally:
    python pipeline_steps/baseline.py --train-dir out/train --output-dir baseline/
The train directory holds the header-less, label-first CSV written by the preprocess step
and features.json (the feature column order).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BUCKETS = 10
FEATURES_FILE = "features.json"


class BaselineInputError(ValueError):
    """The training data or its feature list is missing or malformed; the message says which."""


def load_training_features(train_dir: Path) -> pd.DataFrame:
    """The feature columns of the training split (label dropped), named from features.json."""
    names_path = train_dir / FEATURES_FILE
    if not names_path.exists():
        raise BaselineInputError(f"{names_path} is missing: the preprocess step writes it next to the train split.")
    names = json.loads(names_path.read_text())
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BaselineInputError(f"{names_path}: expected a non-empty list of feature names.")
    files = sorted(train_dir.glob("*.csv"))
    if not files:
        raise BaselineInputError(f"No *.csv file in {train_dir}.")
    try:
        table = pd.concat([pd.read_csv(path, header=None) for path in files], ignore_index=True)
    except pd.errors.EmptyDataError as error:
        raise BaselineInputError(f"A training CSV in {train_dir} is empty.") from error
    if table.shape[1] != len(names) + 1:
        raise BaselineInputError(
            f"{train_dir}: rows have {table.shape[1]} columns; expected the label plus {len(names)} features."
        )
    raw = table.iloc[:, 1:]
    features = raw.apply(pd.to_numeric, errors="coerce")
    features.columns = names
    non_numeric = features.isna().to_numpy() & raw.notna().to_numpy()
    if non_numeric.any():
        row, column = (int(i[0]) for i in np.nonzero(non_numeric))
        raise BaselineInputError(
            f"Feature '{names[column]}' has the non-numeric value {raw.iat[row, column]!r} at row {row + 1}; "
            "allowed: numbers (or an empty cell, counted as missing)."
        )
    return features


def histogram(values: np.ndarray, low: float, high: float, buckets: int = BUCKETS) -> list[dict[str, float]]:
    """`buckets` equal-width buckets between low and high (one bucket if all values are equal)."""
    if high <= low:
        return [{"lower_bound": low, "upper_bound": high, "count": float(len(values))}]
    counts, edges = np.histogram(values, bins=buckets, range=(low, high))
    return [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
        for i in range(buckets)
    ]


def inferred_type(values: np.ndarray) -> str:
    return "Integral" if len(values) and bool(np.all(np.equal(np.mod(values, 1), 0))) else "Fractional"


def feature_statistics(name: str, column: pd.Series) -> dict[str, Any]:
    present = column.dropna().to_numpy(dtype=float)
    if present.size == 0:
        raise BaselineInputError(f"Feature '{name}' has no numeric values in the training data.")
    low, high = float(present.min()), float(present.max())
    return {
        "name": name,
        "inferred_type": inferred_type(present),
        "numerical_statistics": {
            "common": {"num_present": int(present.size), "num_missing": int(column.size - present.size)},
            "mean": float(present.mean()),
            "sum": float(present.sum()),
            "std_dev": float(present.std()),
            "min": low,
            "max": high,
            "distribution": {"kll": {"buckets": histogram(present, low, high)}},
        },
    }


def statistics(features: pd.DataFrame) -> dict[str, Any]:
    if features.empty:
        raise BaselineInputError("The training data has no rows.")
    return {
        "version": 0.0,
        "dataset": {"item_count": len(features)},
        "features": [feature_statistics(name, features[name]) for name in features.columns],
    }


def constraints(stats: dict[str, Any]) -> dict[str, Any]:
    result = []
    for feature in stats["features"]:
        numeric = feature["numerical_statistics"]
        common = numeric["common"]
        total = common["num_present"] + common["num_missing"]
        result.append(
            {
                "name": feature["name"],
                "inferred_type": feature["inferred_type"],
                "completeness": common["num_present"] / total,
                "num_constraints": {"is_non_negative": numeric["min"] >= 0},
            }
        )
    return {
        "version": 0.0,
        "features": result,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": 0.1,
                "comparison_method": "Robust",
            },
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, default=Path("/opt/ml/processing/train"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/baseline"))
    args = parser.parse_args(argv)
    stats = statistics(load_training_features(args.train_dir))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "statistics.json").write_text(json.dumps(stats, indent=2))
    (args.output_dir / "constraints.json").write_text(json.dumps(constraints(stats), indent=2))
    print(json.dumps({"item_count": stats["dataset"]["item_count"], "features": len(stats["features"])}))


if __name__ == "__main__":
    main()
