"""Gates that keep the app safe to fork: cdk-nag and Control Tower rules on and clean, an importable layout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Assembly, cdk_json_context, synth

GUARD_PLUGIN = "cdk-validator-cfnguard"


def test_whole_app_synthesizes_with_zero_unacknowledged_nag_findings(assembly: Assembly) -> None:
    # The session fixture ran AwsSolutionsChecks; an unacknowledged finding fails synth.
    assert assembly.templates


def _plugin_reports(directory: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((directory / "validation-report.json").read_text())
    return {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}


def test_control_tower_rules_ran_and_passed(assembly: Assembly) -> None:
    """The session synth ran the cfn-guard plugin over every template and it found nothing unacknowledged."""
    guard = _plugin_reports(assembly.directory)[GUARD_PLUGIN]
    assert (guard["conclusion"], guard["violations"]) == ("success", [])


def test_cdk_nag_and_control_tower_rules_really_fail_synth_on_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against the checks being unregistered: an insecure bucket must fail synth, for both rule sets."""
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
    guard = _plugin_reports(tmp_path)[GUARD_PLUGIN]
    assert guard["conclusion"] == "failure"
    flagged = {
        (violation["ruleName"], construct["constructPath"])
        for violation in guard["violations"]
        for construct in violation["violatingConstructs"]
    }
    # CT.S3.PR.10: the bucket has no customer-managed KMS key.
    assert ("s3_bucket_default_encryption_kms_check", "Dev/Storage/InsecureBucket/Resource") in flagged


def test_every_acknowledgement_has_a_reason() -> None:
    sources = [*ROOT.glob("constructs/*.py"), *ROOT.glob("stacks/*.py")]
    for source in sources:
        text = source.read_text()
        assert text.count("Acknowledgment(") == text.count("reason="), source


def test_control_tower_rules_fail_synth_even_when_another_finding_is_acknowledged(tmp_path: Path) -> None:
    """One acknowledged guard finding must not let the others pass (see ControlTowerRules)."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from constructs.control_tower import ControlTowerRules, guard_rule

    application = cdk.App(outdir=str(tmp_path))
    cdk.Validations.of(application).add_plugins(ControlTowerRules())
    bucket = s3.Bucket(cdk.Stack(application, "Stack"), "Bucket")
    cdk.Validations.of(bucket).acknowledge(
        cdk.Acknowledgment(id=guard_rule("s3_bucket_object_lock_enabled_check"), reason="Not the point of this test.")
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        application.synth()
    rules = {violation["ruleName"] for violation in _plugin_reports(tmp_path)[GUARD_PLUGIN]["violations"]}
    assert "s3_bucket_default_encryption_kms_check" in rules
    assert "s3_bucket_object_lock_enabled_check" not in rules


def test_every_guard_acknowledgement_and_checkov_skip_in_the_templates_has_a_reason(assembly: Assembly) -> None:
    """What reaches the assembly: acknowledgements (construct metadata) and checkov skips (template metadata)."""
    acknowledged: dict[str, str] = {}
    for metadata_file in assembly.directory.rglob("*.metadata.json"):
        for entries in json.loads(metadata_file.read_text()).values():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    acknowledged.update(entry["data"])
    guard = {rule: why for rule, why in acknowledged.items() if rule.startswith(f"{GUARD_PLUGIN}::")}
    skips = [
        skip
        for template in assembly.templates.values()
        for resource in template.get("Resources", {}).values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert guard and skips
    assert all(len(why.strip()) >= 40 for why in guard.values()), guard
    assert all(skip["id"].startswith("CKV_") and len(skip["comment"].strip()) >= 40 for skip in skips), skips


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
