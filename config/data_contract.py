"""The data contract: what a team's raw data looks like, which every step reads instead of knowing it.

`model_build.model.data` in the model block (the model folder's model.json, or inline): the
label column, each feature's name and kind, columns to ignore, the classes of a classifier,
and how the raw CSVs are written. It is checked here against the task type, once, at synth;
the pipeline ships the result (`as_document`) to its steps as one JSON file, and the steps
read that file, never a copied list of columns. A string names a JSON file holding the
contract, relative to the model.json (two models of one data set share it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from config.errors import _fail
from config.fields import FEATURE
from config.reader import _Reader

_NAME = re.compile(FEATURE)
_NAME_ALLOWED = "a column name of 1-200 letters, digits, _ . -"
# A category or class as a CSV cell holds it: no line break, at most 200 characters.
_VALUE = re.compile(r"^[^\r\n]{1,200}$")
MAX_FEATURES = 1000
MAX_VALUES = 1000
# Delimiters the steps' CSV reading (pandas, the csv module) handles without quoting surprises.
DELIMITERS = {",": ",", ";": ";", "\t": "\\t", "|": "|"}
# Keys of the document the steps read (pipeline_steps/scripts/preprocess.py checks its version).
DOCUMENT_VERSION = 1


class FeatureKind(StrEnum):
    """How a feature is checked, summarised in the baseline and compared for drift."""

    NUMERIC = "numeric"  # any finite number; a histogram in the baseline
    INTEGER = "integer"  # a whole number; a histogram in the baseline
    CATEGORICAL = "categorical"  # a string value; category counts in the baseline


@dataclass(frozen=True)
class Feature:
    name: str
    kind: FeatureKind
    # The values a categorical feature may take; empty: any value (the baseline records those seen).
    values: tuple[str, ...] = ()
    # Whether an empty cell is allowed (it is then a missing value, never drift).
    missing: bool = False


@dataclass(frozen=True)
class CsvFormat:
    header: bool = True
    delimiter: str = ","
    # The raw files' column order when they have no header row.
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataContract:
    label: str
    features: tuple[Feature, ...]
    # Classes of a classifier in a fixed order: the label's index in it is what the model learns,
    # and for binary classification the second class is the positive one. Empty for regression.
    classes: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    csv: CsvFormat = CsvFormat()

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def as_document(self, task_type: str) -> dict[str, Any]:
        """The JSON the pipeline's steps and the training script read (every default written out)."""
        return {
            "version": DOCUMENT_VERSION,
            "task_type": task_type,
            "label": self.label,
            "classes": list(self.classes),
            "features": [
                {"name": f.name, "kind": f.kind.value, "values": list(f.values), "missing": f.missing}
                for f in self.features
            ],
            "ignore": list(self.ignore),
            "csv": {"header": self.csv.header, "delimiter": self.csv.delimiter, "columns": list(self.csv.columns)},
        }


def _names(r: _Reader, name: str, *, low: int, high: int, default: Any = ...) -> tuple[str, ...]:
    value = r.raw(name, default)
    allowed = f"a list of {low} to {high} distinct column names (1-200 letters, digits, _ . -)"
    if not isinstance(value, list) or not low <= len(value) <= high or len(set(map(str, value))) != len(value):
        raise _fail(r.key(name), value, allowed)
    for item in value:
        if not isinstance(item, str) or not _NAME.match(item):
            raise _fail(r.key(name), item, allowed)
    return tuple(value)


def _text(value: Any) -> Any:
    """A whole number as the text a CSV cell holds (classes 0 and 1 are the cells "0" and "1")."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _values(r: _Reader, name: str, allowed: str, *, low: int) -> tuple[str, ...]:
    value = r.raw(name, [])
    if not isinstance(value, list) or not low <= len(value) <= MAX_VALUES:
        raise _fail(r.key(name), value, allowed)
    texts = [_text(item) for item in value]
    for item in texts:
        if not isinstance(item, str) or not _VALUE.match(item) or item != item.strip():
            raise _fail(r.key(name), item, allowed)
    if len(set(texts)) != len(texts):
        raise _fail(r.key(name), value, allowed)
    return tuple(texts)


def _feature(r: _Reader) -> Feature:
    r.only("name", "kind", "values", "missing")
    name = r.string("name", _NAME, _NAME_ALLOWED)
    kind = r.choice("kind", FeatureKind)
    values: tuple[str, ...] = ()
    if "values" in r.data:
        if kind is not FeatureKind.CATEGORICAL:
            raise _fail(r.key("values"), r.raw("values"), f"no values for a {kind.value} feature (categorical only)")
        values = _values(r, "values", "a list of 1 to 1000 distinct strings without surrounding spaces", low=1)
    return Feature(name, kind, values, r.boolean("missing", False))


def _features(r: _Reader) -> tuple[Feature, ...]:
    raw = r.raw("features")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_FEATURES:
        raise _fail(r.key("features"), raw, f"a list of 1 to {MAX_FEATURES} features")
    features = tuple(_feature(_Reader(item, f"{r.key('features')}[{i}]")) for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, feature in enumerate(features):
        if feature.name in seen:
            raise _fail(f"{r.key('features')}[{i}].name", feature.name, "a name no other feature has")
        seen.add(feature.name)
    return features


def _csv(r: _Reader, columns: Sequence[str]) -> CsvFormat:
    r.only("header", "delimiter", "columns")
    header = r.boolean("header", True)
    delimiter = r.raw("delimiter", ",")
    if delimiter not in DELIMITERS:
        raise _fail(r.key("delimiter"), delimiter, " | ".join(repr(d) for d in DELIMITERS.values()))
    if header:
        if "columns" in r.data:
            raise _fail(r.key("columns"), r.raw("columns"), "no columns while header is true (the header names them)")
        return CsvFormat(True, delimiter)
    order = _names(r, "columns", low=2, high=len(columns))
    if sorted(order) != sorted(columns):
        raise _fail(
            r.key("columns"),
            list(order),
            f"every column of the contract once, in the raw files' order: {', '.join(columns)}",
        )
    return CsvFormat(False, delimiter, order)


def _classes(r: _Reader, task: str) -> tuple[str, ...]:
    if task == "regression":
        if "classes" in r.data:
            raise _fail(
                r.key("classes"), r.raw("classes"), "no classes for task_type regression (the label is a number)"
            )
        return ()
    low, what = (2, "exactly 2") if task == "binary_classification" else (3, "3 to 1000")
    classes = _values(r, "classes", f"a list of {what} distinct class labels for task_type {task}", low=low)
    if task == "binary_classification" and len(classes) != 2:
        raise _fail(r.key("classes"), list(classes), f"a list of exactly 2 distinct class labels for task_type {task}")
    return classes


def parse_contract(r: _Reader, task: str) -> DataContract:
    """The `data` block, checked on its own and against the model's task type."""
    r.only("label", "classes", "features", "ignore", "csv")
    label = r.string("label", _NAME, _NAME_ALLOWED)
    features = _features(r)
    ignore = _names(r, "ignore", low=0, high=MAX_FEATURES, default=[])
    taken = {label: "the label", **{f.name: "a feature" for f in features}}
    for name in ignore:
        if name in taken:
            raise _fail(
                r.key("ignore"), name, f"columns that are neither the label nor a feature ({name} is {taken[name]})"
            )
    if label in {f.name for f in features}:
        raise _fail(r.key("label"), label, "a column that is not also a feature")
    columns = (label, *(f.name for f in features), *ignore)
    return DataContract(
        label=label,
        features=features,
        classes=_classes(r, task),
        ignore=ignore,
        csv=_csv(r.child("csv"), columns),
    )


def load_contract(r: _Reader, name: str, base: Path, task: str) -> DataContract:
    """`data`: the block itself, or a JSON file holding it (relative to `base`, the model.json's folder)."""
    value = r.raw(name)
    if isinstance(value, Mapping):
        return parse_contract(r.child(name), task)
    path = (base / value).resolve() if isinstance(value, str) and value else None
    if path is None or not path.is_file():
        raise _fail(r.key(name), value, f"a data contract object or a JSON file of one, relative to {base}")
    try:
        block = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise _fail(r.key(name), value, f"a JSON file ({error})") from error
    return parse_contract(_Reader(block, f"{r.key(name)}[{value}]"), task)
