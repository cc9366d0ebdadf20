"""Preprocess step: check the raw CSVs against the data contract, split them, write the splits.

Runs in a SageMaker processing container (defaults below) and locally with any paths:
    python pipeline_steps/preprocess.py --contract contract.json --input-dir data/ --output-dir out/

The data contract (config `model_build.model.data`, shipped by the pipeline as one JSON file)
says everything this step knows about the data: the label, each feature's name, kind (numeric,
integer, categorical with optional allowed values) and whether it may be missing, the columns to
ignore, the classes of a classifier and how the raw files are written (header, delimiter).

Input: every *.csv under --input-dir, each checked on its own; a value that breaks the contract
fails the step naming the file, the data row, the column and the value. Output, label first and
no header: train/, validation/ and test/ CSVs. The label is written as the class's position in the
contract's classes (0, 1, ...) or, for regression, as the number. Features follow in the
contract's order as the raw data has them: numbers as numbers, a categorical feature as its
text (the endpoint receives it the same way; the model's own code encodes it), a missing value
as an empty cell; ignored columns are dropped. Each split folder also gets data_contract.json,
the contract it was written with (the training script reads it from its train channel), and
sample/payload.tar.gz holds up to --sample-rows held-out rows without their label: request
rows as the endpoint takes them, registered with the version as its sample payload (the smoke
test sends them). The split is stratified by class for classification and random for
regression, deterministic for a given seed. A data set under --min-rows rows, a class of the
contract missing, or (classification) a split with fewer than --min-rows-per-class rows of a
class is refused: the quality gate could not judge a model on it.

Self-contained (numpy and pandas 1.1 and later, Python 3.9) because the job ships this one file.
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")
# The contract's file in each split folder (contracts.DATA_CONTRACT_FILE; a test keeps them equal).
CONTRACT_FILE = "data_contract.json"
CONTRACT_VERSION = 1
SAMPLE_DIR = "sample"
SAMPLE_ARCHIVE = "payload.tar.gz"
SAMPLE_FILE = "payload.csv"
KINDS = ("numeric", "integer", "categorical")
# Below these the evaluate step's metrics (AUC needs both classes) say little or nothing.
MIN_ROWS = 100
MIN_ROWS_PER_CLASS = 5
SAMPLE_ROWS = 10


class InputDataError(ValueError):
    """The raw data or the contract is not what the step needs; the message says what and where."""


# --- the contract -----------------------------------------------------------------------------


def load_contract(location: Path) -> dict[str, Any]:
    """The contract document: a JSON file, or the one *.json file in a folder (a processing input)."""
    files = sorted(location.glob("*.json")) if location.is_dir() else [location]
    if len(files) != 1 or not files[0].is_file():
        raise InputDataError(f"Data contract: expected one JSON file at {location}.")
    try:
        contract = json.loads(files[0].read_text())
    except json.JSONDecodeError as error:
        raise InputDataError(f"Data contract {files[0]} is not JSON: {error}") from error
    check_contract(contract, str(files[0]))
    return dict(contract)


def check_contract(contract: Any, source: str) -> None:
    """The document's shape (config checked its content at synth); names what is wrong."""
    if not isinstance(contract, Mapping) or contract.get("version") != CONTRACT_VERSION:
        raise InputDataError(f"Data contract {source}: expected an object with version {CONTRACT_VERSION}.")
    features = contract.get("features")
    if not isinstance(features, list) or not features:
        raise InputDataError(f"Data contract {source}: 'features' must be a non-empty list.")
    for feature in features:
        if not isinstance(feature, Mapping) or feature.get("kind") not in KINDS or not feature.get("name"):
            raise InputDataError(f"Data contract {source}: feature {feature!r} needs a name and a kind ({KINDS}).")
    if not isinstance(contract.get("label"), str) or not isinstance(contract.get("csv"), Mapping):
        raise InputDataError(f"Data contract {source}: 'label' and 'csv' are required.")


def raw_columns(contract: Mapping[str, Any]) -> list[str]:
    """Every column of a raw file: the stated order (files without a header), else label, features, ignored."""
    stated = list(contract["csv"].get("columns") or [])
    return stated or [contract["label"], *(f["name"] for f in contract["features"]), *contract.get("ignore", [])]


# --- reading and checking, one file (chunk) at a time ------------------------------------------


def read_file(path: Path, contract: Mapping[str, Any]) -> pd.DataFrame:
    """One raw CSV as text cells, its columns checked against the contract."""
    csv = contract["csv"]
    header = bool(csv.get("header", True))
    try:
        frame = pd.read_csv(
            path, sep=csv.get("delimiter", ","), header=0 if header else None, dtype=str, keep_default_na=False
        )
    except pd.errors.EmptyDataError as error:
        raise InputDataError(f"{path} is empty: expected a header row and at least one data row.") from error
    except pd.errors.ParserError as error:
        raise InputDataError(f"{path} is not a CSV file the contract describes: {error}") from error
    expected = raw_columns(contract)
    if not header:
        if frame.shape[1] != len(expected):
            raise InputDataError(
                f"{path}: rows have {frame.shape[1]} columns; the contract's csv.columns name {len(expected)}."
            )
        frame.columns = expected
    missing = [c for c in expected if c not in frame.columns]
    unexpected = [str(c) for c in frame.columns if c not in expected]
    if missing or unexpected:
        raise InputDataError(
            f"{path}: columns do not match the data contract; missing: {missing or 'none'}; "
            f"unexpected: {unexpected or 'none'}. Allowed: the label, the features and the ignored columns."
        )
    return frame


def _fail_at(source: str, frame: pd.DataFrame, bad: Any, column: str, allowed: str) -> InputDataError:
    position = int(np.flatnonzero(np.asarray(bad))[0])
    value = frame[column].iloc[position]
    return InputDataError(f"{source}: data row {position + 1}, column '{column}': value {value!r}; allowed: {allowed}.")


def _numbers(frame: pd.DataFrame, column: str, source: str, *, whole: bool, missing_ok: bool) -> pd.Series:
    text = frame[column].str.strip()
    empty = (text == "").to_numpy()
    values = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    bad = (~empty & ~finite) | (empty & (not missing_ok))
    if whole:
        bad |= finite & (np.mod(np.where(finite, values, 0.0), 1) != 0)
    if bad.any():
        what = "whole numbers" if whole else "finite numbers"
        raise _fail_at(source, frame, bad, column, what + (" or an empty cell" if missing_ok else ""))
    return pd.Series(values, index=frame.index)


def _categories(frame: pd.DataFrame, column: str, source: str, *, values: Sequence[str], missing_ok: bool) -> pd.Series:
    text = frame[column].str.strip()
    bad = (text == "") if not missing_ok else pd.Series(False, index=text.index)
    if values:
        bad |= (text != "") & ~text.isin(list(values))
    if bad.any():
        allowed = ", ".join(values) if values else "any text"
        raise _fail_at(source, frame, bad, column, allowed + (" or an empty cell" if missing_ok else ""))
    return text


def label_values(frame: pd.DataFrame, contract: Mapping[str, Any], source: str) -> pd.Series:
    """The label as the model learns it: the class's index in the contract's classes, or the number."""
    column = contract["label"]
    classes = list(contract.get("classes") or [])
    if not classes:
        return _numbers(frame, column, source, whole=False, missing_ok=False)
    text = _categories(frame, column, source, values=classes, missing_ok=False)
    return text.map({name: index for index, name in enumerate(classes)}).astype(int)


def checked_rows(frame: pd.DataFrame, contract: Mapping[str, Any], source: str) -> pd.DataFrame:
    """A file's rows as the splits hold them (label first, features in contract order), or the first bad value."""
    table = pd.DataFrame(index=frame.index)
    table[contract["label"]] = label_values(frame, contract, source)
    for feature in contract["features"]:
        name, missing_ok = feature["name"], bool(feature.get("missing", False))
        if feature["kind"] == "categorical":
            table[name] = _categories(frame, name, source, values=feature.get("values") or [], missing_ok=missing_ok)
        else:
            numbers = _numbers(frame, name, source, whole=feature["kind"] == "integer", missing_ok=missing_ok)
            table[name] = numbers.astype("Int64") if feature["kind"] == "integer" else numbers
    return table


def read_raw(input_dir: Path, contract: Mapping[str, Any]) -> pd.DataFrame:
    """Every CSV under `input_dir` (new data arrives as extra files), each checked, then concatenated."""
    files = sorted(input_dir.rglob("*.csv"))
    if not files:
        raise InputDataError(f"No *.csv file under {input_dir}: expected raw data as the data contract describes.")
    tables = []
    for path in files:
        frame = read_file(path, contract)
        if frame.empty:
            raise InputDataError(f"{path} has a header but no data rows.")
        tables.append(checked_rows(frame, contract, str(path)))
    return pd.concat(tables, ignore_index=True)


# --- splitting and its checks -----------------------------------------------------------------


def _check_fractions(validation_fraction: float, test_fraction: float) -> None:
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise InputDataError(
            f"Split fractions validation={validation_fraction}, test={test_fraction}; allowed: each in (0, 1), sum < 1."
        )


def _cut(rows: np.ndarray, validation_fraction: float, test_fraction: float) -> dict[str, np.ndarray]:
    n_test = max(1, round(len(rows) * test_fraction))
    n_validation = max(1, round(len(rows) * validation_fraction))
    return {
        "test": rows[:n_test],
        "validation": rows[n_test : n_test + n_validation],
        "train": rows[n_test + n_validation :],
    }


def split(
    table: pd.DataFrame,
    *,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    stratify_by: str | None = None,
) -> dict[str, pd.DataFrame]:
    """A deterministic shuffle-split, per class of `stratify_by` when given (each split keeps the class mix)."""
    _check_fractions(validation_fraction, test_fraction)
    order = np.random.default_rng(seed).permutation(len(table))
    if stratify_by is None:
        groups = [order]
    else:
        labels = table[stratify_by].to_numpy()[order]
        groups = [order[labels == label] for label in sorted(set(labels.tolist()))]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for rows in groups:
        for name, chosen in _cut(rows, validation_fraction, test_fraction).items():
            parts[name].append(chosen)
    result = {
        name: table.iloc[np.sort(np.concatenate(chosen))].reset_index(drop=True) for name, chosen in parts.items()
    }
    if any(result[name].empty for name in SPLITS):
        raise InputDataError(f"Only {len(table)} rows: too few to split into train, validation and test.")
    return result


def class_summary(labels: pd.Series, classes: Sequence[str]) -> str:
    """'malignant: 28 rows, benign: 57 rows': the rows of each class present."""
    counts = labels.value_counts()
    return ", ".join(f"{classes[int(index)]}: {int(counts[index])} rows" for index in sorted(counts.index))


def check_size(table: pd.DataFrame, contract: Mapping[str, Any], *, min_rows: int) -> None:
    if len(table) < min_rows:
        raise InputDataError(f"Only {len(table)} rows; need at least {min_rows} (--min-rows).")
    classes = list(contract.get("classes") or [])
    labels = table[contract["label"]]
    absent = [name for index, name in enumerate(classes) if not (labels == index).any()]
    if absent:
        raise InputDataError(
            f"The data set has no row of class {', '.join(map(repr, absent))} ({class_summary(labels, classes)}); "
            f"need every class of the data contract: {', '.join(classes)}."
        )


def check_classes(splits: Mapping[str, pd.DataFrame], contract: Mapping[str, Any], *, min_rows_per_class: int) -> None:
    """Every split holds each class at least `min_rows_per_class` times (test first: it gates); regression: no check."""
    classes = list(contract.get("classes") or [])
    if not classes:
        return
    if min_rows_per_class < 1:
        raise InputDataError(f"--min-rows-per-class must be at least 1; got {min_rows_per_class}.")
    for name in ("test", "validation", "train"):
        labels = splits[name][contract["label"]]
        for index, class_name in enumerate(classes):
            rows = int((labels == index).sum())
            if rows < min_rows_per_class:
                raise InputDataError(
                    f"The {name} split has {rows} rows of class {class_name} ({class_summary(labels, classes)}); "
                    f"need at least {min_rows_per_class} of each class (--min-rows-per-class)."
                )


# --- output --------------------------------------------------------------------------------------


def sample_payload(test: pd.DataFrame, contract: Mapping[str, Any], rows: int) -> bytes:
    """A tar.gz holding payload.csv: up to `rows` held-out rows without the label, as a request body."""
    body = test.drop(columns=[contract["label"]]).head(rows).to_csv(header=False, index=False).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(SAMPLE_FILE)
        info.size, info.mode = len(body), 0o644
        tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def write_splits(
    splits: Mapping[str, pd.DataFrame], contract: Mapping[str, Any], output_dir: Path, *, sample_rows: int
) -> None:
    for name in SPLITS:
        directory = output_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        splits[name].to_csv(directory / f"{name}.csv", header=False, index=False)
        (directory / CONTRACT_FILE).write_text(json.dumps(contract, indent=2))
    sample = output_dir / SAMPLE_DIR
    sample.mkdir(parents=True, exist_ok=True)
    (sample / SAMPLE_ARCHIVE).write_bytes(sample_payload(splits["test"], contract, sample_rows))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contract", type=Path, default=Path("/opt/ml/processing/input/contract"))
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/raw"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--min-rows", type=int, default=MIN_ROWS)
    parser.add_argument("--min-rows-per-class", type=int, default=MIN_ROWS_PER_CLASS, help="in each split")
    parser.add_argument("--sample-rows", type=int, default=SAMPLE_ROWS, help="held-out rows in the sample payload")
    args = parser.parse_args(argv)
    contract = load_contract(args.contract)
    table = read_raw(args.input_dir, contract)
    check_size(table, contract, min_rows=args.min_rows)
    classified = bool(contract.get("classes"))
    splits = split(
        table,
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        stratify_by=contract["label"] if classified else None,
    )
    check_classes(splits, contract, min_rows_per_class=args.min_rows_per_class)
    write_splits(splits, contract, args.output_dir, sample_rows=max(1, args.sample_rows))
    print(json.dumps({name: len(rows) for name, rows in splits.items()}))


if __name__ == "__main__":
    main()
