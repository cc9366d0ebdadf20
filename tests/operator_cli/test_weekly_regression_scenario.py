"""End to end, through the CLI: a weekly retrain passes the build gate, is worse online, and is rolled back.

Week 1 ships v1. Week 2's scheduled run registers v2 slightly below v1 (inside the allowed
regression, so the gate lets it through), an operator approves it and the pipeline deploys it.
Online it does worse. compare shows the regression against v1; rollback returns dev to v1,
rejects v2, and the ledger and the next release resolution agree on v1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from mlopsctl import rollback
from mlopsctl.cli import app
from tests.operator_cli.support import (
    ENDPOINT,
    REGION,
    Clients,
    endpoint_description,
    expect_deployable,
    expect_live,
    expect_release,
    guarded_by,
    ledger_entries,
    register,
    rollback_alarms,
    version_arn,
)

runner = CliRunner()
RESTORED = "mlops-delivery-dev-r261130090000"


def cli(*args: str) -> Any:
    result = runner.invoke(app, ["--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_weekly_retrain_that_regresses_online_is_rolled_back_to_the_previous_approved_version(
    clients: Clients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollback, "utc_now", lambda: datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    rollback_alarms()
    sm = clients.stub("sagemaker", "dev")

    # Week 1: the scheduled run's v1 is approved, released and recorded after the pipeline deploys it.
    register(status="PendingManualApproval", auc=0.95, trigger="schedule")
    cli("approve", "1", "--reason", "first model")
    assert cli("resolve-release", "--env", "dev", "--out", str(tmp_path / "dev.json"))["model_package_arn"] == (
        version_arn(1)
    )
    with Stubber(sm) as stubber:
        expect_live(stubber, status="InService", config="cfg-v1", model="model-v1", package_arn=version_arn(1))
        cli("record-deployment", "--env", "dev", "--release", version_arn(1))
        stubber.assert_no_pending_responses()

    # Week 2: v2 is 0.005 AUC below v1, inside allowed_regression (0.01), so the build gate passes it.
    register(
        status="PendingManualApproval", auc=0.945, accuracy=0.88, trigger="schedule", champion=(1, (0.95, 0.9, 0.9))
    )
    review = cli("compare")
    assert (review["a"]["version"], review["b"]["version"]) == (1, 2)
    cli("approve", "2", "--reason", "within tolerance")
    assert cli("resolve-release", "--env", "dev", "--out", str(tmp_path / "dev.json"))["model_package_arn"] == (
        version_arn(2)
    )
    with Stubber(sm) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        cli("record-deployment", "--env", "dev", "--release", version_arn(2))
        stubber.assert_no_pending_responses()

    # Online it is worse. status shows what is live; compare shows the regression against v1.
    with Stubber(sm) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        status = cli("status", "--env", "dev")
        stubber.assert_no_pending_responses()
    assert status["environments"][0]["live_version"] == 2
    comparison = cli("compare", "1", "2")
    auc = next(row for row in comparison["metrics"] if row["metric"] == "auc")
    assert auc["delta"] == pytest.approx(-0.005) and comparison["regression"] is True

    # rollback: back to the last known-good (v1) through the guarded blue/green path.
    with Stubber(sm) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        expect_deployable(stubber, version_arn(1))
        # The live v2 model runs without network isolation, so the restored one does too.
        expect_release(
            stubber,
            live_config="cfg-v2",
            live_model="model-v2",
            live_package_arn=version_arn(2),
            new_name=RESTORED,
            package_arn=version_arn(1),
            alarms=guarded_by(RESTORED),
            network_isolation=False,
        )
        stubber.add_response(
            "describe_endpoint", endpoint_description("Updating", RESTORED), {"EndpointName": ENDPOINT}
        )
        stubber.add_response(
            "describe_endpoint", endpoint_description("InService", RESTORED), {"EndpointName": ENDPOINT}
        )
        result = runner.invoke(
            app, ["rollback", "--env", "dev", "--reason", "conversion down 4% since v2", "--poll-seconds", "1"]
        )
        stubber.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert "v2 -> v1 is live" in result.stdout
    assert "v2 is Rejected, so the next pipeline run resolves the latest Approved version: v1" in result.stdout

    # The ledger shows v1 back as known-good; v2 is Rejected with the reason; the next release is v1.
    entries = ledger_entries()
    assert [(e["model_version"], e["source"]) for e in entries] == [(1, "pipeline"), (2, "pipeline"), (1, "rollback")]
    assert entries[-1]["endpoint_config_name"] == RESTORED
    package = boto3.client("sagemaker", region_name=REGION).describe_model_package(ModelPackageName=version_arn(2))
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"].endswith("rolled back dev to v1: conversion down 4% since v2")
    assert cli("resolve-release", "--env", "dev", "--out", str(tmp_path / "dev.json"))["model_package_arn"] == (
        version_arn(1)
    )
