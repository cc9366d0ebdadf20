"""Operator CLI against the registry, the bus and the pipeline executions (moto state)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from config import load
from mlopsctl import operations
from mlopsctl.cli import app
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from tests.conftest import cdk_json_context
from tests.operator_cli.support import ACCOUNT, REGION, Clients, register, register_evaluation, version_arn

runner = CliRunner()


def _status(arn: str) -> dict[str, str]:
    package = boto3.client("sagemaker", region_name=REGION).describe_model_package(ModelPackageName=arn)
    return {"status": package["ModelApprovalStatus"], "description": package.get("ApprovalDescription", "")}


def test_compare_defaults_to_newest_pending_against_champion_not_newest_approved(ctx: Context) -> None:
    register(status="Approved", auc=0.93)
    register(status="Approved", auc=0.95, champion=(1, (0.93, 0.9, 0.9)))
    register(status="Rejected", auc=0.99)
    register(status="PendingManualApproval", auc=0.90, accuracy=0.85, champion=(2, (0.95, 0.9, 0.9)))
    result = operations.compare(ctx, None, None)
    assert result["a"]["model_package_arn"] == version_arn(2)
    assert result["b"]["model_package_arn"] == version_arn(4)
    rows = {row["metric"]: row for row in result["metrics"]}
    assert rows["auc"]["a"] == 0.95 and rows["auc"]["b"] == 0.90
    assert rows["auc"]["delta"] == pytest.approx(-0.05)
    assert rows["accuracy"]["delta"] == pytest.approx(-0.05)
    assert result["regression"] is True
    assert result["b"]["champion_model_package_arn"] == version_arn(2)


def test_compare_explicit_versions_by_number_and_arn(ctx: Context) -> None:
    register(status="Approved", auc=0.93)
    register(status="Approved", auc=0.95)
    result = operations.compare(ctx, "1", version_arn(2))
    assert [row["delta"] for row in result["metrics"] if row["metric"] == "auc"] == [pytest.approx(0.02)]
    assert result["regression"] is False


def test_compare_without_pending_version_says_what_to_pass(ctx: Context) -> None:
    register(status="Approved", auc=0.93)
    with pytest.raises(OperatorError, match=r"No version is pending approval; give the versions"):
        operations.compare(ctx, None, None)


def test_compare_refuses_a_version_of_another_group(ctx: Context) -> None:
    with pytest.raises(OperatorError, match="group 'mlops-delivery'"):
        operations.compare(ctx, "1", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/other/1")


def test_compare_cli_prints_a_table_and_json(clients: Clients) -> None:
    register(status="Approved", auc=0.95)
    register(status="PendingManualApproval", auc=0.94, champion=(1, (0.95, 0.9, 0.9)))
    table = runner.invoke(app, ["compare"])
    assert table.exit_code == 0, table.output
    assert "-0.0100" in table.output and "worse than A on auc" in table.output
    data = runner.invoke(app, ["--json", "compare", "1", "2"])
    assert json.loads(data.stdout)["metrics"][0]["metric"] == "auc"


def test_approve_records_caller_identity_and_reason(clients: Clients) -> None:
    arn = register(status="PendingManualApproval", auc=0.95)
    result = runner.invoke(app, ["approve", "1", "--reason", "beats v0 on holdout"])
    assert result.exit_code == 0, result.output
    assert "prod still waits for the pipeline's manual approval" in result.output
    state = _status(arn)
    assert state["status"] == "Approved"
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]
    assert state["description"] == f"Approved by {caller}: beats v0 on holdout"


def test_reject_requires_a_reason(clients: Clients) -> None:
    register(status="PendingManualApproval", auc=0.95)
    result = runner.invoke(app, ["reject", "1"])
    assert result.exit_code == 2
    assert _status(version_arn(1))["status"] == "PendingManualApproval"


def test_reject_records_who_and_why(clients: Clients) -> None:
    register(status="Approved", auc=0.95)
    result = runner.invoke(app, ["--json", "reject", "1", "--reason", "worse online"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["to"] == "Rejected"
    assert _status(version_arn(1))["description"].endswith(": worse online")


def test_unknown_version_fails_with_one_line(clients: Clients) -> None:
    result = runner.invoke(app, ["approve", "9"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Cannot read model package") and result.stderr.count("\n") == 1


def test_resolve_release_writes_a_file_config_reads(clients: Clients, tmp_path: Path) -> None:
    register(status="Approved", auc=0.93)
    register(status="Approved", auc=0.95)
    register(status="PendingManualApproval", auc=0.97)
    result = runner.invoke(app, ["resolve-release", "--env", "staging", "--out", str(tmp_path / "staging.json")])
    assert result.exit_code == 0, result.output
    release = load(cdk_json_context(), releases_dir=tmp_path).environment("staging").release
    assert release is not None
    assert release.model_package_arn == version_arn(2)
    assert release.baseline_statistics_uri == "s3://mlops-delivery-artifacts/pipelines/run-2/baseline/statistics.json"
    assert release.baseline_constraints_uri == "s3://mlops-delivery-artifacts/pipelines/run-2/baseline/constraints.json"


def test_resolve_release_print_context_writes_nothing(clients: Clients, tmp_path: Path) -> None:
    register(status="Approved", auc=0.93)
    result = runner.invoke(app, ["resolve-release", "--env", "dev", "--print-context", "--out", str(tmp_path / "x")])
    assert result.stdout.strip() == f"-c release.dev={version_arn(1)}"
    assert not (tmp_path / "x").exists()


def test_resolve_release_fails_clearly_when_nothing_is_approved(clients: Clients, tmp_path: Path) -> None:
    register(status="PendingManualApproval", auc=0.93)
    result = runner.invoke(app, ["resolve-release", "--env", "dev", "--out", str(tmp_path / "dev.json")])
    assert result.exit_code == 1
    assert "No Approved version in arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/mlops-delivery" in (
        result.stderr
    )
    assert not (tmp_path / "dev.json").exists()


def test_unknown_environment_names_the_configured_ones(clients: Clients) -> None:
    result = runner.invoke(app, ["--json", "resolve-release", "--env", "qa"])
    assert result.exit_code == 1
    assert "configured: dev, staging, prod" in json.loads(result.stdout)["error"]


def test_shared_options_go_before_the_command(clients: Clients) -> None:
    result = runner.invoke(app, ["--json", "--cdk-json=cdk.json", "resolve-release", "--env", "qa"])
    assert result.exit_code == 1
    assert "configured: dev, staging, prod" in json.loads(result.stdout)["error"]


@pytest.mark.parametrize(
    "args",
    [
        ["resolve-release", "--env", "qa", "--json"],
        ["--json", "resolve-release", "--cdk-json", "cdk.json", "--env", "qa"],
    ],
    ids=["flag", "option with a value"],
)
def test_a_shared_option_after_the_command_is_a_usage_error(clients: Clients, args: list[str]) -> None:
    """As Click parses a group: the command's own options follow its name, the group's come before it."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "No such option" in result.stderr and "mlopsctl resolve-release --help" in result.stderr


def test_a_missing_value_of_a_shared_option_is_a_usage_error(clients: Clients) -> None:
    result = runner.invoke(app, ["--profile"])
    assert result.exit_code == 2
    assert "Option '--profile' requires an argument." in result.stderr


def test_each_command_help_names_the_shared_options() -> None:
    result = runner.invoke(app, ["retrain", "--help"])
    assert result.exit_code == 0
    assert "--role-arn" in result.stdout and "--json" in result.stdout


def test_retrain_puts_the_contract_event_on_the_build_default_bus(clients: Clients) -> None:
    """A manual request goes through the retraining rule (dedup, never promote), not straight to the pipeline."""
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]
    events = clients.stub("events", "registry")
    with Stubber(events) as stubber:
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "11111111-2222-3333-4444-555555555555"}]},
            {
                "Entries": [
                    {
                        "Source": "mlops-delivery.retraining",
                        "DetailType": "Retraining Requested",
                        "Detail": json.dumps({"reason": "label fix in last week's data", "requested_by": caller}),
                        "EventBusName": "default",
                    }
                ]
            },
        )
        result = runner.invoke(app, ["retrain", "--reason", "label fix in last week's data"])
        stubber.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert "never promoted" in result.output
    assert not any(call[0] == "sagemaker" for call in clients.calls)


def test_retrain_reports_a_refused_event(clients: Clients) -> None:
    events = clients.stub("events", "registry")
    with Stubber(events) as stubber:
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "AccessDenied", "ErrorMessage": "not allowed"}]},
        )
        result = runner.invoke(app, ["retrain", "--reason", "weekly data fix"])
        stubber.assert_no_pending_responses()
    assert result.exit_code == 1
    assert result.stderr == "error: EventBridge refused the retraining event: AccessDenied not allowed\n"


def test_retrain_refuses_an_empty_reason(clients: Clients) -> None:
    result = runner.invoke(app, ["retrain", "--reason", "  "])
    assert result.exit_code == 1 and "--reason must say why" in result.stderr


def test_resolve_release_print_context_with_json_for_scripts(clients: Clients) -> None:
    register(status="Approved", auc=0.93)
    result = runner.invoke(app, ["--json", "resolve-release", "--env", "prod", "--print-context"])
    assert json.loads(result.stdout)["context"] == f"-c release.prod={version_arn(1)}"


def test_first_installation_resolves_no_release_and_synth_skips_serving(clients: Clients, tmp_path: Path) -> None:
    """The pipeline's first run: nothing approved yet must not fail the build, and no stale file survives."""
    register(status="PendingManualApproval", auc=0.93)
    stale = tmp_path / "dev.json"
    stale.write_text(json.dumps({"model_package_arn": version_arn(1)}))
    result = runner.invoke(app, ["resolve-release", "--env", "dev", "--allow-none", "--out", str(stale)])
    assert result.exit_code == 0, result.output
    assert "no Approved version yet" in result.stdout
    assert not stale.exists()
    assert load(cdk_json_context(), releases_dir=tmp_path).environment("dev").release is None


def test_compare_gates_on_the_metric_a_version_recorded_whatever_is_configured(ctx: Context) -> None:
    """A regression model's versions compare on their rmse (lower is better) under any cdk.json model."""

    def report(rmse: float) -> bytes:
        metrics = {"rmse": {"value": rmse, "standard_deviation": 0.5}, "r2": {"value": 0.4, "standard_deviation": 0}}
        return json.dumps({"regression_metrics": metrics, "comparison": {"metric": "rmse"}}).encode()

    register_evaluation(status="Approved", evaluation=report(50.0), metadata={"trigger_reason": "schedule"})
    register_evaluation(
        status="PendingManualApproval", evaluation=report(55.0), metadata={"trigger_reason": "schedule"}
    )
    result = operations.compare(ctx, None, None)
    assert (result["gate_metric"], result["higher_is_better"], result["regression"]) == ("rmse", False, True)
    # cdk.json's tolerance is for cdk.json's metric: none is claimed for another one.
    configured = ctx.cfg.model_build.model.metric
    expected = configured.allowed_regression if configured.name == "rmse" else None
    assert result["allowed_regression"] == expected
