"""Endpoint reads, the blue/green update a rollback makes, and waiting for it to settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mlopsctl.errors import OperatorError

IN_SERVICE = "InService"
UPDATING = "Updating"
# States an update ends in; anything else (Updating, RollingBack, SystemUpdating...) is still moving.
SETTLED = frozenset({IN_SERVICE, "Failed", "OutOfService", "UpdateRollbackFailed"})


@dataclass
class LiveState:
    endpoint_name: str
    status: str
    endpoint_config_name: str
    model_name: str | None
    model_package_arn: str | None
    failure_reason: str | None = None
    # What autoscaling (or an operator) last set; None before the endpoint reports its variants.
    desired_instance_count: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint_name": self.endpoint_name,
            "status": self.status,
            "endpoint_config_name": self.endpoint_config_name,
            "model_name": self.model_name,
            "model_package_arn": self.model_package_arn,
            "failure_reason": self.failure_reason,
            "desired_instance_count": self.desired_instance_count,
        }


def describe(sm: Any, endpoint_name: str) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = sm.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        message = error.response["Error"].get("Message", "")
        if error.response["Error"]["Code"] == "ValidationException" and "Could not find" in message:
            return None
        raise
    return result


def variant_of(config: dict[str, Any], variant: str) -> dict[str, Any]:
    for production_variant in config.get("ProductionVariants", []):
        if production_variant.get("VariantName") == variant:
            return dict(production_variant)
    raise OperatorError(
        f"Endpoint config {config.get('EndpointConfigName')} has no production variant {variant!r}; "
        "blue/green updates need the same variant name in every release."
    )


def desired_instance_count(endpoint: dict[str, Any], variant: str) -> int | None:
    """The variant's instance count now: DesiredInstanceCount, else CurrentInstanceCount (DescribeEndpoint).

    Autoscaling changes the desired count without touching the EndpointConfig, whose
    InitialInstanceCount is only what the variant started with.
    """
    for production_variant in endpoint.get("ProductionVariants") or []:
        if production_variant.get("VariantName") == variant:
            count = production_variant.get("DesiredInstanceCount", production_variant.get("CurrentInstanceCount"))
            return int(count) if count is not None else None
    return None


def package_of_model(model: dict[str, Any]) -> str | None:
    containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
    for container in containers:
        if container.get("ModelPackageName"):
            return str(container["ModelPackageName"])
    return None


def live_state(sm: Any, endpoint_name: str, variant: str) -> LiveState | None:
    """What the endpoint serves now: its current config, that config's model and model package."""
    endpoint = describe(sm, endpoint_name)
    if endpoint is None:
        return None
    config_name = endpoint["EndpointConfigName"]
    config = sm.describe_endpoint_config(EndpointConfigName=config_name)
    model_name = variant_of(config, variant).get("ModelName")
    package = package_of_model(sm.describe_model(ModelName=model_name)) if model_name else None
    return LiveState(
        endpoint_name=endpoint_name,
        status=endpoint["EndpointStatus"],
        endpoint_config_name=config_name,
        model_name=model_name,
        model_package_arn=package,
        failure_reason=endpoint.get("FailureReason"),
        desired_instance_count=desired_instance_count(endpoint, variant),
    )


def rollback_alarms(cw: Any, prefix: str) -> list[str]:
    names: list[str] = []
    request: dict[str, Any] = {"AlarmNamePrefix": prefix, "AlarmTypes": ["MetricAlarm"], "MaxRecords": 100}
    while True:
        page = cw.describe_alarms(**request)
        names.extend(alarm["AlarmName"] for alarm in page.get("MetricAlarms", []))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return sorted(names)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S")


def create_release_config(
    sm: Any,
    *,
    live_config_name: str,
    variant: str,
    endpoint_name: str,
    package_arn: str,
    version: int | None,
    instance_count: int | None = None,
) -> str:
    """A new Model and EndpointConfig for `package_arn`, copying the live config's serving settings.

    `instance_count` (the live DesiredInstanceCount) replaces the live config's starting count,
    so the config says what the endpoint runs after autoscaling moved it.
    """
    live_config = sm.describe_endpoint_config(EndpointConfigName=live_config_name)
    live_variant = variant_of(live_config, variant)
    live_model = sm.describe_model(ModelName=live_variant["ModelName"])
    # Names are at most 63 characters; the endpoint name is at most 39 (project 32 + env).
    base = f"{endpoint_name}-v{version}-{_stamp()}"[:63]

    model_request: dict[str, Any] = {
        "ModelName": base,
        "PrimaryContainer": {"ModelPackageName": package_arn},
        "ExecutionRoleArn": live_model["ExecutionRoleArn"],
    }
    for key in ("VpcConfig", "EnableNetworkIsolation"):
        if key in live_model:
            model_request[key] = live_model[key]
    sm.create_model(**model_request)

    copied = ("VariantName", "InstanceType", "InitialInstanceCount", "InitialVariantWeight", "VolumeSizeInGB")
    new_variant = {key: live_variant[key] for key in copied if key in live_variant}
    new_variant["ModelName"] = base
    if instance_count is not None:
        new_variant["InitialInstanceCount"] = instance_count
    config_request: dict[str, Any] = {"EndpointConfigName": base, "ProductionVariants": [new_variant]}
    for key in ("KmsKeyId", "DataCaptureConfig"):
        if key in live_config:
            config_request[key] = live_config[key]
    sm.create_endpoint_config(**config_request)
    return base


def wait_until_settled(
    sm: Any,
    endpoint_name: str,
    *,
    timeout_seconds: int,
    poll_seconds: float = 30.0,
    on_poll: Callable[[str, float], None] = lambda status, elapsed: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Polls DescribeEndpoint until the update ends; returns the final description."""
    start = clock()
    while True:
        endpoint = describe(sm, endpoint_name)
        if endpoint is None:
            raise OperatorError(f"Endpoint {endpoint_name} disappeared while waiting for the update.")
        elapsed = clock() - start
        on_poll(endpoint["EndpointStatus"], elapsed)
        if endpoint["EndpointStatus"] in SETTLED:
            return endpoint
        if elapsed >= timeout_seconds:
            raise OperatorError(
                f"Endpoint {endpoint_name} still {endpoint['EndpointStatus']} after {timeout_seconds} s; "
                "check the SageMaker console, nothing was recorded in the ledger."
            )
        sleep(poll_seconds)
