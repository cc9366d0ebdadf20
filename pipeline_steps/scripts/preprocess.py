"""Preprocess step: check the raw CSVs against the data contract, split them, write the splits.

Runs in a SageMaker processing container (defaults below) and locally with any paths:
    python pipeline_steps/scripts/preprocess.py --contract contract.json --input-dir data/ --output-dir out/

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
sample/payload.tar.gz holds up to --sample-rows held-out rows without their label, spread evenly
over the test split (its first rows may all be of one class): request rows as the endpoint takes
them, registered with the version as its sample payload (the smoke
test sends them). The split is stratified by class for classification and random for
regression, deterministic for a given seed. A data set under --min-rows rows, a class of the
contract missing, or (classification) a split with fewer than --min-rows-per-class rows of a
class is refused: the quality gate could not judge a model on it.

Memory does not grow with the data: each file is read in chunks of --chunk-rows rows, twice. The
first pass reads the label only: it counts each class's rows (every check on sizes happens before
anything is written) and fixes each split's exact share of each class, as a whole-table stratified
split would. The second pass checks every value and sends each chunk's rows of a class to the
splits by drawing, from the rows that class has left to place, how many of the chunk's go where
(a multivariate hypergeometric draw, then a shuffle): every split gets exactly its share of every
class, a uniformly random choice of rows, with nothing kept but the counts. Several processing
instances may each preprocess a share of the raw files (ShardedByS3Key over the manifest): each
writes its own part of every split (`<split>-<part>.csv`, --part), checked and split on its own.

Self-contained (numpy and pandas 1.1 and later, Python 3.9) because the job ships this one file.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import tarfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

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
# Rows read at a time: memory is about this many rows of text and their checked values.
CHUNK_ROWS = 50_000


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


def read_chunks(
    path: Path, contract: Mapping[str, Any], chunk_rows: int, usecols: Any = None
) -> Iterator[pd.DataFrame]:
    """One raw CSV in chunks of text cells (index: the data row's position in the file), its columns
    checked against the contract; `usecols` reads some columns only."""
    csv = contract["csv"]
    header = bool(csv.get("header", True))
    expected = raw_columns(contract)
    try:
        reader = pd.read_csv(
            path,
            sep=csv.get("delimiter", ","),
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            chunksize=chunk_rows,
        )
        chunks = iter(reader)
        first = next(chunks, None)
    except pd.errors.EmptyDataError as error:
        raise InputDataError(f"{path} is empty: expected a header row and at least one data row.") from error
    except pd.errors.ParserError as error:
        raise InputDataError(f"{path} is not a CSV file the contract describes: {error}") from error
    if first is None or first.empty:
        raise InputDataError(f"{path} has a header but no data rows.")
    try:
        for chunk in itertools.chain([first], chunks):
            _check_columns(path, chunk, expected, header)
            yield chunk if usecols is None else chunk[usecols]
    except pd.errors.ParserError as error:
        raise InputDataError(f"{path} is not a CSV file the contract describes: {error}") from error


def _check_columns(path: Path, frame: pd.DataFrame, expected: Sequence[str], header: bool) -> None:
    if not header:
        if frame.shape[1] != len(expected):
            raise InputDataError(
                f"{path}: rows have {frame.shape[1]} columns; the contract's csv.columns name {len(expected)}."
            )
        frame.columns = list(expected)
    missing = [c for c in expected if c not in frame.columns]
    unexpected = [str(c) for c in frame.columns if c not in expected]
    if missing or unexpected:
        raise InputDataError(
            f"{path}: columns do not match the data contract; missing: {missing or 'none'}; "
            f"unexpected: {unexpected or 'none'}. Allowed: the label, the features and the ignored columns."
        )


def _fail_at(source: str, frame: pd.DataFrame, bad: Any, column: str, allowed: str) -> InputDataError:
    """The first bad cell, by its data row in the file (a chunk's index counts the file's rows)."""
    position = int(np.flatnonzero(np.asarray(bad))[0])
    value = frame[column].iloc[position]
    row = int(frame.index[position]) + 1
    return InputDataError(f"{source}: data row {row}, column '{column}': value {value!r}; allowed: {allowed}.")


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


def raw_files(input_dir: Path) -> list[Path]:
    """Every CSV under `input_dir` (new data arrives as extra files), in a fixed order."""
    files = sorted(input_dir.rglob("*.csv"))
    if not files:
        raise InputDataError(f"No *.csv file under {input_dir}: expected raw data as the data contract describes.")
    return files


def checked_chunks(
    input_dir: Path, contract: Mapping[str, Any], chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """Every raw file's rows, chunk by chunk, as the splits hold them (or the first bad value)."""
    for path in raw_files(input_dir):
        for chunk in read_chunks(path, contract, chunk_rows):
            yield checked_rows(chunk, contract, str(path))


def group_of(labels: pd.Series, contract: Mapping[str, Any]) -> np.ndarray:
    """What the split stratifies by: the class's position, or one group (regression)."""
    return labels.to_numpy(dtype=int) if contract.get("classes") else np.zeros(len(labels), dtype=int)


def count_groups(input_dir: Path, contract: Mapping[str, Any], chunk_rows: int = CHUNK_ROWS) -> Counter[int]:
    """The first pass: rows per class (one group for regression), reading and checking the label only."""
    counts: Counter[int] = Counter()
    label = contract["label"]
    for path in raw_files(input_dir):
        for chunk in read_chunks(path, contract, chunk_rows, usecols=[label]):
            groups = group_of(label_values(chunk, contract, str(path)), contract)
            counts.update(dict(zip(*np.unique(groups, return_counts=True))))
    return Counter({int(group): int(rows) for group, rows in counts.items()})


# --- splitting and its checks -----------------------------------------------------------------


def _check_fractions(validation_fraction: float, test_fraction: float) -> None:
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise InputDataError(
            f"Split fractions validation={validation_fraction}, test={test_fraction}; allowed: each in (0, 1), sum < 1."
        )


def split_sizes(rows: int, validation_fraction: float, test_fraction: float) -> dict[str, int]:
    """Each split's rows of a group of `rows`: at least one in test and validation, the rest in train."""
    test = max(1, round(rows * test_fraction))
    validation = max(1, round(rows * validation_fraction))
    return {"train": rows - test - validation, "validation": validation, "test": test}


class SplitAssigner:
    """Sends rows to the splits chunk by chunk, each group (class) in its exact sizes, at random.

    For a chunk's rows of a group, a multivariate hypergeometric draw from the rows the group has
    left to place in each split says how many go where, and a shuffle says which: over all chunks
    every split receives exactly its size, and every choice of rows is equally likely.
    """

    def __init__(self, sizes: Mapping[int, Mapping[str, int]], seed: int) -> None:
        self.left = {group: np.asarray([sizes[group][name] for name in SPLITS], dtype=np.int64) for group in sizes}
        self.rng = np.random.default_rng(seed)

    def assign(self, groups: np.ndarray) -> np.ndarray:
        """The split (its index in SPLITS) of each row."""
        codes = np.empty(len(groups), dtype=np.int8)
        for group in np.unique(groups).tolist():
            rows = np.flatnonzero(groups == group)
            drawn = self.rng.multivariate_hypergeometric(self.left[group], len(rows))
            self.left[group] -= drawn
            chosen = np.repeat(np.arange(len(SPLITS), dtype=np.int8), drawn)
            self.rng.shuffle(chosen)
            codes[rows] = chosen
        return codes


def group_sizes(
    groups: Mapping[int, int], *, validation_fraction: float, test_fraction: float
) -> dict[int, dict[str, int]]:
    _check_fractions(validation_fraction, test_fraction)
    sizes = {group: split_sizes(rows, validation_fraction, test_fraction) for group, rows in sorted(groups.items())}
    if any(size["train"] < 1 for size in sizes.values()):
        raise InputDataError(f"Only {sum(groups.values())} rows: too few to split into train, validation and test.")
    return sizes


def split(
    table: pd.DataFrame,
    *,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    stratify_by: str | None = None,
) -> dict[str, pd.DataFrame]:
    """A table in memory split as the chunked pass splits it (per class of `stratify_by` when given)."""
    groups = table[stratify_by].to_numpy(dtype=int) if stratify_by else np.zeros(len(table), dtype=int)
    counts = dict(zip(*(v.tolist() for v in np.unique(groups, return_counts=True))))
    sizes = group_sizes(counts, validation_fraction=validation_fraction, test_fraction=test_fraction)
    codes = SplitAssigner(sizes, seed).assign(groups)
    return {name: table[codes == index].reset_index(drop=True) for index, name in enumerate(SPLITS)}


def class_summary(counts: Mapping[int, int], classes: Sequence[str]) -> str:
    """'no: 28 rows, yes: 57 rows': the rows of each class present."""
    return ", ".join(f"{classes[index]}: {counts[index]} rows" for index in sorted(counts) if counts[index])


def check_size(groups: Mapping[int, int], contract: Mapping[str, Any], *, min_rows: int) -> None:
    rows = sum(groups.values())
    if rows < min_rows:
        raise InputDataError(f"Only {rows} rows; need at least {min_rows} (--min-rows).")
    classes = list(contract.get("classes") or [])
    absent = [name for index, name in enumerate(classes) if not groups.get(index)]
    if absent:
        raise InputDataError(
            f"The data set has no row of class {', '.join(map(repr, absent))} ({class_summary(groups, classes)}); "
            f"need every class of the data contract: {', '.join(classes)}."
        )


def class_counts(splits: Mapping[str, pd.DataFrame], label: str) -> dict[str, dict[int, int]]:
    """Rows of each class in each split of tables in memory."""
    return {name: {int(k): int(v) for k, v in frame[label].value_counts().items()} for name, frame in splits.items()}


def check_classes(
    counts: Mapping[str, Mapping[int, int]], contract: Mapping[str, Any], *, min_rows_per_class: int
) -> None:
    """Every split holds each class at least `min_rows_per_class` times (test first: it gates); regression: no check."""
    classes = list(contract.get("classes") or [])
    if not classes:
        return
    if min_rows_per_class < 1:
        raise InputDataError(f"--min-rows-per-class must be at least 1; got {min_rows_per_class}.")
    for name in ("test", "validation", "train"):
        found = counts[name]
        for index, class_name in enumerate(classes):
            rows = int(found.get(index, 0))
            if rows < min_rows_per_class:
                raise InputDataError(
                    f"The {name} split has {rows} rows of class {class_name} ({class_summary(found, classes)}); "
                    f"need at least {min_rows_per_class} of each class (--min-rows-per-class)."
                )


# --- output --------------------------------------------------------------------------------------


def sample_payload(rows: Sequence[str]) -> bytes:
    """A tar.gz holding payload.csv: held-out rows without the label, as a request body."""
    body = "".join(rows).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(SAMPLE_FILE)
        info.size, info.mode = len(body), 0o644
        tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def sample_positions(rows: int, wanted: int) -> np.ndarray:
    """`wanted` positions spread evenly over a split of `rows` rows (all of them when it has fewer): the
    sample payload spans the held-out split, where its first rows may all be of one class."""
    return np.unique(np.linspace(0, rows - 1, min(wanted, rows)).round().astype(np.int64))


class SplitWriter:
    """Appends each chunk's rows to its split's file (`<split>.csv`, or `<split>-<part>.csv` for one part of
    several), keeps `sample_rows` held-out rows spread over the `test_rows` of the test split for the sample
    payload, and writes the contract beside each split."""

    def __init__(
        self,
        output_dir: Path,
        contract: Mapping[str, Any],
        *,
        part: str,
        sample_rows: int,
        test_rows: int,
        train_files: int = 1,
    ) -> None:
        self.output_dir, self.contract, self.sample_rows = output_dir, contract, sample_rows
        self.sample_at = sample_positions(test_rows, sample_rows)
        self.files: dict[str, list[IO[str]]] = {}
        for name in SPLITS:
            directory = output_dir / name
            directory.mkdir(parents=True, exist_ok=True)
            (directory / CONTRACT_FILE).write_text(json.dumps(contract, indent=2))
            # The train split in several files when several training instances each take a share.
            count = train_files if name == "train" else 1
            stems = [f"{name}{part}"] if count == 1 else [f"{name}{part}-{k}" for k in range(count)]
            self.files[name] = [(directory / f"{stem}.csv").open("w", newline="") for stem in stems]
        self.sample: list[str] = []
        self.written = {name: 0 for name in SPLITS}

    def write(self, rows: pd.DataFrame, codes: np.ndarray) -> None:
        for index, name in enumerate(SPLITS):
            chosen = rows[codes == index]
            files = self.files[name]
            # Row by row in turn over the split's files (from where the last chunk stopped).
            turn = (self.written[name] + np.arange(len(chosen))) % len(files)
            for number, handle in enumerate(files):
                chosen[turn == number].to_csv(handle, header=False, index=False)
            if name == "test" and self.sample_rows:
                first = self.written[name]
                at = self.sample_at[(self.sample_at >= first) & (self.sample_at < first + len(chosen))] - first
                features = chosen.iloc[at].drop(columns=[self.contract["label"]])
                self.sample.extend(features.to_csv(header=False, index=False).splitlines(keepends=True))
            self.written[name] += len(chosen)

    def close(self) -> None:
        for handles in self.files.values():
            for handle in handles:
                handle.close()
        if self.sample_rows:
            sample = self.output_dir / SAMPLE_DIR
            sample.mkdir(parents=True, exist_ok=True)
            (sample / SAMPLE_ARCHIVE).write_bytes(sample_payload(self.sample))


def this_part(resource_config: Path = Path("/opt/ml/config/resourceconfig.json")) -> str:
    """'' on one instance; '-<index>' on one of several (SageMaker's resourceconfig.json names the hosts)."""
    if not resource_config.is_file():
        return ""
    described = json.loads(resource_config.read_text())
    hosts = sorted(described["hosts"])
    return f"-{hosts.index(described['current_host'])}" if len(hosts) > 1 else ""


def preprocess(args: argparse.Namespace) -> dict[str, int]:
    """Two passes over the raw files: count the classes and check the sizes, then check, split and write."""
    contract = load_contract(args.contract)
    part = args.part or this_part()
    if part and not any(args.input_dir.rglob("*.csv")):
        # ShardedByS3Key gives an instance no object when the manifest names fewer files than instances
        # (ProcessingS3Input's S3DataDistributionType); a part without data would lose no row but fail
        # the checks of its own, and the first part writes the sample payload.
        raise InputDataError(
            f"This instance (part {part.lstrip('-')}) received no raw file under {args.input_dir}: each of "
            "model_build.preprocess_instance_count instances takes a share of the run's files; use no more "
            "instances than files."
        )
    groups = count_groups(args.input_dir, contract, args.chunk_rows)
    check_size(groups, contract, min_rows=args.min_rows)
    sizes = group_sizes(groups, validation_fraction=args.validation_fraction, test_fraction=args.test_fraction)
    check_classes(
        {name: {group: size[name] for group, size in sizes.items()} for name in SPLITS},
        contract,
        min_rows_per_class=args.min_rows_per_class,
    )
    assigner = SplitAssigner(sizes, args.seed)
    writer = SplitWriter(
        args.output_dir,
        contract,
        part=part,
        # One sample payload per run: the first part's (the others would overwrite it in S3).
        sample_rows=args.sample_rows if part in ("", "-0") else 0,
        test_rows=sum(size["test"] for size in sizes.values()),
        train_files=args.train_files,
    )
    try:
        for rows in checked_chunks(args.input_dir, contract, args.chunk_rows):
            writer.write(rows, assigner.assign(group_of(rows[contract["label"]], contract)))
    finally:
        writer.close()
    return writer.written


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
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows read at a time (the memory bound)")
    parser.add_argument("--part", default="", help="suffix of this part's files (default: this instance's)")
    parser.add_argument("--train-files", type=int, default=1, help="files the train split is written to")
    args = parser.parse_args(argv)
    if args.chunk_rows < 1 or args.train_files < 1 or args.sample_rows < 1:
        parser.error("--chunk-rows, --train-files and --sample-rows must be at least 1")
    print(json.dumps(preprocess(args)))


if __name__ == "__main__":
    main()
