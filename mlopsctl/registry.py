"""Model registry reads and approval updates (the group lives in the model-build environment)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from config import AppConfig
from contracts import (
    METADATA_CHAMPION_ARN,
    METADATA_METRIC_NAME,
    METADATA_METRIC_VALUE,
    METADATA_TRIGGER_REASON,
)
from mlopsctl.errors import OperatorError

METRICS = ("auc", "accuracy", "f1", "macro_f1", "log_loss", "rmse", "mae", "r2")
METRIC_SECTIONS = ("binary_classification_metrics", "multiclass_classification_metrics", "regression_metrics")
# What the evaluate step writes for "no champion" or "no number": metadata values cannot be empty.
NONE = "none"

_VERSION_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/([A-Za-z0-9-]+)/([0-9]+)$")


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def group_arn(cfg: AppConfig) -> str:
    build = cfg.build_environment
    group = cfg.names.model_package_group
    return f"arn:{partition(build.region)}:sagemaker:{build.region}:{build.account}:model-package-group/{group}"


def version_arn(cfg: AppConfig, version: int) -> str:
    build = cfg.build_environment
    group = cfg.names.model_package_group
    return f"arn:{partition(build.region)}:sagemaker:{build.region}:{build.account}:model-package/{group}/{version}"


def resolve_version(cfg: AppConfig, ref: str) -> str:
    """A version number ("7") or a version ARN of our group -> the version ARN."""
    # ASCII digits only: str.isdigit() also accepts digits such as "²" that int() refuses.
    if re.fullmatch(r"[0-9]+", ref) and int(ref) > 0:
        return version_arn(cfg, int(ref))
    match = _VERSION_ARN.match(ref)
    if not match or match.group(1) != cfg.names.model_package_group:
        raise OperatorError(
            f"Invalid version {ref!r}: give a version number or a model package ARN "
            f"of group {cfg.names.model_package_group!r}."
        )
    return ref


def in_group(cfg: AppConfig, arn: str) -> bool:
    """True for a version ARN of our group in the model-build account."""
    return version_of(arn) is not None and arn == version_arn(cfg, version_of(arn) or 0)


def version_of(arn: str | None) -> int | None:
    if not arn:
        return None
    match = _VERSION_ARN.match(arn)
    return int(match.group(2)) if match else None


def list_versions(sm: Any, cfg: AppConfig, status: str | None = None) -> list[dict[str, Any]]:
    """Every version summary of the group (optionally with one approval status), newest first."""
    request: dict[str, Any] = {"ModelPackageGroupName": group_arn(cfg), "MaxResults": 100}
    if status:
        request["ModelApprovalStatus"] = status
    summaries: list[dict[str, Any]] = []
    while True:
        page = sm.list_model_packages(**request)
        summaries.extend(page.get("ModelPackageSummaryList", []))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return sorted(summaries, key=lambda s: s.get("ModelPackageVersion", 0), reverse=True)


def latest(sm: Any, cfg: AppConfig, status: str) -> dict[str, Any] | None:
    versions = list_versions(sm, cfg, status)
    return versions[0] if versions else None


def describe(sm: Any, arn: str) -> dict[str, Any]:
    try:
        result: dict[str, Any] = sm.describe_model_package(ModelPackageName=arn)
    except ClientError as error:
        message = error.response["Error"].get("Message", error)
        raise OperatorError(f"Cannot read model package {arn}: {message}") from error
    return result


def approval_description(text: str) -> str:
    """UpdateModelPackage ApprovalDescription: at most 1024 characters matching the Java pattern `.*`,
    so one line (SageMaker API Reference)."""
    return " ".join(text.split())[:1024]


def set_status(sm: Any, arn: str, status: str, description: str) -> None:
    sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=approval_description(description)
    )


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise OperatorError(f"Invalid S3 URI {uri!r} on a model package: expected s3://bucket/key.")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


@dataclass
class VersionMetrics:
    """What the pipeline stored on one version: evaluation.json plus the metadata strings."""

    arn: str
    version: int | None
    status: str
    created: str
    metadata: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    champion_arn: str | None = None
    evaluation_uri: str | None = None
    # The metric the version was gated on: its report's comparison, else its metadata.
    gate_metric: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_package_arn": self.arn,
            "version": self.version,
            "status": self.status,
            "created": self.created,
            "metrics": self.metrics,
            "trigger_reason": self.metadata.get(METADATA_TRIGGER_REASON),
            "champion_model_package_arn": self.champion_arn,
            "evaluation_uri": self.evaluation_uri,
        }


def _present(value: str | None) -> str | None:
    return None if value in (None, "", NONE) else value


def version_metrics(sm: Any, s3: Any, arn: str) -> VersionMetrics:
    package = describe(sm, arn)
    metadata = {str(k): str(v) for k, v in (package.get("CustomerMetadataProperties") or {}).items()}
    result = VersionMetrics(
        arn=arn,
        version=package.get("ModelPackageVersion") or version_of(arn),
        status=package.get("ModelApprovalStatus", "?"),
        created=str(package.get("CreationTime", "")),
        metadata=metadata,
        champion_arn=_present(metadata.get(METADATA_CHAMPION_ARN)),
    )
    uri = ((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics", {}).get("S3Uri")
    if uri:
        result.evaluation_uri = uri
        bucket, key = _split_s3(uri)
        try:
            evaluation = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except (ClientError, json.JSONDecodeError) as error:
            raise OperatorError(f"Cannot read evaluation report {uri} of {arn}: {error}") from error
        # SageMaker's model-quality shape: one <task>_metrics object (binary, multiclass, regression).
        metrics = next((v for k, v in evaluation.items() if k in METRIC_SECTIONS and isinstance(v, dict)), {})
        for name, value in metrics.items():
            if isinstance(value, dict) and isinstance(value.get("value"), (int, float)):
                result.metrics[name] = float(value["value"])
        champion = evaluation.get("champion") or {}
        result.champion_arn = _present(champion.get("model_package_arn")) or result.champion_arn
        gated = (evaluation.get("comparison") or {}).get("metric")
        result.gate_metric = gated if isinstance(gated, str) else None
    # Versions registered without a readable report still carry the gate metric as metadata.
    name, value = metadata.get(METADATA_METRIC_NAME), _present(metadata.get(METADATA_METRIC_VALUE))
    result.gate_metric = result.gate_metric or name
    if name and value and name not in result.metrics:
        try:
            result.metrics[name] = float(value)
        except ValueError as error:
            raise OperatorError(f"Metadata metric_value {value!r} of {arn} is not a number.") from error
    return result


def baselines(package: dict[str, Any]) -> tuple[str | None, str | None]:
    """(statistics, constraints) S3 URIs registered with a version for the drift check."""
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    return quality.get("Statistics", {}).get("S3Uri"), quality.get("Constraints", {}).get("S3Uri")
