"""An endpoint update's DeploymentConfig, from a rollout's settings (config.RolloutConfig).

The serving stack's endpoint (AWS::SageMaker::Endpoint DeploymentConfig) and mlopsctl's rollback
and shadow-test updates (UpdateEndpoint's DeploymentConfig) send the same payload, so every update
of an endpoint shifts traffic and rolls back the same way. Standard library only, like
contracts.py: the CDK app and the operator CLI both import it, and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

# AutoRollbackConfiguration takes at most 10 alarms (botocore sagemaker model, AlarmList); the
# serving stack creates fewer.
MAX_ROLLBACK_ALARMS = 10


class Rollout(Protocol):
    """The settings a DeploymentConfig is made of; config.RolloutConfig holds them, validated."""

    @property
    def type(self) -> str: ...
    @property
    def canary_size_percent(self) -> int: ...
    @property
    def linear_step_percent(self) -> int: ...
    @property
    def wait_interval_minutes(self) -> int: ...
    @property
    def termination_wait_minutes(self) -> int: ...
    @property
    def max_execution_timeout_minutes(self) -> int: ...
    @property
    def rolling_batch_type(self) -> str: ...
    @property
    def rolling_batch_size(self) -> int: ...
    @property
    def rollback_batch_size(self) -> int | None: ...


def deployment_config(rollout: Rollout, alarm_names: Sequence[str]) -> dict[str, Any]:
    """An endpoint's DeploymentConfig: `rollout`, rolled back by `alarm_names`.

    It holds exactly one update policy ("Only one update policy should be used in the
    deployment configuration", AWS::SageMaker::Endpoint DeploymentConfig).
    """
    policy = (
        {"RollingUpdatePolicy": _rolling_update_policy(rollout)}
        if rollout.type == "ROLLING"
        else {"BlueGreenUpdatePolicy": _blue_green_update_policy(rollout)}
    )
    alarms = [{"AlarmName": name} for name in alarm_names[:MAX_ROLLBACK_ALARMS]]
    return {**policy, "AutoRollbackConfiguration": {"Alarms": alarms}}


def _blue_green_update_policy(rollout: Rollout) -> dict[str, Any]:
    routing: dict[str, Any] = {"Type": str(rollout.type), "WaitIntervalInSeconds": rollout.wait_interval_minutes * 60}
    if rollout.type == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": rollout.canary_size_percent}
    elif rollout.type == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": rollout.linear_step_percent}
    return {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": rollout.termination_wait_minutes * 60,
        "MaximumExecutionTimeoutInSeconds": rollout.max_execution_timeout_minutes * 60,
    }


def _rolling_update_policy(rollout: Rollout) -> dict[str, Any]:
    batch_type = str(rollout.rolling_batch_type)
    policy: dict[str, Any] = {
        "MaximumBatchSize": {"Type": batch_type, "Value": rollout.rolling_batch_size},
        "WaitIntervalInSeconds": rollout.wait_interval_minutes * 60,
        "MaximumExecutionTimeoutInSeconds": rollout.max_execution_timeout_minutes * 60,
    }
    if rollout.rollback_batch_size is not None:
        policy["RollbackMaximumBatchSize"] = {"Type": batch_type, "Value": rollout.rollback_batch_size}
    return policy
