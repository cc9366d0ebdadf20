"""Baseline step: data-quality statistics and constraints of the training data, per the data contract.

Our own step (SageMaker Model Monitor is closed to new customers), writing Model Monitor's
baseline file formats so either checker can read them
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-statistics.html and
.../model-monitor-byoc-constraints.html):

- statistics.json: a numeric or integer feature gets `numerical_statistics` (counts, mean, sum,
  std_dev, min, max and up to 10 histogram buckets under distribution.kll, each holding about a tenth
  of the training values: deciles, so that a skewed or heavy-tailed feature is not one full bucket
  and nine near-empty ones), inferred type Fractional or Integral; a categorical feature gets
  `string_statistics` (counts, distinct_count and the count of each category under
  distribution.categorical.buckets), inferred type String.
- constraints.json: per feature its type, completeness, non-negativity (numbers) or domain (the
  contract's allowed values, else those seen), and the comparison settings, L-infinity for
  categorical features as Model Monitor's `categorical_drift_method` names it.

The drift check compares captured requests with these bucket and category counts. The training
split is streamed twice in chunks (the range of each number first, then its buckets), so memory
does not grow with the data.

Runs in a SageMaker processing container (defaults below) and locally:
    python pipeline_steps/scripts/baseline.py --train-dir out/train --output-dir baseline/
The train directory holds the header-less, label-first CSV the preprocess step writes and
data_contract.json (the feature names and kinds, in column order).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BUCKETS = 10
# The second pass counts each number on a grid of this many equal-width cells over its range; the
# buckets' edges are the grid lines nearest its deciles, so their counts are exact sums of cells.
GRID_CELLS = 4096
# No bucket edge within this many standard deviations of a value more than this share of the rows hold.
EDGE_CLEARANCE = 0.1
ATOM_SHARE = 1 / (2 * BUCKETS)
# Written by the preprocess step beside each split (contracts.DATA_CONTRACT_FILE).
CONTRACT_FILE = "data_contract.json"
CATEGORICAL = "categorical"
# A categorical feature's domain is recorded only up to this many distinct values seen
# (Model Monitor's "observed values for small cardinality").
MAX_DOMAIN = 1000
# Rows read at a time: the split is read twice (ranges first, then buckets), in chunks of this many rows.
CHUNK_ROWS = 100_000


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


def training_files(train_dir: Path) -> list[Path]:
    files = sorted(train_dir.glob("*.csv"))
    if not files:
        raise BaselineInputError(f"No *.csv file in {train_dir}.")
    return files


def training_chunks(
    train_dir: Path, features: Sequence[Mapping[str, Any]], chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The feature columns of the training split (label dropped), named and typed by the contract, in chunks.

    Every part of the split (`train.csv`, or `train-<part>.csv` from several preprocess instances) is read.
    """
    for path in training_files(train_dir):
        try:
            reader = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, chunksize=chunk_rows)
            for table in reader:
                yield _typed(table, features, path)
        except pd.errors.EmptyDataError as error:
            raise BaselineInputError(f"A training CSV in {train_dir} is empty.") from error


def _typed(table: pd.DataFrame, features: Sequence[Mapping[str, Any]], path: Path) -> pd.DataFrame:
    if table.shape[1] != len(features) + 1:
        raise BaselineInputError(
            f"{path}: rows have {table.shape[1]} columns; expected the label plus {len(features)} features."
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
            row = int(table.index[np.flatnonzero(bad.to_numpy())[0]])
            raise BaselineInputError(
                f"{path}: feature '{name}' has the non-numeric value {raw.loc[row]!r} at row {row + 1}; "
                "allowed: numbers (or an empty cell, counted as missing)."
            )
        result[name] = values.astype(float)
    return result


def load_training_features(train_dir: Path, features: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The whole training split's features (small data, and tests); `main` streams instead."""
    return pd.concat(list(training_chunks(train_dir, features)), ignore_index=True)


@dataclass
class NumericSummary:
    """What statistics.json says of a number, from counts that chunks add up: present and missing
    values, mean and sum of squared deviations (combined per chunk, Chan et al. 1979), range, buckets."""

    present: int = 0
    missing: int = 0
    mean: float = 0.0
    squares: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    cells: np.ndarray | None = None  # counts on the grid (second pass)

    def add(self, column: pd.Series) -> None:
        values = column.dropna().to_numpy(dtype=float)
        self.missing += int(column.size - values.size)
        if values.size == 0:
            return
        mean = float(values.mean())
        squares = float(((values - mean) ** 2).sum())
        total = self.present + values.size
        delta = mean - self.mean
        self.squares += squares + delta**2 * self.present * values.size / total
        self.mean += delta * values.size / total
        self.present = total
        self.low, self.high = min(self.low, float(values.min())), max(self.high, float(values.max()))

    def count(self, column: pd.Series) -> None:
        """Second pass: the values into the grid's cells over the range the first pass found."""
        values = column.dropna().to_numpy(dtype=float)
        if self.high <= self.low:
            return
        lines = self.grid()
        # A value on a line counts in the cell above it, as the drift check buckets values (last cell: its max too).
        cells = np.bincount(np.searchsorted(lines[1:-1], values, side="right"), minlength=GRID_CELLS)
        self.cells = cells if self.cells is None else self.cells + cells

    def grid(self) -> np.ndarray:
        return np.linspace(self.low, self.high, GRID_CELLS + 1)

    def deciles(self) -> tuple[np.ndarray, np.ndarray]:
        """(edges, counts) of up to BUCKETS buckets of about a tenth of the values each: the edges are the grid
        lines nearest the deciles that lie at least EDGE_CLEARANCE standard deviations from any value held by
        more than ATOM_SHARE of the rows, so that a number recorded in steps (whole numbers, say) is not a
        little jitter away from the next bucket; a value held by more than a tenth of the rows makes fewer,
        wider buckets."""
        cells = self.cells if self.cells is not None else np.zeros(GRID_CELLS, dtype=np.int64)
        below = np.concatenate(([0], np.cumsum(cells)))  # values below each grid line
        atoms = np.concatenate(([0], np.cumsum(cells > ATOM_SHARE * self.present)))
        reach = math.ceil(EDGE_CLEARANCE * math.sqrt(self.squares / self.present) * GRID_CELLS / (self.high - self.low))
        lines = np.arange(1, GRID_CELLS)
        clear = atoms[np.minimum(lines + reach, GRID_CELLS)] == atoms[np.maximum(lines - reach, 0)]
        candidates = lines[clear]
        cuts = [0, GRID_CELLS]
        if candidates.size:
            targets = np.arange(1, BUCKETS) * self.present / BUCKETS
            place = np.clip(np.searchsorted(below[candidates], targets), 1, candidates.size - 1)
            after, before = candidates[place], candidates[place - 1]
            nearer = np.where(below[after] - targets < targets - below[before], after, before)
            cuts = sorted({0, GRID_CELLS, *nearer.tolist()})
        kept = [0]  # an empty bucket (two lines in one gap between values) joins the next
        for line in cuts[1:-1]:
            if below[line] > below[kept[-1]]:
                kept.append(line)
        if len(kept) > 1 and below[GRID_CELLS] == below[kept[-1]]:
            kept.pop()
        cut = np.asarray([*kept, GRID_CELLS])
        return self.grid()[cut], np.add.reduceat(cells, cut[:-1])

    def statistics(self, feature: Mapping[str, Any]) -> dict[str, Any]:
        if self.present == 0:
            raise BaselineInputError(f"Feature '{feature['name']}' has no value in the training data.")
        if self.high <= self.low:
            kll = [{"lower_bound": self.low, "upper_bound": self.high, "count": float(self.present)}]
        else:
            edges, counts = self.deciles()
            kll = [
                {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
                for i in range(len(counts))
            ]
        return {
            "name": feature["name"],
            "inferred_type": "Integral" if feature["kind"] == "integer" else "Fractional",
            "numerical_statistics": {
                "common": {"num_present": self.present, "num_missing": self.missing},
                "mean": self.mean,
                "sum": self.mean * self.present,
                "std_dev": math.sqrt(self.squares / self.present),
                "min": self.low,
                "max": self.high,
                "distribution": {"kll": {"buckets": kll}},
            },
        }


def category_counts(column: pd.Series) -> dict[str, int]:
    """How often each category occurs (missing values aside), by category: a count structure that sums."""
    counts = column.dropna().value_counts()
    return {str(value): int(counts[value]) for value in sorted(counts.index, key=str)}


def string_statistics(feature: Mapping[str, Any], counts: Mapping[str, int], missing: int) -> dict[str, Any]:
    if not counts:
        raise BaselineInputError(f"Feature '{feature['name']}' has no value in the training data.")
    present = sum(counts.values())
    # A category the contract allows but training never saw is written with count 0: the drift check
    # then knows it (a rare category) instead of counting it among the categories it never heard of.
    known = {**{str(value): 0 for value in feature.get("values") or []}, **counts}
    ordered = {value: known[value] for value in sorted(known)}
    return {
        "name": feature["name"],
        "inferred_type": "String",
        "string_statistics": {
            "common": {"num_present": present, "num_missing": missing},
            "distinct_count": len(counts),
            "distribution": {
                "categorical": {"buckets": [{"value": value, "count": count} for value, count in ordered.items()]}
            },
        },
    }


def statistics_of_chunks(
    chunks: Callable[[], Iterable[pd.DataFrame]], features: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """statistics.json from two passes over the chunks `chunks()` yields: ranges and counts, then buckets."""
    numeric = {f["name"]: NumericSummary() for f in features if f["kind"] != CATEGORICAL}
    categories: dict[str, Counter[str]] = {f["name"]: Counter() for f in features if f["kind"] == CATEGORICAL}
    missing: Counter[str] = Counter()
    rows = 0
    for chunk in chunks():
        rows += len(chunk)
        for name, summary in numeric.items():
            summary.add(chunk[name])
        for name, counts in categories.items():
            counts.update(category_counts(chunk[name]))
            missing[name] += int(chunk[name].isna().sum())
    if rows == 0:
        raise BaselineInputError("The training data has no rows.")
    if any(s.high > s.low for s in numeric.values()):
        for chunk in chunks():
            for name, summary in numeric.items():
                summary.count(chunk[name])
    return {
        "version": 0.0,
        "dataset": {"item_count": rows},
        "features": [
            string_statistics(f, categories[f["name"]], missing[f["name"]])
            if f["kind"] == CATEGORICAL
            else numeric[f["name"]].statistics(f)
            for f in features
        ],
    }


def statistics(table: pd.DataFrame, features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """statistics.json of a table in memory (one chunk)."""
    return statistics_of_chunks(lambda: [table], features)


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
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows read at a time (the memory bound)")
    args = parser.parse_args(argv)
    features = load_contract_features(args.train_dir)
    stats = statistics_of_chunks(lambda: training_chunks(args.train_dir, features, args.chunk_rows), features)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "statistics.json").write_text(json.dumps(stats, indent=2))
    (args.output_dir / "constraints.json").write_text(json.dumps(constraints(stats, features), indent=2))
    print(json.dumps({"item_count": stats["dataset"]["item_count"], "features": len(stats["features"])}))


if __name__ == "__main__":
    main()
