"""The operator commands in the default four-account layout, allowed only what the synthesized policies allow.

Toolchain 111111111111 (the operator), dev 222222222222 (model build + registry), staging
333333333333, prod 444444444444. See accounts.py for how each call is authorized.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from rich.console import Console
from typer.testing import CliRunner

from config import load_cdk_json
from mlopsctl import aws, cli, render, rollback
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from tests.conftest import Assembly
from tests.operator_cli.accounts import OPERATOR_SESSION, REGION, FourAccounts, ledger_history
from tests.operator_cli.support import BUCKET, GROUP, NOW, moto_client, register, version_arn

PROD = "444444444444"
PROD_ENDPOINT = "mlops-delivery-prod"
PROD_ROLE = f"arn:aws:iam::{PROD}:role/mlops-delivery-prod-operator"
BUILD_ROLE = "arn:aws:iam::222222222222:role/mlops-delivery-dev-operator"
KEY = f"arn:aws:kms:{REGION}:{PROD}:key/11111111-2222-3333-4444-555555555555"
NEW = "mlops-delivery-prod-r261201090000"
WHOLE_ENDPOINT = ["mlops-delivery-prod-rollback-endpoint-5xx-rate"]
NEW_FLEET = ["mlops-delivery-prod-rollback-new-fleet-5xx-rate"]
# What the update names: the whole-endpoint alarm, and the new-fleet alarm's copy on the new config.
ALARMS = [*WHOLE_ENDPOINT, f"mlops-delivery-prod-rollback-for-{NEW}-5xx-rate"]


@pytest.fixture
def world(assembly: Assembly, monkeypatch: pytest.MonkeyPatch) -> Iterator[FourAccounts]:
    # The registry's account is moto's default, so support.register() writes where the group lives.
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "222222222222")
    monkeypatch.setattr(rollback, "utc_now", lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    with mock_aws():
        fake = FourAccounts(assembly, load_cdk_json(overrides={}))
        aws.set_client_factory(fake)
        try:
            moto_client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
            moto_client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
            yield fake
        finally:
            aws.set_client_factory(None)


def _ctx(world: FourAccounts) -> Context:
    return Context(cfg=world.cfg, clients=world)


def _approval(version: int) -> dict[str, str]:
    package = boto3.client("sagemaker", region_name=REGION).describe_model_package(
        ModelPackageName=version_arn(version)
    )
    return {"status": package["ModelApprovalStatus"], "description": package.get("ApprovalDescription", "")}


def _prod_released_v1_then_v2(world: FourAccounts) -> None:
    register(status="Approved", auc=0.95)
    register(status="Approved", auc=0.945)
    ssm = world.moto("ssm", PROD)
    for version in (1, 2):
        entry = {
            "model_package_arn": version_arn(version),
            "model_version": version,
            "endpoint_config_name": f"cfg-v{version}",
            "recorded_at": NOW,
            "source": "pipeline",
            "reason": "deployed by the delivery pipeline",
        }
        ssm.put_parameter(
            Name="/mlops-delivery/prod/known-good", Type="String", Overwrite=True, Value=json.dumps(entry)
        )
    cw = world.moto("cloudwatch", PROD)
    for name in [*WHOLE_ENDPOINT, *NEW_FLEET]:
        fleet = [{"Name": "EndpointConfigName", "Value": "cfg-v2"}] if name in NEW_FLEET else []
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Dimensions=[
                {"Name": "EndpointName", "Value": PROD_ENDPOINT},
                {"Name": "VariantName", "Value": "AllTraffic"},
                *fleet,
            ],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=2,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
        )


def _endpoint(status: str, config: str, **extra: Any) -> dict[str, Any]:
    return {
        "EndpointName": PROD_ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{PROD}:endpoint/{PROD_ENDPOINT}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
        **extra,
    }


def _config(name: str, model: str) -> dict[str, Any]:
    return {
        "EndpointConfigName": name,
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{PROD}:endpoint-config/{name}",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.xlarge",
                "InitialInstanceCount": 4,
                "InitialVariantWeight": 1.0,
            }
        ],
        "KmsKeyId": KEY,
        "CreationTime": NOW,
    }


def _model(world: FourAccounts, name: str, package: str) -> dict[str, Any]:
    return {
        "ModelName": name,
        "ModelArn": f"arn:aws:sagemaker:{REGION}:{PROD}:model/{name}",
        "PrimaryContainer": {"ModelPackageName": package},
        "ExecutionRoleArn": world.execution_role_arn("prod"),
        "EnableNetworkIsolation": True,
        "CreationTime": NOW,
    }


def _expect_v2_live(stubber: Stubber, world: FourAccounts) -> None:
    stubber.add_response("describe_endpoint", _endpoint("InService", "cfg-v2"), {"EndpointName": PROD_ENDPOINT})
    stubber.add_response("describe_endpoint_config", _config("cfg-v2", "model-v2"), {"EndpointConfigName": "cfg-v2"})
    stubber.add_response("describe_model", _model(world, "model-v2", version_arn(2)), {"ModelName": "model-v2"})


def _expect_prepare_v1(stubber: Stubber, world: FourAccounts) -> None:
    """The live settings are read once more and copied into a Model and EndpointConfig for v1."""
    stubber.add_response("describe_endpoint_config", _config("cfg-v2", "model-v2"), {"EndpointConfigName": "cfg-v2"})
    stubber.add_response("describe_model", _model(world, "model-v2", version_arn(2)), {"ModelName": "model-v2"})
    stubber.add_response(
        "create_model",
        {"ModelArn": f"arn:aws:sagemaker:{REGION}:{PROD}:model/{NEW}"},
        {
            "ModelName": NEW,
            "PrimaryContainer": {"ModelPackageName": version_arn(1)},
            "ExecutionRoleArn": world.execution_role_arn("prod"),
            "EnableNetworkIsolation": True,
        },
    )
    variant = {
        "VariantName": "AllTraffic",
        "InstanceType": "ml.m5.xlarge",
        "InitialInstanceCount": 4,
        "InitialVariantWeight": 1.0,
        "ModelName": NEW,
    }
    stubber.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{PROD}:endpoint-config/{NEW}"},
        {"EndpointConfigName": NEW, "ProductionVariants": [variant], "KmsKeyId": KEY},
    )


# prod's rollout in cdk.json: LINEAR, 25 % steps every 10 minutes, 15 minutes before the old fleet goes.
PROD_DEPLOYMENT = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": "LINEAR",
            "WaitIntervalInSeconds": 600,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
        },
        "TerminationWaitInSeconds": 900,
        "MaximumExecutionTimeoutInSeconds": 7200,
    },
    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in ALARMS]},
}


def _expect_update(stubber: Stubber) -> None:
    stubber.add_response(
        "update_endpoint",
        {"EndpointArn": f"arn:aws:sagemaker:{REGION}:{PROD}:endpoint/{PROD_ENDPOINT}"},
        {
            "EndpointName": PROD_ENDPOINT,
            "EndpointConfigName": NEW,
            "RetainAllVariantProperties": True,
            "DeploymentConfig": PROD_DEPLOYMENT,
        },
    )


def _expect_cleanup(stubber: Stubber) -> None:
    stubber.add_response("delete_endpoint_config", {}, {"EndpointConfigName": NEW})
    stubber.add_response("delete_model", {}, {"ModelName": NEW})


def _rollback(world: FourAccounts, **kwargs: Any) -> dict[str, Any]:
    return rollback.rollback(_ctx(world), "prod", None, "conversion down since v2", sleep=lambda s: None, **kwargs)


def test_a_serving_account_role_cannot_change_the_registry_but_the_model_build_role_can(world: FourAccounts) -> None:
    """Why registry changes go through the model-build account: its group policy lets others only read."""
    register(status="Approved", auc=0.95)
    with pytest.raises(ClientError, match="AccessDenied"):
        world("sagemaker", REGION, "prod").update_model_package(
            ModelPackageArn=version_arn(1), ModelApprovalStatus="Rejected"
        )
    assert world("sagemaker", REGION, "prod").describe_model_package(ModelPackageName=version_arn(1))
    world("sagemaker", REGION, aws.REGISTRY).update_model_package(
        ModelPackageArn=version_arn(1), ModelApprovalStatus="Rejected"
    )
    assert _approval(1)["status"] == "Rejected"


def test_rollback_of_prod_acts_in_each_account_with_its_role_end_to_end(world: FourAccounts) -> None:
    _prod_released_v1_then_v2(world)
    with Stubber(world.stub("prod")) as stubber:
        _expect_v2_live(stubber, world)
        _expect_prepare_v1(stubber, world)
        _expect_update(stubber)
        stubber.add_response("describe_endpoint", _endpoint("Updating", NEW), {"EndpointName": PROD_ENDPOINT})
        stubber.add_response("describe_endpoint", _endpoint("InService", NEW), {"EndpointName": PROD_ENDPOINT})
        result = _rollback(world)
        stubber.assert_no_pending_responses()

    assert world.denials == []
    assert result["acting_as"] == {
        "registry": "arn:aws:sts::222222222222:assumed-role/mlops-delivery-dev-operator/mlopsctl",
        "prod": "arn:aws:sts::444444444444:assumed-role/mlops-delivery-prod-operator/mlopsctl",
    }
    # The registry changes in its own account, with its role; the endpoint and ledger in prod's.
    assert ("registry", BUILD_ROLE, "sagemaker:UpdateModelPackage") in world.calls
    assert ("prod", PROD_ROLE, "sagemaker:UpdateEndpoint") in world.calls
    assert ("prod", PROD_ROLE, "ssm:PutParameter") in world.calls
    # The serving account read the target version through the group's resource policy before any change.
    reads = [call for call in world.calls if call[2] == "sagemaker:DescribeModelPackage" and call[0] == "prod"]
    assert world.calls.index(reads[0]) < world.calls.index(("registry", BUILD_ROLE, "sagemaker:UpdateModelPackage"))
    v2 = _approval(2)
    assert v2["status"] == "Rejected"
    assert v2["description"].startswith(f"Rejected by {OPERATOR_SESSION}: rolled back prod to v1")
    assert [(e["model_version"], e["source"]) for e in ledger_history(world, "prod")] == [
        (1, "pipeline"),
        (2, "pipeline"),
        (1, "rollback"),
    ]
    assert result["next_release"] == version_arn(1) and result["pipeline_consistent"] is True


def _update_fails(world: FourAccounts, stubber: Stubber, how: str) -> None:
    if how == "denied by IAM":
        world.revoke("prod", "sagemaker:UpdateEndpoint")
    else:
        stubber.add_client_error(
            "update_endpoint",
            service_error_code="ValidationException",
            service_message="Cannot update in-progress endpoint",
            expected_params={
                "EndpointName": PROD_ENDPOINT,
                "EndpointConfigName": NEW,
                "RetainAllVariantProperties": True,
                "DeploymentConfig": PROD_DEPLOYMENT,
            },
        )


@pytest.mark.parametrize("how", ["denied by IAM", "refused by SageMaker"])
def test_rollback_whose_endpoint_update_fails_undoes_the_registry_change(world: FourAccounts, how: str) -> None:
    """Second change fails -> the first is undone, and the message lists both."""
    _prod_released_v1_then_v2(world)
    with Stubber(world.stub("prod")) as stubber:
        _expect_v2_live(stubber, world)
        _expect_prepare_v1(stubber, world)
        _update_fails(world, stubber, how)
        _expect_cleanup(stubber)
        with pytest.raises(OperatorError) as error:
            _rollback(world)
        stubber.assert_no_pending_responses()

    message = str(error.value)
    assert (
        message.startswith(f"Rollback of prod failed updating endpoint {PROD_ENDPOINT} (UpdateEndpoint ")
        and f"it still serves v2 on cfg-v2. Changes made: created model {NEW}; created endpoint config {NEW}; "
        in message
    )
    assert (
        f"Undone: v2 Approved -> Rejected; created alarms {ALARMS[1]}; created endpoint config {NEW}; "
        f"created model {NEW}. Still in place: nothing. The ledger is unchanged." in message
    )
    # The guard alarm made for the update is gone with it.
    assert [a["AlarmName"] for a in world.moto("cloudwatch", PROD).describe_alarms()["MetricAlarms"]] == [
        *WHOLE_ENDPOINT,
        *NEW_FLEET,
    ]
    v2 = _approval(2)
    assert v2["status"] == "Approved"
    assert v2["description"].startswith(f"Restored to Approved by {OPERATOR_SESSION}: the rollback of prod to v1")
    assert [e["model_version"] for e in ledger_history(world, "prod")] == [1, 2]


def test_rollback_that_cannot_undo_says_what_is_left(world: FourAccounts) -> None:
    _prod_released_v1_then_v2(world)
    world.revoke("prod", "sagemaker:UpdateEndpoint")
    world.revoke("prod", "sagemaker:DeleteModel")
    with Stubber(world.stub("prod")) as stubber:
        _expect_v2_live(stubber, world)
        _expect_prepare_v1(stubber, world)
        stubber.add_response("delete_endpoint_config", {}, {"EndpointConfigName": NEW})
        with pytest.raises(OperatorError, match=rf"Still in place: created model {NEW} \(undo failed: DeleteModel"):
            _rollback(world)
        stubber.assert_no_pending_responses()
    assert _approval(2)["status"] == "Approved"


def test_rollback_the_guardrails_undo_leaves_the_live_version_approved(world: FourAccounts) -> None:
    _prod_released_v1_then_v2(world)
    with Stubber(world.stub("prod")) as stubber:
        _expect_v2_live(stubber, world)
        _expect_prepare_v1(stubber, world)
        _expect_update(stubber)
        stubber.add_response("describe_endpoint", _endpoint("RollingBack", NEW), {"EndpointName": PROD_ENDPOINT})
        settled = _endpoint("InService", "cfg-v2", FailureReason="Alarm mlops-delivery-prod-rollback-5xx in ALARM")
        stubber.add_response("describe_endpoint", settled, {"EndpointName": PROD_ENDPOINT})
        _expect_cleanup(stubber)
        with pytest.raises(OperatorError, match=r"did not take: endpoint is InService on cfg-v2") as error:
            _rollback(world)
        stubber.assert_no_pending_responses()
    assert "Undone: v2 Approved -> Rejected" in str(error.value)
    assert _approval(2)["status"] == "Approved"
    assert [e["model_version"] for e in ledger_history(world, "prod")] == [1, 2]


def test_throttled_status_checks_back_off_and_time_out_as_still_in_flight(world: FourAccounts) -> None:
    """Throttling while waiting never undoes an accepted update; the message says it is still in flight."""
    _prod_released_v1_then_v2(world)
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with Stubber(world.stub("prod")) as stubber:
        _expect_v2_live(stubber, world)
        _expect_prepare_v1(stubber, world)
        _expect_update(stubber)
        stubber.add_response("describe_endpoint", _endpoint("Updating", NEW), {"EndpointName": PROD_ENDPOINT})
        for _ in range(35):
            stubber.add_client_error("describe_endpoint", "ThrottlingException", "Rate exceeded")
        with pytest.raises(OperatorError) as error:
            rollback.rollback(_ctx(world), "prod", None, "worse", sleep=sleep, clock=lambda: now[0], poll_seconds=30.0)
    message = str(error.value)
    assert message.startswith("Rollback of prod is still in flight: endpoint mlops-delivery-prod was still Updating")
    assert "was accepted and may still complete, so nothing was undone" in message
    assert "restore v2 with `mlopsctl approve 2`" in message
    # Exponential back-off from the poll interval, capped at five minutes.
    assert sleeps[:5] == [30.0, 60.0, 120.0, 240.0, 300.0] and max(sleeps) == 300.0
    assert _approval(2)["status"] == "Rejected"
    assert [e["model_version"] for e in ledger_history(world, "prod")] == [1, 2]


def test_rollback_refuses_before_any_change_when_a_role_cannot_be_assumed(world: FourAccounts) -> None:
    _prod_released_v1_then_v2(world)
    world.operator_tags = {}  # the operator's identity lacks the operator tag
    with Stubber(world.stub("prod")) as stubber:
        with pytest.raises(OperatorError) as error:
            _rollback(world)
        stubber.assert_no_pending_responses()
    assert str(error.value).startswith(
        "Refusing rollback of prod: cannot act on the model registry in account 222222222222: AssumeRole "
        "AccessDeniedException"
    )
    assert str(error.value).endswith("Nothing was changed.")
    assert world.calls == [] and _approval(2)["status"] == "Approved"


def test_status_reads_every_account_and_shows_alarms_and_the_traffic_split(
    world: FourAccounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "out", Console(width=400, highlight=False, soft_wrap=True))
    _prod_released_v1_then_v2(world)
    register(status="PendingManualApproval", auc=0.96)
    world.moto("cloudwatch", PROD).set_alarm_state(
        AlarmName=ALARMS[0], StateValue="ALARM", StateReason="Threshold Crossed"
    )
    serving = {
        "VariantName": "AllTraffic",
        "CurrentWeight": 1.0,
        "DesiredWeight": 1.0,
        "CurrentInstanceCount": 4,
        "DesiredInstanceCount": 4,
    }
    canary = {
        "VariantName": "AllTraffic",
        "CurrentWeight": 1.0,
        "DesiredWeight": 1.0,
        "CurrentInstanceCount": 1,
        "DesiredInstanceCount": 4,
        "VariantStatus": [{"Status": "Baking", "StartTime": NOW}],
    }
    deploying = _endpoint(
        "Updating",
        "cfg-v2",
        ProductionVariants=[serving],
        PendingDeploymentSummary={"EndpointConfigName": "cfg-v3", "ProductionVariants": [canary], "StartTime": NOW},
    )
    with (
        Stubber(world.stub("dev")) as dev,
        Stubber(world.stub("staging")) as staging,
        Stubber(world.stub("prod")) as prod,
    ):
        dev.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint mlops-delivery-dev.")
        staging.add_client_error(
            "describe_endpoint", "ValidationException", "Could not find endpoint mlops-delivery-staging."
        )
        for _ in ("table", "json"):
            prod.add_response("describe_endpoint", deploying, {"EndpointName": PROD_ENDPOINT})
            prod.add_response(
                "describe_endpoint_config", _config("cfg-v2", "model-v2"), {"EndpointConfigName": "cfg-v2"}
            )
            prod.add_response("describe_model", _model(world, "model-v2", version_arn(2)), {"ModelName": "model-v2"})
        result = CliRunner().invoke(cli.app, ["status"])
        json_result = CliRunner().invoke(cli.app, ["--json", "status", "--env", "prod"])
        for stubber in (dev, staging, prod):
            stubber.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert world.denials == []
    assert {call[1] for call in world.calls if call[0] == "prod"} == {PROD_ROLE}
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 2}
    assert "not deployed" in rows["dev"] and "not deployed" in rows["staging"]
    assert "Updating (blue/green in progress)" in rows["prod"]
    assert "AllTraffic weight 1.0 x4 | new cfg-v3: AllTraffic weight 1.0 x1 Baking" in rows["prod"]
    assert f"ALARM {ALARMS[0]}" in rows["prod"]
    assert "Pending approval: v3" in result.stdout
    prod_status = json.loads(json_result.stdout)["environments"][0]
    assert prod_status["alarms_firing"] == [ALARMS[0]]
    assert prod_status["endpoint"]["pending_deployment"]["variants"][0]["desired_instances"] == 4


def test_approve_reject_and_retrain_act_in_the_model_build_account_with_its_role(world: FourAccounts) -> None:
    register(status="PendingManualApproval", auc=0.95)
    register(status="PendingManualApproval", auc=0.90)
    runner = CliRunner()
    assert runner.invoke(cli.app, ["approve", "1", "--reason", "beats the champion"]).exit_code == 0
    assert runner.invoke(cli.app, ["reject", "2", "--reason", "below the champion"]).exit_code == 0
    retrain = runner.invoke(cli.app, ["--json", "retrain", "--reason", "labels fixed"])
    assert retrain.exit_code == 0, retrain.output
    assert world.denials == []
    assert {(scope, role) for scope, role, _ in world.calls} == {("registry", BUILD_ROLE)}
    assert ("registry", BUILD_ROLE, "events:PutEvents") in world.calls
    # Who approved is the operator, not the role assumed to do it.
    assert _approval(1) == {"status": "Approved", "description": f"Approved by {OPERATOR_SESSION}: beats the champion"}
    assert _approval(2)["status"] == "Rejected"
