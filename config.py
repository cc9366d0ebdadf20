"""Typed, validated settings for the whole app, read once from cdk.json context.

Everything the stacks need comes from here, so a bad value fails `cdk synth` with one
message that names the key, the value and what is allowed, instead of failing at deploy
time in some account. No CDK imports: the operator CLI and scripts read the same config.

Overrides: any context key starting with ``mlops.`` replaces one value, e.g.
``-c mlops.environments.prod.account=123456789012`` or
``-c mlops.environments.dev.rollout.type=LINEAR``. Values are parsed as JSON when they
look like JSON (numbers, true/false, lists), otherwise taken as strings.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from pipeline_steps.images import ECR_IMAGE_FORMAT, parse_ecr_image

CONTEXT_KEY = "mlops"
RELEASES_DIR = Path(__file__).resolve().parent / "releases"

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# The "drift check not running" alarm spans 1.5 checks; CloudWatch caps an alarm's span
# (constructs/drift_monitor.py, health_alarm_window), and a check less often than every
# four days leaves most captured data unchecked anyway.
_MAX_CHECK_INTERVAL_HOURS = 96
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$")
_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]+/\d+$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[A-Za-z0-9-]+$"
)
_S3_URI = re.compile(r"^s3://[a-z0-9.-]{3,63}/.+$")
_CODECOMMIT_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_FEATURE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
# IAM role ARN: name up to 64 characters of [\w+=,.@-], path segments allowed (IAM CreateRole).
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and what is allowed."""


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"Invalid config '{key}': got {value!r}; allowed: {allowed}.")


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


@dataclass(frozen=True)
class AwsTarget:
    account: str
    region: str


@dataclass(frozen=True)
class ToolchainConfig:
    """The account and region of the CI/CD pipeline, and who hears about its failures and approvals."""

    account: str
    region: str
    notification_emails: tuple[str, ...]

    @property
    def target(self) -> AwsTarget:
        return AwsTarget(self.account, self.region)


@dataclass(frozen=True)
class SourceConfig:
    kind: SourceKind
    repository: str
    branch: str
    connection_arn: str | None


@dataclass(frozen=True)
class RetrainingConfig:
    schedule: str | None
    on_new_data: bool
    on_drift: bool
    incoming_prefix: str
    quiet_period_minutes: int
    # Off by default: Lambda keeps 100 concurrent executions unreserved per account, so on
    # accounts with a low concurrency quota (new accounts) a reservation fails the deploy.
    one_trigger_at_a_time: bool = False


class TaskType(StrEnum):
    """What the evaluate step computes: its metrics and how it reads the model's predictions."""

    BINARY_CLASSIFICATION = "binary_classification"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    REGRESSION = "regression"


# The metrics the evaluate step computes per task type, each with the direction that is better
# (pipeline_steps/evaluate.py TASK_METRICS holds the same table; a test keeps them equal).
TASK_METRICS: Mapping[TaskType, Mapping[str, bool]] = {
    TaskType.BINARY_CLASSIFICATION: {"auc": True, "accuracy": True, "f1": True},
    TaskType.MULTICLASS_CLASSIFICATION: {"accuracy": True, "macro_f1": True},
    TaskType.REGRESSION: {"rmse": False, "mae": False, "r2": True},
}


@dataclass(frozen=True)
class ImageRef:
    """A SageMaker framework image (resolved per region from the checked-in map) or an ECR image URI."""

    framework: str | None = None
    version: str | None = None
    uri: str | None = None

    @property
    def label(self) -> str:
        """Region-neutral name of the image: `framework:version`, or the URI itself."""
        return self.uri if self.uri else f"{self.framework}:{self.version}"


@dataclass(frozen=True)
class ModelImages:
    processing: ImageRef
    training: ImageRef
    inference: ImageRef

    def by_role(self) -> dict[str, ImageRef]:
        return {"processing": self.processing, "training": self.training, "inference": self.inference}


@dataclass(frozen=True)
class MetricConfig:
    """The gate's metric: a candidate must reach `threshold` and not be worse than the champion
    by more than `allowed_regression`, both in the metric's direction."""

    name: str
    higher_is_better: bool
    threshold: float
    allowed_regression: float


@dataclass(frozen=True)
class ModelConfig:
    """The model a team brings: its code, images, hyperparameters, metric and task type."""

    source_dir: Path
    entry_point: str
    images: ModelImages
    hyperparameters: tuple[tuple[str, str], ...]
    metric: MetricConfig
    task_type: TaskType
    # Where it was configured: "models/xgboost" (a directory with model.json) or "inline".
    origin: str = "inline"

    @property
    def hyperparameter_map(self) -> dict[str, str]:
        return dict(self.hyperparameters)


@dataclass(frozen=True)
class ModelBuildConfig:
    environment: str
    processing_instance_type: str
    training_instance_type: str
    use_spot_training: bool
    max_training_minutes: int
    model: ModelConfig
    retraining: RetrainingConfig


# Families whose instances carry local NVMe instance storage although their name has no "d"
# (EC2 "Instance store volumes"); every family with a "d" in its suffix (m5d, g4dn, p4de) has it.
_INSTANCE_STORE_FAMILIES = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})
# Deployment guardrails exclude Inferentia 1: such an endpoint falls back to all-at-once traffic
# shifting with no baking period, so no alarm could roll it back (SageMaker "Exclusions").
_GUARDRAIL_EXCLUDED_FAMILIES = frozenset({"inf1"})


def instance_family(instance_type: str) -> str:
    """`g4dn` of `ml.g4dn.xlarge`."""
    return instance_type.split(".")[1]


def has_instance_storage(instance_type: str) -> bool:
    """Whether the type has local NVMe storage, which SageMaker encrypts in hardware.

    CreateEndpointConfig (KmsKeyId) and the job APIs (VolumeKmsKeyId) refuse a KMS key for
    such types: "You can't request a KmsKeyId when using an instance type with local storage."
    """
    family = instance_family(instance_type)
    suffix = re.sub(r"^[a-z]+\d+", "", family)
    return "d" in suffix or family in _INSTANCE_STORE_FAMILIES


@dataclass(frozen=True)
class AutoscalingConfig:
    """Target tracking of the production variant's instance count (Application Auto Scaling).

    `instance_count` of the endpoint stays the count a new endpoint starts with; once the
    variant is registered, each update keeps the count autoscaling reached (see
    constructs/endpoint_autoscaling.py).
    """

    enabled: bool
    min_instances: int
    max_instances: int
    # Average requests per instance per minute (SageMakerVariantInvocationsPerInstance).
    target_invocations_per_instance: float
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int


AUTOSCALING_OFF = AutoscalingConfig(
    enabled=False,
    min_instances=1,
    max_instances=1,
    target_invocations_per_instance=70.0,
    scale_in_cooldown_seconds=300,
    scale_out_cooldown_seconds=60,
)


@dataclass(frozen=True)
class EndpointConfig:
    instance_type: str
    instance_count: int
    data_capture_percent: int
    autoscaling: AutoscalingConfig = AUTOSCALING_OFF

    @property
    def fewest_instances(self) -> int:
        """The smallest fleet a deployment can start from: autoscaling's minimum, else the fixed count."""
        return self.autoscaling.min_instances if self.autoscaling.enabled else self.instance_count

    @property
    def volume_kms_key_allowed(self) -> bool:
        """False for instance types with local storage: the EndpointConfig must then omit KmsKeyId."""
        return not has_instance_storage(self.instance_type)


@dataclass(frozen=True)
class RolloutConfig:
    type: RolloutType
    canary_size_percent: int
    linear_step_percent: int
    wait_interval_minutes: int
    termination_wait_minutes: int
    max_execution_timeout_minutes: int
    # ROLLING only: the batch the new fleet grows (and the old one shrinks) by, and the batch
    # a rollback restores the old fleet in (None: all of it at once, SageMaker's default).
    rolling_batch_type: BatchSizeType = BatchSizeType.CAPACITY_PERCENT
    rolling_batch_size: int = 25
    rollback_batch_size: int | None = None

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
_MAX_EVALUATION_SECONDS = 86_400


@dataclass(frozen=True)
class AlarmConfig:
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    max_5xx_rate_percent: float
    max_model_error_rate_percent: float
    max_4xx_rate_percent: float
    # Error rates count only in a period with at least this many requests: a canary with
    # little traffic can still trip, a single failed request in an idle minute cannot.
    min_invocations: int
    p99_latency_ms: int

    @property
    def worst_case_detection_seconds(self) -> int:
        """Longest time from a bad fleet's first errors to the alarm leaving OK.

        The alarm needs `evaluation_periods` full periods of data, plus CLOUDWATCH_DELAY_SECONDS.
        """
        return self.period_seconds * self.evaluation_periods + CLOUDWATCH_DELAY_SECONDS


@dataclass(frozen=True)
class DriftConfig:
    schedule: str
    window_hours: int
    threshold: float
    use_model_monitor: bool
    # Longest time between two scheduled checks: from a rate() schedule, or given for a cron().
    check_interval_minutes: int
    # Share of captured rows that may not match the baseline's schema before a check fails.
    max_rejected_fraction: float
    # Model Monitor publishes one metric per feature; the drift alarm can watch up to ten.
    model_monitor_features: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShadowConfig:
    """A shadow test of the candidate beside the champion on live traffic, before the canary.

    Off by default (it costs a second fleet for `duration_minutes`); recommended for production.
    """

    enabled: bool = False
    # Share of live requests SageMaker copies to the shadow variant.
    sampling_percent: int = 100
    duration_minutes: int = 60
    max_error_rate_increase_percent: float = 0.5
    max_p99_latency_increase_ms: int = 50
    max_disagreement_percent: float = 5.0
    # Fewer requests seen by both variants than this, and the test cannot judge: it fails.
    min_compared_requests: int = 100


@dataclass(frozen=True)
class Release:
    """Which approved model version an environment serves, resolved outside synth."""

    model_package_arn: str
    baseline_statistics_uri: str | None = None
    baseline_constraints_uri: str | None = None
    # The version's inference image (InferenceSpecification), recorded by resolve-release: the
    # endpoint's role may pull it even when the model config has moved on to another image.
    image_uri: str | None = None

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


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    account: str
    region: str
    production: bool
    approval: ApprovalMode
    removal_policy: RemovalMode
    notification_emails: tuple[str, ...]
    endpoint: EndpointConfig
    rollout: RolloutConfig
    alarms: AlarmConfig
    drift: DriftConfig
    release: Release | None
    shadow: ShadowConfig = ShadowConfig()

    @property
    def target(self) -> AwsTarget:
        return AwsTarget(self.account, self.region)


@dataclass(frozen=True)
class AppConfig:
    project_name: str
    toolchain: ToolchainConfig
    source: SourceConfig
    model_build: ModelBuildConfig
    environments: tuple[EnvironmentConfig, ...]
    # Roles that may assume the operator roles; empty: the toolchain account's principals
    # carrying the operator tag (ResourceNames.operator_tag_key = project name).
    operator_principals: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class ResourceNames:
    """Physical names that something outside one stack must know, in one place.

    Everything else keeps CloudFormation-generated names. These are known to other stacks
    (event patterns, cross-account roles), to the Lambda functions (environment variables)
    and to the operator CLI, which finds them from cdk.json alone.
    """

    project: str

    # Kept stable across releases: SageMaker requires the same variant name for blue/green.
    variant: str = "AllTraffic"
    # The candidate's variant during a shadow test (mlopsctl shadow-test, the dashboard).
    shadow_variant: str = "Shadow"

    # Principal tag that admits a toolchain-account identity to the operator roles when no
    # operator_principals are configured; its value must be the project name.
    operator_tag_key: str = "mlops-operator"

    @property
    def model_package_group(self) -> str:
        return self.project

    @property
    def model_build_pipeline(self) -> str:
        return f"{self.project}-model-build"

    @property
    def drift_metric_namespace(self) -> str:
        return f"{self.project}/Drift"

    @property
    def manual_retraining_source(self) -> str:
        """EventBridge `source` of a manual retraining request (a custom event)."""
        return f"{self.project}.retraining"

    def endpoint(self, env: str) -> str:
        return f"{self.project}-{env}"

    def drift_check_pipeline(self, env: str) -> str:
        return f"{self.project}-{env}-drift-check"

    def drift_alarm_prefix(self, env: str) -> str:
        return f"{self.project}-{env}-drift-"

    def health_alarm_prefix(self, env: str) -> str:
        """Alarms on the monitoring itself (e.g. the drift check stopped): they notify, never retrain.

        Environment names hold no '-', so no name under this prefix starts with any
        environment's drift_alarm_prefix, the names the retraining function accepts.
        """
        return f"{self.project}-{env}-health-"

    def rollback_alarm_prefix(self, env: str) -> str:
        return f"{self.project}-{env}-rollback-"

    def new_fleet_alarm_prefix(self, env: str) -> str:
        """Rollback alarms that watch the fleet of the EndpointConfig in the serving template only."""
        return f"{self.rollback_alarm_prefix(env)}new-fleet-"

    def ledger_parameter(self, env: str) -> str:
        """SSM parameter whose version history is the known-good ledger of `env`."""
        return f"/{self.project}/{env}/known-good"

    def deploy_verifier_role(self, env: str) -> str:
        """Role in `env`'s account that the CI/CD pipeline assumes to verify and record a deploy."""
        return f"{self.project}-{env}-deploy-verifier"

    def deploy_check_role(self, env: str) -> str:
        """CodeBuild role of the pipeline's checks after `env`'s deploy: all the verifier role trusts."""
        # At most 32 + 1 + 16 + 13 = 62 characters; IAM role names allow 64.
        return f"{self.project}-{env}-deploy-check"

    @property
    def endpoint_resource_tag(self) -> str:
        """Tag key on the Models and EndpointConfigs made for an endpoint; the value is the endpoint's name."""
        return f"{self.project}:endpoint"

    def operator_role(self, env: str) -> str:
        """Role in `env`'s account that mlopsctl assumes to act on that environment (and, in the
        model-build environment, on the registry)."""
        return f"{self.project}-{env}-operator"

    @property
    def delivery_pipeline(self) -> str:
        """The CodePipeline that tests, synthesizes and promotes the app through every environment."""
        return f"{self.project}-pipeline"

    def stack(self, env: str, kind: str) -> str:
        return f"{self.project}-{env}-{kind}"

    def limited_names(self, env: str) -> tuple[tuple[str, str, int], ...]:
        """(what, name, AWS's maximum length) of every physical name that grows with the project and `env`.

        The limits are AWS's (tests/test_aws_contracts.py checks each against botocore's service
        model or the documented rule); the drift-check pipeline's name is also the name of its
        Model Monitor schedule, whose limit is lower than a pipeline's.
        """
        return (
            ("IAM role name", self.deploy_verifier_role(env), 64),
            ("SageMaker endpoint name", self.endpoint(env), 63),
            ("SageMaker monitoring schedule name", self.drift_check_pipeline(env), 63),
            ("SageMaker model package group name", self.model_package_group, 63),
            ("SageMaker pipeline name", self.model_build_pipeline, 256),
            ("CodePipeline pipeline name", self.delivery_pipeline, 100),
            ("CloudFormation stack name", self.stack(env, "model-build"), 128),
            ("SSM parameter name", self.ledger_parameter(env), 1011),
        )


# SSM refuses parameter names that start with these (case-insensitive; "/aws/..." included) and
# EventBridge refuses custom events whose source starts with "aws."; the project name starts the
# ledger parameter's name and the manual retraining event's source.
RESERVED_PROJECT_PREFIXES = ("aws", "ssm")


def _check_physical_names(project: str, env_names: Sequence[str], key: str) -> None:
    """Refuses a project name that AWS would refuse inside a physical name, before any deploy."""
    if project.lower().startswith(RESERVED_PROJECT_PREFIXES):
        raise _fail(
            key,
            project,
            "a name that does not start with 'aws' or 'ssm', which SSM refuses at the start of a parameter name "
            "such as the ledger's /<project>/<env>/known-good (and EventBridge refuses 'aws.' as an event source)",
        )
    names = ResourceNames(project)
    for env in env_names:
        for what, name, limit in names.limited_names(env):
            if len(name) > limit:
                raise _fail(
                    key,
                    project,
                    f"at most {len(project) - (len(name) - limit)} characters with environment '{env}', because "
                    f"the {what} '{name}' has {len(name)} characters and AWS allows {limit}",
                )


class _Reader:
    """Reads one mapping and reports errors with the dotted key path."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise _fail(path, data, "an object")
        self.data = data
        self.path = path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def only(self, *known: str) -> None:
        """Refuses a key this object does not have (a typo would otherwise be silently ignored)."""
        for name in self.data:
            if name not in known:
                # A cutoff below difflib's 0.6 still finds renamed keys (max_5xx_errors -> max_5xx_rate_percent).
                close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ConfigError(f"Unknown config '{self.key(name)}': {hint}allowed: {', '.join(known)}.")

    def raw(self, name: str, default: Any = ...) -> Any:
        if name in self.data:
            return self.data[name]
        if default is ...:
            raise ConfigError(f"Missing config '{self.key(name)}'.")
        return default

    def child(self, name: str) -> _Reader:
        return _Reader(self.raw(name, {}), self.key(name))

    def string(self, name: str, pattern: re.Pattern[str], allowed: str, default: Any = ...) -> str:
        value = self.raw(name, default)
        if not isinstance(value, str) or not pattern.match(value):
            raise _fail(self.key(name), value, allowed)
        return value

    def optional_string(self, name: str, pattern: re.Pattern[str], allowed: str) -> str | None:
        value = self.raw(name, None)
        if value in (None, ""):
            return None
        return self.string(name, pattern, allowed)

    def boolean(self, name: str, default: Any = ...) -> bool:
        value = self.raw(name, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _fail(self.key(name), value, "true or false")
        return value

    def integer(self, name: str, low: int, high: int, default: Any = ..., unit: str = "") -> int:
        value = self.raw(name, default)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(self.key(name), value, f"a whole number from {low} to {high}{unit}")
        return value

    def number(self, name: str, low: float, high: float, default: Any = ...) -> float:
        value = self.raw(name, default)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise _fail(self.key(name), value, f"a number from {low} to {high}")
        return float(value)

    def choice(self, name: str, enum: type[Enum], default: Any = ...) -> Any:
        value = self.raw(name, default)
        allowed = [m.value for m in enum]
        if value not in allowed:
            raise _fail(self.key(name), value, " | ".join(allowed))
        return enum(value)


def _emails(r: _Reader, name: str) -> tuple[str, ...]:
    emails = r.raw(name, [])
    if not isinstance(emails, list) or not all(isinstance(e, str) and _EMAIL.match(e) for e in emails):
        raise _fail(r.key(name), emails, "a list of e-mail addresses")
    return tuple(emails)


def _role_arns(r: _Reader, name: str) -> tuple[str, ...]:
    arns = r.raw(name, [])
    if not isinstance(arns, list) or not all(isinstance(a, str) and _ROLE_ARN.match(a) for a in arns):
        raise _fail(r.key(name), arns, "a list of IAM role ARNs (arn:aws:iam::<account>:role/<name>)")
    return tuple(arns)


def _source(r: _Reader) -> SourceConfig:
    r.only("kind", "repository", "branch", "connection_arn")
    kind = r.choice("kind", SourceKind, "codeconnections")
    repository = r.string("repository", re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$"), "owner/name")
    # CodeCommit RepositoryName: [\w.-]+, 1-100 characters (botocore service model).
    if kind is SourceKind.CODECOMMIT and not _CODECOMMIT_REPOSITORY.match(repository):
        raise _fail(r.key("repository"), repository, "a CodeCommit repository name: 1-100 letters, digits, _ . -")
    branch = r.string("branch", re.compile(r"^[A-Za-z0-9_./-]+$"), "a branch name", "main")
    connection_arn = None
    if kind is SourceKind.CODECONNECTIONS:
        connection_arn = r.string(
            "connection_arn", _CONNECTION_ARN, "arn:aws:codeconnections:<region>:<account>:connection/<id>"
        )
        if "/" not in repository:
            raise _fail(r.key("repository"), repository, "owner/name for a CodeConnections source")
    return SourceConfig(kind, repository, branch, connection_arn)


def _retraining(r: _Reader) -> RetrainingConfig:
    r.only("schedule", "on_new_data", "on_drift", "incoming_prefix", "quiet_period_minutes", "one_trigger_at_a_time")
    prefix = r.string("incoming_prefix", re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$"), "an S3 prefix ending in '/'")
    return RetrainingConfig(
        schedule=r.optional_string("schedule", _SCHEDULE, "rate(N minutes|hours|days) or cron(6 fields)"),
        on_new_data=r.boolean("on_new_data", True),
        on_drift=r.boolean("on_drift", True),
        incoming_prefix=prefix,
        quiet_period_minutes=r.integer("quiet_period_minutes", 0, 1440, 60, " minutes"),
        one_trigger_at_a_time=r.boolean("one_trigger_at_a_time", False),
    )


def _job_instance_type(r: _Reader, name: str) -> str:
    """A processing or training instance type: the pipelines encrypt its volume with the environment's key."""
    instance_type = r.string(name, _INSTANCE, "an ml.* instance type")
    if has_instance_storage(instance_type):
        raise _fail(
            r.key(name),
            instance_type,
            "an instance type without local instance storage (SageMaker refuses the volume KMS key the "
            "pipelines set for types with NVMe instance storage), e.g. ml.m5.xlarge",
        )
    return instance_type


_ROOT = Path(__file__).resolve().parent
MODEL_FILE = "model.json"
# The serving contract: the inference container imports this module from model.tar.gz's code/.
INFERENCE_SCRIPT = "inference.py"
_FRAMEWORK = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_FRAMEWORK_VERSION = re.compile(r"^[0-9][A-Za-z0-9._-]{0,63}$")
_ENTRY_POINT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}\.py$")
# Hyperparameters reach the script as `--name value` arguments (the training toolkit), so names
# are argument-like. CreateTrainingJob HyperParameters: at most 100 entries, keys up to 256 and
# values up to 2500 characters (botocore's sagemaker service model); the pipeline adds the
# toolkit's own sagemaker_* entries, which a model may therefore not set.
_HYPERPARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,255}$")
_HYPERPARAMETER_VALUE_MAX = 2500
TOOLKIT_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region")
_MAX_HYPERPARAMETERS = 100 - len(TOOLKIT_HYPERPARAMETERS)
# Metric ranges the threshold and the allowed regression must fall in.
_METRIC_RANGES: Mapping[str, tuple[float, float]] = {
    "auc": (0.0, 1.0),
    "accuracy": (0.0, 1.0),
    "f1": (0.0, 1.0),
    "macro_f1": (0.0, 1.0),
    "r2": (-1e12, 1.0),
    "rmse": (0.0, 1e12),
    "mae": (0.0, 1e12),
}


def _image(r: _Reader) -> ImageRef:
    if "uri" in r.data:
        r.only("uri")
        uri = r.raw("uri")
        if not isinstance(uri, str) or parse_ecr_image(uri) is None:
            raise _fail(r.key("uri"), uri, f"an Amazon ECR image URI: {ECR_IMAGE_FORMAT}")
        return ImageRef(uri=uri)
    r.only("framework", "version")
    framework = r.string("framework", _FRAMEWORK, "a SageMaker framework name such as xgboost, sklearn, pytorch")
    return ImageRef(framework, r.string("version", _FRAMEWORK_VERSION, "a framework image version such as 1.2-1"))


def _hyperparameters(r: _Reader) -> tuple[tuple[str, str], ...]:
    raw = r.raw("hyperparameters", {})
    if not isinstance(raw, Mapping) or len(raw) > _MAX_HYPERPARAMETERS:
        raise _fail(r.key("hyperparameters"), raw, f"an object of at most {_MAX_HYPERPARAMETERS} name: value pairs")
    pairs = []
    for name, value in raw.items():
        key = f"{r.key('hyperparameters')}.{name}"
        if not _HYPERPARAMETER_NAME.match(name) or name.startswith("sagemaker_"):
            raise _fail(key, name, "a name of letters, digits, _ . - (up to 256), not starting with sagemaker_")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _fail(key, value, "a string or a number")
        text = value if isinstance(value, str) else json.dumps(value)
        if not 0 < len(text) <= _HYPERPARAMETER_VALUE_MAX:
            raise _fail(key, value, f"1 to {_HYPERPARAMETER_VALUE_MAX} characters")
        pairs.append((name, text))
    return tuple(sorted(pairs))


def _metric(r: _Reader, task: TaskType) -> MetricConfig:
    r.only("name", "higher_is_better", "threshold", "allowed_regression")
    metrics = TASK_METRICS[task]
    name = r.raw("name")
    if name not in metrics:
        raise _fail(r.key("name"), name, f"a metric the evaluation computes for {task.value}: {' | '.join(metrics)}")
    higher = r.boolean("higher_is_better")
    if higher is not metrics[name]:
        raise _fail(r.key("higher_is_better"), higher, f"{str(metrics[name]).lower()} for {name}")
    low, high = _METRIC_RANGES[name]
    return MetricConfig(
        name=name,
        higher_is_better=higher,
        threshold=r.number("threshold", low, high),
        allowed_regression=r.number("allowed_regression", 0.0, high - max(low, 0.0), 0.0),
    )


def _model_block(r: _Reader, base: Path, origin: str) -> ModelConfig:
    r.only("source_dir", "entry_point", "images", "hyperparameters", "metric", "task_type")
    source = r.raw("source_dir")
    source_dir = (base / source).resolve() if isinstance(source, str) and source else None
    if source_dir is None or not source_dir.is_dir():
        raise _fail(r.key("source_dir"), source, f"a directory relative to {base}")
    entry_point = r.string("entry_point", _ENTRY_POINT, "a Python file name in source_dir, e.g. train.py")
    for script in (entry_point, INFERENCE_SCRIPT):
        if not (source_dir / script).is_file():
            key = r.key("entry_point" if script == entry_point else "source_dir")
            raise _fail(key, script if script == entry_point else source, f"a source_dir holding {script}")
    images = r.child("images")
    images.only("processing", "training", "inference")
    task = r.choice("task_type", TaskType)
    return ModelConfig(
        source_dir=source_dir,
        entry_point=entry_point,
        images=ModelImages(*(_image(images.child(role)) for role in ("processing", "training", "inference"))),
        hyperparameters=_hyperparameters(r),
        metric=_metric(r.child("metric"), task),
        task_type=task,
        origin=origin,
    )


def _model(r: _Reader, name: str) -> ModelConfig:
    """`model`: a directory holding model.json (e.g. "models/xgboost"), or the same block inline."""
    value = r.raw(name)
    if isinstance(value, Mapping):
        return _model_block(r.child(name), _ROOT, "inline")
    directory = (_ROOT / value).resolve() if isinstance(value, str) and value else None
    if directory is None or not (directory / MODEL_FILE).is_file():
        examples = ", ".join(sorted(str(p.parent.relative_to(_ROOT)) for p in _ROOT.glob(f"models/*/{MODEL_FILE}")))
        raise _fail(r.key(name), value, f"a directory holding {MODEL_FILE} ({examples}) or a model object")
    try:
        block = json.loads((directory / MODEL_FILE).read_text())
    except json.JSONDecodeError as error:
        raise _fail(r.key(name), value, f"a directory whose {MODEL_FILE} is JSON ({error})") from error
    return _model_block(_Reader(block, f"{r.key(name)}[{value}/{MODEL_FILE}]"), directory, value)


def load_model(reference: str | Mapping[str, Any], key: str = f"{CONTEXT_KEY}.model_build.model") -> ModelConfig:
    """A `model_build.model` value on its own (the local run takes one from the command line)."""
    return _model(_Reader({"model": reference}, key.rsplit(".", 1)[0]), "model")


def _model_build(r: _Reader, env_names: tuple[str, ...]) -> ModelBuildConfig:
    r.only(
        "environment",
        "processing_instance_type",
        "training_instance_type",
        "use_spot_training",
        "max_training_minutes",
        "model",
        "retraining",
    )
    environment = r.raw("environment")
    if environment not in env_names:
        raise _fail(r.key("environment"), environment, "one of the configured environments: " + ", ".join(env_names))
    return ModelBuildConfig(
        environment=environment,
        processing_instance_type=_job_instance_type(r, "processing_instance_type"),
        training_instance_type=_job_instance_type(r, "training_instance_type"),
        use_spot_training=r.boolean("use_spot_training", True),
        max_training_minutes=r.integer("max_training_minutes", 1, 5 * 24 * 60, 60, " minutes"),
        model=_model(r, "model"),
        retraining=_retraining(r.child("retraining")),
    )


def _rollout(r: _Reader, instance_count: int, count_key: str) -> RolloutConfig:
    r.only(
        "type",
        "canary_size_percent",
        "linear_step_percent",
        "wait_interval_minutes",
        "termination_wait_minutes",
        "max_execution_timeout_minutes",
        "rolling_batch_type",
        "rolling_batch_size",
        "rollback_batch_size",
    )
    kind = r.choice("type", RolloutType)
    batch_type, batch_size, rollback_batch_size = _rolling_batches(r, kind, instance_count, count_key)
    rollout = RolloutConfig(
        type=kind,
        # SageMaker: canary <= 50% of the variant's instances; linear step 10-50%.
        canary_size_percent=r.integer("canary_size_percent", 1, 50, 50, " percent"),
        linear_step_percent=r.integer("linear_step_percent", 10, 50, 25, " percent"),
        # SageMaker: WaitIntervalInSeconds and TerminationWaitInSeconds 0-3600 s.
        wait_interval_minutes=r.integer("wait_interval_minutes", 0, 60, 5, " minutes"),
        termination_wait_minutes=r.integer("termination_wait_minutes", 0, 60, 5, " minutes"),
        # SageMaker: MaximumExecutionTimeoutInSeconds 600-28800 s.
        max_execution_timeout_minutes=r.integer("max_execution_timeout_minutes", 10, 480, 60, " minutes"),
        rolling_batch_type=batch_type,
        rolling_batch_size=batch_size,
        rollback_batch_size=rollback_batch_size,
    )
    bake = rollout.bake_minutes(instance_count)
    if bake > rollout.max_execution_timeout_minutes:
        parts = "wait intervals" if kind is RolloutType.ROLLING else "wait intervals and termination_wait_minutes"
        raise _fail(
            r.key("max_execution_timeout_minutes"),
            rollout.max_execution_timeout_minutes,
            f"at least {bake} minutes, the sum of the {kind.value} {parts} "
            f"({rollout.traffic_steps(instance_count)} x wait_interval_minutes), or the deployment times out "
            "before it can finish",
        )
    return rollout


def _rolling_batches(
    r: _Reader, kind: RolloutType, instance_count: int, count_key: str
) -> tuple[BatchSizeType, int, int | None]:
    """The rolling batch and rollback batch sizes, checked against the fleet they divide.

    RollingUpdatePolicy.MaximumBatchSize "must be between 5% to 50% of the variant's total
    instance count"; CapacitySize.Value is at least 1 (SageMaker API reference, botocore model).
    RollbackMaximumBatchSize has no documented upper bound beyond the whole old fleet.
    """
    if kind is not RolloutType.ALL_AT_ONCE and instance_count < 2:
        raise ConfigError(
            f"Invalid config '{r.key('type')}': got {kind.value!r} with {count_key}={instance_count}; "
            "allowed: ALL_AT_ONCE, or at least 2 instances, because SageMaker requires each canary, linear "
            "step or rolling batch to be at most 50% of the variant's instances."
        )
    batch_type = r.choice("rolling_batch_type", BatchSizeType, BatchSizeType.CAPACITY_PERCENT.value)
    if batch_type is BatchSizeType.CAPACITY_PERCENT:
        size = r.integer("rolling_batch_size", 5, 50, 25, " percent of the instances")
        rollback = r.raw("rollback_batch_size", None)
        if rollback is not None:
            rollback = r.integer("rollback_batch_size", 1, 100, None, " percent of the instances, or null")
        return batch_type, size, rollback
    # The fleet bounds apply only to a rolling deployment; elsewhere the key is unused.
    low, high = (math.ceil(instance_count / 20), instance_count // 2) if kind is RolloutType.ROLLING else (1, 100)
    share = f", 5% to 50% of {count_key}={instance_count}" if kind is RolloutType.ROLLING else ""
    size = r.integer("rolling_batch_size", low, high, low, f" instances{share}")
    rollback = r.raw("rollback_batch_size", None)
    if rollback is not None:
        rollback = r.integer("rollback_batch_size", 1, instance_count, None, f" instances ({count_key}), or null")
    return batch_type, size, rollback


def _alarms(r: _Reader) -> AlarmConfig:
    r.only(
        "period_seconds",
        "evaluation_periods",
        "datapoints_to_alarm",
        "max_5xx_rate_percent",
        "max_model_error_rate_percent",
        "max_4xx_rate_percent",
        "min_invocations",
        "p99_latency_ms",
    )
    period = r.raw("period_seconds", ALARM_PERIOD_SECONDS)
    if period != ALARM_PERIOD_SECONDS or isinstance(period, bool):
        raise _fail(
            r.key("period_seconds"),
            period,
            f"{ALARM_PERIOD_SECONDS}, the interval at which SageMaker publishes invocation metrics",
        )
    evaluation_periods = r.integer("evaluation_periods", 1, _MAX_EVALUATION_SECONDS // period, 2)
    datapoints = r.integer("datapoints_to_alarm", 1, evaluation_periods, evaluation_periods)
    return AlarmConfig(
        period_seconds=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints,
        max_5xx_rate_percent=r.number("max_5xx_rate_percent", 0.1, 100.0, 1.0),
        max_model_error_rate_percent=r.number("max_model_error_rate_percent", 0.1, 100.0, 1.0),
        max_4xx_rate_percent=r.number("max_4xx_rate_percent", 0.1, 100.0, 10.0),
        min_invocations=r.integer("min_invocations", 1, 1_000_000, 10),
        p99_latency_ms=r.integer("p99_latency_ms", 1, 600_000, 500, " ms"),
    )


def _check_bakes(r: _Reader, rollout: RolloutConfig, alarms: AlarmConfig) -> None:
    """Every baking period outlasts the alarms' worst-case detection, so an alarm can fire in time.

    SageMaker watches the alarms during each wait interval of CANARY/LINEAR and during the
    termination wait, and during the wait interval after each ROLLING batch (which has no
    termination wait); an alarm that needs longer than a bake lets traffic move on first.
    """
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
            raise _fail(r.child("rollout").key(name), minutes, f"at least {detection // 60 + 1} minutes: {why}")


def _check_interval_minutes(r: _Reader, schedule: str) -> int:
    """Minutes between scheduled drift checks, which the "drift check not running" alarm must cover."""
    allowed = f"a whole number from 1 to {_MAX_CHECK_INTERVAL_HOURS} hours"
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", schedule)
    if rate is None:
        hours = r.raw("max_hours_between_checks", None)
        if hours is None:
            raise _fail(r.key("max_hours_between_checks"), hours, f"{allowed} (needed with a cron() schedule)")
        return 60 * r.integer("max_hours_between_checks", 1, _MAX_CHECK_INTERVAL_HOURS, unit=" hours")
    minutes = int(rate.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[rate.group(2)]
    if not 1 <= minutes <= 60 * _MAX_CHECK_INTERVAL_HOURS:
        allowed = f"a schedule that checks at least every {_MAX_CHECK_INTERVAL_HOURS} hours"
        raise _fail(r.key("schedule"), schedule, allowed)
    return minutes


def _drift(r: _Reader) -> DriftConfig:
    r.only(
        "schedule",
        "window_hours",
        "threshold",
        "use_model_monitor",
        "model_monitor_features",
        "max_rejected_fraction",
        "max_hours_between_checks",
    )
    schedule = r.string("schedule", _SCHEDULE, "rate(N minutes|hours|days) or cron(6 fields)", "rate(1 hour)")
    drift = DriftConfig(
        schedule=schedule,
        window_hours=r.integer("window_hours", 1, 168, 1, " hours"),
        threshold=r.number("threshold", 0.0, 10.0, 0.2),
        use_model_monitor=r.boolean("use_model_monitor", False),
        check_interval_minutes=_check_interval_minutes(r, schedule),
        max_rejected_fraction=r.number("max_rejected_fraction", 0.0, 0.99, 0.05),
    )
    if not drift.use_model_monitor:
        return drift
    features = r.raw("model_monitor_features", [])
    if (
        not isinstance(features, list)
        or not 1 <= len(features) <= 10
        or not all(isinstance(f, str) and _FEATURE.match(f) for f in features)
    ):
        raise _fail(
            r.key("model_monitor_features"),
            features,
            "1 to 10 feature names (the drift alarm's metrics) when use_model_monitor is true",
        )
    if "minute" in drift.schedule:
        raise _fail(r.key("schedule"), drift.schedule, "an hourly or daily schedule when use_model_monitor is true")
    return DriftConfig(**{**drift.__dict__, "model_monitor_features": tuple(features)})


def _release(name: str, context_release: Any, releases_dir: Path) -> Release | None:
    """A release comes from `-c release.<env>=<arn>` or from releases/<env>.json (resolve-release)."""
    key = f"release.{name}"
    if context_release:
        if not isinstance(context_release, str) or not _PACKAGE_ARN.match(context_release):
            raise _fail(key, context_release, "a model package version ARN")
        return Release(context_release)
    path = releases_dir / f"{name}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"Invalid release file '{path}': {error}.") from error
    r = _Reader(data, str(path))
    r.only("model_package_arn", "baseline_statistics_uri", "baseline_constraints_uri", "image_uri")
    image_uri = r.raw("image_uri", None)
    if image_uri is not None and (not isinstance(image_uri, str) or parse_ecr_image(image_uri) is None):
        raise _fail(r.key("image_uri"), image_uri, f"an Amazon ECR image URI: {ECR_IMAGE_FORMAT}")
    return Release(
        model_package_arn=r.string("model_package_arn", _PACKAGE_ARN, "a model package version ARN"),
        baseline_statistics_uri=r.optional_string("baseline_statistics_uri", _S3_URI, "an s3:// URI"),
        baseline_constraints_uri=r.optional_string("baseline_constraints_uri", _S3_URI, "an s3:// URI"),
        image_uri=image_uri,
    )


# Application Auto Scaling cooldowns are seconds; a day is far beyond any useful SageMaker cooldown.
_MAX_COOLDOWN_SECONDS = 86_400


def _autoscaling(r: _Reader, production: bool, instance_count: int, count_key: str) -> AutoscalingConfig:
    """On by default in production environments; the endpoint's instance_count must lie in [min, max]."""
    r.only(
        "enabled",
        "min_instances",
        "max_instances",
        "target_invocations_per_instance",
        "scale_in_cooldown_seconds",
        "scale_out_cooldown_seconds",
    )
    enabled = r.boolean("enabled", production)
    min_instances = r.integer("min_instances", 1, 100, instance_count)
    autoscaling = AutoscalingConfig(
        enabled=enabled,
        min_instances=min_instances,
        max_instances=r.integer("max_instances", min_instances, 100, min(100, 2 * max(instance_count, min_instances))),
        target_invocations_per_instance=r.number("target_invocations_per_instance", 1.0, 1_000_000.0, 70.0),
        scale_in_cooldown_seconds=r.integer("scale_in_cooldown_seconds", 0, _MAX_COOLDOWN_SECONDS, 300, " seconds"),
        scale_out_cooldown_seconds=r.integer("scale_out_cooldown_seconds", 0, _MAX_COOLDOWN_SECONDS, 60, " seconds"),
    )
    if enabled and not autoscaling.min_instances <= instance_count <= autoscaling.max_instances:
        raise _fail(
            count_key,
            instance_count,
            f"a count from {r.key('min_instances')}={autoscaling.min_instances} to "
            f"{r.key('max_instances')}={autoscaling.max_instances} while autoscaling is enabled (a new endpoint "
            "starts with it and autoscaling would move it into that range at once)",
        )
    return autoscaling


def _endpoint(r: _Reader, production: bool) -> EndpointConfig:
    r.only("instance_type", "instance_count", "data_capture_percent", "autoscaling")
    instance_count = r.integer("instance_count", 1, 100, 2)
    endpoint = EndpointConfig(
        instance_type=r.string("instance_type", _INSTANCE, "an ml.* instance type"),
        instance_count=instance_count,
        data_capture_percent=r.integer("data_capture_percent", 1, 100, 100, " percent"),
        autoscaling=_autoscaling(r.child("autoscaling"), production, instance_count, r.key("instance_count")),
    )
    if instance_family(endpoint.instance_type) in _GUARDRAIL_EXCLUDED_FAMILIES:
        raise _fail(
            r.key("instance_type"),
            endpoint.instance_type,
            "an instance type that deployment guardrails support (not Inf1: SageMaker would update it all "
            "at once with no baking period, so no alarm could roll it back), e.g. ml.inf2.xlarge",
        )
    return endpoint


def _environment(name: str, r: _Reader, releases: Mapping[str, Any], releases_dir: Path) -> EnvironmentConfig:
    if not _ENV_NAME.match(name):
        raise _fail(r.path, name, "a lower-case name of letters and digits, at most 16 characters")
    r.only(
        "account",
        "region",
        "production",
        "approval",
        "removal_policy",
        "notification_emails",
        "endpoint",
        "rollout",
        "alarms",
        "drift",
        "shadow",
    )
    production = r.boolean("production", name == "prod")
    approval = r.choice("approval", ApprovalMode, "manual")
    if production and approval is ApprovalMode.AUTO:
        raise _fail(r.key("approval"), approval.value, "manual in a production environment")
    removal = r.choice("removal_policy", RemovalMode, "retain")
    if production and removal is RemovalMode.DESTROY:
        raise _fail(r.key("removal_policy"), removal.value, "retain in a production environment")
    emails = r.raw("notification_emails", [])
    if not isinstance(emails, list) or not all(isinstance(e, str) and _EMAIL.match(e) for e in emails):
        raise _fail(r.key("notification_emails"), emails, "a list of e-mail addresses")
    endpoint = _endpoint(r.child("endpoint"), production)
    drift = _drift(r.child("drift"))
    release = _release(name, releases.get(name), releases_dir)
    if (
        drift.use_model_monitor
        and release
        and not (release.baseline_statistics_uri and release.baseline_constraints_uri)
    ):
        raise _fail(
            r.child("drift").key("use_model_monitor"),
            True,
            f"only with a release file releases/{name}.json that names baseline_statistics_uri and "
            "baseline_constraints_uri (Model Monitor needs both; `-c release.<env>=<arn>` gives neither)",
        )
    # A deployment can start when autoscaling has shrunk the fleet to its minimum: the canary and
    # linear-step rules must hold for that fleet, not only for the configured starting count.
    count_key = (
        r.child("endpoint").child("autoscaling").key("min_instances")
        if endpoint.autoscaling.enabled
        else r.child("endpoint").key("instance_count")
    )
    rollout = _rollout(r.child("rollout"), endpoint.fewest_instances, count_key)
    alarms = _alarms(r.child("alarms"))
    _check_bakes(r, rollout, alarms)
    shadow = _shadow(r.child("shadow"))
    # "Rolling deployments ... not supported: endpoints with multiple production variants, including
    # shadow variants" (SageMaker developer guide, deployment guardrails, "Exclusions").
    if shadow.enabled and rollout.type is RolloutType.ROLLING:
        raise _fail(
            r.child("shadow").key("enabled"),
            True,
            "false while rollout.type is ROLLING: SageMaker does not roll endpoints that have a shadow variant",
        )
    return EnvironmentConfig(
        name=name,
        account=r.string("account", _ACCOUNT, "a 12-digit AWS account id"),
        region=r.string("region", _REGION, "an AWS region such as eu-west-1"),
        production=production,
        approval=approval,
        removal_policy=removal,
        notification_emails=tuple(emails),
        endpoint=endpoint,
        rollout=rollout,
        alarms=alarms,
        drift=drift,
        release=release,
        shadow=shadow,
    )


def _shadow(r: _Reader) -> ShadowConfig:
    r.only(
        "enabled",
        "sampling_percent",
        "duration_minutes",
        "max_error_rate_increase_percent",
        "max_p99_latency_increase_ms",
        "max_disagreement_percent",
        "min_compared_requests",
    )
    d = ShadowConfig()
    return ShadowConfig(
        enabled=r.boolean("enabled", d.enabled),
        # ShadowModelVariantConfig.SamplingPercentage: at most 100 (SageMaker API reference).
        sampling_percent=r.integer("sampling_percent", 1, 100, d.sampling_percent, " percent"),
        # The pipeline step's CodeBuild timeout covers this plus two endpoint updates.
        duration_minutes=r.integer("duration_minutes", 10, 360, d.duration_minutes, " minutes"),
        max_error_rate_increase_percent=r.number(
            "max_error_rate_increase_percent", 0.0, 100.0, d.max_error_rate_increase_percent
        ),
        max_p99_latency_increase_ms=r.integer("max_p99_latency_increase_ms", 0, 60_000, d.max_p99_latency_increase_ms),
        max_disagreement_percent=r.number("max_disagreement_percent", 0.0, 100.0, d.max_disagreement_percent),
        min_compared_requests=r.integer("min_compared_requests", 1, 1_000_000, d.min_compared_requests),
    )


def _parse_override(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def apply_overrides(base: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Returns `base` with every `mlops.a.b.c` context key applied as a single-value override."""
    merged: dict[str, Any] = json.loads(json.dumps(base))
    prefix = CONTEXT_KEY + "."
    for dotted, value in sorted(context.items()):
        if not dotted.startswith(prefix):
            continue
        parts = dotted[len(prefix) :].split(".")
        node = merged
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise _fail(dotted, value, f"a path through objects, but '{part}' is not an object")
        # A string setting stays a string ("-c ...account=123456789012" is not a number).
        keep_string = isinstance(node.get(parts[-1]), str)
        node[parts[-1]] = value if keep_string else _parse_override(value)
    return merged


def load(context: Mapping[str, Any], releases_dir: Path = RELEASES_DIR) -> AppConfig:
    """Builds the validated config from CDK context (cdk.json plus `-c` overrides)."""
    raw = context.get(CONTEXT_KEY)
    if isinstance(raw, str):
        raw = _parse_override(raw)
    if raw is None:
        raise ConfigError(f"Missing config: cdk.json has no '{CONTEXT_KEY}' context.")
    raw = apply_overrides(raw, context)
    r = _Reader(raw, CONTEXT_KEY)
    r.only(
        "project_name", "retained_names", "toolchain", "source", "model_build", "environments", "operator_principals"
    )

    envs_raw = r.raw("environments")
    if not isinstance(envs_raw, Mapping) or not envs_raw:
        raise _fail(r.key("environments"), envs_raw, "at least one environment, e.g. dev, staging, prod")
    releases = {k[len("release.") :]: v for k, v in context.items() if k.startswith("release.")}
    unknown = sorted(set(releases) - set(envs_raw))
    if unknown:
        raise _fail(f"release.{unknown[0]}", releases[unknown[0]], "release.<env> for: " + ", ".join(envs_raw))
    environments = tuple(
        _environment(name, r.child("environments").child(name), releases, releases_dir) for name in envs_raw
    )
    env_names = tuple(envs_raw)

    project = r.string("project_name", _PROJECT, "3-32 lower-case letters, digits and hyphens")
    _check_physical_names(project, env_names, r.key("project_name"))
    toolchain = r.child("toolchain")
    toolchain.only("account", "region", "notification_emails")
    settings = AppConfig(
        project_name=project,
        toolchain=ToolchainConfig(
            account=toolchain.string("account", _ACCOUNT, "a 12-digit AWS account id"),
            region=toolchain.string("region", _REGION, "an AWS region such as eu-west-1"),
            notification_emails=_emails(toolchain, "notification_emails"),
        ),
        source=_source(r.child("source")),
        model_build=_model_build(r.child("model_build"), env_names),
        environments=environments,
        operator_principals=_role_arns(r, "operator_principals"),
    )
    _check_retained_names(r, settings)
    _check_shadow_task(r.child("environments"), settings)
    _check_regions(r.child("environments"), settings)
    for env in settings.environments:
        if env.release:
            source = (
                f"release.{env.name}" if releases.get(env.name) else f"{releases_dir / env.name}.json.model_package_arn"
            )
            _check_release(source, env.release, settings)
    return settings


def _check_shadow_task(r: _Reader, settings: AppConfig) -> None:
    """The shadow test compares the labels of binary probabilities (mlopsctl/shadow_compare.py)."""
    task = settings.model_build.model.task_type
    if task is TaskType.BINARY_CLASSIFICATION:
        return
    for env in settings.environments:
        if env.shadow.enabled:
            raise _fail(
                r.child(env.name).child("shadow").key("enabled"),
                True,
                f"false while model_build.model.task_type is {task.value}: the shadow test compares "
                "binary labels (a probability cut at 0.5)",
            )


def _check_retained_names(r: _Reader, settings: AppConfig) -> None:
    """Refuses a rename that would silently orphan the retained registry and known-good ledgers.

    The model package group (named after the project, in the model-build environment) and each
    environment's ledger parameter (/<project>/<env>/known-good) are retained and physically
    named. Renaming the project or moving the model build creates new, empty ones and leaves
    the old ones behind, so it needs an explicit `retained_names.migrate_to` naming the target.
    """
    retained = r.child("retained_names")
    retained.only("project_name", "model_build_environment", "migrate_to")
    migrate_to = retained.child("migrate_to")
    migrate_to.only("project_name", "model_build_environment")
    current = {
        "project_name": (settings.project_name, r.key("project_name")),
        "model_build_environment": (settings.model_build.environment, r.child("model_build").key("environment")),
    }
    for name, (value, key) in current.items():
        created_with = retained.raw(name)
        if value in (created_with, migrate_to.raw(name, None)):
            continue
        if name == "project_name":
            what = f"the retained model package group {created_with!r} and ledgers /{created_with}/<env>/known-good"
        else:
            what = f"the retained model package group {settings.project_name!r} in that environment's account"
        raise _fail(
            key,
            value,
            f"{created_with!r} ({retained.key(name)}), the name {what} were created with; to leave them behind and "
            f"start new, empty ones, set {migrate_to.key(name)} to {value!r} (README: Renaming)",
        )


def _check_regions(r: _Reader, settings: AppConfig) -> None:
    """Every environment serves in the model-build region, which has the images the model names.

    Serving reads the registry and the model artifacts of the model-build environment, which
    are not copied across regions; SageMaker runs only images of a job's or endpoint's own
    region, so an ECR image must be in that region and a framework image must be published
    there (per region in the checked-in map; a framework image missing from the map fails synth
    in the model-build construct, naming `make pipeline-definitions`, which resolves it).
    """
    from pipeline_steps.drift_check_pipeline import IMAGES_FILE as DRIFT_IMAGES
    from pipeline_steps.model_build_pipeline import FRAMEWORK_IMAGES_FILE

    build = settings.build_environment
    # Absent only before the first `make pipeline-definitions`, which writes it.
    framework_images = json.loads(FRAMEWORK_IMAGES_FILE.read_text()) if FRAMEWORK_IMAGES_FILE.exists() else {}
    model_key = f"{CONTEXT_KEY}.model_build.model.images"
    for role, image in settings.model_build.model.images.by_role().items():
        ecr = parse_ecr_image(image.uri) if image.uri else None
        if ecr is not None and ecr.region != build.region:
            raise _fail(
                f"{model_key}.{role}.uri",
                image.uri,
                f"an image in {build.region!r}, the region of the model-build environment {build.name!r} "
                "(SageMaker pulls images from its own region only)",
            )
        scope = "inference" if role == "inference" else "training"
        regions = framework_images.get(image.framework, {}).get(image.version, {}).get(scope, {})
        if regions and build.region not in regions:
            raise _fail(
                r.child(build.name).key("region"),
                build.region,
                f"a region where SageMaker publishes the {role} image {image.label} "
                f"({FRAMEWORK_IMAGES_FILE.name}): {', '.join(sorted(regions))}",
            )
    drift_images = json.loads(DRIFT_IMAGES.read_text())
    for env in settings.environments:
        if env.region != build.region:
            raise _fail(
                r.child(env.name).key("region"),
                env.region,
                f"{build.region!r}, the region of the model-build environment {build.name!r}: the registry and "
                "model artifacts are not copied across regions",
            )
        kind = "model-monitor" if env.drift.use_model_monitor else "sklearn"
        if env.region not in drift_images[kind]:
            raise _fail(
                r.child(env.name).key("region"),
                env.region,
                f"a region with a pinned {kind} image in {DRIFT_IMAGES.name}: {', '.join(sorted(drift_images[kind]))}",
            )


def _check_release(key: str, release: Release, settings: AppConfig) -> None:
    """A release must be a version of this project's registry group, in the model-build account and region."""
    build = settings.build_environment
    group = settings.names.model_package_group
    actual = (release.registry_region, release.registry_account, release.package_arn_pattern.split("/")[-2])
    if actual != (build.region, build.account, group):
        raise _fail(
            key,
            release.model_package_arn,
            f"a version of model package group {group!r} in account {build.account}, region {build.region} "
            f"(the model-build environment {build.name!r}): "
            f"arn:aws:sagemaker:{build.region}:{build.account}:model-package/{group}/<version>",
        )


def load_cdk_json(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> AppConfig:
    """Reads cdk.json directly (for scripts and the operator CLI, which run outside `cdk`)."""
    path = path or Path(__file__).resolve().parent / "cdk.json"
    context = dict(json.loads(path.read_text())["context"])
    context.update(overrides or {})
    return load(context)
