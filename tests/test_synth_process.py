"""`python app.py` (what `cdk synth` runs) starts the template validator while a second thread
imports the app's modules, and exits without the interpreter's teardown (synth_process.py).
The overlap is only safe while those imports never call into jsii."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Assembly, cdk_json_context

# Runs in a fresh interpreter: records every jsii request made while the app's modules are
# imported, then builds the app and lists project modules that only build_app imported.
_PROBE = """
import json, sys
from pathlib import Path
import aws_cdk as cdk
from jsii._kernel.providers import process

import app
import synth_process

requests = []
send = process._NodeProcess.send
def recording_send(self, request, response_type):
    requests.append(type(request).__name__ + " " + str(
        getattr(request, "fqn", None) or getattr(request, "method", None) or getattr(request, "property", "")))
    return send(self, request, response_type)
process._NodeProcess.send = recording_send

def project_modules():
    root = Path(app.__file__).resolve().parent
    return {name for name, module in list(sys.modules.items())
            if (getattr(module, "__file__", None) or "").startswith(str(root))
            and ".venv" not in (module.__file__ or "")}

synth_process.import_modules(app.APP_MODULES)
imported = project_modules()
during_import = list(requests)
app.build_app(cdk.App(context=json.loads(sys.argv[1]), outdir=sys.argv[2]))
print(json.dumps({"jsii_requests": during_import, "imported_later": sorted(project_modules() - imported)}))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(cdk_json_context()), str(tmp_path_factory.mktemp("out"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_app_modules_makes_no_jsii_call(probe: dict[str, list[str]]) -> None:
    """A module-level Duration.days(7) here would race the main thread's jsii call.
    Keep module constants plain (7) and build the CDK value where it is used."""
    assert probe["jsii_requests"] == []


def test_the_background_import_covers_what_build_app_imports(probe: dict[str, list[str]]) -> None:
    """Otherwise the import happens later, on the main thread, and synth is slower."""
    assert probe["imported_later"] == []


def _app_with_an_invalid_resource(outdir: Path):  # type: ignore[no-untyped-def]
    import aws_cdk as cdk

    # The CDK's own default validator off, so only what start_template_validation registers runs.
    app = cdk.App(
        builtin_cloud_formation_validation=False,
        outdir=str(outdir),
        context={"@aws-cdk/core:validateAgainstDefaultRules": True},
    )
    stack = cdk.Stack(app, "Probe")
    cdk.CfnResource(stack, "Bucket", type="AWS::S3::Bucket", properties={"NotAProperty": 1})
    return app


def test_start_template_validation_registers_the_cdk_validator(tmp_path: Path) -> None:
    import synth_process

    app = _app_with_an_invalid_resource(tmp_path)
    synth_process.start_template_validation(app, {})
    with pytest.raises(RuntimeError, match="NotAProperty"):
        app.synth()


@pytest.mark.parametrize("value", ["false", "FALSE"])
def test_no_validation_still_turns_the_validator_off(tmp_path: Path, value: str) -> None:
    import synth_process

    app = _app_with_an_invalid_resource(tmp_path)
    synth_process.start_template_validation(app, {"CDK_VALIDATION": value})
    app.synth()


def _run_app_py(context: dict[str, object], outdir: Path) -> subprocess.CompletedProcess[str]:
    """What `cdk synth` runs: app.py as a script, context and output directory from the CLI's variables."""
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_app_py_synthesizes_every_stack_and_exits_cleanly(tmp_path: Path, assembly: Assembly) -> None:
    """Validator first, imports meanwhile, then a fast exit that still flushes output."""
    from scripts.list_templates import stacks

    result = _run_app_py(cdk_json_context(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "mlops-delivery-prod-serving: skipped, no release for prod" in result.stdout + result.stderr
    without_releases = {name for name in assembly.templates if not name.endswith("-serving")}
    assert {name for name, _, _ in stacks(tmp_path)} == without_releases
    assert (tmp_path / "validation-report.json").exists()


def test_app_py_reports_a_config_error_by_key_and_fails(tmp_path: Path) -> None:
    context = cdk_json_context()
    context["mlops"]["environments"]["prod"]["approval"] = "auto"
    result = _run_app_py(context, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("cdk.json: ")
    assert "approval" in result.stderr
