"""Gates that keep the app safe to fork: cdk-nag and Control Tower rules on and clean, an importable layout."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, AppPyRun, Assembly, InsecureSynth, cdk_json_context, synth
from tests.support import EXPECTED_STACKS

GUARD_PLUGIN = "cdk-validator-cfnguard"
ANNOTATIONS_PLUGIN = "Construct Annotations"


def acknowledgements(directory: Path) -> dict[str, dict[str, str]]:
    """Per metadata file of the assembly (one per stack), the cdk-nag rules it acknowledges and why."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(directory.rglob("*.metadata.json")):
        entries = (e for es in json.loads(path.read_text()).values() for e in es)
        acknowledged = [e["data"] for e in entries if e["type"] == "aws:cdk:acknowledged-rules"]
        found[path.name] = {rule: why for data in acknowledged for rule, why in data.items()}
    return found


def test_whole_app_synthesizes_every_stack_with_zero_unacknowledged_nag_findings(assembly: Assembly) -> None:
    """The session synth ran AwsSolutionsChecks (any unacknowledged finding raises there) and passed."""
    assert set(assembly.templates) == EXPECTED_STACKS
    for name, template in assembly.templates.items():
        assert template["Resources"], name
    report = json.loads((assembly.directory / "validation-report.json").read_text())
    # The construct annotations are reported too when there are any (the missing notification
    # e-mails are a warning, which passes).
    conclusions = {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]}
    assert conclusions[GUARD_PLUGIN] == "success"
    assert set(conclusions) <= {GUARD_PLUGIN, ANNOTATIONS_PLUGIN} and set(conclusions.values()) == {"success"}
    # Each stack's findings were resolved by acknowledgements, of cdk-nag's and the Control Tower
    # rules, not by no rule running.
    acknowledged = acknowledgements(assembly.directory)
    assert len(acknowledged) == len(EXPECTED_STACKS)
    rules = {rule for per_stack in acknowledged.values() for rule in per_stack}
    assert any(rule.startswith("Annotation::AwsSolutions-") for rule in rules), sorted(rules)
    assert all(rule.startswith(("Annotation::AwsSolutions-", f"{GUARD_PLUGIN}::")) for rule in rules), sorted(rules)


def _plugin_reports(directory: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((directory / "validation-report.json").read_text())
    return {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}


def test_control_tower_rules_ran_and_passed(assembly: Assembly) -> None:
    """The session synth ran the cfn-guard plugin over every template and it found nothing unacknowledged."""
    guard = _plugin_reports(assembly.directory)[GUARD_PLUGIN]
    assert (guard["conclusion"], guard["violations"]) == ("success", [])


def test_cdk_nag_and_control_tower_rules_really_fail_synth_on_a_finding(insecure_prod_synth: InsecureSynth) -> None:
    """Guards against the checks being unregistered: an insecure bucket must fail synth, for both rule sets."""
    assert "AwsSolutions-S10" in insecure_prod_synth.error
    guard = _plugin_reports(insecure_prod_synth.outdir)[GUARD_PLUGIN]
    assert guard["conclusion"] == "failure"
    flagged = {
        (violation["ruleName"], construct["constructPath"])
        for violation in guard["violations"]
        for construct in violation["violatingConstructs"]
    }
    # CT.S3.PR.10: the bucket has no customer-managed KMS key.
    assert ("s3_bucket_default_encryption_kms_check", "Prod/Storage/InsecureBucket/Resource") in flagged


def test_every_acknowledgement_has_a_reason_a_reviewer_can_read(assembly: Assembly) -> None:
    """As synthesized: each acknowledged rule carries a sentence, not an empty or token reason."""
    acknowledged = acknowledgements(assembly.directory)
    assert sum(len(per_stack) for per_stack in acknowledged.values()) > 0
    for stack, per_stack in acknowledged.items():
        for rule, why in per_stack.items():
            assert isinstance(why, str) and len(why.split()) >= 4, (stack, rule, why)


@pytest.mark.template
def test_control_tower_rules_fail_synth_even_when_another_finding_is_acknowledged(tmp_path: Path) -> None:
    """One acknowledged guard finding must not let the others pass (see ControlTowerRules)."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from constructs.security.control_tower import ControlTowerRules, guard_rule

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
    """An __init__.py there shadows the `constructs` library and breaks `import aws_cdk`; the sub-folders
    follow the same rule, so none holds a file that looks like it belongs at the top."""
    assert sorted((ROOT / "constructs").rglob("__init__.py")) == []


def test_library_and_project_constructs_import_side_by_side() -> None:
    code = (
        "import aws_cdk; from constructs import Construct; "
        "from constructs.serving.guarded_endpoint import GuardedEndpoint; print(Construct.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_synth_opens_no_connection_needs_no_credentials_and_ignores_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """No socket, no credentials; a Python clock a year ahead in another time zone changes no byte.

    The reference is the run's `python app.py` with the same context (sockets, the tests' fake
    credentials and the real clock); the synth here has none of them.

    The CDK's own runtime is a node process the jsii kernel started earlier, over pipes: its
    clock cannot be moved from here, and sockets it opened would not show. What this test
    covers is the Python side (app, config, SDK-generated definitions, boto3 if anything called it).
    """

    attempts: list[Any] = []

    def refuse(_socket: socket.socket, address: Any) -> None:
        # Recorded as well as refused: botocore would turn the error into a retryable one.
        attempts.append(address)
        raise ConnectionRefusedError(f"synth opened a connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    now = time.time
    monkeypatch.setattr(time, "time", lambda: now() + 366 * 24 * 3600)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        shifted = synth(cdk_json_context(), tmp_path / "shifted")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert attempts == []
    # Asked for only now: while this synthesized, another worker may have made the run's app.py.
    app_py_without_releases: AppPyRun = request.getfixturevalue("app_py_without_releases")
    assert app_py_without_releases.returncode == 0, app_py_without_releases.output
    assert shifted.templates == Assembly(app_py_without_releases.outdir).templates
