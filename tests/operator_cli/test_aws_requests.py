"""What the CLI writes to AWS besides the retraining event meets AWS's contract (tests/aws_contract.py)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber
from typer.testing import CliRunner

import config
from mlopsctl import ledger, registry
from mlopsctl.cli import app
from tests.aws_contract import check_request
from tests.operator_cli.support import ACCOUNT, REGION, Clients, version_arn

runner = CliRunner()


def captured(client: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every `operation` call the client makes (botocore's public event hooks)."""
    calls: list[dict[str, Any]] = []
    service = client.meta.service_model.service_name
    client.meta.events.register(
        f"provide-client-params.{service}.{operation}", lambda params, **_: calls.append(dict(params))
    )
    return calls


def test_ledger_entry_at_its_longest_fits_a_standard_parameter(clients: Clients) -> None:
    """A 4-byte character in every place of the longest reason still leaves the entry within 4 KB."""
    names = config.ResourceNames("p" * 31)
    ssm = boto3.client("ssm", region_name=REGION)
    calls = captured(ssm, "PutParameter")
    record = ledger.entry(
        model_package_arn=f"arn:aws-us-gov:sagemaker:us-gov-west-1:{ACCOUNT}:model-package/{'p' * 31}/1234567",
        model_version=1234567,
        endpoint_config_name="e" * 63,
        source="rollback",
        reason="\U0001d400" * ledger.REASON_MAX_LENGTH,
    )
    ledger.append(ssm, names.ledger_parameter("e" * 16), record)
    [request] = calls
    check_request("ssm", "PutParameter", request)
    assert ledger.current(ssm, names.ledger_parameter("e" * 16)) == record


def test_rollback_refuses_a_reason_the_ledger_cannot_hold_before_any_change(clients: Clients) -> None:
    result = runner.invoke(app, ["rollback", "--env", "dev", "--reason", "r" * (ledger.REASON_MAX_LENGTH + 1)])
    assert result.exit_code == 1
    assert result.stderr == "error: --reason has 513 characters; the ledger records at most 512.\n"
    assert clients.calls == []


def test_approval_description_is_one_line_within_1024_characters(clients: Clients) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    arn = version_arn(1)
    text = "Approved by arn:aws:sts::1:assumed-role/r/s: beats v6\non holdout\r\n" + "x" * 2000
    expected = {
        "ModelPackageArn": arn,
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription": ("Approved by arn:aws:sts::1:assumed-role/r/s: beats v6 on holdout " + "x" * 2000)[
            :1024
        ],
    }
    check_request("sagemaker", "UpdateModelPackage", expected)
    with Stubber(sm) as stubber:
        stubber.add_response("update_model_package", {"ModelPackageArn": arn}, expected)
        registry.set_status(sm, arn, "Approved", text)
        stubber.assert_no_pending_responses()
