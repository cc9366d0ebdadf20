"""Preprocess step: validate the raw CSVs, split them deterministically, write the splits.

Runs in a SageMaker processing container (defaults below) and locally with any paths:
    python pipeline_steps/preprocess.py --input-dir data/ --output-dir out/

Input: every *.csv under --input-dir, with a header naming the 30 feature columns and
`target` (0/1). Output: train/, validation/ and test/ CSVs with the label first and no
header (the SageMaker XGBoost convention), plus train/features.json (the column order)
for the baseline step. Refuses a data set under --min-rows rows or a split with fewer than
--min-rows-per-class rows of either class: the quality gate could not judge a model on it.
Self-contained (numpy and pandas only) because the processing job ships this one file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

LABEL = "target"
FEATURES: tuple[str, ...] = (
    "mean_radius",
    "mean_texture",
    "mean_perimeter",
    "mean_area",
    "mean_smoothness",
    "mean_compactness",
    "mean_concavity",
    "mean_concave_points",
    "mean_symmetry",
    "mean_fractal_dimension",
    "radius_error",
    "texture_error",
    "perimeter_error",
    "area_error",
    "smoothness_error",
    "compactness_error",
    "concavity_error",
    "concave_points_error",
    "symmetry_error",
    "fractal_dimension_error",
    "worst_radius",
    "worst_texture",
    "worst_perimeter",
    "worst_area",
    "worst_smoothness",
    "worst_compactness",
    "worst_concavity",
    "worst_concave_points",
    "worst_symmetry",
    "worst_fractal_dimension",
)
SPLITS = ("train", "validation", "test")
FEATURES_FILE = "features.json"
CLASSES = (0, 1)
# Below these the evaluate step's metrics (AUC needs both classes) say little or nothing.
MIN_ROWS = 100
MIN_ROWS_PER_CLASS = 5


class InputDataError(ValueError):
    """The raw data does not match the expected schema; the message says what and where."""


def read_raw(input_dir: Path) -> pd.DataFrame:
    """All CSV files under `input_dir`, concatenated (new data arrives as extra files)."""
    files = sorted(input_dir.rglob("*.csv"))
    if not files:
        raise InputDataError(f"No *.csv file under {input_dir}: expected raw data with a header row.")
    frames = []
    for path in files:
        try:
            frames.append(pd.read_csv(path, dtype=str, keep_default_na=False))
        except pd.errors.EmptyDataError as error:
            raise InputDataError(f"{path} is empty: expected a header row and at least one data row.") from error
        frames[-1].attrs["source"] = str(path)
    for frame in frames:
        validate_columns(frame.columns, source=frame.attrs["source"])
    return pd.concat(frames, ignore_index=True)


def validate_columns(columns: Sequence[str], *, source: str = "input") -> None:
    expected = {*FEATURES, LABEL}
    missing = [c for c in (*FEATURES, LABEL) if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or extra:
        raise InputDataError(
            f"{source}: columns do not match the schema; missing: {missing or 'none'}; unexpected: {extra or 'none'}. "
            f"Allowed: the {len(FEATURES)} feature columns and '{LABEL}'."
        )


def to_numeric(raw: pd.DataFrame) -> pd.DataFrame:
    """The validated, numeric table in schema order (label first); rejects anything else."""
    validate_columns(list(raw.columns))
    if raw.empty:
        raise InputDataError("The input has a header but no data rows.")
    table = pd.DataFrame(index=raw.index)
    for column in (LABEL, *FEATURES):
        values = pd.to_numeric(raw[column].astype(str).str.strip(), errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype(float))
        if bad.any():
            row = int(bad.idxmax())
            raise InputDataError(
                f"Column '{column}' has a missing or non-numeric value {raw[column].iloc[row]!r} "
                f"at data row {row + 1}; allowed: finite numbers."
            )
        table[column] = values.astype(float)
    unexpected = sorted({float(v) for v in table[LABEL].unique()} - {0.0, 1.0})
    if unexpected:
        raise InputDataError(f"Column '{LABEL}' has values {unexpected}; allowed: 0 and 1.")
    table[LABEL] = table[LABEL].astype(int)
    return table


def split(
    table: pd.DataFrame, *, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """A deterministic shuffle-split: the same data and seed always give the same splits."""
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise InputDataError(
            f"Split fractions validation={validation_fraction}, test={test_fraction}; allowed: each in (0, 1), sum < 1."
        )
    order = np.random.default_rng(seed).permutation(len(table))
    n_test = max(1, round(len(table) * test_fraction))
    n_validation = max(1, round(len(table) * validation_fraction))
    if len(table) - n_test - n_validation < 1:
        raise InputDataError(f"Only {len(table)} rows: too few to split into train, validation and test.")
    parts = {
        "test": order[:n_test],
        "validation": order[n_test : n_test + n_validation],
        "train": order[n_test + n_validation :],
    }
    return {name: table.iloc[rows].reset_index(drop=True) for name, rows in parts.items()}


def class_summary(labels: pd.Series) -> str:
    """'0: 28 rows, 1: 57 rows': the rows of each class present."""
    counts = labels.value_counts()
    return ", ".join(f"{label}: {int(counts[label])} rows" for label in sorted(counts.index))


def check_size(table: pd.DataFrame, *, min_rows: int) -> None:
    if len(table) < min_rows:
        raise InputDataError(f"Only {len(table)} rows; need at least {min_rows} (--min-rows).")
    present = table[LABEL].nunique()
    if present < len(CLASSES):
        raise InputDataError(f"The data set has {present} class ({class_summary(table[LABEL])}); need both classes.")


def check_classes(splits: dict[str, pd.DataFrame], *, min_rows_per_class: int) -> None:
    """Every split holds each class at least `min_rows_per_class` times (test first: it gates)."""
    if min_rows_per_class < 1:
        raise InputDataError(f"--min-rows-per-class must be at least 1; got {min_rows_per_class}.")
    for name in ("test", "validation", "train"):
        labels = splits[name][LABEL]
        counts = labels.value_counts()
        present = [label for label in CLASSES if label in counts.index]
        if len(present) < len(CLASSES):
            raise InputDataError(
                f"The {name} split has {len(present)} class ({class_summary(labels)}); need both classes."
            )
        for label in CLASSES:
            if counts[label] < min_rows_per_class:
                raise InputDataError(
                    f"The {name} split has {int(counts[label])} rows of class {label} ({class_summary(labels)}); "
                    f"need at least {min_rows_per_class} of each class (--min-rows-per-class)."
                )


def write_splits(splits: dict[str, pd.DataFrame], output_dir: Path) -> None:
    for name in SPLITS:
        directory = output_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        splits[name].to_csv(directory / f"{name}.csv", header=False, index=False)
    (output_dir / "train" / FEATURES_FILE).write_text(json.dumps(list(FEATURES)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/raw"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--min-rows", type=int, default=MIN_ROWS)
    parser.add_argument("--min-rows-per-class", type=int, default=MIN_ROWS_PER_CLASS, help="in each split")
    args = parser.parse_args(argv)
    table = to_numeric(read_raw(args.input_dir))
    check_size(table, min_rows=args.min_rows)
    splits = split(
        table, validation_fraction=args.validation_fraction, test_fraction=args.test_fraction, seed=args.seed
    )
    check_classes(splits, min_rows_per_class=args.min_rows_per_class)
    write_splits(splits, args.output_dir)
    print(json.dumps({name: len(rows) for name, rows in splits.items()}))


if __name__ == "__main__":
    main()
