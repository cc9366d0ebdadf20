"""The data contract in config: each example's, and every bad setting refused at synth in one line naming its key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import config
from config import ConfigError, FeatureKind
from tests.conftest import ROOT, raw_config

BASE = {
    "label": "outcome",
    "classes": ["no", "yes"],
    "features": [
        {"name": "amount", "kind": "numeric", "missing": True},
        {"name": "visits", "kind": "integer"},
        {"name": "channel", "kind": "categorical", "values": ["web", "store"]},
    ],
    "ignore": ["customer_id"],
}


def model_block(data: Any, task: str = "binary_classification", metric: str = "auc") -> dict[str, Any]:
    block = json.loads((ROOT / "models" / "sklearn" / "model.json").read_text())
    block["source_dir"] = "models/sklearn/src"
    higher = config.TASK_METRICS[config.TaskType(task)][metric]
    block.update(task_type=task, data=data, metric={"name": metric, "higher_is_better": higher, "threshold": 0.5})
    return dict(block)


def load(data: Any, tmp_path: Path, **model: Any) -> config.ModelConfig:
    raw = raw_config()
    raw["model_build"]["model"] = model_block(data, **model)
    return config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path).model_build.model


def with_change(path: str, value: Any) -> dict[str, Any]:
    """BASE with one value replaced (`value` None removes the key); `path` is dotted, list items by index."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if value is None:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


def test_the_contract_is_read_with_every_default_written_out(tmp_path: Path) -> None:
    contract = load(BASE, tmp_path).data
    assert contract.feature_names == ("amount", "visits", "channel")
    assert [f.kind for f in contract.features] == [FeatureKind.NUMERIC, FeatureKind.INTEGER, FeatureKind.CATEGORICAL]
    assert contract.as_document("binary_classification") == {
        "version": 1,
        "task_type": "binary_classification",
        "label": "outcome",
        "classes": ["no", "yes"],
        "features": [
            {"name": "amount", "kind": "numeric", "values": [], "missing": True},
            {"name": "visits", "kind": "integer", "values": [], "missing": False},
            {"name": "channel", "kind": "categorical", "values": ["web", "store"], "missing": False},
        ],
        "ignore": ["customer_id"],
        "csv": {"header": True, "delimiter": ",", "columns": []},
    }


def test_whole_number_classes_are_the_cells_that_hold_them(tmp_path: Path) -> None:
    assert load(with_change("classes", [0, 1]), tmp_path).data.classes == ("0", "1")


@pytest.mark.parametrize(
    ("model", "task", "classes"),
    [
        ("xgboost", "binary_classification", 2),
        ("sklearn", "binary_classification", 2),
        ("wine", "multiclass_classification", 3),
        ("diabetes", "regression", 0),
    ],
)
def test_each_example_states_its_data(model: str, task: str, classes: int) -> None:
    loaded = config.load_model(f"models/{model}")
    assert (loaded.task_type.value, len(loaded.data.classes)) == (task, classes)
    categorical = [f.name for f in loaded.data.features if f.kind is FeatureKind.CATEGORICAL]
    assert categorical == (["sex", "bmi_band"] if model == "diabetes" else [])


@pytest.mark.parametrize(
    ("data", "model", "key", "allowed"),
    [
        (with_change("label", None), {}, "data.label", None),
        (with_change("label", "amount"), {}, "data.label", "a column that is not also a feature"),
        (with_change("features", []), {}, "data.features", "a list of 1 to 1000 features"),
        (with_change("features.1.kind", "date"), {}, "data.features[1].kind", "numeric | integer | categorical"),
        (with_change("features.1.name", "amount"), {}, "data.features[1].name", "a name no other feature has"),
        (with_change("features.0.name", "has space"), {}, "data.features[0].name", "a column name of 1-200"),
        (with_change("features.0.values", ["a"]), {}, "data.features[0].values", "categorical only"),
        (with_change("features.2.values", ["web", "web"]), {}, "data.features[2].values", "1 to 1000 distinct"),
        (with_change("features.2.values", [" web"]), {}, "data.features[2].values", "without surrounding spaces"),
        (
            with_change("ignore", ["outcome"]),
            {},
            "data.ignore",
            "neither the label nor a feature (outcome is the label)",
        ),
        (with_change("classes", ["no", "yes", "maybe"]), {}, "data.classes", "exactly 2 distinct class labels"),
        (with_change("classes", None), {}, "data.classes", "exactly 2 distinct class labels"),
        (
            BASE,
            {"task": "multiclass_classification", "metric": "macro_f1"},
            "data.classes",
            "3 to 1000 distinct class labels for task_type multiclass_classification",
        ),
        (BASE, {"task": "regression", "metric": "rmse"}, "data.classes", "no classes for task_type regression"),
        (with_change("csv.delimiter", ":"), {}, "data.csv.delimiter", "',' | ';' | '\\\\t' | '|'"),
        (with_change("csv.header", False), {}, "data.csv.columns", None),
        (
            with_change("csv", {"header": False, "columns": ["outcome", "amount"]}),
            {},
            "data.csv.columns",
            "every column of the contract once, in the raw files' order: outcome, amount, visits, channel, customer_id",
        ),
        (
            with_change("csv", {"header": True, "columns": ["outcome"]}),
            {},
            "data.csv.columns",
            "no columns while header is true",
        ),
        ("no/such/file.json", {}, "data", "a data contract object or a JSON file of one"),
    ],
    ids=[
        "no-label",
        "label-is-a-feature",
        "no-features",
        "unknown-kind",
        "duplicate-feature",
        "bad-name",
        "values-of-a-number",
        "duplicate-values",
        "spaced-value",
        "ignored-label",
        "binary-with-three-classes",
        "binary-without-classes",
        "multiclass-with-two-classes",
        "regression-with-classes",
        "bad-delimiter",
        "no-header-no-order",
        "order-missing-columns",
        "order-with-a-header",
        "missing-file",
    ],
)
def test_a_bad_contract_fails_synth_in_one_line_naming_the_key(
    data: Any, model: dict[str, str], key: str, allowed: str | None, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as error:
        load(data, tmp_path, **model)
    message = str(error.value)
    assert "\n" not in message
    assert f"'mlops.model_build.model.{key}'" in message
    assert allowed is None or allowed in message, message


def test_a_long_bad_value_is_shown_shortened_so_the_error_stays_readable(tmp_path: Path) -> None:
    """1001 classes: the message names the key and what is allowed, not a thousand values."""
    with pytest.raises(ConfigError) as error:
        load(
            with_change("classes", [f"c{i}" for i in range(1001)]),
            tmp_path,
            task="multiclass_classification",
            metric="accuracy",
        )
    message = str(error.value)
    assert "data.classes': got ['c0', 'c1'" in message and "(1001 items)" in message
    assert "allowed: a list of 3 to 1000 distinct class labels" in message and len(message) < 500


def test_an_unknown_contract_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Unknown config 'mlops\.model_build\.model\.data\.lable': did you mean"):
        load({**BASE, "lable": "x"}, tmp_path)


def test_a_model_without_a_data_contract_is_refused(tmp_path: Path) -> None:
    raw = raw_config()
    block = model_block(BASE)
    del block["data"]
    raw["model_build"]["model"] = block
    with pytest.raises(ConfigError, match=r"Missing config 'mlops\.model_build\.model\.data'"):
        config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)


def test_model_monitor_may_watch_only_features_of_the_contract(tmp_path: Path) -> None:
    raw = raw_config()
    raw["model_build"]["model"] = model_block(BASE)
    raw["environments"]["prod"]["drift"].update(use_model_monitor=True, model_monitor_features=["amount", "colour"])
    with pytest.raises(
        ConfigError,
        match=r"'mlops\.environments\.prod\.drift\.model_monitor_features'.*features of model_build\.model\.data "
        r"\('colour' is not one\): amount, visits, channel",
    ):
        config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)
    raw["environments"]["prod"]["drift"]["model_monitor_features"] = ["amount", "channel"]
    loaded = config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)
    assert loaded.environment("prod").drift.model_monitor_features == ("amount", "channel")
