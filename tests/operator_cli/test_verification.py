"""The post-deploy verdict: each way the served endpoint can differ from the deployment, and no release.

moto holds the registry and the ledger; Stubber answers the endpoint calls (moto has no
UpdateEndpoint, so it cannot produce an endpoint that was rolled back).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from typer.testing import CliRunner

from config import load_cdk_json
from mlopsctl import operations, verification
from mlopsctl.cli import app
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from tests.operator_cli.support import (
    ENDPOINT,
    REGION,
    Clients,
    endpoint_description,
    expect_live,
    ledger_entries,
    record,
    register,
    version_arn,
)

runner = CliRunner()
VERIFIER = "arn:aws:iam::222222222222:role/mlops-delivery-dev-deploy-verifier"


def _ctx(clients: Clients, release: int | None) -> Context:
    overrides = {"release.dev": version_arn(release)} if release is not None else {}
    return Context(cfg=load_cdk_json(overrides=overrides), clients=clients)


def _no_endpoint(stubber: Stubber) -> None:
    stubber.add_client_error(
        "describe_endpoint",
        service_error_code="ValidationException",
        service_message=f'Could not find endpoint "{ENDPOINT}".',
        expected_params={"EndpointName": ENDPOINT},
    )


def _failed(stubber: Stubber, reason: str) -> None:
    stubber.add_response(
        "describe_endpoint", endpoint_description("Failed", "cfg-v2", failure=reason), {"EndpointName": ENDPOINT}
    )
    stubber.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "cfg-v2",
            "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:222222222222:endpoint-config/cfg-v2",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "model-v2"}],
            "CreationTime": "2026-11-27T03:00:00Z",
        },
        {"EndpointConfigName": "cfg-v2"},
    )
    stubber.add_response(
        "describe_model",
        {
            "ModelName": "model-v2",
            "ModelArn": f"arn:aws:sagemaker:{REGION}:222222222222:model/model-v2",
            "PrimaryContainer": {"ModelPackageName": version_arn(2)},
            "CreationTime": "2026-11-27T03:00:00Z",
        },
        {"ModelName": "model-v2"},
    )


# ------------------------------------------------------------------ with a release: every failure mode


@pytest.mark.parametrize(
    ("arrange", "requested", "reason"),
    [
        pytest.param(_no_endpoint, "cfg-v2", r"Endpoint mlops-delivery-dev does not exist in eu-west-1", id="missing"),
        pytest.param(
            lambda s: expect_live(s, status="Updating", config="cfg-v2", model="model-v2", package_arn=version_arn(2)),
            "cfg-v2",
            r"is Updating, not InService; nothing recorded",
            id="still-updating",
        ),
        pytest.param(
            lambda s: _failed(s, "Capacity unavailable"),
            "cfg-v2",
            r"is Failed, not InService \(Capacity unavailable\)",
            id="failed",
        ),
        pytest.param(
            lambda s: expect_live(s, status="InService", config="cfg-v1", model="model-v1", package_arn=version_arn(1)),
            "cfg-v2",
            r"InService on cfg-v1 \(v1\), not on cfg-v2 that this deployment requested for the release v2: "
            r"SageMaker's deployment guardrails rolled the update back",
            id="guardrail-rollback",
        ),
        pytest.param(
            # Same model version, other settings (say, instance type): a rolled-back config change.
            lambda s: expect_live(
                s, status="InService", config="cfg-old", model="model-v2", package_arn=version_arn(2)
            ),
            "cfg-new",
            r"InService on cfg-old \(v2\), not on cfg-new",
            id="config-change-rolled-back",
        ),
        pytest.param(
            lambda s: expect_live(s, status="InService", config="cfg-v2", model="model-v1", package_arn=version_arn(1)),
            "cfg-v2",
            r"serves v1 on cfg-v2, not the release v2",
            id="config-serves-another-package",
        ),
        pytest.param(
            lambda s: expect_live(s, status="InService", config="cfg-v1", model="model-v1", package_arn=version_arn(1)),
            None,
            r"serves v1 on cfg-v1, not the release v2",
            id="no-requested-config-still-checks-the-package",
        ),
    ],
)
def test_record_deployment_refuses_and_records_nothing(
    clients: Clients, arrange: Any, requested: str | None, reason: str
) -> None:
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        arrange(stubber)
        with pytest.raises(OperatorError, match=reason):
            operations.record_deployment(_ctx(clients, 2), "dev", requested)
        stubber.assert_no_pending_responses()
    assert boto3.client("ssm", region_name=REGION).describe_parameters()["Parameters"] == []


def test_record_deployment_records_the_requested_config(clients: Clients) -> None:
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        result = operations.record_deployment(_ctx(clients, 2), "dev", "cfg-v2")
        stubber.assert_no_pending_responses()
    assert result["recorded"] is True
    assert [(e["model_version"], e["endpoint_config_name"]) for e in ledger_entries()] == [(2, "cfg-v2")]


def test_pipeline_smoke_test_fails_on_a_rolled_back_endpoint_without_invoking_it(
    clients: Clients, tmp_path: Path
) -> None:
    """Otherwise it would smoke-test the old model and pass."""
    settings = tmp_path / "cdk.json"
    document = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())
    document["context"]["release.dev"] = version_arn(2)
    settings.write_text(json.dumps(document))
    runtime = clients.stub("sagemaker-runtime", "dev")
    with Stubber(clients.stub("sagemaker", "dev")) as stubber, Stubber(runtime) as invocations:
        expect_live(stubber, status="InService", config="cfg-v1", model="model-v1", package_arn=version_arn(1))
        result = runner.invoke(
            app, ["--cdk-json", str(settings), "smoke-test", "--env", "dev", "--endpoint-config", "cfg-v2"]
        )
        stubber.assert_no_pending_responses()
        invocations.assert_no_pending_responses()
    assert result.exit_code == 1, result.output
    assert "not on cfg-v2 that this deployment requested" in result.stderr
    assert "not smoke-tested" in result.stderr


def test_record_deployment_cli_fails_on_a_guardrail_rollback(clients: Clients) -> None:
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v1", model="model-v1", package_arn=version_arn(1))
        result = runner.invoke(
            app,
            ["record-deployment", "--env", "dev", "--release", version_arn(2), "--endpoint-config", "cfg-v2"],
        )
        stubber.assert_no_pending_responses()
    assert result.exit_code == 1
    assert "guardrails rolled the update back" in result.stderr and "nothing recorded" in result.stderr
    assert boto3.client("ssm", region_name=REGION).describe_parameters()["Parameters"] == []


# ------------------------------------------------------------------ without a release


def test_no_release_and_no_endpoint_is_a_first_installation(clients: Clients) -> None:
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        _no_endpoint(stubber)
        result = verification.unreleased(_ctx(clients, None), "dev")
        stubber.assert_no_pending_responses()
    assert result["skipped"] is True and "no endpoint mlops-delivery-dev" in result["message"]


def test_no_release_while_the_endpoint_serves_fails_and_names_the_last_known_good(clients: Clients) -> None:
    """v1 served, then v2; v2 rejected and v1 no longer Approved either: v2 must not keep serving silently."""
    record(1, "cfg-v1")
    record(2, "cfg-v2")
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v2", model="model-v2", package_arn=version_arn(2))
        with pytest.raises(OperatorError) as raised:
            verification.unreleased(_ctx(clients, None), "dev")
        stubber.assert_no_pending_responses()
    message = str(raised.value)
    assert "endpoint mlops-delivery-dev is InService serving v2 on cfg-v2, but no version is Approved" in message
    assert "Approve the last known-good v1 (mlopsctl approve 1)" in message
    # Nothing was changed on the way: the verdict only reads.
    assert [e["model_version"] for e in ledger_entries()] == [1, 2]


def test_no_release_while_the_endpoint_serves_its_only_recorded_version_fails(clients: Clients) -> None:
    record(1, "cfg-v1")
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        expect_live(stubber, status="InService", config="cfg-v1", model="model-v1", package_arn=version_arn(1))
        with pytest.raises(OperatorError, match=r"has no other known-good version: approve a version"):
            verification.unreleased(_ctx(clients, None), "dev")
        stubber.assert_no_pending_responses()


def _denied(operation: str, code: str = "AccessDenied") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "not authorized to perform: sts:AssumeRole"}}, operation)


def test_an_unassumable_verifier_role_means_no_serving_stack_yet() -> None:
    def make_ctx() -> Context:
        raise _denied("AssumeRole")

    result = verification.unreleased_behind_role(make_ctx, "dev", VERIFIER)
    assert result["skipped"] is True and VERIFIER in result["message"]


@pytest.mark.parametrize(
    ("error", "role_arn"),
    [
        pytest.param(_denied("AssumeRole"), None, id="no-role-involved"),
        pytest.param(_denied("AssumeRole", "ExpiredToken"), VERIFIER, id="other-sts-error"),
        pytest.param(_denied("DescribeEndpoint"), VERIFIER, id="denied-after-assuming"),
    ],
)
def test_other_errors_are_not_taken_for_a_first_installation(error: ClientError, role_arn: str | None) -> None:
    def make_ctx() -> Context:
        raise error

    with pytest.raises(ClientError):
        verification.unreleased_behind_role(make_ctx, "dev", role_arn)


# ------------------------------------------------------------------ the decision table, as the pipeline runs it


@pytest.mark.parametrize(
    ("versions", "endpoint_serves", "resolved", "verified", "says"),
    [
        pytest.param([], None, None, 0, "no endpoint", id="new-installation-nothing-registered"),
        pytest.param(["PendingManualApproval"], None, None, 0, "no endpoint", id="first-candidate-pending"),
        pytest.param(["Rejected"], 1, None, 1, "no version is Approved", id="only-approved-version-rejected"),
        pytest.param(["Rejected", "Rejected"], 2, None, 1, "last known-good v1", id="every-version-rejected"),
        pytest.param(["Approved", "Rejected"], 2, 1, 0, "recorded as known-good", id="rejected-falls-back-to-approved"),
    ],
)
def test_resolve_release_then_verify(
    clients: Clients,
    tmp_path: Path,
    versions: list[str],
    endpoint_serves: int | None,
    resolved: int | None,
    verified: int,
    says: str,
) -> None:
    """resolve-release --allow-none (synth step) then record-deployment --skip-without-release (post-deploy)."""
    for status in versions:
        register(status=status, auc=0.9)
    for version in range(1, len(versions) + 1):
        record(version, f"cfg-v{version}")
    release_file = tmp_path / "dev.json"
    resolve = runner.invoke(app, ["resolve-release", "--env", "dev", "--allow-none", "--out", str(release_file)])
    assert resolve.exit_code == 0, resolve.output
    written = json.loads(release_file.read_text())["model_package_arn"] if release_file.exists() else None
    assert written == (version_arn(resolved) if resolved else None)

    command = ["record-deployment", "--env", "dev", "--skip-without-release"]
    command += ["--release", written] if written else []
    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        if endpoint_serves is None:
            _no_endpoint(stubber)
        elif resolved is not None:
            config = f"cfg-v{resolved}"
            expect_live(
                stubber,
                status="InService",
                config=config,
                model=f"model-v{resolved}",
                package_arn=version_arn(resolved),
            )
            command += ["--endpoint-config", config]
        else:
            config = f"cfg-v{endpoint_serves}"
            model = f"model-v{endpoint_serves}"
            expect_live(
                stubber, status="InService", config=config, model=model, package_arn=version_arn(endpoint_serves)
            )
        verify = runner.invoke(app, command)
        stubber.assert_no_pending_responses()
    assert verify.exit_code == verified, verify.output
    assert says in (verify.stdout if verified == 0 else verify.stderr)


def test_resolve_release_without_allow_none_still_refuses_when_nothing_is_approved(clients: Clients) -> None:
    register(status="Rejected", auc=0.9)
    result = runner.invoke(app, ["resolve-release", "--env", "dev", "--print-context"])
    assert result.exit_code == 1 and "No Approved version" in result.stderr
