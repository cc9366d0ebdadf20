"""Endpoint reads, the blue/green update a rollback makes, and waiting for it to settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from mlopsctl.errors import OperatorError

IN_SERVICE = "InService"
UPDATING = "Updating"
# States an update ends in; anything else (Updating, RollingBack, SystemUpdating...) is still moving.
SETTLED = frozenset({IN_SERVICE, "Failed", "OutOfService", "UpdateRollbackFailed"})
# Error codes AWS services use for request-rate throttling (botocore's retry handler treats them alike).
THROTTLING = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})


@dataclass
class LiveState:
    endpoint_name: str
    status: str
    endpoint_config_name: str
    model_name: str | None
    model_package_arn: str | None
    failure_reason: str | None = None
    traffic: list[dict[str, Any]] = field(default_factory=list)
    pending_deployment: dict[str, Any] | None = None
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
            "traffic": self.traffic,
            "pending_deployment": self.pending_deployment,
            "desired_instance_count": self.desired_instance_count,
        }


def _fleet(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Weight, instances and the newest variant status of each variant (ProductionVariantSummary)."""
    fleet = []
    for variant in variants:
        statuses = variant.get("VariantStatus") or []
        fleet.append(
            {
                "variant": variant.get("VariantName"),
                "current_weight": variant.get("CurrentWeight"),
                "desired_weight": variant.get("DesiredWeight"),
                "current_instances": variant.get("CurrentInstanceCount"),
                "desired_instances": variant.get("DesiredInstanceCount"),
                "status": statuses[-1].get("Status") if statuses else None,
            }
        )
    return fleet


def traffic_split(description: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(serving fleet, pending deployment) from DescribeEndpoint.

    During a blue/green update the new (green) fleet is reported under PendingDeploymentSummary
    with its own weights, instance counts and status (Baking, ActivatingTraffic, ...), beside
    the ProductionVariants still serving (SageMaker API reference, DescribeEndpoint).
    """
    pending = description.get("PendingDeploymentSummary")
    summary = None
    if pending:
        summary = {
            "endpoint_config_name": pending.get("EndpointConfigName"),
            "started": str(pending.get("StartTime", "")) or None,
            "variants": _fleet(pending.get("ProductionVariants") or []),
        }
    return _fleet(description.get("ProductionVariants") or []), summary


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
    traffic, pending = traffic_split(endpoint)
    return LiveState(
        endpoint_name=endpoint_name,
        status=endpoint["EndpointStatus"],
        endpoint_config_name=config_name,
        model_name=model_name,
        model_package_arn=package,
        failure_reason=endpoint.get("FailureReason"),
        traffic=traffic,
        pending_deployment=pending,
        desired_instance_count=desired_instance_count(endpoint, variant),
    )


@dataclass
class ReleaseSource:
    """The live serving settings a release copies: its EndpointConfig, variant and Model."""

    config: dict[str, Any]
    variant: dict[str, Any]
    model: dict[str, Any]


def read_release_source(sm: Any, live_config_name: str, variant: str) -> ReleaseSource:
    config = sm.describe_endpoint_config(EndpointConfigName=live_config_name)
    live_variant = variant_of(config, variant)
    return ReleaseSource(
        config=config, variant=live_variant, model=sm.describe_model(ModelName=live_variant["ModelName"])
    )


def release_requests(
    source: ReleaseSource, *, name: str, package_arn: str, instance_count: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(CreateModel, CreateEndpointConfig) requests for `package_arn` with the live serving settings.

    `instance_count` (the live DesiredInstanceCount) replaces the live config's starting count,
    so the config says what the endpoint runs after autoscaling moved it.
    """
    model_request: dict[str, Any] = {
        "ModelName": name,
        "PrimaryContainer": {"ModelPackageName": package_arn},
        "ExecutionRoleArn": source.model["ExecutionRoleArn"],
    }
    for key in ("VpcConfig", "EnableNetworkIsolation"):
        if key in source.model:
            model_request[key] = source.model[key]
    copied = ("VariantName", "InstanceType", "InitialInstanceCount", "InitialVariantWeight", "VolumeSizeInGB")
    new_variant = {key: source.variant[key] for key in copied if key in source.variant}
    new_variant["ModelName"] = name
    if instance_count is not None:
        new_variant["InitialInstanceCount"] = instance_count
    config_request: dict[str, Any] = {"EndpointConfigName": name, "ProductionVariants": [new_variant]}
    for key in ("KmsKeyId", "DataCaptureConfig"):
        if key in source.config:
            config_request[key] = source.config[key]
    return model_request, config_request


class StillInFlight(OperatorError):
    """The endpoint had not settled when the wait ended; its update may still complete."""


def _throttled(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in THROTTLING


def wait_until_settled(
    sm: Any,
    endpoint_name: str,
    *,
    timeout_seconds: int,
    poll_seconds: float = 30.0,
    max_backoff_seconds: float = 300.0,
    on_poll: Callable[[str, float], None] = lambda status, elapsed: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    expected_config: str | None = None,
) -> dict[str, Any]:
    """Polls DescribeEndpoint until the update to `expected_config` ends; returns the final description.

    A settled status on another config counts only once the update has shown (a status that is
    not settled, e.g. Updating): DescribeEndpoint right after UpdateEndpoint may still report the
    state before it, which is not a guardrail rollback. Throttled polls (after botocore's own
    retries) back off exponentially up to `max_backoff_seconds` and count against the timeout, which
    no sleep overruns; raises StillInFlight on timeout.
    """
    start = clock()
    status, delay = UPDATING, poll_seconds
    moved = expected_config is None
    while True:
        try:
            endpoint = describe(sm, endpoint_name)
        except ClientError as error:
            if not _throttled(error):
                raise
            endpoint = None
            delay = min(max(delay * 2, 1.0), max_backoff_seconds)
            on_poll(f"{status} (status check throttled, next in {delay:.0f} s)", clock() - start)
        else:
            if endpoint is None:
                raise OperatorError(f"Endpoint {endpoint_name} disappeared while waiting for the update.")
            status, delay = endpoint["EndpointStatus"], poll_seconds
            moved = moved or status not in SETTLED or endpoint["EndpointConfigName"] == expected_config
            on_poll(
                status if moved else f"{status} on {endpoint['EndpointConfigName']} (update not shown yet)",
                clock() - start,
            )
            if status in SETTLED and moved:
                return endpoint
        elapsed = clock() - start
        if elapsed >= timeout_seconds:
            raise StillInFlight(
                f"endpoint {endpoint_name} was still {status} after {timeout_seconds} s: its update is still in flight"
            )
        # Never past the timeout: a shadow test's step timeout is the sum of its waits (config.ShadowBudget).
        sleep(min(delay, timeout_seconds - elapsed))
