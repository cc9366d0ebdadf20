"""One environment: its sections, validated together (the fleet, the rollout, the bakes, the shadow budget)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, InstanceOf, ValidationError, model_validator

from config.alarms import CLOUDWATCH_DELAY_SECONDS, AlarmConfig
from config.drift import DriftConfig
from config.endpoint import EndpointConfig
from config.errors import CONTEXT_KEY, invalid
from config.fields import ACCOUNT, EMAIL, REGION, Choice, Flag, Listed, Text, as_bool
from config.network import NetworkConfig
from config.release import Release
from config.rollout import BatchSizeType, RolloutConfig, RolloutType
from config.schema import AwsTarget, Schema
from config.shadow import CODEBUILD_MAX_TIMEOUT_MINUTES, ShadowBudget, ShadowConfig


class ApprovalMode(StrEnum):
    MANUAL = "manual"
    AUTO = "auto"


class RemovalMode(StrEnum):
    RETAIN = "retain"
    DESTROY = "destroy"


class EnvironmentConfig(Schema):
    """One environment; validated with the context {"name": <its cdk.json key>, "release": Release | None}."""

    derived_keys: ClassVar[tuple[str, ...]] = ("name", "release")

    name: str
    account: Annotated[str, Text(ACCOUNT, "a 12-digit AWS account id")]
    region: Annotated[str, Text(REGION, "an AWS region such as eu-west-1")]
    # Default: true for the environment named prod.
    production: Annotated[bool, Flag()] = False
    approval: Annotated[ApprovalMode, Choice()] = ApprovalMode.MANUAL
    removal_policy: Annotated[RemovalMode, Choice()] = RemovalMode.RETAIN
    notification_emails: Annotated[tuple[str, ...], Listed(EMAIL, "a list of e-mail addresses")] = ()
    endpoint: EndpointConfig
    rollout: RolloutConfig
    alarms: AlarmConfig = Field(default_factory=AlarmConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    shadow: ShadowConfig = Field(default_factory=ShadowConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    release: InstanceOf[Release] | None = None

    @classmethod
    def with_defaults(cls, data: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        if context:
            data.update(name=context["name"], release=context["release"])
        data.setdefault("production", data.get("name") == "prod")
        production = as_bool(data["production"])
        endpoint = data.get("endpoint")
        if isinstance(production, bool) and isinstance(endpoint, Mapping):
            scaling = endpoint.get("autoscaling", {})
            if isinstance(scaling, Mapping):
                data["endpoint"] = {**endpoint, "autoscaling": {"enabled": production, **scaling}}
        cls._default_instance_batch(data)
        return data

    @classmethod
    def _default_instance_batch(cls, data: dict[str, Any]) -> None:
        """A batch counted in instances defaults to the smallest SageMaker allows for the fleet (5%)."""
        rollout = data.get("rollout")
        if not isinstance(rollout, Mapping) or rollout.get("rolling_batch_type") != BatchSizeType.INSTANCE_COUNT:
            return
        try:
            fleet = EndpointConfig.model_validate(data.get("endpoint")).fewest_instances
        except ValidationError:
            return  # the endpoint's own error is the one to report
        low = math.ceil(fleet / 20) if rollout.get("type") == RolloutType.ROLLING else 1
        data["rollout"] = {"rolling_batch_size": low, **rollout}

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.production and self.approval is ApprovalMode.AUTO:
            raise invalid("approval", self.approval.value, "manual in a production environment")
        if self.production and self.removal_policy is RemovalMode.DESTROY:
            raise invalid("removal_policy", self.removal_policy.value, "retain in a production environment")
        self._check_fleet()
        release = self.release
        if (
            self.drift.use_model_monitor
            and release
            and not (release.baseline_statistics_uri and release.baseline_constraints_uri)
        ):
            raise invalid(
                "drift.use_model_monitor",
                True,
                f"only with a release file releases/{self.name}.json that names baseline_statistics_uri and "
                "baseline_constraints_uri (Model Monitor needs both; `-c release.<env>=<arn>` gives neither)",
            )
        self._check_rollout()
        self._check_bakes()
        # "Rolling deployments ... not supported: endpoints with multiple production variants, including
        # shadow variants" (SageMaker developer guide, deployment guardrails, "Exclusions").
        if self.shadow.enabled and self.rollout.type is RolloutType.ROLLING:
            raise invalid(
                "shadow.enabled",
                True,
                "false while rollout.type is ROLLING: SageMaker does not roll endpoints that have a shadow variant",
            )
        if self.shadow.enabled and self.shadow_budget.total > CODEBUILD_MAX_TIMEOUT_MINUTES:
            budget = self.shadow_budget
            raise invalid(
                "shadow.duration_minutes",
                self.shadow.duration_minutes,
                f"at most {CODEBUILD_MAX_TIMEOUT_MINUTES - (budget.total - budget.duration)} minutes: the shadow "
                f"test's pipeline step must restore the endpoint within CodeBuild's limit of "
                f"{CODEBUILD_MAX_TIMEOUT_MINUTES} minutes, after {budget.UPDATES} endpoint updates of up to "
                f"{budget.update} minutes each "
                "(rollout.max_execution_timeout_minutes + rollout.termination_wait_minutes + "
                f"{self.UPDATE_REPORT_MARGIN_MINUTES}), {budget.install} minutes of install, "
                f"{2 * budget.capture_delay} of capture delay and {budget.replay} of replay",
            )
        return self

    # After a deployment's own limits, time for SageMaker to report the endpoint settled.
    UPDATE_REPORT_MARGIN_MINUTES: ClassVar[int] = 10

    @property
    def update_wait_minutes(self) -> int:
        """Longest an endpoint update of this environment takes to settle (what mlopsctl waits for)."""
        rollout = self.rollout
        return (
            rollout.max_execution_timeout_minutes + rollout.termination_wait_minutes + self.UPDATE_REPORT_MARGIN_MINUTES
        )

    @property
    def shadow_budget(self) -> ShadowBudget:
        return ShadowBudget(
            install=ShadowConfig.INSTALL_MINUTES,
            update=self.update_wait_minutes,
            duration=self.shadow.duration_minutes,
            capture_delay=ShadowConfig.CAPTURE_DELAY_MINUTES,
            replay=ShadowConfig.REPLAY_MINUTES,
        )

    def _key(self, relative: str) -> str:
        return f"{CONTEXT_KEY}.environments.{self.name}.{relative}"

    def _check_fleet(self) -> None:
        """A new endpoint starts with instance_count, which autoscaling would at once move into its range."""
        endpoint, scaling = self.endpoint, self.endpoint.autoscaling
        if scaling.enabled and not scaling.min_instances <= endpoint.instance_count <= scaling.max_instances:
            raise invalid(
                "endpoint.instance_count",
                endpoint.instance_count,
                f"a count from {self._key('endpoint.autoscaling.min_instances')}={scaling.min_instances} to "
                f"{self._key('endpoint.autoscaling.max_instances')}={scaling.max_instances} while autoscaling is "
                "enabled (a new endpoint starts with it and autoscaling would move it into that range at once)",
            )

    def _check_rollout(self) -> None:
        """The rollout's steps and batches hold for the smallest fleet a deployment can start from.

        That is autoscaling's minimum when it is enabled, not only the configured starting count.
        """
        rollout, fleet = self.rollout, self.endpoint.fewest_instances
        count_key = self._key(
            "endpoint.autoscaling.min_instances" if self.endpoint.autoscaling.enabled else "endpoint.instance_count"
        )
        kind = rollout.type
        if kind is not RolloutType.ALL_AT_ONCE and fleet < 2:
            raise invalid(
                "rollout.type",
                kind.value,
                "ALL_AT_ONCE, or at least 2 instances, because SageMaker requires each canary, linear "
                "step or rolling batch to be at most 50% of the variant's instances",
                got=f"{kind.value!r} with {count_key}={fleet}",
            )
        if rollout.rolling_batch_type is BatchSizeType.INSTANCE_COUNT:
            # The fleet bounds apply only to a rolling deployment; elsewhere the key is unused.
            rolling = kind is RolloutType.ROLLING
            low, high = (math.ceil(fleet / 20), fleet // 2) if rolling else (1, 100)
            share = f", 5% to 50% of {count_key}={fleet}" if rolling else ""
            if not low <= rollout.rolling_batch_size <= high:
                raise invalid(
                    "rollout.rolling_batch_size",
                    rollout.rolling_batch_size,
                    f"a whole number from {low} to {high} instances{share}",
                )
            rollback = rollout.rollback_batch_size
            if rollback is not None and not 1 <= rollback <= fleet:
                raise invalid(
                    "rollout.rollback_batch_size",
                    rollback,
                    f"a whole number from 1 to {fleet} instances ({count_key}), or null",
                )
        bake = rollout.bake_minutes(fleet)
        if bake > rollout.max_execution_timeout_minutes:
            parts = "wait intervals" if kind is RolloutType.ROLLING else "wait intervals and termination_wait_minutes"
            raise invalid(
                "rollout.max_execution_timeout_minutes",
                rollout.max_execution_timeout_minutes,
                f"at least {bake} minutes, the sum of the {kind.value} {parts} "
                f"({rollout.traffic_steps(fleet)} x wait_interval_minutes), or the deployment times out "
                "before it can finish",
            )

    def _check_bakes(self) -> None:
        """Every baking period outlasts the alarms' worst-case detection, so an alarm can fire in time.

        SageMaker watches the alarms during each wait interval of CANARY/LINEAR and during the
        termination wait, and during the wait interval after each ROLLING batch (which has no
        termination wait); an alarm that needs longer than a bake lets traffic move on first.
        """
        rollout, alarms = self.rollout, self.alarms
        detection = alarms.worst_case_detection_seconds
        why = (
            f"more than {detection} s, the rollback alarms' worst-case detection time (period_seconds "
            f"{alarms.period_seconds} x evaluation_periods {alarms.evaluation_periods} + "
            f"{CLOUDWATCH_DELAY_SECONDS} s of CloudWatch delay)"
        )
        bakes: dict[str, int] = {}
        if rollout.type is not RolloutType.ALL_AT_ONCE:
            bakes["wait_interval_minutes"] = rollout.wait_interval_minutes
        if rollout.type is not RolloutType.ROLLING:
            bakes["termination_wait_minutes"] = rollout.termination_wait_minutes
        for name, minutes in bakes.items():
            if minutes * 60 <= detection:
                raise invalid(f"rollout.{name}", minutes, f"at least {detection // 60 + 1} minutes: {why}")

    @property
    def target(self) -> AwsTarget:
        return AwsTarget(account=self.account, region=self.region)
