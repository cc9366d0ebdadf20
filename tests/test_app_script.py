"""`python app.py` as `cdk synth` runs it: every stack written, config errors as one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AppPyRun, cdk_json_context, run_app_py, variant_context
from tests.support import EXPECTED_STACKS

# Each test runs app.py in a fresh interpreter: imports and a synth of its own.
pytestmark = pytest.mark.slow


def test_app_py_synthesizes_every_stack_and_exits_cleanly(app_py_without_releases: AppPyRun) -> None:
    """Plain `app.synth()`: every stack written, the CDK's own template validator ran."""
    from scripts.list_templates import stacks

    run = app_py_without_releases
    assert run.returncode == 0, run.output
    # The notice is an annotation on the storage stack, which the CDK CLI prints after synth.
    notices = [
        entry["data"]
        for path in run.outdir.rglob("*.metadata.json")
        for entries in json.loads(path.read_text()).values()
        for entry in entries
        if entry["type"] == "aws:cdk:info"
    ]
    assert any("mlops-delivery-prod-serving: skipped, no release for prod" in notice for notice in notices)
    # The stacks of the session assembly (tests/test_app_gates.py) but the serving ones.
    without_releases = {name for name in EXPECTED_STACKS if not name.endswith("-serving")}
    assert {name for name, _, _ in stacks(run.outdir)} == without_releases
    assert (run.outdir / "validation-report.json").exists()


def test_app_py_reports_a_config_error_by_key_and_fails(tmp_path: Path) -> None:
    context = cdk_json_context()
    context["mlops"]["environments"]["prod"]["approval"] = "auto"
    result = run_app_py(context, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("cdk.json: ")
    assert "approval" in result.stderr


def _no_image_region(mlops: dict[str, Any]) -> None:
    for env in mlops["environments"].values():
        env["region"] = "eu-west-9"


def _codecommit_with_a_slash(mlops: dict[str, Any]) -> None:
    mlops["source"] = {"kind": "codecommit", "repository": "example-org/mlops-delivery", "branch": "main"}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (_no_image_region, "mlops.model_build.model.images.processing"),
        (_codecommit_with_a_slash, "mlops.source.repository"),
    ],
)
def test_app_py_reports_what_the_constructs_would_refuse_as_one_line(
    change: Callable[[dict[str, Any]], None], key: str, tmp_path: Path
) -> None:
    """These once failed deep in a construct or in jsii, with a traceback instead of the key."""
    context = cdk_json_context()
    change(context["mlops"])
    result = run_app_py(context, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"cdk.json: Invalid config '{key}'")
    assert result.stderr.count("\n") == 1, result.stderr


def test_app_py_synthesizes_the_layout_of_every_option_with_cdks_built_in_validation(tmp_path: Path) -> None:
    """The VPC layout with a shadow test, a ROLLING stage and a release everywhere (the session's variant
    synth), as the CLI synthesizes it: with aws-cdk-lib's built-in CloudFormation validation, which this
    project makes fail synth (`@aws-cdk/core:validateAgainstDefaultRules` in cdk.json) and the tests' own
    synths leave out (tests/conftest.py). `make synth-example` and `make synth-sandbox` in CI do the same
    for the other two layouts, with cfn-lint."""
    from scripts.list_templates import stacks

    assert cdk_json_context()["@aws-cdk/core:validateAgainstDefaultRules"] is True
    result = run_app_py(variant_context(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The session assembly's stacks, and the network stack of dev's private endpoints.
    assert {name for name, _, _ in stacks(tmp_path)} == {*EXPECTED_STACKS, "mlops-delivery-dev-network"}
