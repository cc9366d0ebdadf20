"""cleanup: moto holds the Models, EndpointConfigs, endpoints and tags; Stubber answers CloudFormation (moto's
needs packages this project does not install) and produces what moto cannot (an endpoint mid-update)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from mlopsctl import cleanup
from mlopsctl.cli import app
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from tests.operator_cli.support import ACCOUNT, ENDPOINT, NOW, REGION, ROLE, Clients

runner = CliRunner()
TAG = "mlops-delivery:endpoint"
SERVING_STACK = "mlops-delivery-dev-serving"


def _model(name: str, tag: str | None) -> None:
    tags = [{"Key": TAG, "Value": tag}] if tag else []
    boto3.client("sagemaker", region_name=REGION).create_model(
        ModelName=name, PrimaryContainer={"Image": "image"}, ExecutionRoleArn=ROLE, Tags=tags
    )


def _config(name: str, model: str, tag: str | None) -> None:
    tags = [{"Key": TAG, "Value": tag}] if tag else []
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    boto3.client("sagemaker", region_name=REGION).create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[variant], Tags=tags
    )


def _names() -> tuple[list[str], list[str]]:
    sm = boto3.client("sagemaker", region_name=REGION)
    configs = sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs(MaxResults=100)["EndpointConfigs"])
    models = sorted(m["ModelName"] for m in sm.list_models(MaxResults=100)["Models"])
    return configs, models


@pytest.fixture
def account(clients: Clients) -> None:
    """Two releases of dev served by the stack (v2 live), one rollback pair, and what is not ours to delete."""
    sm = boto3.client("sagemaker", region_name=REGION)
    _model("EndpointModel-v1", ENDPOINT)
    _config("EndpointConfig-v1", "EndpointModel-v1", ENDPOINT)
    _model("EndpointModel-v2", ENDPOINT)
    _config("EndpointConfig-v2", "EndpointModel-v2", ENDPOINT)
    _model("mlops-delivery-dev-r261127030000", None)
    _config("mlops-delivery-dev-r261127030000", "mlops-delivery-dev-r261127030000", None)
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="EndpointConfig-v2")
    # Another environment in the same account, an unrelated model, and someone else's endpoint
    # that happens to run one of dev's configs: none of these may go.
    _model("EndpointModel-staging", "mlops-delivery-staging")
    _config("EndpointConfig-staging", "EndpointModel-staging", "mlops-delivery-staging")
    _model("mlops-delivery-dev2-r261127030000", None)
    _model("notebook-experiment", None)
    _model("EndpointModel-borrowed", ENDPOINT)
    _config("EndpointConfig-borrowed", "EndpointModel-borrowed", ENDPOINT)
    sm.create_endpoint(EndpointName="someone-else", EndpointConfigName="EndpointConfig-borrowed")


def _arn(name: str, resource: str = "endpoint-config") -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{name.lower()}"


def _stack_resource(logical_id: str, kind: str, physical_id: str) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": kind,
        "LastUpdatedTimestamp": NOW,
        "ResourceStatus": "UPDATE_COMPLETE",
    }


@contextmanager
def serving_stack(
    clients: Clients,
    status: str | None = "UPDATE_COMPLETE",
    names: tuple[str, str] = ("EndpointConfig-v2", "EndpointModel-v2"),
) -> Iterator[Stubber]:
    """DescribeStacks of dev's serving stack answers `status`, or that the stack does not exist (None);
    a settled stack names the EndpointConfig and Model `names` (ListStackResources), by ARN as
    CloudFormation identifies them, the name in lower case as SageMaker has written it in ARNs."""
    with Stubber(clients.stub("cloudformation", "dev")) as stubber:
        if status is None:
            stubber.add_client_error(
                "describe_stacks",
                service_error_code="ValidationError",
                service_message=f"Stack with id {SERVING_STACK} does not exist",
                expected_params={"StackName": SERVING_STACK},
            )
        else:
            stubber.add_response(
                "describe_stacks",
                {"Stacks": [{"StackName": SERVING_STACK, "CreationTime": NOW, "StackStatus": status}]},
                {"StackName": SERVING_STACK},
            )
            if not status.endswith(("_IN_PROGRESS", "_FAILED")):
                stubber.add_response(
                    "list_stack_resources",
                    {
                        "StackResourceSummaries": [
                            _stack_resource("EndpointConfig", "AWS::SageMaker::EndpointConfig", _arn(names[0])),
                            _stack_resource("EndpointModel", "AWS::SageMaker::Model", _arn(names[1], "model")),
                            _stack_resource("EndpointRole", "AWS::IAM::Role", "role"),
                        ]
                    },
                    {"StackName": SERVING_STACK},
                )
        yield stubber
        stubber.assert_no_pending_responses()


UNUSED_CONFIGS = ["EndpointConfig-v1", "mlops-delivery-dev-r261127030000"]
UNUSED_MODELS = ["EndpointModel-v1", "mlops-delivery-dev-r261127030000"]


def test_dry_run_lists_only_unused_resources_of_this_environment(account: None, clients: Clients, ctx: Context) -> None:
    before = _names()
    with serving_stack(clients):
        result = cleanup.cleanup(ctx, "dev", delete=False)
    assert result["delete"] == {"endpoint_configs": UNUSED_CONFIGS, "models": UNUSED_MODELS}
    assert {"EndpointConfig-v2", "EndpointConfig-borrowed"} <= set(result["in_use"]["endpoint_configs"])
    assert result["deleted"] is False
    assert _names() == before


def test_yes_deletes_exactly_the_plan(account: None, clients: Clients, ctx: Context) -> None:
    before_configs, before_models = _names()
    with serving_stack(clients):
        cleanup.cleanup(ctx, "dev", delete=True)
    configs, models = _names()
    assert configs == sorted(set(before_configs) - set(UNUSED_CONFIGS))
    assert models == sorted(set(before_models) - set(UNUSED_MODELS))
    # A second run (serving stack deleted meanwhile) finds nothing left to delete.
    with serving_stack(clients, status=None):
        assert cleanup.cleanup(ctx, "dev", delete=True)["delete"] == {"endpoint_configs": [], "models": []}


def test_cli_is_a_dry_run_unless_yes(account: None, clients: Clients) -> None:
    before = _names()
    with serving_stack(clients):
        dry = runner.invoke(app, ["cleanup", "--env", "dev"])
    assert dry.exit_code == 0, dry.output
    assert "Would delete 2 endpoint configs and 2 models" in dry.stdout and "--yes" in dry.stdout
    assert _names() == before
    with serving_stack(clients):
        done = runner.invoke(app, ["--json", "cleanup", "--env", "dev", "--yes"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["deleted"] is True
    assert not set(UNUSED_CONFIGS) & set(_names()[0])


def _endpoint_summary(name: str, status: str) -> dict[str, Any]:
    return {
        "EndpointName": name,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:222222222222:endpoint/{name}",
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
        "EndpointStatus": status,
    }


@pytest.mark.parametrize("status", ["Updating", "RollingBack", "SystemUpdating", "Creating", "UpdateRollbackFailed"])
def test_refuses_while_any_endpoint_is_changing(clients: Clients, ctx: Context, status: str) -> None:
    with serving_stack(clients), Stubber(clients.stub("sagemaker", "dev")) as stubber:
        stubber.add_response(
            "list_endpoints",
            {"Endpoints": [_endpoint_summary(ENDPOINT, "InService"), _endpoint_summary("someone-else", status)]},
            {},
        )
        with pytest.raises(OperatorError, match=rf"endpoints are changing: someone-else \({status}\)"):
            cleanup.cleanup(ctx, "dev", delete=True)
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"])
def test_refuses_while_the_serving_stack_is_changing(clients: Clients, ctx: Context, status: str) -> None:
    """CloudFormation may still switch the endpoint back to a config that looks unused."""
    with serving_stack(clients, status), pytest.raises(OperatorError, match=rf"stack {SERVING_STACK} is {status}"):
        cleanup.cleanup(ctx, "dev", delete=True)


def test_a_pending_config_and_its_model_count_as_in_use(clients: Clients) -> None:
    description = {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:222222222222:endpoint/{ENDPOINT}",
        "EndpointConfigName": "cfg-live",
        "EndpointStatus": "InService",
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
        "PendingDeploymentSummary": {"EndpointConfigName": "cfg-next", "StartTime": NOW},
    }

    def config(name: str, model: str) -> dict[str, Any]:
        return {
            "EndpointConfigName": name,
            "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:222222222222:endpoint-config/{name}",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model}],
            "ShadowProductionVariants": [{"VariantName": "Shadow", "ModelName": f"{model}-shadow"}],
            "CreationTime": NOW,
        }

    with Stubber(clients.stub("sagemaker", "dev")) as stubber:
        stubber.add_response("list_endpoints", {"Endpoints": [_endpoint_summary(ENDPOINT, "InService")]}, {})
        stubber.add_response("describe_endpoint", description, {"EndpointName": ENDPOINT})
        stubber.add_response(
            "describe_endpoint_config", config("cfg-live", "m-live"), {"EndpointConfigName": "cfg-live"}
        )
        stubber.add_response(
            "describe_endpoint_config", config("cfg-next", "m-next"), {"EndpointConfigName": "cfg-next"}
        )
        used = cleanup.in_use(clients.stubbed[("sagemaker", "dev")])
        stubber.assert_no_pending_responses()
    assert used.configs == {"cfg-live", "cfg-next"}
    assert used.models == {"m-live", "m-live-shadow", "m-next", "m-next-shadow"}


def test_never_deletes_what_the_deployed_template_names(account: None, clients: Clients, ctx: Context) -> None:
    """After a guardrail rollback the endpoint runs v2 while the stack names v3: v3 stays for the stack."""
    _model("EndpointModel-v3", ENDPOINT)
    _config("EndpointConfig-v3", "EndpointModel-v3", ENDPOINT)
    with serving_stack(clients, names=("EndpointConfig-v3", "EndpointModel-v3")):
        result = cleanup.cleanup(ctx, "dev", delete=True)
    assert "EndpointConfig-v3" in result["in_use"]["endpoint_configs"]
    assert "EndpointModel-v3" in result["in_use"]["models"]
    configs, models = _names()
    assert "EndpointConfig-v3" in configs and "EndpointModel-v3" in models
    # The endpoint's own config (v2) is kept too; v1 and the rollback pair go as before.
    assert "EndpointConfig-v2" in configs and not set(UNUSED_CONFIGS) & set(configs)
