"""Gates that keep the app safe to fork: cdk-nag is on and clean, the layout stays importable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Assembly, cdk_json_context, synth


def test_whole_app_synthesizes_with_zero_unacknowledged_nag_findings(assembly: Assembly) -> None:
    # The session fixture ran AwsSolutionsChecks; an unacknowledged finding fails synth.
    assert assembly.templates


def test_cdk_nag_really_fails_synth_on_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards against the checks being unregistered: an insecure bucket must fail synth."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    import app

    original = app.EnvironmentStage

    def stage_with_insecure_bucket(*args, **kwargs):  # type: ignore[no-untyped-def]
        stage = original(*args, **kwargs)
        s3.Bucket(stage.storage, "InsecureBucket")
        return stage

    monkeypatch.setattr(app, "EnvironmentStage", stage_with_insecure_bucket)
    application = cdk.App(context=cdk_json_context(), outdir=str(tmp_path))
    app.build_app(application)
    with pytest.raises(RuntimeError, match="AwsSolutions-S10"):
        application.synth()


def test_every_acknowledgement_has_a_reason() -> None:
    sources = [*ROOT.glob("constructs/*.py"), *ROOT.glob("stacks/*.py")]
    for source in sources:
        text = source.read_text()
        assert text.count("Acknowledgment(") == text.count("reason="), source


def test_constructs_folder_has_no_init_py() -> None:
    """An __init__.py there shadows the `constructs` library and breaks `import aws_cdk`."""
    assert not (ROOT / "constructs" / "__init__.py").exists()


def test_library_and_project_constructs_import_side_by_side() -> None:
    code = (
        "import aws_cdk; from constructs import Construct; "
        "from constructs.secure_bucket import SecureBucket; print(Construct.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_synth_needs_no_aws_and_no_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two syntheses with the same input give byte-identical templates."""
    first = synth(cdk_json_context(), tmp_path / "a")
    second = synth(cdk_json_context(), tmp_path / "b")
    assert first.templates == second.templates
