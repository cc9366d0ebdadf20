"""Typed, validated settings for the whole app, read once from cdk.json context.

Everything the stacks need comes from here, so a bad value fails `cdk synth` with one
message that names the key, the value and what is allowed, instead of failing at deploy
time in some account. No CDK imports: the operator CLI and scripts read the same config.

One module per section holds its shape (pydantic models with AWS's limits, on schema.py's base):
toolchain.py, endpoint.py, rollout.py, alarms.py, drift.py, shadow.py, network.py, release.py,
environment.py (one environment, checked across its sections) and app_config.py (the whole
config, checked across environments). fields.py holds the kinds of setting, instances.py what
an instance type's name tells, names.py the physical names, ecr_images.py what an ECR image URI
names, model_build.py the model_build section (read by reader.py's `_Reader`), data_contract.py
its data contract, loading.py the reading (overrides, release files, the one-line errors),
errors.py the error and its format.
"""

from config.alarms import ALARM_PERIOD_SECONDS, CLOUDWATCH_DELAY_SECONDS, AlarmConfig
from config.app_config import AppConfig
from config.data_contract import CsvFormat, DataContract, Feature, FeatureKind
from config.drift import DRIFT_ALARM_PERIOD_HOURS, DRIFT_ROWS_PER_INSTANCE, MODEL_MONITOR_NAMESPACE, DriftConfig
from config.ecr_images import ECR_IMAGE_FORMAT, EcrImage, parse_ecr_image
from config.endpoint import AutoscalingConfig, EndpointConfig
from config.environment import ApprovalMode, EnvironmentConfig, RemovalMode
from config.errors import CONTEXT_KEY, SETTINGS_FILE_KEY, ConfigError
from config.instances import has_instance_storage, instance_family
from config.loading import (
    CDK_JSON,
    RELEASES_DIR,
    apply_overrides,
    load,
    load_cdk_json,
    read_cdk_json,
    settings_source,
)
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
from config.network import (
    MAX_SECURITY_GROUPS,
    MAX_SUBNETS,
    MIN_ENDPOINT_SUBNETS,
    MODEL_BUILD_JOB_STEPS,
    VPC_ENDPOINT_SERVICES,
    NetworkConfig,
    NetworkIsolation,
    VpcSettings,
)
from config.release import Release
from config.rollout import BatchSizeType, RolloutConfig, RolloutType
from config.schema import AwsTarget
from config.shadow import ShadowBudget, ShadowConfig
from config.toolchain import SourceConfig, SourceKind, ToolchainConfig

__all__ = [
    "ALARM_PERIOD_SECONDS",
    "CDK_JSON",
    "CLOUDWATCH_DELAY_SECONDS",
    "CONTEXT_KEY",
    "DRIFT_ALARM_PERIOD_HOURS",
    "DRIFT_ROWS_PER_INSTANCE",
    "ECR_IMAGE_FORMAT",
    "GENERATED_NAME_MAX",
    "INFERENCE_SCRIPT",
    "MAX_SECURITY_GROUPS",
    "MAX_SUBNETS",
    "MIN_ENDPOINT_SUBNETS",
    "MODEL_BUILD_JOB_STEPS",
    "MODEL_FILE",
    "MODEL_MONITOR_NAMESPACE",
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
    "CsvFormat",
    "DataContract",
    "DriftConfig",
    "EcrImage",
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
    "parse_ecr_image",
    "read_cdk_json",
    "settings_source",
]
