"""The settings' shape: one frozen pydantic model per cdk.json section, with AWS's limits.

Each model refuses a key it does not have, naming the closest known key; each field's rule
(config/fields.py) names what it allows. Checks across fields sit in the model that holds
them all (`_check`), and defaults that follow another setting are filled in before
validation (`with_defaults`). config/loading.py turns the first failure into one line.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, ValidationError, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from config.errors import CONTEXT_KEY, ConfigError, invalid, missing
from config.fields import (
    ACCOUNT,
    CODECOMMIT_REPOSITORY,
    CONNECTION_ARN,
    EMAIL,
    ENV_NAME,
    FEATURE,
    INSTANCE,
    IPV4_CIDR,
    PACKAGE_ARN,
    PROJECT,
    REGION,
    ROLE_ARN,
    ROUTE_TABLE_ID,
    S3_URI,
    SCHEDULE,
    SECURITY_GROUP_ID,
    SUBNET_ID,
    VPC_ID,
    Choice,
    Flag,
    Listed,
    Number,
    Text,
    Whole,
    as_bool,
    as_int,
)
from config.instances import (
    GUARDRAIL_EXCLUDED_FAMILIES,
    InstanceUse,
    has_instance_storage,
    instance_family,
    instance_type_problem,
)
from config.model_build import ModelBuildConfig
from config.names import ResourceNames, physical_name_problem
from config.schedules import schedule_problem
from pipeline_steps.images import ECR_IMAGE_FORMAT, parse_ecr_image

# The "drift check not running" alarm spans 1.5 checks; CloudWatch caps an alarm's span
# (constructs/drift_check_health_alarms.py, health_alarm_window), and a check less often than every
# four days leaves most captured data unchecked anyway.
_MAX_CHECK_INTERVAL_HOURS = 96
# SageMaker's VpcConfig takes 1-16 subnets and 1-5 security groups (botocore sagemaker model:
# Subnets, VpcSecurityGroupIds).
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
# SageMaker hosting: "You must create at least two subnets in different availability zones in
# your private VPC, even if you have only one hosting instance" (developer guide, "Give SageMaker
# Hosted Endpoints Access to Resources in Your Amazon VPC"). Config can't see the zones.
MIN_ENDPOINT_SUBNETS = 2
# The VPC endpoints `private_networking` can create, by the last part of their service name
# (com.amazonaws.<region>.<name>): s3 is a gateway endpoint, the others interface endpoints.
VPC_ENDPOINT_SERVICES = ("s3", "sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", "logs", "monitoring", "kms")
# Application Auto Scaling cooldowns are seconds; a day is far beyond any useful SageMaker cooldown.
_MAX_COOLDOWN_SECONDS = 86_400


class RolloutType(StrEnum):
    """CANARY, LINEAR and ALL_AT_ONCE are blue/green traffic shifting; ROLLING replaces the fleet in batches."""

    ALL_AT_ONCE = "ALL_AT_ONCE"
    CANARY = "CANARY"
    LINEAR = "LINEAR"
    ROLLING = "ROLLING"


class BatchSizeType(StrEnum):
    """How a rolling batch is sized (SageMaker CapacitySize.Type)."""

    CAPACITY_PERCENT = "CAPACITY_PERCENT"
    INSTANCE_COUNT = "INSTANCE_COUNT"


class ApprovalMode(StrEnum):
    MANUAL = "manual"
    AUTO = "auto"


class RemovalMode(StrEnum):
    RETAIN = "retain"
    DESTROY = "destroy"


class SourceKind(StrEnum):
    CODECONNECTIONS = "codeconnections"
    CODECOMMIT = "codecommit"


def unknown_key(data: Mapping[str, Any], known: Sequence[str]) -> PydanticCustomError | None:
    """The error for the first key of `data` that is not in `known`, naming the closest known key."""
    for name in data:
        if name not in known:
            # A cutoff below difflib's 0.6 still finds renamed keys (max_5xx_errors -> max_5xx_rate_percent).
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
            return PydanticCustomError(
                "unknown_key",
                "unknown key {key}",
                {"key": str(name), "close": close[0] if close else None, "known": ", ".join(known)},
            )
    return None


class Schema(BaseModel):
    """A section of the config: frozen, and refusing keys it does not have (a typo would otherwise be ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Fields that loading fills from elsewhere (the validation context) rather than from cdk.json.
    derived_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def input_keys(cls) -> tuple[str, ...]:
        return tuple(name for name in cls.model_fields if name not in cls.derived_keys)

    @classmethod
    def with_defaults(cls, data: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with the defaults that follow other settings; the default: none."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data
        context = info.context or {}
        error = unknown_key(data, cls.input_keys() if context else tuple(cls.model_fields))
        if error:
            raise error
        return cls.with_defaults(dict(data), context)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class AwsTarget(Schema):
    account: str
    region: str


class ToolchainConfig(Schema):
    """The account and region of the CI/CD pipeline, and who hears about its failures and approvals."""

    account: Annotated[str, Text(ACCOUNT, "a 12-digit AWS account id")]
    region: Annotated[str, Text(REGION, "an AWS region such as eu-west-1")]
    notification_emails: Annotated[tuple[str, ...], Listed(EMAIL, "a list of e-mail addresses")] = ()

    @property
    def target(self) -> AwsTarget:
        return AwsTarget(account=self.account, region=self.region)


class SourceConfig(Schema):
    kind: Annotated[SourceKind, Choice()] = SourceKind.CODECONNECTIONS
    repository: Annotated[str, Text(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$", "owner/name")]
    branch: Annotated[str, Text(r"^[A-Za-z0-9_./-]+$", "a branch name")] = "main"
    connection_arn: Annotated[
        str | None, Text(CONNECTION_ARN, "arn:aws:codeconnections:<region>:<account>:connection/<id>")
    ] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind is SourceKind.CODECOMMIT and not re.match(CODECOMMIT_REPOSITORY, self.repository):
            raise invalid("repository", self.repository, "a CodeCommit repository name: 1-100 letters, digits, _ . -")
        if self.kind is SourceKind.CODECONNECTIONS:
            if self.connection_arn is None:
                raise missing("connection_arn")
            if "/" not in self.repository:
                raise invalid("repository", self.repository, "owner/name for a CodeConnections source")
        return self


class AutoscalingConfig(Schema):
    """Target tracking of the production variant's instance count (Application Auto Scaling).

    `instance_count` of the endpoint stays the count a new endpoint starts with; once the
    variant is registered, each update keeps the count autoscaling reached (see
    constructs/endpoint_autoscaling.py). On by default in production environments.
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


_BATCH = "a whole number: 5 to 50 percent of the instances, or 5% to 50% of them counted in instances"
_ROLLBACK_BATCH = "a whole number up to 100 percent of the instances or all of them counted in instances, or null"


class RolloutConfig(Schema):
    type: Annotated[RolloutType, Choice()]
    # SageMaker: canary <= 50% of the variant's instances; linear step 10-50%.
    canary_size_percent: Annotated[int, Whole(1, 50, " percent")] = 50
    linear_step_percent: Annotated[int, Whole(10, 50, " percent")] = 25
    # SageMaker: WaitIntervalInSeconds and TerminationWaitInSeconds 0-3600 s.
    wait_interval_minutes: Annotated[int, Whole(0, 60, " minutes")] = 5
    termination_wait_minutes: Annotated[int, Whole(0, 60, " minutes")] = 5
    # SageMaker: MaximumExecutionTimeoutInSeconds 600-28800 s.
    max_execution_timeout_minutes: Annotated[int, Whole(10, 480, " minutes")] = 60
    # ROLLING only: the batch the new fleet grows (and the old one shrinks) by, and the batch
    # a rollback restores the old fleet in (None: all of it at once, SageMaker's default).
    # RollingUpdatePolicy.MaximumBatchSize "must be between 5% to 50% of the variant's total
    # instance count"; CapacitySize.Value is at least 1 (SageMaker API reference, botocore model).
    # RollbackMaximumBatchSize has no documented upper bound beyond the whole old fleet. Bounds
    # in instances depend on the fleet: EnvironmentConfig checks them (and defaults the batch).
    rolling_batch_type: Annotated[BatchSizeType, Choice()] = BatchSizeType.CAPACITY_PERCENT
    rolling_batch_size: Annotated[int, Whole(0, 10_000, phrase=_BATCH)] = 25
    rollback_batch_size: Annotated[int | None, Whole(0, 10_000, phrase=_ROLLBACK_BATCH)] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.rolling_batch_type is BatchSizeType.CAPACITY_PERCENT:
            if not 5 <= self.rolling_batch_size <= 50:
                raise invalid(
                    "rolling_batch_size",
                    self.rolling_batch_size,
                    "a whole number from 5 to 50 percent of the instances",
                )
            if self.rollback_batch_size is not None and not 1 <= self.rollback_batch_size <= 100:
                raise invalid(
                    "rollback_batch_size",
                    self.rollback_batch_size,
                    "a whole number from 1 to 100 percent of the instances, or null",
                )
        return self

    def traffic_steps(self, instance_count: int) -> int:
        """How many times traffic moves to the new fleet (each followed by a wait interval)."""
        if self.type is RolloutType.CANARY:
            return 2
        if self.type is RolloutType.LINEAR:
            return math.ceil(100 / self.linear_step_percent)
        if self.type is RolloutType.ROLLING:
            batch = self.rolling_batch_size
            if self.rolling_batch_type is BatchSizeType.CAPACITY_PERCENT:
                # SageMaker does not document how it rounds a percentage to instances; rounding
                # down gives the most batches, so the timeout check never passes a rollout too long.
                batch = max(1, instance_count * batch // 100)
            return math.ceil(instance_count / batch)
        return 1

    def bake_minutes(self, instance_count: int) -> int:
        """Minimum length of a deployment: every wait interval plus the termination wait.

        A rolling deployment has no termination wait: it bakes every batch, the last one included.
        """
        termination = 0 if self.type is RolloutType.ROLLING else self.termination_wait_minutes
        return self.traffic_steps(instance_count) * self.wait_interval_minutes + termination

    def deployment_config(self, alarm_names: Sequence[str]) -> dict[str, Any]:
        """An endpoint's DeploymentConfig: this rollout, rolled back by `alarm_names`.

        The serving stack's endpoint and the CLI's rollback both use it, so both update the same way.
        It holds exactly one update policy ("Only one update policy should be used in the
        deployment configuration", AWS::SageMaker::Endpoint DeploymentConfig).
        """
        policy = (
            {"RollingUpdatePolicy": self._rolling_update_policy()}
            if self.type is RolloutType.ROLLING
            else {"BlueGreenUpdatePolicy": self._blue_green_update_policy()}
        )
        # AWS accepts at most 10 alarms; the serving stack creates fewer.
        return {**policy, "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarm_names[:10]]}}

    def _blue_green_update_policy(self) -> dict[str, Any]:
        routing: dict[str, Any] = {"Type": self.type.value, "WaitIntervalInSeconds": self.wait_interval_minutes * 60}
        if self.type is RolloutType.CANARY:
            routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": self.canary_size_percent}
        elif self.type is RolloutType.LINEAR:
            routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": self.linear_step_percent}
        return {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": self.termination_wait_minutes * 60,
            "MaximumExecutionTimeoutInSeconds": self.max_execution_timeout_minutes * 60,
        }

    def _rolling_update_policy(self) -> dict[str, Any]:
        policy: dict[str, Any] = {
            "MaximumBatchSize": {"Type": self.rolling_batch_type.value, "Value": self.rolling_batch_size},
            "WaitIntervalInSeconds": self.wait_interval_minutes * 60,
            "MaximumExecutionTimeoutInSeconds": self.max_execution_timeout_minutes * 60,
        }
        if self.rollback_batch_size is not None:
            policy["RollbackMaximumBatchSize"] = {
                "Type": self.rolling_batch_type.value,
                "Value": self.rollback_batch_size,
            }
        return policy


# SageMaker publishes invocation metrics once a minute unless enhanced metrics change the
# frequency (MetricsConfig.MetricPublishFrequencyInSeconds, which this app does not set), so
# the only alarm period that sees every datapoint is 60 s.
ALARM_PERIOD_SECONDS = 60
# Assumed delay on top of the evaluation window: up to one minute for SageMaker to publish a
# minute's datapoint, and up to one more until CloudWatch next evaluates a 60 s alarm (it
# evaluates alarms of a period of a minute or more once a minute; "Using Amazon CloudWatch alarms").
CLOUDWATCH_DELAY_SECONDS = 120
# PutMetricAlarm: for a period under one hour, Period x EvaluationPeriods <= 86,400 s (one day).
_MAX_EVALUATION_PERIODS = 86_400 // ALARM_PERIOD_SECONDS


class AlarmConfig(Schema):
    period_seconds: Annotated[
        int,
        Whole(
            ALARM_PERIOD_SECONDS,
            ALARM_PERIOD_SECONDS,
            phrase=f"{ALARM_PERIOD_SECONDS}, the interval at which SageMaker publishes invocation metrics",
        ),
    ] = ALARM_PERIOD_SECONDS
    evaluation_periods: Annotated[int, Whole(1, _MAX_EVALUATION_PERIODS)] = 2
    # Default: evaluation_periods; at most that many.
    datapoints_to_alarm: Annotated[
        int, Whole(1, _MAX_EVALUATION_PERIODS, phrase="a whole number from 1 to evaluation_periods")
    ] = 2
    max_5xx_rate_percent: Annotated[float, Number(0.1, 100.0)] = 1.0
    max_model_error_rate_percent: Annotated[float, Number(0.1, 100.0)] = 1.0
    max_4xx_rate_percent: Annotated[float, Number(0.1, 100.0)] = 10.0
    # Error rates count only in a period with at least this many requests: a canary with
    # little traffic can still trip, a single failed request in an idle minute cannot.
    min_invocations: Annotated[int, Whole(1, 1_000_000)] = 10
    p99_latency_ms: Annotated[int, Whole(1, 600_000, " ms")] = 500

    @classmethod
    def with_defaults(cls, data: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        data.setdefault("datapoints_to_alarm", data.get("evaluation_periods", 2))
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise invalid(
                "datapoints_to_alarm",
                self.datapoints_to_alarm,
                f"a whole number from 1 to {self.evaluation_periods}",
            )
        return self

    @property
    def worst_case_detection_seconds(self) -> int:
        """Longest time from a bad fleet's first errors to the alarm leaving OK.

        The alarm needs `evaluation_periods` full periods of data, plus CLOUDWATCH_DELAY_SECONDS.
        """
        return self.period_seconds * self.evaluation_periods + CLOUDWATCH_DELAY_SECONDS


_FEATURES = "1 to 10 feature names (the drift alarm's metrics) when use_model_monitor is true"
# Rows one drift-check instance counts within half its job's hour (MaxRuntimeInSeconds 3600): about
# 100,000 rows a second on one core of the default ml.m5.large, half the benchmark's rate for
# headroom (docs/benchmarks.md, bench/volume.py).
DRIFT_ROWS_PER_INSTANCE = 100_000 * 1800
_MAX_DRIFT_INSTANCES = 100


class DriftConfig(Schema):
    schedule: Annotated[str, Text(SCHEDULE, "rate(N minutes|hours|days) or cron(6 fields)")] = "rate(1 hour)"
    window_hours: Annotated[int, Whole(1, 168, " hours")] = 1
    threshold: Annotated[float, Number(0.0, 10.0)] = 0.2
    use_model_monitor: Annotated[bool, Flag()] = False
    # Model Monitor publishes one metric per feature; the drift alarm can watch up to ten.
    model_monitor_features: Annotated[tuple[str, ...], Listed(FEATURE, _FEATURES, high=10)] = ()
    # Share of captured rows that may not match the baseline's schema before a check fails.
    max_rejected_fraction: Annotated[float, Number(0.0, 0.99)] = 0.05
    # The decision (pipeline_steps/drift_check.py, `decide`): at most this share of undrifted windows
    # flagged, and a shift of `detectable_shift_std` standard deviations in one feature flagged in
    # `detection_power` of windows; the smallest window that holds both follows from the baseline.
    false_alarm_rate: Annotated[float, Number(0.0001, 0.2)] = 0.01
    detection_power: Annotated[float, Number(0.5, 0.999)] = 0.95
    detectable_shift_std: Annotated[float, Number(0.1, 10.0)] = 1.0
    # Processing instances that count the window's capture objects: this many, or enough for
    # `expected_rows_per_hour` (DriftConfig.instances), else one.
    instance_count: Annotated[int | None, Whole(1, _MAX_DRIFT_INSTANCES, " instances")] = None
    expected_rows_per_hour: Annotated[int | None, Whole(1, 10**12, " rows")] = None
    # Longest time between two scheduled checks, for a cron() schedule (a rate() gives it).
    max_hours_between_checks: Annotated[
        int | None, Whole(1, _MAX_CHECK_INTERVAL_HOURS, " hours (needed with a cron() schedule)")
    ] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        problem = schedule_problem(self.schedule)
        if problem:
            raise invalid("schedule", self.schedule, problem)
        rate = self._rate_minutes
        if rate is None and self.max_hours_between_checks is None:
            raise invalid(
                "max_hours_between_checks",
                None,
                f"a whole number from 1 to {_MAX_CHECK_INTERVAL_HOURS} hours (needed with a cron() schedule)",
            )
        if rate is not None and not 1 <= rate <= 60 * _MAX_CHECK_INTERVAL_HOURS:
            raise invalid(
                "schedule", self.schedule, f"a schedule that checks at least every {_MAX_CHECK_INTERVAL_HOURS} hours"
            )
        if self.use_model_monitor:
            if not self.model_monitor_features:
                raise invalid("model_monitor_features", [], _FEATURES)
            if "minute" in self.schedule:
                raise invalid("schedule", self.schedule, "an hourly or daily schedule when use_model_monitor is true")
        return self

    @property
    def _rate_minutes(self) -> int | None:
        rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", self.schedule)
        if rate is None:
            return None
        return int(rate.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[rate.group(2)]

    @property
    def instances(self) -> int:
        """`instance_count`, else one instance per DRIFT_ROWS_PER_INSTANCE rows of the window's expected size."""
        if self.instance_count is not None:
            return self.instance_count
        if self.expected_rows_per_hour is None:
            return 1
        rows = self.expected_rows_per_hour * self.window_hours
        return min(max(1, math.ceil(rows / DRIFT_ROWS_PER_INSTANCE)), _MAX_DRIFT_INSTANCES)

    @property
    def check_interval_minutes(self) -> int:
        """Longest time between two scheduled checks, which the "drift check not running" alarm must cover."""
        rate = self._rate_minutes
        if rate is not None:
            return rate
        assert self.max_hours_between_checks is not None  # _check refuses a cron() without it
        return 60 * self.max_hours_between_checks


# CodeBuild's build timeout: 5 to 2160 minutes (botocore codebuild model, BuildTimeOut; the
# AWS::CodeBuild::Project schema's TimeoutInMinutes maximum), raised from 480 in June 2024. The
# CodeBuild quotas page still says 480, and the aws-cn CodePipeline quotas still give CodeBuild
# actions 8 hours: keep a shadow test's budget under 480 minutes there.
CODEBUILD_MAX_TIMEOUT_MINUTES = 2160


class ShadowConfig(Schema):
    """A shadow test of the candidate beside the champion on live traffic, before the canary.

    Off by default (it costs a second fleet for `duration_minutes`); recommended for production.
    What each phase may take, and so the pipeline step's timeout, is EnvironmentConfig.shadow_budget.
    """

    # Time on top of the phases: CodeBuild's start and `make .venv/.installed`.
    INSTALL_MINUTES: ClassVar[int] = 15
    # SageMaker writes capture files and CloudWatch its datapoints a few minutes after the requests.
    CAPTURE_DELAY_MINUTES: ClassVar[int] = 5
    # Longest time spent replaying captured requests when too few pairs were seen (mlopsctl/shadow.py).
    REPLAY_MINUTES: ClassVar[int] = 10

    enabled: Annotated[bool, Flag()] = False
    # Share of live requests SageMaker copies to the shadow variant.
    # ShadowModelVariantConfig.SamplingPercentage: at most 100 (SageMaker API reference).
    sampling_percent: Annotated[int, Whole(1, 100, " percent")] = 100
    # With the updates and the install, it must fit CodeBuild's longest build (EnvironmentConfig checks).
    duration_minutes: Annotated[int, Whole(10, 1440, " minutes")] = 60
    max_error_rate_increase_percent: Annotated[float, Number(0.0, 100.0)] = 0.5
    max_p99_latency_increase_ms: Annotated[int, Whole(0, 60_000)] = 50
    max_disagreement_percent: Annotated[float, Number(0.0, 100.0)] = 5.0
    # Regression only: an answer disagrees when it differs from the champion's by more than this
    # share of the champion's answer (a champion answer of 0 admits only 0).
    max_relative_error_percent: Annotated[float, Number(0.0, 1000.0)] = 10.0
    # Fewer requests compared than this, and the test cannot judge: it fails.
    min_compared_requests: Annotated[int, Whole(1, 100_000)] = 100


@dataclass(frozen=True)
class ShadowBudget:
    """Minutes each phase of a shadow test may take; the pipeline step's timeout is their sum.

    Three endpoint updates at most: restoring a shadow variant an earlier run left, adding the
    candidate as shadow, and restoring the endpoint. Each may run its deployment's whole
    MaximumExecutionTimeout and termination wait, plus a margin for SageMaker to report it.
    """

    install: int
    update: int
    duration: int
    capture_delay: int
    replay: int

    UPDATES: ClassVar[int] = 3

    @property
    def total(self) -> int:
        return self.install + self.UPDATES * self.update + self.duration + 2 * self.capture_delay + self.replay


class VpcSettings(Schema):
    """The VPC that SageMaker jobs and the endpoint attach their network interfaces to."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    # Where the interface VPC endpoints go: at most one subnet per Availability Zone (EC2).
    endpoint_subnet_ids: tuple[str, ...]

    @property
    def sagemaker_vpc_config(self) -> dict[str, list[str]]:
        """SageMaker's VpcConfig (CreateTrainingJob, CreateModel, a processing job's NetworkConfig)."""
        return {"SecurityGroupIds": list(self.security_group_ids), "Subnets": list(self.subnet_ids)}


# Steps whose script calls an AWS API from inside its container, which network isolation cuts
# off ("the container can't make any outbound network calls", SageMaker "Network isolation").
_STEPS_NEEDING_NETWORK = {
    "train": "script-mode training downloads the model's source directory (sagemaker_submit_directory) "
    "from S3 inside the container",
    "evaluate": "evaluate.py downloads the champion model through the S3 API",
}


class NetworkIsolation(Schema):
    """Which model-build steps, by their names in lower case, and whether the endpoint run isolated."""

    preprocess: Annotated[bool, Flag()] = False
    train: Annotated[bool, Flag()] = False
    evaluate: Annotated[bool, Flag()] = False
    baseline: Annotated[bool, Flag()] = False
    endpoint: Annotated[bool, Flag()] = True

    @model_validator(mode="after")
    def _check(self) -> Self:
        for step, why in _STEPS_NEEDING_NETWORK.items():
            if getattr(self, step):
                raise invalid(step, True, f"false: {why}, which network isolation cuts off")
        return self


# The model-build pipeline's processing and training steps, by their names in lower case.
MODEL_BUILD_JOB_STEPS = tuple(name for name in NetworkIsolation.model_fields if name != "endpoint")


def _ids(what: str, high: int) -> Listed:
    pattern = {"subnet": SUBNET_ID, "security group": SECURITY_GROUP_ID, "route table": ROUTE_TABLE_ID}[what]
    example = {"subnet": "subnet", "security group": "sg", "route table": "rtb"}[what] + "-0123456789abcdef0"
    return Listed(pattern, f"1 to {high} distinct {what} ({example}) IDs", high=high, distinct=True, null_is_empty=True)


class NetworkConfig(Schema):
    """How an environment's SageMaker jobs and endpoint reach the network.

    Without a VPC they run in SageMaker's own network, as before; with one, they attach to
    its subnets and reach AWS through whatever that VPC routes to (NAT, or the VPC endpoints
    that `private_networking` creates). Network isolation is independent of the VPC: the
    container gets no network at all, while SageMaker still moves its S3 inputs and outputs.
    """

    # The VPC, its job subnets and security groups: all three or none.
    vpc_id: Annotated[str | None, Text(VPC_ID, "a VPC ID such as vpc-0123456789abcdef0")] = None
    subnet_ids: Annotated[tuple[str, ...], _ids("subnet", MAX_SUBNETS)] = ()
    security_group_ids: Annotated[tuple[str, ...], _ids("security group", MAX_SECURITY_GROUPS)] = ()
    # Default: subnet_ids.
    endpoint_subnet_ids: Annotated[tuple[str, ...], _ids("subnet", MAX_SUBNETS)] = ()
    # Create the VPC endpoints in `vpc_endpoints` (default: S3, SageMaker, ECR, CloudWatch logs
    # and metrics, KMS). Their private DNS answers for the whole VPC.
    private_networking: Annotated[bool, Flag()] = False
    # Leave out those the VPC already has: a route table takes one S3 gateway route, and a
    # private DNS name one interface endpoint per VPC.
    vpc_endpoints: Annotated[
        tuple[str, ...],
        Listed(
            "^(" + "|".join(re.escape(name) for name in VPC_ENDPOINT_SERVICES) + ")$",
            f"distinct names from {' | '.join(VPC_ENDPOINT_SERVICES)}",
            distinct=True,
        ),
    ] = VPC_ENDPOINT_SERVICES
    # Besides the job security groups, who may use the interface endpoints (HTTPS): other
    # workloads of a shared VPC, whose calls to these services private DNS also redirects.
    endpoint_client_cidrs: Annotated[
        tuple[str, ...],
        Listed(
            IPV4_CIDR,
            "1 to 50 distinct IPv4 CIDR blocks such as 10.0.0.0/16",
            high=50,
            distinct=True,
            null_is_empty=True,
        ),
    ] = ()
    # The route tables of the job subnets: the S3 gateway endpoint adds its route to them.
    # CreateVpcEndpoint sets no upper limit.
    route_table_ids: Annotated[tuple[str, ...], _ids("route table", 200)] = ()
    network_isolation: NetworkIsolation = Field(default_factory=NetworkIsolation)

    @model_validator(mode="after")
    def _check(self) -> Self:
        parts = ("vpc_id", "subnet_ids", "security_group_ids")
        given = [part for part in parts if getattr(self, part)]
        if not given and self.endpoint_subnet_ids:
            raise invalid("endpoint_subnet_ids", list(self.endpoint_subnet_ids), "only with vpc_id set")
        for part in parts:
            if given and part not in given:
                raise invalid(
                    part,
                    None if part not in self.model_fields_set else [],
                    f"a value whenever {given[0]} is set: a VPC needs vpc_id, subnet_ids and security_group_ids",
                )
        if self.private_networking and not given:
            raise invalid(
                "private_networking",
                True,
                "false unless vpc_id, subnet_ids and security_group_ids are set: the VPC endpoints go into that VPC",
            )
        if given and len(self.subnet_ids) < MIN_ENDPOINT_SUBNETS:
            raise invalid(
                "subnet_ids",
                list(self.subnet_ids),
                f"{MIN_ENDPOINT_SUBNETS} to {MAX_SUBNETS} distinct subnet IDs in different Availability Zones: "
                "SageMaker hosts the endpoint in at least two",
            )
        if self.private_networking and "s3" in self.vpc_endpoints and not self.route_table_ids:
            raise invalid(
                "route_table_ids",
                [],
                "1 to 200 distinct route table (rtb-0123456789abcdef0) IDs with private_networking "
                "(or leave s3 out of vpc_endpoints)",
            )
        if self.endpoint_client_cidrs and not self.private_networking:
            raise invalid("endpoint_client_cidrs", list(self.endpoint_client_cidrs), "only with private_networking")
        return self

    @property
    def vpc(self) -> VpcSettings | None:
        if self.vpc_id is None:
            return None
        return VpcSettings(
            vpc_id=self.vpc_id,
            subnet_ids=self.subnet_ids,
            security_group_ids=self.security_group_ids,
            endpoint_subnet_ids=self.endpoint_subnet_ids or self.subnet_ids,
        )

    @property
    def isolated_steps(self) -> tuple[str, ...]:
        """Model-build steps (MODEL_BUILD_JOB_STEPS) that run with network isolation."""
        return tuple(step for step in MODEL_BUILD_JOB_STEPS if getattr(self.network_isolation, step))

    @property
    def endpoint_isolation(self) -> bool:
        return self.network_isolation.endpoint


class Release(Schema):
    """Which approved model version an environment serves, resolved outside synth."""

    model_package_arn: Annotated[str, Text(PACKAGE_ARN, "a model package version ARN")]
    baseline_statistics_uri: Annotated[str | None, Text(S3_URI, "an s3:// URI")] = None
    baseline_constraints_uri: Annotated[str | None, Text(S3_URI, "an s3:// URI")] = None
    # The version's inference image (InferenceSpecification), recorded by resolve-release: the
    # endpoint's role may pull it even when the model config has moved on to another image.
    image_uri: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.image_uri is not None and parse_ecr_image(self.image_uri) is None:
            raise invalid("image_uri", self.image_uri, f"an Amazon ECR image URI: {ECR_IMAGE_FORMAT}")
        return self

    @property
    def version(self) -> int:
        return int(self.model_package_arn.rsplit("/", 1)[1])

    @property
    def registry_account(self) -> str:
        """Account of the registry (the model-building environment) that holds the version."""
        return self.model_package_arn.split(":")[4]

    @property
    def registry_region(self) -> str:
        return self.model_package_arn.split(":")[3]

    @property
    def package_arn_pattern(self) -> str:
        """ARN pattern of every version of the released model package group."""
        return self.model_package_arn.rsplit("/", 1)[0] + "/*"


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


class MigrateTo(Schema):
    """The name a rename moves to, confirming that the retained resources are left behind."""

    project_name: str | None = None
    model_build_environment: str | None = None


class RetainedNames(Schema):
    """The names the retained registry group and ledgers were created with (README: Renaming)."""

    project_name: Annotated[str, Text(PROJECT, "3-32 lower-case letters, digits and hyphens")]
    model_build_environment: Annotated[str, Text(ENV_NAME, "an environment name")]
    migrate_to: MigrateTo = Field(default_factory=MigrateTo)


class AppConfig(Schema):
    """The whole config; loading.py validates the environments and the model_build section first."""

    # The settings file `-c mlops-settings=<file>` named, which the pipeline's build reads again.
    derived_keys: ClassVar[tuple[str, ...]] = ("settings_file",)

    project_name: Annotated[str, Text(PROJECT, "3-32 lower-case letters, digits and hyphens")]
    # The one-account sandbox (cdk.sandbox.json): model building, one serving environment and
    # the toolchain in one account and region, with no production environment to promote to.
    sandbox: Annotated[bool, Flag()] = False
    retained_names: RetainedNames
    toolchain: ToolchainConfig
    source: SourceConfig
    model_build: InstanceOf[ModelBuildConfig]
    environments: tuple[EnvironmentConfig, ...]
    # Roles that may assume the operator roles; empty: the toolchain account's principals
    # carrying the operator tag (ResourceNames.operator_tag_key = project name).
    operator_principals: Annotated[
        tuple[str, ...], Listed(ROLE_ARN, "a list of IAM role ARNs (arn:aws:iam::<account>:role/<name>)")
    ] = ()
    settings_file: str | None = None

    @classmethod
    def with_defaults(cls, data: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        data.setdefault("retained_names", {})
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        problem = physical_name_problem(self.project_name, self.environment_names)
        if problem:
            raise invalid("project_name", self.project_name, problem)
        self._check_retained_names()
        self._check_sandbox()
        self._check_monitored_features()
        self._check_regions()
        self._check_isolated_steps()
        self._check_shared_endpoints()
        return self

    def _check_retained_names(self) -> None:
        """Refuses a rename that would silently orphan the retained registry and known-good ledgers.

        The model package group (named after the project, in the model-build environment) and each
        environment's ledger parameter (/<project>/<env>/known-good) are retained and physically
        named. Renaming the project or moving the model build creates new, empty ones and leaves
        the old ones behind, so it needs an explicit `retained_names.migrate_to` naming the target.
        """
        retained = self.retained_names
        current = {
            "project_name": (self.project_name, "project_name"),
            "model_build_environment": (self.model_build.environment, "model_build.environment"),
        }
        for name, (value, key) in current.items():
            created_with = getattr(retained, name)
            if value in (created_with, getattr(retained.migrate_to, name)):
                continue
            if name == "project_name":
                what = f"the retained model package group {created_with!r} and ledgers /{created_with}/<env>/known-good"
            else:
                what = f"the retained model package group {self.project_name!r} in that environment's account"
            raise invalid(
                key,
                value,
                f"{created_with!r} ({CONTEXT_KEY}.retained_names.{name}), the name {what} were created with; to "
                f"leave them behind and start new, empty ones, set {CONTEXT_KEY}.retained_names.migrate_to.{name} "
                f"to {value!r} (README: Renaming)",
            )

    def _check_sandbox(self) -> None:
        """A sandbox is what its name says: one environment, not production, in the toolchain's account and region."""
        if not self.sandbox:
            return
        why = "with sandbox: true (model building, serving and the toolchain share one account and region)"
        if len(self.environments) != 1:
            raise invalid("environments", list(self.environment_names), f"exactly one environment {why}")
        env, toolchain = self.environments[0], self.toolchain
        for key, value, expected in (
            ("account", env.account, toolchain.account),
            ("region", env.region, toolchain.region),
        ):
            if value != expected:
                raise invalid(f"environments.{env.name}.{key}", value, f"{expected!r}, the toolchain's {key}, {why}")
        if env.production:
            raise invalid(
                f"environments.{env.name}.production",
                True,
                f"false {why}: production needs the four-account layout's staging, smoke test and approval",
            )

    def _check_monitored_features(self) -> None:
        """Model Monitor publishes a drift metric per feature of the data contract: only those can be watched."""
        features = self.model_build.model.data.feature_names
        for env in self.environments:
            unknown = [name for name in env.drift.model_monitor_features if name not in features]
            if unknown:
                raise invalid(
                    f"environments.{env.name}.drift.model_monitor_features",
                    list(env.drift.model_monitor_features),
                    f"features of model_build.model.data ({unknown[0]!r} is not one): {', '.join(features[:10])}"
                    + (", ..." if len(features) > 10 else ""),
                )

    def _check_regions(self) -> None:
        """Every environment serves in the model-build region, which has the images the model names.

        Serving reads the registry and the model artifacts of the model-build environment, which
        are not copied across regions; SageMaker runs only images of a job's or endpoint's own
        region, so an ECR image must be in that region and a framework image must be published
        there (per region in the checked-in map; a framework image missing from the map fails synth
        in the model-build construct, naming `make pipeline-definitions`, which resolves it).
        """
        from pipeline_steps.checked_in import DRIFT_CHECK_IMAGES as DRIFT_IMAGES
        from pipeline_steps.checked_in import FRAMEWORK_IMAGES

        build = self.build_environment
        # Absent only before the first `make pipeline-definitions`, which writes it.
        framework_images = json.loads(FRAMEWORK_IMAGES.read_text()) if FRAMEWORK_IMAGES.exists() else {}
        for role, image in self.model_build.model.images.by_role().items():
            ecr = parse_ecr_image(image.uri) if image.uri else None
            if ecr is not None and ecr.region != build.region:
                raise invalid(
                    f"model_build.model.images.{role}.uri",
                    image.uri,
                    f"an image in {build.region!r}, the region of the model-build environment {build.name!r} "
                    "(SageMaker pulls images from its own region only)",
                )
            scope = "inference" if role == "inference" else "training"
            regions = framework_images.get(image.framework, {}).get(image.version, {}).get(scope, {})
            if regions and build.region not in regions:
                raise invalid(
                    f"environments.{build.name}.region",
                    build.region,
                    f"a region where SageMaker publishes the {role} image {image.label} "
                    f"({FRAMEWORK_IMAGES.name}): {', '.join(sorted(regions))}",
                )
        drift_images = json.loads(DRIFT_IMAGES.read_text())
        for env in self.environments:
            if env.region != build.region:
                raise invalid(
                    f"environments.{env.name}.region",
                    env.region,
                    f"{build.region!r}, the region of the model-build environment {build.name!r}: the registry and "
                    "model artifacts are not copied across regions",
                )
            kind = "model-monitor" if env.drift.use_model_monitor else "sklearn"
            if env.region not in drift_images[kind]:
                raise invalid(
                    f"environments.{env.name}.region",
                    env.region,
                    f"a region with a pinned {kind} image in {DRIFT_IMAGES.name}: "
                    f"{', '.join(sorted(drift_images[kind]))}",
                )

    def _check_isolated_steps(self) -> None:
        """Model-build steps run only in the model-build environment: their isolation is set there."""
        for env in self.environments:
            if env.network.isolated_steps and env is not self.build_environment:
                raise invalid(
                    f"environments.{env.name}.network.network_isolation.{env.network.isolated_steps[0]}",
                    True,
                    f"only in the model-build environment {self.build_environment.name!r}, "
                    "where the model-build pipeline's jobs run",
                )

    def _check_shared_endpoints(self) -> None:
        """One VPC holds one endpoint per service with private DNS, and one S3 route per route table."""
        created: dict[str, tuple[str, set[str]]] = {}
        for env in self.environments:
            network = env.network
            if not network.private_networking or network.vpc_id is None:
                continue
            if network.vpc_id in created:
                other, services = created[network.vpc_id]
                both = sorted(services & set(network.vpc_endpoints))
                if both:
                    raise invalid(
                        f"environments.{env.name}.network.vpc_endpoints",
                        list(network.vpc_endpoints),
                        f"none of {both}: environment {other!r} creates them in the same VPC {network.vpc_id}",
                    )
            created[network.vpc_id] = (env.name, set(network.vpc_endpoints))

    @property
    def warnings(self) -> tuple[str, ...]:
        """Settings that lower safety without being wrong, each naming its key; synth shows them.

        Production environments refuse auto-approval and destroy outright; whether an environment
        is production comes from `production` (default: named prod), so a last environment named
        otherwise, or one set production: false, would get them without a word. A one-account
        sandbox legitimately ends in a non-production environment, so these warn, not refuse; a layout
        that declares `sandbox: true` has said so already and gets none of them.
        """
        found: list[str] = []
        if self.sandbox:
            return ()
        last = self.promotion_order[-1]
        if not last.production:
            found.append(
                f"{CONTEXT_KEY}.environments.{last.name}.production is false, but {last.name!r} is the last "
                "environment the pipeline promotes to: no manual approval before it, and auto-approval and "
                "removal_policy destroy are allowed there. Set it to true if it serves production traffic."
            )
        for env in self.environments:
            if env.production:
                continue
            if env.approval is ApprovalMode.AUTO:
                found.append(
                    f"{CONTEXT_KEY}.environments.{env.name}.approval is auto: models built there are approved "
                    f"without a review, because {CONTEXT_KEY}.environments.{env.name}.production is false."
                )
            if env.removal_policy is RemovalMode.DESTROY:
                found.append(
                    f"{CONTEXT_KEY}.environments.{env.name}.removal_policy is destroy: deleting its stacks deletes its "
                    f"data, registry and ledger, because {CONTEXT_KEY}.environments.{env.name}.production is false."
                )
        return tuple(found)

    @property
    def names(self) -> ResourceNames:
        return ResourceNames(self.project_name)

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise ConfigError(f"Unknown environment {name!r}; configured: {', '.join(self.environment_names)}.")

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(env.name for env in self.environments)

    @property
    def build_environment(self) -> EnvironmentConfig:
        return self.environment(self.model_build.environment)

    @property
    def promotion_order(self) -> tuple[EnvironmentConfig, ...]:
        """The order the delivery pipeline deploys in: the model-build environment, then cdk.json order."""
        build = self.build_environment
        return (build, *(env for env in self.environments if env is not build))

    @property
    def consumer_accounts(self) -> tuple[str, ...]:
        """Accounts other than the build account that must read the registry and model artifacts."""
        build = self.build_environment.account
        return tuple(sorted({e.account for e in self.environments if e.account != build}))

    @property
    def registry_reader_accounts(self) -> tuple[str, ...]:
        """Serving accounts plus the toolchain account, whose pipeline resolves the release to ship."""
        build = self.build_environment.account
        return tuple(sorted({*self.consumer_accounts, self.toolchain.account} - {build}))
