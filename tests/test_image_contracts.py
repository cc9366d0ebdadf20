"""Every step script against the container image it runs in (pipeline_steps/images.py).

A script that passes locally on the app's Python can still fail at import in its job: the
image's `python3` decides. Checked here: the image each script is sent to, the minimum
Python of its syntax and standard-library use (vermin), and that it imports only the
standard library and the image's packages. Scripts are shipped to their jobs as one file
each, so a script importing a sibling module would fail in the container: that is checked too.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipeline_steps import drift_check_pipeline, images, model_build_pipeline
from tests.conftest import ROOT

STEPS_DIR = ROOT / "pipeline_steps"
DEFINITIONS = STEPS_DIR / "definitions"
SCRIPTS = sorted(images.STEP_IMAGES)
# vermin's command line, installed beside this interpreter (requirements-dev.txt).
VERMIN = Path(sys.executable).with_name("vermin")


def vermin(path: Path, python: str) -> subprocess.CompletedProcess[str]:
    """vermin's verdict on `path` for Python `python` and later; exit status 0 when it fits."""
    command = [str(VERMIN), "--no-tips", "--violations", f"-t={python}-", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def script_path(name: str) -> Path:
    return STEPS_DIR / f"{name}.py"


def imported_modules(path: Path) -> dict[str, int]:
    """Top-level name of every module a file imports, wherever the import sits, with its line."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], node.lineno)
        elif isinstance(node, ast.ImportFrom):
            # A relative import (level > 0) names a sibling, which is not shipped with the script.
            name = "." * node.level + (node.module or "")
            found.setdefault(name if node.level else name.split(".")[0], node.lineno)
    return found


def test_every_step_the_definitions_run_has_an_image_contract() -> None:
    build = json.loads((DEFINITIONS / "model_build.json").read_text())
    keys = {v for v in re.findall(r"\$\{(\w+)CodeKey\}", json.dumps(build))}
    assert {k.lower() for k in keys} == set(model_build_pipeline.STEP_SCRIPTS)
    assert set(images.STEP_IMAGES) == {*model_build_pipeline.STEP_SCRIPTS, "drift_check"}
    for name in SCRIPTS:
        assert script_path(name).is_file(), name


def test_builders_use_the_images_the_contracts_describe() -> None:
    assert images.XGBOOST.version == model_build_pipeline.XGBOOST_VERSION
    assert images.SKLEARN.version == drift_check_pipeline.SKLEARN_VERSION
    xgboost = json.loads((DEFINITIONS / "xgboost_images.json").read_text())
    sklearn = json.loads((DEFINITIONS / "image_uris.json").read_text())["sklearn"]
    assert xgboost and all(uri.endswith(f"/sagemaker-xgboost:{images.XGBOOST.version}") for uri in xgboost.values())
    assert sklearn and all(
        f"/sagemaker-scikit-learn:{images.SKLEARN.version}-cpu-py3" in uri for uri in sklearn.values()
    )
    for name in model_build_pipeline.STEP_SCRIPTS:
        assert images.STEP_IMAGES[name] is images.XGBOOST, "every model-building step runs in the XGBoost image"
    assert images.STEP_IMAGES["drift_check"] is images.SKLEARN


def test_each_script_reaches_its_job_as_one_file() -> None:
    """The code input of every step is one S3 object (a CDK file asset), run as the entry point."""
    build = json.loads((DEFINITIONS / "model_build.json").read_text())
    for step in build["Steps"]:
        arguments = step["Arguments"]
        inputs = arguments.get("ProcessingInputs") or arguments.get("InputDataConfig") or []
        code = [i for i in inputs if i.get("InputName") == "code" or i.get("ChannelName") == "code"]
        if step["Type"] == "Condition":
            continue
        (code_input,) = code
        source = code_input.get("S3Input") or code_input["DataSource"]["S3DataSource"]
        key = f"{step['Name']}CodeKey"
        assert source["S3Uri"] == f"s3://${{{model_build_pipeline.CODE_BUCKET}}}/${{{key}}}"
        entrypoint = (arguments.get("AppSpecification") or arguments["AlgorithmSpecification"])["ContainerEntrypoint"]
        assert entrypoint[0] == "python3" and entrypoint[1].endswith(f"/code/${{{key}}}")
    (drift_step,) = json.loads(drift_check_pipeline.DEFINITION_FILE.read_text())["Steps"]
    (code_input,) = [i for i in drift_step["Arguments"]["ProcessingInputs"] if i["InputName"] == "code"]
    assert code_input["S3Input"]["S3Uri"] == "s3://${CodeBucket}/${CodeKey}"


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_needs_no_newer_python_than_its_image(name: str) -> None:
    image = images.STEP_IMAGES[name]
    # vermin: the minimum Python of the syntax, modules, functions and arguments a file uses.
    result = vermin(script_path(name), image.python_label)
    assert result.returncode == 0, (
        f"{name}.py runs on Python {image.python_label} ({image.framework} {image.version}): {result.stdout}"
    )


def test_the_python_check_catches_what_broke_the_drift_check(tmp_path: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("from datetime import UTC\nprint(list(zip([1], [2], strict=True)), UTC)\n")
    result = vermin(script, "3.9")
    assert result.returncode != 0 and "datetime.UTC" in result.stdout and "zip(strict)" in result.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_imports_only_the_standard_library_and_its_images_packages(name: str) -> None:
    image = images.STEP_IMAGES[name]
    # The standard library of this interpreter; modules added after the image's Python are
    # caught by the vermin test above.
    allowed = set(sys.stdlib_module_names) | image.modules
    siblings = {path.stem for path in STEPS_DIR.glob("*.py")} | {"pipeline_steps"}
    imports = imported_modules(script_path(name))
    assert not {m for m in imports if m in siblings or m.startswith(".")}, (
        f"{name}.py imports a sibling module; each script is shipped alone"
    )
    missing = {m: line for m, line in imports.items() if m not in allowed}
    assert not missing, f"{name}.py imports modules the {image.framework} {image.version} image lacks: {missing}"


def test_ruff_lints_each_script_for_its_images_python() -> None:
    targets = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["per-file-target-version"]
    assert targets == {
        f"pipeline_steps/{name}.py": "py{}{}".format(*images.STEP_IMAGES[name].python) for name in SCRIPTS
    }


def test_drift_check_uses_boto3_of_the_image_and_nothing_heavier() -> None:
    """The scikit-learn image's pandas is 1.1.3 (2020): the drift check stays on the standard library."""
    assert set(imported_modules(script_path("drift_check"))) - set(sys.stdlib_module_names) == {"boto3"}


def test_the_import_check_sees_nested_relative_and_sibling_imports(tmp_path: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("import os.path\nfrom . import helpers\n\ndef main():\n    from pipeline_steps import baseline\n")
    assert imported_modules(script) == {"os": 1, ".": 2, "pipeline_steps": 5}
