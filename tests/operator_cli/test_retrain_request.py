"""`mlopsctl retrain` refuses what the retraining function would refuse, before it sends anything.

The function accepts a reason of at most 512 characters and a requester of at most 128
(contracts.py, which the function and mlopsctl/retraining_request.py both import); an event beyond
them would be accepted by EventBridge, so the CLI would exit 0 and the run never start.
"""

from __future__ import annotations

import json

from botocore.stub import Stubber
from typer.testing import CliRunner

from contracts import RETRAINING_REASON_MAX_LENGTH, RETRAINING_REQUESTED_BY_MAX_LENGTH
from mlopsctl.cli import app
from tests.aws_contract import check_request
from tests.operator_cli.support import ACCOUNT, Clients

runner = CliRunner()
SSO_SESSION = "firstname.middlename.lastname.team@long-subsidiary.example.co.uk"
SSO_CALLER = (
    f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_DataScientistsWithALongPermissionSetName_0123abcd/"
    f"{SSO_SESSION}"
)


def test_retrain_refuses_a_reason_longer_than_the_function_accepts(clients: Clients) -> None:
    reason = "x" * (RETRAINING_REASON_MAX_LENGTH + 1)
    result = runner.invoke(app, ["retrain", "--reason", reason])
    assert result.exit_code == 1
    assert result.stderr == "error: --reason has 513 characters; the retraining function accepts at most 512.\n"
    assert clients.calls == []  # refused before any AWS call


def test_retrain_sends_a_long_sso_caller_shortened_to_account_and_session(clients: Clients) -> None:
    sts, events = clients.stub("sts", "caller"), clients.stub("events", "registry")
    reason = "  " + "y" * RETRAINING_REASON_MAX_LENGTH + "  "
    with Stubber(sts) as sts_stub, Stubber(events) as events_stub:
        sts_stub.add_response("get_caller_identity", {"UserId": "AROA:x", "Account": ACCOUNT, "Arn": SSO_CALLER})
        detail = {"reason": "y" * 512, "requested_by": f"{ACCOUNT}:assumed-role/.../{SSO_SESSION}"}
        entry = {
            "Source": "mlops-delivery.retraining",
            "DetailType": "Retraining Requested",
            "Detail": json.dumps(detail),
            "EventBusName": "default",
        }
        check_request("events", "PutEvents", {"Entries": [entry]})
        events_stub.add_response(
            "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}, {"Entries": [entry]}
        )
        result = runner.invoke(app, ["--json", "retrain", "--reason", reason])
        sts_stub.assert_no_pending_responses()
        events_stub.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["detail"] == detail
    assert len(SSO_CALLER) > RETRAINING_REQUESTED_BY_MAX_LENGTH >= len(detail["requested_by"])
