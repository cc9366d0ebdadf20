"""rollback, record-deployment and status: moto for registry/SSM/alarms, Stubber for the endpoint calls."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from config import load_cdk_json
from mlopsctl import endpoint, operations, render, rollback
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from tests.operator_cli.support import (
    ENDPOINT,
    REGION,
    ROLE,
    Clients,
    alarm_names,
    endpoint_description,
    expect_deployable,
    expect_live,
    expect_release,
    guarded_by,
    ledger_entries,
    record,
    register,
    rollback_alarms,
    version_arn,
)

NEW = "mlops-delivery-dev-r261127030000"
ALARMS = guarded_by(NEW)


@pytest.fixture
def fixed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollback, "utc_now", lambda: datetime(2026, 11, 27, 3, 0, tzinfo=UTC))


def _approval(version: int) -> str:
    sm = boto3.client("sagemaker", region_name=REGION)
    return str(sm.describe_model_package(ModelPackageName=version_arn(version))["ModelApprovalStatus"])


def _two_weekly_releases() -> None:
    register(status="Approved", auc=0.95)
    register(status="Approved", auc=0.945, champion=(1, (0.95, 0.9, 0.9)))
    record(1, "cfg-v1")
    record(2, "cfg-v2")
    # The new-fleet alarms watch the config being rolled back from; their copies watch the new one.
    rollback_alarms()


def _expect_release_of_v1(stubber: Stubber) -> None:
    """What a rollback to v1 must send: a copy of the live config for v1, then a guarded blue/green update."""
    expect_deployable(stubber, version_arn(1))
    expect_release(
        stubber,
        live_config="cfg-v2",
        live_model="model-v2",
        live_package_arn=version_arn(2),
        new_name=NEW,
        package_arn=version_arn(1),
        alarms=ALARMS,
    )


def _rollback(ctx: Context, **kwargs: Any) -> dict[str, Any]:
    return rollback.rollback(ctx, "dev", kwargs.pop("to", None), "worse online", sleep=lambda s: None, **kwargs)


def test_rollback_returns_to_last_known_good_through_a_guarded_blue_green_update(
    clients: Clients, ctx: Context, fixed_names: None
) -> None:
    _two_weekly_releases()
    polls: list[str] = []
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        _expect_release_of_v1(stubber)
        stubber.add_response("describe_endpoint", endpoint_description("Updating", NEW), {"EndpointName": ENDPOINT})
        stubber.add_response("describe_endpoint", endpoint_description("InService", NEW), {"EndpointName": ENDPOINT})
        result = _rollback(ctx, on_poll=lambda state, elapsed: polls.append(state))
        stubber.assert_no_pending_responses()

    assert polls == ["Updating", "InService"]
    # The documented order (mlopsctl/rollback.py): prepare, guard, reject, update, wait, ledger.
    changes = [op for op in clients.operations if op.split(":")[1].startswith(("Create", "Put", "Update", "Delete"))]
    assert changes == [
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        # Copies of the new-fleet alarms that guard the update, made before it can start.
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:PutMetricAlarm",
        # Rejected before the update, so no pipeline run started meanwhile ships the version again.
        "sagemaker:UpdateModelPackage",
        "sagemaker:UpdateEndpoint",
        "cloudwatch:DeleteAlarms",
        "ssm:PutParameter",
    ]
    # Known-good only once the wait saw the endpoint InService on the new config.
    last_look = max(i for i, op in enumerate(clients.operations) if op == "sagemaker:DescribeEndpoint")
    assert clients.operations.index("ssm:PutParameter") > last_look
    # Copies of the new-fleet alarms guarded the update (ALARMS) and are gone once it settled.
    assert alarm_names() == sorted(
        f"mlops-delivery-dev-rollback-{s}" for s in ("endpoint-5xx-rate", "endpoint-model-error-rate")
    ) + sorted(f"mlops-delivery-dev-rollback-{s}" for s in ("new-fleet-5xx-rate", "new-fleet-p99-latency"))
    assert result["to"] == version_arn(1) and result["rejected"] == version_arn(2)
    assert _approval(2) == "Rejected"
    entries = ledger_entries()
    assert [(e["model_version"], e["source"]) for e in entries] == [(1, "pipeline"), (2, "pipeline"), (1, "rollback")]
    assert entries[-1]["endpoint_config_name"] == NEW and entries[-1]["reason"] == "worse online"
    # The next pipeline run resolves the latest Approved version, which is now the restored one.
    assert result["next_release"] == version_arn(1) and result["pipeline_consistent"] is True


def test_rollback_of_a_rolling_environment_rolls_in_its_configured_batches(clients: Clients, fixed_names: None) -> None:
    """The CLI's update uses the same builder as the template: a ROLLING environment never rolls back blue/green."""
    rolling = {
        f"mlops.environments.dev.rollout.{key}": value
        for key, value in {
            "type": "ROLLING",
            "rolling_batch_type": "INSTANCE_COUNT",
            "rolling_batch_size": 1,
            "rollback_batch_size": 2,
        }.items()
    }
    ctx = Context(cfg=load_cdk_json(overrides=rolling), clients=clients)
    _two_weekly_releases()
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        expect_deployable(stubber, version_arn(1))
        expect_release(
            stubber,
            live_config="cfg-v2",
            live_model="model-v2",
            live_package_arn=version_arn(2),
            new_name=NEW,
            package_arn=version_arn(1),
            alarms=ALARMS,
            update_policy={
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                    "WaitIntervalInSeconds": 300,
                    "MaximumExecutionTimeoutInSeconds": 3600,
                    "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
                }
            },
        )
        stubber.add_response("describe_endpoint", endpoint_description("InService", NEW), {"EndpointName": ENDPOINT})
        result = _rollback(ctx)
        stubber.assert_no_pending_responses()
    assert result["to"] == version_arn(1) and result["endpoint_config_name"] == NEW


def test_rollback_that_guardrails_undo_is_a_failure_and_records_nothing(
    clients: Clients, ctx: Context, fixed_names: None
) -> None:
    """SageMaker's auto-rollback ends InService too, on the OLD config: a status check alone would call it done."""
    _two_weekly_releases()
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        _expect_release_of_v1(stubber)
        stubber.add_response("describe_endpoint", endpoint_description("RollingBack", NEW), {"EndpointName": ENDPOINT})
        stubber.add_response(
            "describe_endpoint",
            endpoint_description("InService", "cfg-v2", failure="Alarm mlops-delivery-dev-rollback-5xx in ALARM"),
            {"EndpointName": ENDPOINT},
        )
        # The unused release is removed again, newest first.
        stubber.add_response("delete_endpoint_config", {}, {"EndpointConfigName": NEW})
        stubber.add_response("delete_model", {}, {"ModelName": NEW})
        with pytest.raises(
            OperatorError, match=r"is InService on cfg-v2, not on mlops-delivery-dev-r261127030000 .*nothing"
        ) as error:
            _rollback(ctx)
        stubber.assert_no_pending_responses()
    assert [e["model_version"] for e in ledger_entries()] == [1, 2]
    # v2 serves again, so it is Approved again: left Rejected, the next pipeline run would replace it.
    assert _approval(2) == "Approved"
    assert "Undone: v2 Approved -> Rejected; created endpoint config" in str(error.value)


def test_rollback_of_a_scaled_endpoint_keeps_the_instance_count_autoscaling_reached(
    clients: Clients, ctx: Context, fixed_names: None
) -> None:
    """The live config says 2 instances; autoscaling runs 5. The rollback config and update keep 5.

    The new config starts at DescribeEndpoint's DesiredInstanceCount and the update sets
    RetainAllVariantProperties, so SageMaker sizes the new fleet at the count current when it
    deploys; only the model changes, which a variant registered with autoscaling allows.
    """
    _two_weekly_releases()
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(
            stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2), desired=5
        )
        expect_deployable(stubber, version_arn(1))
        expect_release(
            stubber,
            live_config="cfg-v2",
            live_model="model-v2",
            live_package_arn=version_arn(2),
            new_name=NEW,
            package_arn=version_arn(1),
            alarms=ALARMS,
            instance_count=5,
        )
        stubber.add_response(
            "describe_endpoint", endpoint_description("InService", NEW, desired=5), {"EndpointName": ENDPOINT}
        )
        result = _rollback(ctx)
        stubber.assert_no_pending_responses()
    assert result["to"] == version_arn(1)


def test_instance_count_falls_back_to_the_current_count_and_then_to_the_live_config() -> None:
    """DescribeEndpoint may report only CurrentInstanceCount, or no variants while it is being created."""
    assert endpoint.desired_instance_count(endpoint_description("InService", "c", current=3), "AllTraffic") == 3
    assert (
        endpoint.desired_instance_count(endpoint_description("InService", "c", desired=4, current=3), "AllTraffic") == 4
    )
    assert endpoint.desired_instance_count(endpoint_description("InService", "c"), "AllTraffic") is None
    assert endpoint.desired_instance_count(endpoint_description("InService", "c", desired=4), "Other") is None


def test_rollback_refuses_without_a_known_good_version(clients: Clients, ctx: Context) -> None:
    register(status="Approved", auc=0.95)
    record(1, "cfg-v1")
    rollback_alarms()
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v1", model="model-v1", package_arn=version_arn(1))
        with pytest.raises(OperatorError, match=r"no known-good version other than the live one \(v1\)"):
            _rollback(ctx)
        stubber.assert_no_pending_responses()


def test_rollback_refuses_while_the_endpoint_is_updating(clients: Clients, ctx: Context) -> None:
    _two_weekly_releases()
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="Updating", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        with pytest.raises(OperatorError, match="already Updating"):
            _rollback(ctx)
        stubber.assert_no_pending_responses()
    assert _approval(2) == "Approved"


def test_rollback_refuses_a_target_that_is_not_approved(clients: Clients, ctx: Context) -> None:
    _two_weekly_releases()
    register(status="PendingManualApproval", auc=0.96)
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        with pytest.raises(OperatorError, match=r"target v3 is PendingManualApproval, not Approved"):
            _rollback(ctx, to="3")
        stubber.assert_no_pending_responses()


def test_rollback_refuses_to_deploy_without_rollback_alarms(clients: Clients, ctx: Context) -> None:
    register(status="Approved", auc=0.95)
    register(status="Approved", auc=0.945)
    record(1, "cfg-v1")
    record(2, "cfg-v2")
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        with pytest.raises(OperatorError, match=r"it has no whole-endpoint rollback alarms; the serving stack"):
            _rollback(ctx)
        stubber.assert_no_pending_responses()


def test_record_deployment_appends_when_endpoint_serves_the_release(clients: Clients) -> None:
    cfg_ctx = _ctx_with_release(clients, 2)
    register(status="Approved", auc=0.95)
    register(status="Approved", auc=0.96)
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        first = operations.record_deployment(cfg_ctx, "dev")
        again = operations.record_deployment(cfg_ctx, "dev")
        stubber.assert_no_pending_responses()
    assert first["recorded"] is True and again["recorded"] is False
    entries = ledger_entries()
    assert len(entries) == 1
    assert entries[0]["model_package_arn"] == version_arn(2)
    assert entries[0]["endpoint_config_name"] == "cfg-v2" and entries[0]["source"] == "pipeline"
    assert set(entries[0]) == {
        "model_package_arn",
        "model_version",
        "endpoint_config_name",
        "recorded_at",
        "source",
        "reason",
    }


def test_record_deployment_detects_a_guardrail_rollback_to_the_old_config(clients: Clients) -> None:
    """After an auto-rollback the endpoint is InService on the previous config: that is not a deployment."""
    cfg_ctx = _ctx_with_release(clients, 2)
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v1", model="model-v1", package_arn=version_arn(1))
        with pytest.raises(OperatorError, match=r"InService but serves v1 on cfg-v1, not the release v2"):
            operations.record_deployment(cfg_ctx, "dev")
        stubber.assert_no_pending_responses()
    assert boto3.client("ssm", region_name=REGION).describe_parameters()["Parameters"] == []


def test_record_deployment_fails_while_updating(clients: Clients) -> None:
    cfg_ctx = _ctx_with_release(clients, 2)
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="Updating", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        with pytest.raises(OperatorError, match="is Updating, not InService; nothing recorded"):
            operations.record_deployment(cfg_ctx, "dev")
        stubber.assert_no_pending_responses()


def _ctx_with_release(clients: Clients, version: int) -> Context:
    from config import load_cdk_json

    return Context(cfg=load_cdk_json(overrides={"release.dev": version_arn(version)}), clients=clients)


def test_status_shows_live_version_deployment_state_runs_and_pending(clients: Clients, ctx: Context) -> None:
    register(status="Approved", auc=0.95)
    register(status="PendingManualApproval", auc=0.96)
    record(1, "cfg-v1")
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_pipeline(
        PipelineName="mlops-delivery-model-build",
        PipelineDefinition='{"Version": "2020-12-01", "Steps": []}',
        RoleArn=ROLE,
    )
    sm.start_pipeline_execution(
        PipelineName="mlops-delivery-model-build",
        PipelineParameters=[{"Name": "TriggerReason", "Value": "schedule"}],
    )
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="Updating", config="cfg-v1", model="model-v1", package_arn=version_arn(1))
        result = operations.status(ctx, "dev")
        stubber.assert_no_pending_responses()
    env = result["environments"][0]
    assert env["live_version"] == 1 and env["deployment_in_progress"] is True
    assert env["ledger"]["model_package_arn"] == version_arn(1) and env["ledger_matches_endpoint"] is True
    assert [run["trigger_reason"] for run in result["executions"]] == ["schedule"]
    assert [p["version"] for p in result["pending_approval"]] == [2]


def test_status_table_covers_every_environment_even_when_one_is_unreachable(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console
    from typer.testing import CliRunner

    from mlopsctl import cli

    # Wide enough that no table cell wraps (a pipe would otherwise get 80 columns).
    monkeypatch.setattr(render, "out", Console(width=200, highlight=False, soft_wrap=True))

    register(status="Approved", auc=0.95)
    record(1, "cfg-v1")
    with (
        Stubber(clients.stub("sagemaker", "dev")) as dev,
        Stubber(clients.stub("sagemaker", "staging")) as staging,
        Stubber(clients.stub("sagemaker", "prod")) as prod,
    ):
        expect_live(dev, status="Updating", config="cfg-v1", model="model-v1", package_arn=version_arn(1))
        staging.add_client_error(
            "describe_endpoint",
            service_error_code="ValidationException",
            service_message="Could not find endpoint mlops-delivery-staging.",
            expected_params={"EndpointName": "mlops-delivery-staging"},
        )
        prod.add_client_error(
            "describe_endpoint",
            service_error_code="AccessDeniedException",
            service_message="not authorized",
            expected_params={"EndpointName": "mlops-delivery-prod"},
        )
        result = CliRunner().invoke(cli.app, ["status"])
        for stubber in (dev, staging, prod):
            stubber.assert_no_pending_responses()
    # Every environment is shown, and a script still learns that one could not be read.
    assert result.exit_code == 1, result.output
    assert result.stderr == "error: could not read prod (see the table).\n"
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 2}
    assert "Updating (blue/green in progress)" in rows["dev"] and "v1 pipeline" in rows["dev"]
    assert "not deployed" in rows["staging"]
    assert "cannot read: AccessDeniedException: not authorized" in rows["prod"]
    assert "cannot list executions of mlops-delivery-model-build" in result.stdout


def test_rollback_refusal_on_the_command_line_is_one_line_and_exit_1(clients: Clients) -> None:
    from typer.testing import CliRunner

    from mlopsctl.cli import app

    _two_weekly_releases()
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="Updating", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        result = CliRunner().invoke(app, ["rollback", "--env", "dev", "--reason", "worse online"])
        stubber.assert_no_pending_responses()
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Refusing rollback of dev: endpoint mlops-delivery-dev is already Updating")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_waiting_backs_off_on_throttling_and_resets_once_answered() -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    sleeps: list[float] = []
    seen: list[str] = []
    with Stubber(sm) as stubber:
        stubber.add_client_error("describe_endpoint", "ThrottlingException", "Rate exceeded")
        stubber.add_client_error("describe_endpoint", "ThrottlingException", "Rate exceeded")
        stubber.add_response("describe_endpoint", endpoint_description("Updating", NEW), {"EndpointName": ENDPOINT})
        stubber.add_response("describe_endpoint", endpoint_description("InService", NEW), {"EndpointName": ENDPOINT})
        final = endpoint.wait_until_settled(
            sm,
            ENDPOINT,
            timeout_seconds=3600,
            poll_seconds=30,
            sleep=sleeps.append,
            on_poll=lambda status, elapsed: seen.append(status),
        )
        stubber.assert_no_pending_responses()
    assert final["EndpointStatus"] == "InService"
    assert sleeps == [60.0, 120.0, 30]
    assert seen[0] == "Updating (status check throttled, next in 60 s)"


def test_waiting_never_sleeps_past_its_timeout() -> None:
    """The shadow test's step timeout is the sum of its waits: none may overrun by a poll interval."""
    sm = boto3.client("sagemaker", region_name=REGION)
    now = [0.0]
    with Stubber(sm) as stubber:
        for _ in range(5):
            stubber.add_response("describe_endpoint", endpoint_description("Updating", NEW), {"EndpointName": ENDPOINT})
        with pytest.raises(endpoint.StillInFlight):
            endpoint.wait_until_settled(
                sm,
                ENDPOINT,
                timeout_seconds=100,
                poll_seconds=30,
                sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
                clock=lambda: now[0],
            )
        stubber.assert_no_pending_responses()
    assert now[0] == 100


def test_waiting_does_not_hide_errors_other_than_throttling() -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    with Stubber(sm) as stubber:
        stubber.add_client_error("describe_endpoint", "AccessDeniedException", "not authorized")
        with pytest.raises(ClientError, match="AccessDeniedException"):
            endpoint.wait_until_settled(sm, ENDPOINT, timeout_seconds=60, sleep=lambda s: None)
        stubber.assert_no_pending_responses()


def test_guard_alarms_copy_the_new_fleet_alarms_onto_the_new_config(clients: Clients) -> None:
    """What SageMaker watches during the update: the same alarm, pointed at the config mlopsctl deploys."""
    from mlopsctl import guard

    rollback_alarms()
    cw = boto3.client("cloudwatch", region_name=REGION)
    names = load_cdk_json(overrides={}).names
    templates = guard.new_fleet_alarms(cw, names, "dev")
    created = guard.put_guard_alarms(cw, names, "dev", templates, NEW)
    assert created == guarded_by(NEW)[2:]
    (copy,) = cw.describe_alarms(AlarmNames=[created[0]])["MetricAlarms"]
    (template,) = [t for t in templates if t["AlarmName"].endswith("new-fleet-5xx-rate")]
    assert {d["Name"]: d["Value"] for d in copy["Dimensions"]} == {
        "EndpointName": ENDPOINT,
        "VariantName": "AllTraffic",
        "EndpointConfigName": NEW,
    }
    same = ("Threshold", "EvaluationPeriods", "Period", "Statistic", "ComparisonOperator", "AlarmActions")
    assert {k: copy[k] for k in same} == {k: template[k] for k in same}


def test_a_stale_first_status_is_not_taken_for_a_guardrail_rollback(
    clients: Clients, ctx: Context, fixed_names: None
) -> None:
    """DescribeEndpoint right after UpdateEndpoint may still show InService on the old config."""
    _two_weekly_releases()
    polls: list[str] = []
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        _expect_release_of_v1(stubber)
        stubber.add_response(
            "describe_endpoint", endpoint_description("InService", "cfg-v2"), {"EndpointName": ENDPOINT}
        )
        stubber.add_response("describe_endpoint", endpoint_description("Updating", NEW), {"EndpointName": ENDPOINT})
        stubber.add_response("describe_endpoint", endpoint_description("InService", NEW), {"EndpointName": ENDPOINT})
        result = _rollback(ctx, on_poll=lambda state, elapsed: polls.append(state))
        stubber.assert_no_pending_responses()
    assert polls == ["InService on cfg-v2 (update not shown yet)", "Updating", "InService"]
    assert result["endpoint_config_name"] == NEW and _approval(2) == "Rejected"


@pytest.mark.parametrize("seconds", ["-1", "0", "0.5"])
def test_poll_seconds_below_one_is_refused_before_anything_is_read(clients: Clients, seconds: str) -> None:
    from typer.testing import CliRunner

    from mlopsctl.cli import app

    for command in (["rollback", "--env", "dev"], ["shadow-test", "--env", "dev"]):
        result = CliRunner().invoke(app, [*command, "--poll-seconds", seconds])
        assert result.exit_code == 2 and "Invalid value for '--poll-seconds'" in result.output
    assert clients.calls == []
    with pytest.raises(OperatorError, match="poll_seconds must be above 0"):
        rollback.rollback(Context(cfg=load_cdk_json(), clients=clients), "dev", None, "x", poll_seconds=-1)
    assert clients.calls == []
