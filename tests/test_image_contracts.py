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

import config
from pipeline_steps import drift_check_pipeline, images, model_build_pipeline
from tests.conftest import ROOT

SCRIPTS_DIR = ROOT / "pipeline_steps" / "scripts"
DEFINITIONS = ROOT / "pipeline_steps" / "definitions"
SCRIPTS = sorted(images.STEP_IMAGES)
STEP_RUNS = [(name, image) for name in SCRIPTS for image in images.STEP_IMAGES[name]]
# Each example's source directory (two examples may share one), with the image it runs in.
MODEL_SOURCES = {
    config.load_model(f"models/{model}").source_dir: image for model, image in images.EXAMPLE_MODEL_IMAGES.items()
}
# Every Python file of each example model's source directory, with the image it runs in.
MODEL_FILES = [(path, image) for source, image in MODEL_SOURCES.items() for path in sorted(source.glob("*.py"))]
# vermin's command line, installed beside this interpreter (requirements-dev.txt).
VERMIN = Path(sys.executable).with_name("vermin")


def vermin(path: Path, python: str) -> subprocess.CompletedProcess[str]:
    """vermin's verdict on `path` for Python `python` and later; exit status 0 when it fits."""
    command = [str(VERMIN), "--no-tips", "--violations", f"-t={python}-", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def script_path(name: str) -> Path:
    return SCRIPTS_DIR / f"{name}.py"


def run_id(value: object) -> str:
    if isinstance(value, images.ImageContract):
        return f"{value.framework}-{value.version}"
    return value.relative_to(ROOT).as_posix() if isinstance(value, Path) else str(value)


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
    assert images.SKLEARN.version == drift_check_pipeline.SKLEARN_VERSION
    framework = json.loads((DEFINITIONS / "framework_images.json").read_text())
    sklearn = json.loads((DEFINITIONS / "image_uris.json").read_text())["sklearn"]
    for scope in model_build_pipeline.IMAGE_SCOPES:
        xgboost = framework["xgboost"][images.XGBOOST.version][scope]
        assert xgboost and all(uri.endswith(f"/sagemaker-xgboost:{images.XGBOOST.version}") for uri in xgboost.values())
        assert framework["sklearn"][images.SKLEARN.version][scope] == sklearn
    assert sklearn and all(
        f"/sagemaker-scikit-learn:{images.SKLEARN.version}-cpu-py3" in uri for uri in sklearn.values()
    )
    assert images.STEP_IMAGES["drift_check"] == (images.SKLEARN,)


@pytest.mark.parametrize("model", sorted(images.EXAMPLE_MODEL_IMAGES))
def test_each_example_model_runs_every_step_in_the_image_its_contract_describes(model: str) -> None:
    """The processing steps, the training script and the served inference.py all run in that one image."""
    contract = images.EXAMPLE_MODEL_IMAGES[model]
    configured = config.load_model(f"models/{model}").images
    for role, image in configured.by_role().items():
        assert (image.framework, image.version) == (contract.framework, contract.version), role
    for name in model_build_pipeline.STEP_SCRIPTS:
        assert contract in images.STEP_IMAGES[name]


def test_each_script_reaches_its_job_as_one_file() -> None:
    """The code input of every step is one S3 object (a CDK file asset), run as the entry point."""
    build = json.loads((DEFINITIONS / "model_build.json").read_text())
    for step in build["Steps"]:
        arguments = step["Arguments"]
        if step["Type"] in ("Condition", "Training"):
            continue  # the training step runs the model's source directory (test_model_build_definition.py)
        inputs = arguments["ProcessingInputs"]
        code = [i for i in inputs if i.get("InputName") == "code"]
        (code_input,) = code
        key = f"{step['Name']}CodeKey"
        assert code_input["S3Input"]["S3Uri"] == f"s3://${{{model_build_pipeline.CODE_BUCKET}}}/${{{key}}}"
        entrypoint = arguments["AppSpecification"]["ContainerEntrypoint"]
        assert entrypoint[0] == "python3" and entrypoint[1].endswith(f"/code/${{{key}}}")
    for drift_step in json.loads(drift_check_pipeline.DEFINITION_FILE.read_text())["Steps"]:
        (code_input,) = [i for i in drift_step["Arguments"]["ProcessingInputs"] if i["InputName"] == "code"]
        assert code_input["S3Input"]["S3Uri"] == "s3://${CodeBucket}/${CodeKey}"


@pytest.mark.parametrize(("path", "image"), [(script_path(n), i) for n, i in STEP_RUNS] + MODEL_FILES, ids=run_id)
def test_script_needs_no_newer_python_than_its_image(path: Path, image: images.ImageContract) -> None:
    # vermin: the minimum Python of the syntax, modules, functions and arguments a file uses.
    result = vermin(path, image.python_label)
    assert result.returncode == 0, (
        f"{path.name} runs on Python {image.python_label} ({image.framework} {image.version}): {result.stdout}"
    )


def test_the_python_check_catches_what_broke_the_drift_check(tmp_path: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("from datetime import UTC\nprint(list(zip([1], [2], strict=True)), UTC)\n")
    result = vermin(script, "3.9")
    assert result.returncode != 0 and "datetime.UTC" in result.stdout and "zip(strict)" in result.stdout


@pytest.mark.parametrize(("name", "image"), STEP_RUNS, ids=run_id)
def test_script_imports_only_the_standard_library_and_its_images_packages(
    name: str, image: images.ImageContract
) -> None:
    # The standard library of this interpreter; modules added after the image's Python are
    # caught by the vermin test above.
    allowed = set(sys.stdlib_module_names) | image.modules
    siblings = {path.stem for path in SCRIPTS_DIR.glob("*.py")} | {"pipeline_steps"}
    imports = imported_modules(script_path(name))
    assert not {m for m in imports if m in siblings or m.startswith(".")}, (
        f"{name}.py imports a sibling module; each script is shipped alone"
    )
    missing = {m: line for m, line in imports.items() if m not in allowed}
    assert not missing, f"{name}.py imports modules the {image.framework} {image.version} image lacks: {missing}"


@pytest.mark.parametrize(("path", "image"), MODEL_FILES, ids=run_id)
def test_model_source_imports_only_its_images_packages_and_its_own_files(
    path: Path, image: images.ImageContract
) -> None:
    """A model's source directory ships whole: its files may import each other, nothing else outside the image."""
    allowed = set(sys.stdlib_module_names) | image.modules | {p.stem for p in path.parent.glob("*.py")}
    missing = {m: line for m, line in imported_modules(path).items() if m not in allowed}
    assert not missing, f"{path.name} imports modules the {image.framework} {image.version} image lacks: {missing}"


def test_ruff_lints_each_script_for_its_images_python() -> None:
    targets = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["per-file-target-version"]

    def oldest(contracts: tuple[images.ImageContract, ...]) -> str:
        return "py{}{}".format(*min(c.python for c in contracts))

    assert targets == {
        **{f"pipeline_steps/scripts/{name}.py": oldest(images.STEP_IMAGES[name]) for name in SCRIPTS},
        **{f"{source.relative_to(ROOT).as_posix()}/*.py": oldest((image,)) for source, image in MODEL_SOURCES.items()},
    }


def test_drift_check_reads_with_the_images_arrow_numpy_and_scipy_not_its_old_pandas() -> None:
    """The scikit-learn image's pandas is 1.1.3 (2020): the drift check reads captures with its
    pyarrow 14 (CSV) and numpy, and takes chi-square quantiles from its scipy."""
    third_party = set(imported_modules(script_path("drift_check"))) - set(sys.stdlib_module_names)
    assert third_party == {"boto3", "numpy", "pyarrow", "scipy"} <= images.SKLEARN.modules


def test_the_import_check_sees_nested_relative_and_sibling_imports(tmp_path: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text(
        "import os.path\nfrom . import helpers\n\ndef main():\n    from pipeline_steps.scripts import baseline\n"
    )
    assert imported_modules(script) == {"os": 1, ".": 2, "pipeline_steps": 5}


def test_every_model_folder_and_the_configured_model_are_checked_against_their_images() -> None:
    """A team's own model (a folder under models/, or the one cdk.json configures) is checked like the
    examples, here and in the slow tier's image runs, once pipeline_steps/images.py maps it to the
    contract of the image it trains and serves in; this names what to add when it does not."""
    configured = config.load_cdk_json().model_build.model
    folders = {path.parent for path in (ROOT / "models").glob("*/model.json")}
    contracts = {(c.framework, c.version): c for c in {*images.EXAMPLE_MODEL_IMAGES.values()}}
    missing: set[str] = set()
    for folder in sorted(folders):
        model = config.load_model(str(folder.relative_to(ROOT)))
        for use in ("training", "inference"):
            ref = getattr(model.images, use)
            if ref.uri:
                continue  # a custom image: its own build decides its Python and packages
            expected = contracts.get((ref.framework, ref.version))
            if expected is None:
                missing.add(f"{folder.name}: no ImageContract for {ref.label} ({use}) in pipeline_steps/images.py")
            elif images.EXAMPLE_MODEL_IMAGES.get(folder.name) != expected:
                missing.add(f"{folder.name}: add {folder.name!r} to EXAMPLE_MODEL_IMAGES as {ref.label}")
    assert sorted(missing) == []
    assert configured.source_dir in MODEL_SOURCES, (
        f"the model cdk.json configures ({configured.source_dir}) is under no folder of models/ that "
        "EXAMPLE_MODEL_IMAGES lists: put it in models/<name>/ and add <name> there"
    )
