"""Typed, validated settings for the whole app, read once from cdk.json context.

Everything the stacks need comes from here, so a bad value fails `cdk synth` with one
message that names the key, the value and what is allowed, instead of failing at deploy
time in some account. No CDK imports: the operator CLI and scripts read the same config.

schema.py holds the shape (pydantic models with AWS's limits), fields.py the kinds of
setting, instances.py what an instance type's name tells, names.py the physical names,
model_build.py the model_build section (read by reader.py's `_Reader`), loading.py the
reading (overrides, release files, the one-line errors), errors.py the error and its format.
"""

from config.errors import CONTEXT_KEY, SETTINGS_FILE_KEY, ConfigError
from config.instances import has_instance_storage, instance_family
from config.loading import RELEASES_DIR, apply_overrides, load, load_cdk_json, settings_source
from config.model_build import (
    INFERENCE_SCRIPT,
    MODEL_FILE,
    TASK_METRICS,
    TOOLKIT_HYPERPARAMETERS,
    ImageRef,
    MetricConfig,
    ModelBuildConfig,
    ModelConfig,
    ModelImages,
    RetrainingConfig,
    TaskType,
    load_model,
)
from config.names import RESERVED_PROJECT_PREFIXES, ResourceNames
from config.schema import (
    ALARM_PERIOD_SECONDS,
    CLOUDWATCH_DELAY_SECONDS,
    MAX_SECURITY_GROUPS,
    MAX_SUBNETS,
    MIN_ENDPOINT_SUBNETS,
    MODEL_BUILD_JOB_STEPS,
    VPC_ENDPOINT_SERVICES,
    AlarmConfig,
    AppConfig,
    ApprovalMode,
    AutoscalingConfig,
    AwsTarget,
    BatchSizeType,
    DriftConfig,
    EndpointConfig,
    EnvironmentConfig,
    NetworkConfig,
    NetworkIsolation,
    Release,
    RemovalMode,
    RolloutConfig,
    RolloutType,
    ShadowConfig,
    SourceConfig,
    SourceKind,
    ToolchainConfig,
    VpcSettings,
)

__all__ = [
    "ALARM_PERIOD_SECONDS",
    "CLOUDWATCH_DELAY_SECONDS",
    "CONTEXT_KEY",
    "INFERENCE_SCRIPT",
    "MAX_SECURITY_GROUPS",
    "MAX_SUBNETS",
    "MIN_ENDPOINT_SUBNETS",
    "MODEL_BUILD_JOB_STEPS",
    "MODEL_FILE",
    "RELEASES_DIR",
    "RESERVED_PROJECT_PREFIXES",
    "SETTINGS_FILE_KEY",
    "TASK_METRICS",
    "TOOLKIT_HYPERPARAMETERS",
    "VPC_ENDPOINT_SERVICES",
    "AlarmConfig",
    "AppConfig",
    "ApprovalMode",
    "AutoscalingConfig",
    "AwsTarget",
    "BatchSizeType",
    "ConfigError",
    "DriftConfig",
    "EndpointConfig",
    "EnvironmentConfig",
    "ImageRef",
    "MetricConfig",
    "ModelBuildConfig",
    "ModelConfig",
    "ModelImages",
    "NetworkConfig",
    "NetworkIsolation",
    "Release",
    "RemovalMode",
    "ResourceNames",
    "RetrainingConfig",
    "RolloutConfig",
    "RolloutType",
    "ShadowConfig",
    "SourceConfig",
    "SourceKind",
    "TaskType",
    "ToolchainConfig",
    "VpcSettings",
    "apply_overrides",
    "has_instance_storage",
    "instance_family",
    "load",
    "load_cdk_json",
    "load_model",
    "settings_source",
]
