"""Typed, validated settings for the whole app, read once from cdk.json context.

Everything the stacks need comes from here, so a bad value fails `cdk synth` with one
message that names the key, the value and what is allowed, instead of failing at deploy
time in some account. No CDK imports: the operator CLI and scripts read the same config.

schema.py holds the shape (pydantic models with AWS's limits), fields.py the kinds of
setting, instances.py what an instance type's name tells, names.py the physical names,
model_build.py the model_build section (read by reader.py's `_Reader`), data_contract.py its data
contract, loading.py the
reading (overrides, release files, the one-line errors), errors.py the error and its format.
"""

from config.data_contract import CsvFormat, DataContract, Feature, FeatureKind
from config.errors import CONTEXT_KEY, ConfigError
from config.instances import has_instance_storage, instance_family
from config.loading import CDK_JSON, RELEASES_DIR, apply_overrides, load, load_cdk_json, read_cdk_json
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
from config.names import GENERATED_NAME_MAX, RESERVED_PROJECT_PREFIXES, Generated, ResourceNames
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
    ShadowBudget,
    ShadowConfig,
    SourceConfig,
    SourceKind,
    ToolchainConfig,
    VpcSettings,
)

__all__ = [
    "ALARM_PERIOD_SECONDS",
    "CDK_JSON",
    "CLOUDWATCH_DELAY_SECONDS",
    "CONTEXT_KEY",
    "GENERATED_NAME_MAX",
    "INFERENCE_SCRIPT",
    "MAX_SECURITY_GROUPS",
    "MAX_SUBNETS",
    "MIN_ENDPOINT_SUBNETS",
    "MODEL_BUILD_JOB_STEPS",
    "MODEL_FILE",
    "RELEASES_DIR",
    "RESERVED_PROJECT_PREFIXES",
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
    "CsvFormat",
    "DataContract",
    "DriftConfig",
    "EndpointConfig",
    "EnvironmentConfig",
    "Feature",
    "FeatureKind",
    "Generated",
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
    "ShadowBudget",
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
    "read_cdk_json",
]
