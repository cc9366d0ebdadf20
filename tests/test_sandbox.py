"""The one-account sandbox: cdk.sandbox.json over cdk.json, through the same config code and checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import config
from tests.conftest import ROOT, SANDBOX_RELEASE_ARN, Assembly, cdk_json_context
from tests.support import CICD, action_named, buildspec, pipeline_props, stage

SANDBOX_FILE = "cdk.sandbox.json"
ACCOUNT = "111111111111"
SANDBOX_STACKS = {
    "mlops-delivery-toolchain-cicd",
    *(f"mlops-delivery-dev-{kind}" for kind in ("storage", "model-build", "retraining", "serving")),
}


SANDBOX_DEV = json.loads((ROOT / SANDBOX_FILE).read_text())["context"]["mlops"]["environments"]["dev"]


def sandbox_settings(**overrides: Any) -> config.AppConfig:
    return config.load({**cdk_json_context(), config.SETTINGS_FILE_KEY: SANDBOX_FILE, **overrides})


def test_the_sandbox_file_holds_only_what_differs_from_cdk_json() -> None:
    layout = json.loads((ROOT / SANDBOX_FILE).read_text())["context"]["mlops"]
    assert set(layout) == {"sandbox", "toolchain", "environments"}
    settings = sandbox_settings()
    shipped = config.load_cdk_json()
    assert settings.sandbox and settings.settings_file == SANDBOX_FILE
    # Everything else comes from cdk.json, the model-build section (and so its checked-in
    # pipeline definition) included.
    assert settings.model_build == shipped.model_build
    assert (settings.project_name, settings.source, settings.retained_names) == (
        shipped.project_name,
        shipped.source,
        shipped.retained_names,
    )
    assert settings.environment_names == ("dev",)
    dev = settings.environment("dev")
    assert (
        (dev.account, dev.region) == (settings.toolchain.account, settings.toolchain.region) == (ACCOUNT, "eu-west-1")
    )
    assert not dev.production and dev.notification_emails and settings.toolchain.notification_emails
    # Nothing another account must read: the registry and artifacts stay private.
    assert settings.consumer_accounts == () and settings.registry_reader_accounts == ()


def test_overrides_apply_on_top_of_the_sandbox_file() -> None:
    settings = sandbox_settings(**{"mlops.environments.dev.endpoint.instance_type": "ml.c5.large"})
    assert settings.environment("dev").endpoint.instance_type == "ml.c5.large"


@pytest.mark.parametrize(
    ("overrides", "key", "allowed"),
    [
        ({"mlops.environments.dev.account": "222222222222"}, "environments.dev.account", "'111111111111'"),
        ({"mlops.environments.dev.region": "eu-central-1"}, "environments.dev.region", "'eu-west-1'"),
        ({"mlops.toolchain.region": "eu-central-1"}, "environments.dev.region", "'eu-central-1'"),
        ({"mlops.environments.second": json.dumps(SANDBOX_DEV)}, "environments", "exactly one environment"),
    ],
)
def test_a_sandbox_is_one_account_and_region_with_one_environment(
    overrides: dict[str, str], key: str, allowed: str
) -> None:
    with pytest.raises(config.ConfigError) as error:
        sandbox_settings(**overrides)
    message = str(error.value)
    assert f"'mlops.{key}'" in message and allowed in message and "sandbox: true" in message


def test_a_declared_sandbox_is_not_warned_for_what_makes_it_one() -> None:
    """Its one environment is non-production and destroyable by design; a four-account layout that
    ends the same way is warned (tests/test_config.py)."""
    settings = sandbox_settings()
    assert not settings.environments[-1].production and settings.environments[-1].removal_policy.value == "destroy"
    assert settings.warnings == ()


def test_a_sandbox_never_holds_production() -> None:
    with pytest.raises(config.ConfigError, match=r"'mlops\.environments\.dev\.production'.*sandbox: true"):
        sandbox_settings(
            **{"mlops.environments.dev.production": "true", "mlops.environments.dev.removal_policy": "retain"}
        )


@pytest.mark.parametrize("name", ["missing.json", "../cdk.json", "/etc/cdk.json", "cdk.sandbox.yaml"])
def test_a_settings_file_outside_the_repository_or_missing_is_named(name: str) -> None:
    with pytest.raises(config.ConfigError, match=r"Invalid config 'mlops-settings'"):
        sandbox_settings(**{config.SETTINGS_FILE_KEY: name})


def test_make_synth_sandbox_uses_the_tests_sandbox_release() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"SANDBOX_RELEASE := {SANDBOX_RELEASE_ARN}\n" in makefile
    assert "synth SETTINGS=cdk.sandbox.json" in makefile


def test_the_sandbox_synthesizes_every_stack_in_one_account_with_an_endpoint(sandbox_assembly: Assembly) -> None:
    assert set(sandbox_assembly.templates) == SANDBOX_STACKS
    assert set(sandbox_assembly.environments.values()) == {(ACCOUNT, "eu-west-1")}
    serving = sandbox_assembly.templates["mlops-delivery-dev-serving"]["Resources"]
    (endpoint,) = [r["Properties"] for r in serving.values() if r["Type"] == "AWS::SageMaker::Endpoint"]
    assert endpoint["EndpointName"] == "mlops-delivery-dev"
    assert endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    report = json.loads((sandbox_assembly.directory / "validation-report.json").read_text())
    assert {plugin["conclusion"] for plugin in report["pluginReports"]} == {"success"}


def test_nothing_in_the_sandbox_reaches_across_accounts(sandbox_assembly: Assembly) -> None:
    """Same-account grants stay identity grants: no bus policy, no registry share, no cross-account key."""
    resources = [r for t in sandbox_assembly.templates.values() for r in t["Resources"].values()]
    assert not [r for r in resources if r["Type"] == "AWS::Events::EventBusPolicy"]
    (group,) = [r["Properties"] for r in resources if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    assert "ModelPackageGroupPolicy" not in group
    text = json.dumps(resources)
    assert not [other for other in ("222222222222", "333333333333", "444444444444") if other in text]
    # Approvals reach the pipeline on the account's own bus: no rule forwards them to another bus,
    # and the approval rule still admits this account's registry only.
    sandbox_assembly.template("mlops-delivery-dev-storage").resource_count_is("AWS::Events::Rule", 0)
    cicd = sandbox_assembly.template(CICD)
    cicd.has_resource_properties("AWS::Events::Rule", {"EventPattern": {"account": [ACCOUNT]}})
    # Artifacts stay KMS-encrypted (the AWS-managed S3 key) without a cross-account key.
    store = pipeline_props(cicd)["ArtifactStore"]
    assert "EncryptionKey" not in store
    bucket = cicd.find_resources("AWS::S3::Bucket")[store["Location"]["Ref"]]["Properties"]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "aws:kms"


def test_the_sandbox_pipeline_builds_and_checks_the_same_layout(sandbox_assembly: Assembly) -> None:
    """Deployed through its pipeline, the sandbox is synthesized and checked from the same settings."""
    template = sandbox_assembly.template(CICD)
    (synth_action,) = stage(template, "Build")
    synth_commands = buildspec(template, synth_action)["phases"]["build"]["commands"]
    assert synth_commands[-1] == "make synth SETTINGS=cdk.sandbox.json"
    resolves = [c for c in synth_commands if "resolve-release" in c]
    assert resolves == [f"{CLI_SANDBOX} resolve-release --env dev --allow-none --own-credentials"]
    # One environment, not production: its stacks deployed, then recorded; no approval, no smoke test.
    stages = [s["Name"] for s in pipeline_props(template)["Stages"]]
    assert stages == ["Source", "Build", "UpdatePipeline", "Assets", "Dev"]
    actions = [a["Name"] for a in stage(template, "Dev")]
    assert {a.removesuffix(".Deploy") for a in actions if a.endswith(".Deploy")} == SANDBOX_STACKS - {CICD}
    assert actions[-1] == "RecordDeployment"
    record = action_named(stage(template, "Dev"), "RecordDeployment")
    (command,) = buildspec(template, record)["phases"]["build"]["commands"]
    assert command.startswith(f"{CLI_SANDBOX} --role-arn ") and " record-deployment --env dev " in command
    assert "ApproveRelease" not in json.dumps(pipeline_props(template))


CLI_SANDBOX = ".venv/bin/python -m mlopsctl --settings cdk.sandbox.json"


def test_mlopsctl_reads_the_sandbox_with_settings(tmp_path: Path) -> None:
    from mlopsctl.cli import Shared

    shared = Shared(profile=None, region=None, role_arn=None, as_json=False, cdk_json=None, settings=SANDBOX_FILE)
    settings = shared.load()
    assert settings.sandbox and settings.environment("dev").account == ACCOUNT
    assert not Shared(profile=None, region=None, role_arn=None, as_json=False, cdk_json=None).load().sandbox
