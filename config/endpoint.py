"""An environment's endpoint: its instances and their target-tracking autoscaling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from config.errors import invalid
from config.fields import INSTANCE, Flag, Number, Text, Whole, as_int
from config.instances import (
    GUARDRAIL_EXCLUDED_FAMILIES,
    InstanceUse,
    has_instance_storage,
    instance_family,
    instance_type_problem,
)
from config.schema import Schema

# Application Auto Scaling cooldowns are seconds; a day is far beyond any useful SageMaker cooldown.
_MAX_COOLDOWN_SECONDS = 86_400


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class AutoscalingConfig(Schema):
    """Target tracking of the production variant's instance count (Application Auto Scaling).

    `instance_count` of the endpoint stays the count a new endpoint starts with; once the
    variant is registered, each update keeps the count autoscaling reached (see
    constructs/serving/endpoint_autoscaling.py). On by default in production environments.
    """

    enabled: Annotated[bool, Flag()] = False
    # Defaults (EndpointConfig): the endpoint's instance_count, and twice the larger of it and min_instances.
    min_instances: Annotated[int, Whole(1, 100)] = 1
    max_instances: Annotated[int, Whole(1, 100, phrase="a whole number from min_instances to 100")] = 2
    # Average requests per instance per minute (SageMakerVariantInvocationsPerInstance).
    target_invocations_per_instance: Annotated[float, Number(1.0, 1_000_000.0)] = 70.0
    scale_in_cooldown_seconds: Annotated[int, Whole(0, _MAX_COOLDOWN_SECONDS, " seconds")] = 300
    scale_out_cooldown_seconds: Annotated[int, Whole(0, _MAX_COOLDOWN_SECONDS, " seconds")] = 60

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.max_instances < self.min_instances:
            raise invalid("max_instances", self.max_instances, f"a whole number from {self.min_instances} to 100")
        return self


class EndpointConfig(Schema):
    instance_type: Annotated[str, Text(INSTANCE, "an ml.* instance type")]
    instance_count: Annotated[int, Whole(1, 100)] = 2
    data_capture_percent: Annotated[int, Whole(1, 100, " percent")] = 100
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig)

    @classmethod
    def with_defaults(cls, data: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        count = as_int(data.get("instance_count", 2))
        scaling = data.get("autoscaling", {})
        if _whole(count) and isinstance(scaling, Mapping):
            least = as_int(scaling.get("min_instances", count))
            defaults = {"min_instances": count}
            if _whole(least):
                defaults["max_instances"] = min(100, 2 * max(count, least))
            data["autoscaling"] = {**defaults, **scaling}
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        problem = instance_type_problem(self.instance_type, InstanceUse.ENDPOINT)
        if problem:
            raise invalid("instance_type", self.instance_type, problem)
        if instance_family(self.instance_type) in GUARDRAIL_EXCLUDED_FAMILIES:
            raise invalid(
                "instance_type",
                self.instance_type,
                "an instance type that deployment guardrails support (not Inf1: SageMaker would update it all "
                "at once with no baking period, so no alarm could roll it back), e.g. ml.inf2.xlarge",
            )
        return self

    @property
    def fewest_instances(self) -> int:
        """The smallest fleet a deployment can start from: autoscaling's minimum, else the fixed count."""
        return self.autoscaling.min_instances if self.autoscaling.enabled else self.instance_count

    @property
    def volume_kms_key_allowed(self) -> bool:
        """False for instance types with local storage: the EndpointConfig must then omit KmsKeyId."""
        return not has_instance_storage(self.instance_type)
