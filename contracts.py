"""Names that two layers share, stated once: S3 layout, events, statuses, parameters, metrics.

Whoever writes a name and whoever reads it import it from here: the constructs (IAM scopes,
event patterns, alarms), the pipeline builders (the definitions they generate), the
start-retraining function (its construct bundles this file into the function's asset), and
the operator CLI. So this module imports nothing but the standard library: no CDK, no
SageMaker SDK, no boto3 (tests/test_contracts.py keeps it so).

Names that depend on the project or the environment (bucket, pipeline and alarm names) are
configuration, in config.ResourceNames. The step scripts that run in SageMaker containers ship
as single files, so the few names they publish are copied there, and a test keeps each copy
equal to its statement here.
"""

from __future__ import annotations

from typing import NamedTuple

# --- S3: the model-building environment's artifacts bucket -------------------------------
# Trained model artifacts (model.tar.gz per training job). Serving accounts read this prefix,
# and only this one, across accounts.
MODEL_ARTIFACTS_PREFIX = "models/"
# Everything a model-building execution writes: <prefix><execution>/<step>/<output>/.
PIPELINE_OUTPUT_PREFIX = "pipelines/model-build/"
# The Baseline step's output: statistics.json and constraints.json, registered with each version.
BASELINE_OUTPUT = "baseline"
# The registered baselines, never the training splits beside them: what drift checks may read.
REGISTERED_BASELINES_PATTERN = f"{PIPELINE_OUTPUT_PREFIX}*/{BASELINE_OUTPUT}/*"
# The Evaluate step's report (candidate vs champion), which operators read.
EVALUATION_REPORTS_PATTERN = f"{PIPELINE_OUTPUT_PREFIX}*/evaluate/evaluation/*"
# The Preprocess step's sample payload: held-out request rows registered with each version
# (CreateModelPackage SamplePayloadUrl), which the smoke test sends; serving accounts read them.
SAMPLE_PAYLOAD_OUTPUT = "sample"
SAMPLE_PAYLOAD_ARCHIVE = "payload.tar.gz"
SAMPLE_PAYLOADS_PATTERN = f"{PIPELINE_OUTPUT_PREFIX}*/preprocess/{SAMPLE_PAYLOAD_OUTPUT}/*"
# The data contract beside each split the Preprocess step writes (the training script reads it).
DATA_CONTRACT_FILE = "data_contract.json"
# The manifest each run reads its raw data through, written by the start-retraining function.
INPUT_MANIFESTS_PREFIX = "input-manifests/"
# The raw data objects a manifest lists: what preprocess.py reads.
RAW_DATA_SUFFIX = ".csv"


def data_capture_prefix(env: str) -> str:
    """Where `env`'s endpoint captures requests and responses (in that environment's bucket)."""
    return f"data-capture/{env}/"


def drift_reports_prefix(env: str) -> str:
    """Where `env`'s drift check writes its reports and the window counts behind them."""
    return f"drift-reports/{env}/"


# --- EventBridge ----------------------------------------------------------------------------
class EventKind(NamedTuple):
    """An event's `source` and `detail-type`, as its publisher sends them."""

    source: str
    detail_type: str


# Published by AWS (EventBridge user guide, "Events from AWS services").
SCHEDULED_EVENT = EventKind("aws.events", "Scheduled Event")
OBJECT_CREATED = EventKind("aws.s3", "Object Created")
ALARM_STATE_CHANGE = EventKind("aws.cloudwatch", "CloudWatch Alarm State Change")
MODEL_PACKAGE_STATE_CHANGE = EventKind("aws.sagemaker", "SageMaker Model Package State Change")
PIPELINE_EXECUTION_STATUS_CHANGE = EventKind(
    "aws.sagemaker", "SageMaker Model Building Pipeline Execution Status Change"
)

# The manual retraining request (`mlopsctl retrain`), a custom event; its source is the
# project's (config.ResourceNames.manual_retraining_source). A request is far below
# EventBridge's 256 KB per PutEvents entry, so only these two limits matter.
RETRAINING_REQUESTED = "Retraining Requested"
RETRAINING_REASON_MAX_LENGTH = 512
RETRAINING_REQUESTED_BY_MAX_LENGTH = 128

# --- Model registry -------------------------------------------------------------------------
# ModelApprovalStatus values (SageMaker API Reference, CreateModelPackage).
APPROVED = "Approved"
PENDING_MANUAL_APPROVAL = "PendingManualApproval"
REJECTED = "Rejected"

# CustomerMetadataProperties the model-building pipeline stores on every version.
METADATA_TRIGGER_REASON = "trigger_reason"
METADATA_METRIC_NAME = "metric_name"
METADATA_METRIC_VALUE = "metric_value"
METADATA_CHAMPION_ARN = "champion_model_package_arn"
METADATA_CHAMPION_METRIC_VALUE = "champion_metric_value"
METADATA_METRIC_DELTA = "metric_delta"
METADATA_PIPELINE_EXECUTION_ARN = "pipeline_execution_arn"
# How the champion was compared: scored on the candidate's test split by its own code, or on
# the metric stored with it (after a change of framework image or task type).
METADATA_COMPARISON_BASIS = "comparison_basis"
METADATA_METRIC_HIGHER_IS_BETTER = "metric_higher_is_better"
METADATA_TASK_TYPE = "task_type"
# How many classes the data contract names ("none" for regression): the smoke test checks answers by it.
METADATA_CLASS_COUNT = "class_count"


def image_metadata_key(role: str) -> str:
    """The metadata key recording a version's processing, training or inference image."""
    return f"{role}_image"


# --- The model-building pipeline ------------------------------------------------------------
# Parameters the start-retraining function passes on every start.
INPUT_MANIFEST_PARAMETER = "InputManifestUri"
TRIGGER_REASON_PARAMETER = "TriggerReason"
CHAMPION_MODEL_URI_PARAMETER = "ChampionModelUri"
CHAMPION_ARN_PARAMETER = "ChampionModelPackageArn"
APPROVAL_STATUS_PARAMETER = "ModelApprovalStatus"
# The champion's evaluation.json (its ModelMetrics): what it is compared on after a framework change.
CHAMPION_EVALUATION_URI_PARAMETER = "ChampionEvaluationUri"

# Its step scripts (pipeline_steps/scripts/<name>.py), each a CDK file asset of the construct; the
# training script is the model's own (model_build.model.entry_point in its source_dir).
STEP_SCRIPTS = ("preprocess", "evaluate", "baseline")

# Fn::Sub variables of the checked-in definition that the construct fills (besides the
# AWS::Partition, AWS::AccountId and AWS::Region pseudo parameters).
ROLE_NAME_VARIABLE = "PipelineRoleName"
ARTIFACTS_BUCKET_VARIABLE = "ArtifactsBucket"
KMS_KEY_ARN_VARIABLE = "KmsKeyArn"
PROCESSING_IMAGE_URI_VARIABLE = "ProcessingImageUri"
TRAINING_IMAGE_URI_VARIABLE = "TrainingImageUri"
INFERENCE_IMAGE_URI_VARIABLE = "InferenceImageUri"
IMAGE_URI_VARIABLES = {
    "processing": PROCESSING_IMAGE_URI_VARIABLE,
    "training": TRAINING_IMAGE_URI_VARIABLE,
    "inference": INFERENCE_IMAGE_URI_VARIABLE,
}
MODEL_PACKAGE_GROUP_VARIABLE = "ModelPackageGroupName"
CODE_BUCKET_VARIABLE = "CodeAssetBucket"
# The model's source directory, a tar.gz file asset (the training toolkit extracts it with `r:gz`).
MODEL_SOURCE_KEY_VARIABLE = "ModelSourceKey"
# The data contract (config model_build.model.data) as the steps read it, a JSON file asset.
DATA_CONTRACT_KEY_VARIABLE = "DataContractKey"


def code_key_variable(script: str) -> str:
    """The Fn::Sub variable holding the object key of a step script's file asset (a flat `<hash>.py`)."""
    return f"{script.capitalize()}CodeKey"


# --- The drift-check pipeline ---------------------------------------------------------------
# Parameters the schedule passes on each start (StartPipelineExecution).
DRIFT_MODEL_PACKAGE_PARAMETER = "ModelPackageArn"
DRIFT_BASELINE_PARAMETER = "BaselineStatisticsUri"
DRIFT_WINDOW_PARAMETER = "WindowHours"
DRIFT_END_TIME_PARAMETER = "EndTime"
# How many processing instances count the window's capture objects (config drift.instances).
DRIFT_INSTANCE_COUNT_PARAMETER = "InstanceCount"

# --- CloudWatch metrics ---------------------------------------------------------------------
# What the drift check publishes to the project's drift namespace (copied in drift_check.py).
DRIFT_PSI_METRIC = "PSI"
DRIFT_ROWS_READ_METRIC = "RowsRead"
DRIFT_ROWS_ACCEPTED_METRIC = "RowsAccepted"
DRIFT_ROWS_REJECTED_METRIC = "RowsRejected"
DRIFT_REJECTED_FRACTION_METRIC = "RejectedRowFraction"
# Features flagged (the drift alarm's metric), and features the run could not judge (too few rows).
DRIFT_DRIFTED_FEATURES_METRIC = "DriftedFeatures"
DRIFT_UNCHECKED_FEATURES_METRIC = "UncheckedFeatures"
DRIFT_ENDPOINT_DIMENSION = "EndpointName"
DRIFT_FEATURE_DIMENSION = "Feature"
DRIFT_ALL_FEATURES = "ALL"

# SageMaker's endpoint invocation metrics, per EndpointName and VariantName (SageMaker
# developer guide, "Amazon SageMaker AI metrics in Amazon CloudWatch"): the rollback alarms,
# the dashboards and `mlopsctl shadow-test` read the same ones.
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
INVOCATIONS_METRIC = "Invocations"
INVOCATION_5XX_ERRORS_METRIC = "Invocation5XXErrors"
INVOCATION_4XX_ERRORS_METRIC = "Invocation4XXErrors"
MODEL_ERRORS_METRIC = "InvocationModelErrors"
# Reported in microseconds.
MODEL_LATENCY_METRIC = "ModelLatency"
