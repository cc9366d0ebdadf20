"""contracts.py is the one statement of the names layers share, and importable by every layer.

It imports only the standard library (the Lambda asset bundles it alone); synth never imports
a pipeline builder or the SageMaker SDK to learn a name; the names it states appear nowhere
else as literals; the step script that ships alone keeps its copies equal.
"""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

import contracts
from constructs.triggers.start_retraining_function import ASSET_DIR, function_code
from pipeline_steps.scripts import drift_check
from tests.conftest import ROOT

# Every module that runs inside `cdk synth`, the operator CLI and the Lambda function.
LAYERS = ("config", "constructs", "stacks", "mlopsctl", "lambda/start_retraining")
TOP_LEVEL = ("app.py", "pipeline_steps/checked_in.py")
# The builders, their offline SDK session and the SDK: what synth reads instead is checked_in.py.
SDK_BUILDERS = (
    "pipeline_steps.model_build_pipeline",
    "pipeline_steps.drift_check_pipeline",
    "pipeline_steps.sdk_session",
    "sagemaker",
)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at module level or inside a function."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def layer_files() -> list[Path]:
    files = [p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))]
    return [*files, *(ROOT / name for name in TOP_LEVEL)]


def test_contracts_imports_only_the_standard_library() -> None:
    imported = {name.split(".")[0] for name in imported_modules(ROOT / "contracts.py")}
    assert imported <= {*sys.stdlib_module_names, "__future__"}, imported - set(sys.stdlib_module_names)


@pytest.mark.parametrize("path", layer_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_layer_imports_an_sdk_builder_to_learn_names(path: Path) -> None:
    offending = {m for m in imported_modules(path) if m.startswith(SDK_BUILDERS)}
    where = path.relative_to(ROOT)
    assert not offending, f"{where} imports {offending}; take names from contracts.py, files from checked_in.py"


def test_synth_imports_neither_a_builder_nor_the_sdk() -> None:
    """What the import statements say, checked on the loaded modules: transitive imports count too."""
    files = sorted((ROOT / "constructs").rglob("*.py"))
    constructs = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in files]
    stacks = sorted(p.stem for p in (ROOT / "stacks").glob("*.py") if p.stem != "__init__")
    code = "\n".join(
        [
            "import importlib, json, sys",
            *(f"importlib.import_module('{name}')" for name in constructs),
            *(f"importlib.import_module('stacks.{name}')" for name in stacks),
            "import config",
            f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({SDK_BUILDERS!r}))))",
        ]
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


LITERALS = {
    "Retraining Requested": "RETRAINING_REQUESTED",
    "models/": "MODEL_ARTIFACTS_PREFIX",
    "input-manifests/": "INPUT_MANIFESTS_PREFIX",
    "PendingManualApproval": "PENDING_MANUAL_APPROVAL",
    "InputManifestUri": "INPUT_MANIFEST_PARAMETER",
    "TriggerReason": "TRIGGER_REASON_PARAMETER",
    "ChampionModelPackageArn": "CHAMPION_ARN_PARAMETER",
    "SageMaker Model Package State Change": "MODEL_PACKAGE_STATE_CHANGE",
    "CloudWatch Alarm State Change": "ALARM_STATE_CHANGE",
    "AWS/SageMaker": "SAGEMAKER_NAMESPACE",
}


@functools.cache
def string_constants(path: Path) -> frozenset[str]:
    """The string literals of `path`'s code (docstrings and comments aside), f-string parts included.
    Read once per run: each literal's test looks at every file."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return frozenset(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    )


@pytest.mark.parametrize("literal", sorted(LITERALS))
def test_shared_names_are_written_once(literal: str) -> None:
    builders = [ROOT / "pipeline_steps" / f"{name}.py" for name in ("model_build_pipeline", "drift_check_pipeline")]
    writers = [p.relative_to(ROOT) for p in [*layer_files(), *builders] if literal in string_constants(p)]
    assert writers == [], f"{literal!r} is written in {writers}; import contracts.{LITERALS[literal]}"
    assert literal in string_constants(ROOT / "contracts.py")


def test_the_drift_check_script_publishes_the_names_the_alarms_watch() -> None:
    """drift_check.py ships alone into its container, so it holds copies; they must not drift apart."""
    copies = {
        "PSI_METRIC": contracts.DRIFT_PSI_METRIC,
        "ROWS_READ_METRIC": contracts.DRIFT_ROWS_READ_METRIC,
        "ROWS_ACCEPTED_METRIC": contracts.DRIFT_ROWS_ACCEPTED_METRIC,
        "ROWS_REJECTED_METRIC": contracts.DRIFT_ROWS_REJECTED_METRIC,
        "REJECTED_FRACTION_METRIC": contracts.DRIFT_REJECTED_FRACTION_METRIC,
        "ENDPOINT_DIMENSION": contracts.DRIFT_ENDPOINT_DIMENSION,
        "FEATURE_DIMENSION": contracts.DRIFT_FEATURE_DIMENSION,
        "ALL_FEATURES": contracts.DRIFT_ALL_FEATURES,
    }
    assert {name: getattr(drift_check, name) for name in copies} == copies


def test_the_scripts_that_ship_alone_name_the_data_contract_file_and_the_sample_payload_alike() -> None:
    """Preprocess writes them, the other steps and the examples' training and serving code read them."""
    from pipeline_steps.scripts import baseline, evaluate, preprocess
    from tests.support import model_source

    readers = [preprocess, baseline, evaluate, model_source("xgboost", "train"), model_source("sklearn", "features")]
    assert {reader.__name__: reader.CONTRACT_FILE for reader in readers} == {
        reader.__name__: contracts.DATA_CONTRACT_FILE for reader in readers
    }
    assert (preprocess.SAMPLE_DIR, preprocess.SAMPLE_ARCHIVE) == (
        contracts.SAMPLE_PAYLOAD_OUTPUT,
        contracts.SAMPLE_PAYLOAD_ARCHIVE,
    )


@pytest.mark.template
def test_the_function_asset_bundles_contracts_and_imports_without_the_project(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bundle")
    lambda_.Function(
        stack,
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="start_retraining.lambda_handler",
        code=function_code(),
    )
    assembly = app.synth()
    (asset,) = [p for p in Path(assembly.directory).iterdir() if p.name.startswith("asset.")]
    shipped = {p.name for p in asset.iterdir()}
    assert shipped == {p.name for p in ASSET_DIR.glob("*.py")} | {"contracts.py"}
    assert (asset / "contracts.py").read_text() == (ROOT / "contracts.py").read_text()
    # As on Lambda: the asset's folder on the path, not the project (-I leaves the working directory off it).
    code = (
        f"import sys; sys.path.insert(0, {str(asset)!r}); "
        "import retraining_runs, trigger_events, training_data; "
        "assert 'config' not in sys.modules and sys.modules['contracts'].__file__.startswith(sys.path[0])"
    )
    subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, check=True)
