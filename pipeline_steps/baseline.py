"""Baseline step: data-quality statistics and constraints of the training data, per the data contract.

Our own step (SageMaker Model Monitor is closed to new customers), writing Model Monitor's
baseline file formats so either checker can read them
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-statistics.html and
.../model-monitor-byoc-constraints.html):

- statistics.json: a numeric or integer feature gets `numerical_statistics` (counts, mean, sum,
  std_dev, min, max and 10 equal-width histogram buckets under distribution.kll), inferred type
  Fractional or Integral; a categorical feature gets `string_statistics` (counts, distinct_count
  and the count of each category under distribution.categorical.buckets), inferred type String.
- constraints.json: per feature its type, completeness, non-negativity (numbers) or domain (the
  contract's allowed values, else those seen), and the comparison settings, L-infinity for
  categorical features as Model Monitor's `categorical_drift_method` names it.

The drift check compares captured requests with these bucket and category counts.

Runs in a SageMaker processing container (defaults below) and locally:
    python pipeline_steps/baseline.py --train-dir out/train --output-dir baseline/
The train directory holds the header-less, label-first CSV the preprocess step writes and
data_contract.json (the feature names and kinds, in column order).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BUCKETS = 10
# Written by the preprocess step beside each split (contracts.DATA_CONTRACT_FILE).
CONTRACT_FILE = "data_contract.json"
CATEGORICAL = "categorical"
# A categorical feature's domain is recorded only up to this many distinct values seen
# (Model Monitor's "observed values for small cardinality").
MAX_DOMAIN = 1000


class BaselineInputError(ValueError):
    """The training data or its contract is missing or malformed; the message says which."""


def load_contract_features(train_dir: Path) -> list[dict[str, Any]]:
    path = train_dir / CONTRACT_FILE
    if not path.exists():
        raise BaselineInputError(f"{path} is missing: the preprocess step writes it next to the train split.")
    features = json.loads(path.read_text()).get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, Mapping) for f in features):
        raise BaselineInputError(f"{path}: expected a data contract with a non-empty list of features.")
    return [dict(f) for f in features]


def load_training_features(train_dir: Path, features: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The feature columns of the training split (label dropped), named and typed by the contract."""
    files = sorted(train_dir.glob("*.csv"))
    if not files:
        raise BaselineInputError(f"No *.csv file in {train_dir}.")
    try:
        table = pd.concat(
            [pd.read_csv(path, header=None, dtype=str, keep_default_na=False) for path in files], ignore_index=True
        )
    except pd.errors.EmptyDataError as error:
        raise BaselineInputError(f"A training CSV in {train_dir} is empty.") from error
    if table.shape[1] != len(features) + 1:
        raise BaselineInputError(
            f"{train_dir}: rows have {table.shape[1]} columns; expected the label plus {len(features)} features."
        )
    result = pd.DataFrame(index=table.index)
    for position, feature in enumerate(features, start=1):
        raw = table.iloc[:, position].str.strip()
        name = feature["name"]
        if feature["kind"] == CATEGORICAL:
            result[name] = raw.where(raw != "")
            continue
        values = pd.to_numeric(raw.where(raw != ""), errors="coerce")
        bad = values.isna() & (raw != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise BaselineInputError(
                f"Feature '{name}' has the non-numeric value {raw.iloc[row]!r} at row {row + 1}; "
                "allowed: numbers (or an empty cell, counted as missing)."
            )
        result[name] = values.astype(float)
    return result


def histogram(values: np.ndarray, low: float, high: float, buckets: int = BUCKETS) -> list[dict[str, float]]:
    """`buckets` equal-width buckets between low and high (one bucket if all values are equal)."""
    if high <= low:
        return [{"lower_bound": low, "upper_bound": high, "count": float(len(values))}]
    counts, edges = np.histogram(values, bins=buckets, range=(low, high))
    return [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
        for i in range(buckets)
    ]


def numeric_statistics(feature: Mapping[str, Any], column: pd.Series) -> dict[str, Any]:
    present = column.dropna().to_numpy(dtype=float)
    if present.size == 0:
        raise BaselineInputError(f"Feature '{feature['name']}' has no value in the training data.")
    low, high = float(present.min()), float(present.max())
    return {
        "name": feature["name"],
        "inferred_type": "Integral" if feature["kind"] == "integer" else "Fractional",
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


def category_counts(column: pd.Series) -> dict[str, int]:
    """How often each category occurs (missing values aside), by category: a count structure that sums."""
    counts = column.dropna().value_counts()
    return {str(value): int(counts[value]) for value in sorted(counts.index, key=str)}


def string_statistics(feature: Mapping[str, Any], column: pd.Series) -> dict[str, Any]:
    counts = category_counts(column)
    if not counts:
        raise BaselineInputError(f"Feature '{feature['name']}' has no value in the training data.")
    present = sum(counts.values())
    return {
        "name": feature["name"],
        "inferred_type": "String",
        "string_statistics": {
            "common": {"num_present": present, "num_missing": int(column.size - present)},
            "distinct_count": len(counts),
            "distribution": {
                "categorical": {"buckets": [{"value": value, "count": count} for value, count in counts.items()]}
            },
        },
    }


def statistics(table: pd.DataFrame, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if table.empty:
        raise BaselineInputError("The training data has no rows.")
    return {
        "version": 0.0,
        "dataset": {"item_count": len(table)},
        "features": [
            string_statistics(f, table[f["name"]])
            if f["kind"] == CATEGORICAL
            else numeric_statistics(f, table[f["name"]])
            for f in features
        ],
    }


def feature_constraints(feature: Mapping[str, Any], stats: Mapping[str, Any]) -> dict[str, Any]:
    section = stats.get("numerical_statistics") or stats["string_statistics"]
    common = section["common"]
    result = {
        "name": stats["name"],
        "inferred_type": stats["inferred_type"],
        "completeness": common["num_present"] / (common["num_present"] + common["num_missing"]),
    }
    if "numerical_statistics" in stats:
        result["num_constraints"] = {"is_non_negative": section["min"] >= 0}
        return result
    seen = [bucket["value"] for bucket in section["distribution"]["categorical"]["buckets"]]
    domain = list(feature.get("values") or seen)
    if len(domain) <= MAX_DOMAIN:
        result["string_constraints"] = {"domains": domain}
    return result


def constraints(stats: Mapping[str, Any], features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "version": 0.0,
        "features": [feature_constraints(f, s) for f, s in zip(features, stats["features"])],
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": 0.1,
                "comparison_method": "Robust",
                "categorical_comparison_threshold": 0.1,
                "categorical_drift_method": "LInfinity",
            },
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--train-dir", type=Path, default=Path("/opt/ml/processing/train"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/baseline"))
    args = parser.parse_args(argv)
    features = load_contract_features(args.train_dir)
    stats = statistics(load_training_features(args.train_dir, features), features)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "statistics.json").write_text(json.dumps(stats, indent=2))
    (args.output_dir / "constraints.json").write_text(json.dumps(constraints(stats, features), indent=2))
    print(json.dumps({"item_count": stats["dataset"]["item_count"], "features": len(stats["features"])}))


if __name__ == "__main__":
    main()
