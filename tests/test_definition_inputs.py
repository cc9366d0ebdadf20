"""The checked-in model-build definition is refused at synth when generated from other settings."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

import config
from pipeline_steps import checked_in, drift_check_pipeline
from pipeline_steps.source_archive import write_data_contract
from tests.conftest import ROOT, cdk_json_context, raw_config, run_app_py

ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/churn-serving:1.4"
# Whichever example cdk.json trains, the other one: switching to it needs a new definition.
CONFIGURED = config.load_cdk_json().model_build.model
OTHER_EXAMPLE = "models/sklearn" if CONFIGURED.origin == "models/xgboost" else "models/xgboost"


def inline_model(raw: dict[str, Any]) -> dict[str, Any]:
    """The model.json of cdk.json's model as an inline block: its paths made relative to the repository root."""
    directory = raw["model_build"]["model"]
    model = json.loads((ROOT / directory / "model.json").read_text())
    model["source_dir"] = f"{directory}/{model['source_dir']}"
    if isinstance(model["data"], str):
        model["data"] = f"{directory}/{model['data']}"
    return dict(model)


def settings(raw: dict[str, Any], tmp_path: Path, **context: Any) -> checked_in.BuildSettings:
    app_config = config.load({config.CONTEXT_KEY: raw, **context}, releases_dir=tmp_path)
    return checked_in.settings_from_config(app_config)


def test_the_checked_in_inputs_are_the_settings_in_cdk_json(tmp_path: Path) -> None:
    current = settings(raw_config(), tmp_path)
    assert json.loads(checked_in.MODEL_BUILD_INPUTS.read_text()) == checked_in.definition_inputs(current)
    checked_in.check_definition_inputs(current)


@pytest.mark.parametrize(
    ("key", "value"),
    [("training_instance_type", "ml.m5.2xlarge"), ("use_spot_training", False)],
)
def test_a_changed_model_build_setting_without_regenerating_is_refused_by_key(
    key: str, value: Any, tmp_path: Path
) -> None:
    raw = raw_config()
    raw["model_build"][key] = value
    with pytest.raises(checked_in.CheckedInError) as error:
        checked_in.check_definition_inputs(settings(raw, tmp_path))
    message = str(error.value)
    assert "\n" not in message
    assert f"'mlops.model_build.{key}' is {value!r}" in message
    assert "`make pipeline-definitions`" in message


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda model: model["hyperparameters"].update(max_depth="6"), "hyperparameters"),
        (lambda model: model["metric"].update(threshold=0.85), "metric.threshold"),
        (lambda model: model.update(entry_point="inference.py"), "entry_point"),
        (lambda model: model["images"].update(inference={"uri": ECR_IMAGE}), "images.inference"),
    ],
    ids=["hyperparameter", "threshold", "entry-point", "inference-image"],
)
def test_every_model_setting_the_definition_bakes_in_is_checked(edit: Any, key: str, tmp_path: Path) -> None:
    """The model block, inline in cdk.json, with one value changed from the checked-in definition's."""
    raw = raw_config()
    model = inline_model(raw)
    edit(model)
    raw["model_build"]["model"] = model
    with pytest.raises(checked_in.CheckedInError, match=rf"'mlops\.model_build\.model\.{re.escape(key)}' is "):
        checked_in.check_definition_inputs(settings(raw, tmp_path))


def test_the_model_written_inline_is_the_model_named_by_its_directory(tmp_path: Path) -> None:
    raw = raw_config()
    raw["model_build"]["model"] = inline_model(raw)
    checked_in.check_definition_inputs(settings(raw, tmp_path))


def test_a_changed_data_contract_needs_no_new_definition(tmp_path: Path) -> None:
    """The definition names the contract's file asset (`${DataContractKey}`), not its content: a new
    contract is a new asset (and a new Preprocess cache key), so no definition can hold an old one."""
    raw = raw_config()
    model = inline_model(raw)
    contract = json.loads((ROOT / model["data"]).read_text()) if isinstance(model["data"], str) else model["data"]
    contract["features"][0]["missing"] = True
    model["data"] = contract
    raw["model_build"]["model"] = model
    changed = settings(raw, tmp_path)
    checked_in.check_definition_inputs(changed)
    assert not any(".data" in key for key in checked_in.definition_inputs(changed))
    definition = checked_in.MODEL_BUILD_DEFINITION.read_text()
    assert "${DataContractKey}" in definition and json.dumps(contract["features"][0]["name"]) not in definition
    documents = [m.data.as_document(m.task_type.value) for m in (changed.build.model, CONFIGURED)]
    assert len({write_data_contract(d, tmp_path / "assets") for d in documents}) == 2


def test_the_build_environments_approval_mode_is_baked_in_too(tmp_path: Path) -> None:
    raw = raw_config()
    raw["environments"]["dev"]["approval"] = "auto"
    baked = r"'mlops\.environments\.dev\.approval \(default approval status\)'"
    with pytest.raises(checked_in.CheckedInError, match=baked):
        checked_in.check_definition_inputs(settings(raw, tmp_path))


def test_settings_the_definition_does_not_hold_are_free_to_change(tmp_path: Path) -> None:
    raw = raw_config()
    raw["model_build"]["retraining"]["schedule"] = "cron(0 4 ? * TUE *)"
    checked_in.check_definition_inputs(settings(raw, tmp_path))


@pytest.mark.parametrize(
    ("key", "value", "reported"),
    [
        (
            "training_instance_type",
            "ml.m5.2xlarge",
            "'mlops.model_build.training_instance_type' is 'ml.m5.2xlarge', the definition has 'ml.m5.xlarge'",
        ),
        (
            "model",
            OTHER_EXAMPLE,
            f"'mlops.model_build.model.images.training' is '{config.load_model(OTHER_EXAMPLE).images.training.label}', "
            f"the definition has '{CONFIGURED.images.training.label}'",
        ),
    ],
    ids=["instance-type", "switch-example-model"],
)
@pytest.mark.slow  # app.py as a subprocess
def test_a_dash_c_override_of_a_model_build_setting_fails_synth_in_one_line(
    tmp_path: Path, key: str, value: str, reported: str
) -> None:
    """`cdk synth -c mlops.model_build.<key>=...` is refused, never silently ignored."""
    result = run_app_py({**cdk_json_context(), f"mlops.model_build.{key}": value}, tmp_path)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("cdk.json:")]
    assert reported in line
    assert "`make pipeline-definitions`" in line
    assert not list(tmp_path.glob("*.template.json"))


def test_the_drift_check_definition_depends_on_no_config() -> None:
    """It is generated without settings (render() takes none), so no setting can make it stale."""
    tree = ast.parse(Path(drift_check_pipeline.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "config" not in imported
    assert drift_check_pipeline.render.__code__.co_argcount == 0
