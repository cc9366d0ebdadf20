"""Decides whether a trigger starts the model-building pipeline, and starts it.

Pure decisions (approval status, dedup, quiet period, idempotency token, parameters) are plain
functions; the SageMaker and S3 calls take their clients as arguments so tests pass moto or a
Stubber. A started run reads a snapshot of the incoming data (training_data.py), taken here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from retraining_settings import Settings
from training_data import take_snapshot, why_not_training_data, write_manifest
from trigger_events import Trigger, TriggerKind

import contracts

# Both hold the pipeline: a stopping execution still runs its current step (PipelineExecutionStatus).
RUNNING = ("Executing", "Stopping")


@dataclass(frozen=True)
class Champion:
    """The latest Approved version in the group: what every candidate is compared with."""

    model_package_arn: str
    model_data_url: str
    # Its evaluation.json (ModelMetrics.ModelQuality.Statistics): the stored metrics and the image
    # it was built for, which the evaluate step compares on when it cannot run the champion's code.
    evaluation_uri: str = ""


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str
    start_time: datetime


@dataclass(frozen=True)
class Decision:
    start: bool
    skip_reason: str | None = None
    blocking_execution_arn: str | None = None


def approval_status(settings: Settings) -> str:
    """Approved only where the environment's config says auto and it is not production.

    Production is checked here too, not only in the config validation, so no deployment
    mistake can let a drift- or data-triggered candidate skip the approval gate in prod.
    """
    if settings.approval_mode == "auto" and not settings.production:
        return contracts.APPROVED
    return contracts.PENDING_MANUAL_APPROVAL


def client_request_token(pipeline_name: str, event_id: str) -> str:
    """Same event id -> same token, so a redelivered event cannot start a second execution.

    StartPipelineExecution requires 32-128 characters; a SHA-256 hex digest has 64.
    """
    return hashlib.sha256(f"{pipeline_name}/{event_id}".encode()).hexdigest()


def decide(trigger: Trigger, executions: list[Execution], *, now: datetime, quiet_period_minutes: int) -> Decision:
    """Whether the trigger starts a run, and if not, why not.

    Skips a folder marker, skips while a run is executing or stopping, and skips new data that
    arrives within the quiet period of a run's start.
    """
    if trigger.kind is TriggerKind.NEW_DATA:
        # The console's "Create folder" writes an empty object whose key ends in '/': no data; nor is a
        # README.txt, a .CSV or a .csv.gz, which preprocess would not read.
        reasons = [why_not_training_data(uri) for uri in trigger.source_ids]
        if all(reasons):
            return Decision(False, f"the new object {trigger.source_ids[0]} is {reasons[0]}")
    running = sorted((e for e in executions if e.status in RUNNING), key=lambda e: e.start_time, reverse=True)
    if running:
        return Decision(False, "an execution of the pipeline is already running", running[0].arn)
    if trigger.kind is TriggerKind.NEW_DATA and quiet_period_minutes > 0:
        since = now - timedelta(minutes=quiet_period_minutes)
        recent = sorted((e for e in executions if e.start_time >= since), key=lambda e: e.start_time, reverse=True)
        if recent:
            return Decision(
                False,
                f"new data within the {quiet_period_minutes}-minute quiet period after the last run started",
                recent[0].arn,
            )
    return Decision(True)


def pipeline_parameters(
    trigger: Trigger, champion: Champion | None, manifest_uri: str, approval: str
) -> list[dict[str, str]]:
    """The model-building pipeline's parameters; the rest keep the defaults from its definition."""
    return [
        {"Name": contracts.INPUT_MANIFEST_PARAMETER, "Value": manifest_uri},
        {"Name": contracts.TRIGGER_REASON_PARAMETER, "Value": trigger.metadata_reason},
        {"Name": contracts.CHAMPION_MODEL_URI_PARAMETER, "Value": champion.model_data_url if champion else ""},
        {"Name": contracts.CHAMPION_ARN_PARAMETER, "Value": champion.model_package_arn if champion else ""},
        {"Name": contracts.CHAMPION_EVALUATION_URI_PARAMETER, "Value": champion.evaluation_uri if champion else ""},
        {"Name": contracts.APPROVAL_STATUS_PARAMETER, "Value": approval},
    ]


def find_champion(sagemaker: Any, group_name: str) -> Champion | None:
    """The latest Approved version, or None on the first run (nothing approved yet)."""
    listed = sagemaker.list_model_packages(
        ModelPackageGroupName=group_name,
        ModelApprovalStatus=contracts.APPROVED,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    if not listed:
        return None
    arn = listed[0]["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    containers = described.get("InferenceSpecification", {}).get("Containers", [])
    if not containers or not containers[0].get("ModelDataUrl"):
        raise ValueError(f"Champion {arn} has no ModelDataUrl in its inference specification.")
    quality = (described.get("ModelMetrics") or {}).get("ModelQuality") or {}
    return Champion(
        model_package_arn=arn,
        model_data_url=containers[0]["ModelDataUrl"],
        evaluation_uri=(quality.get("Statistics") or {}).get("S3Uri", ""),
    )


def list_executions(sagemaker: Any, pipeline_name: str) -> list[Execution]:
    """Every execution of the pipeline (retraining runs are few; the whole history stays small)."""
    executions: list[Execution] = []
    paginator = sagemaker.get_paginator("list_pipeline_executions")
    for page in paginator.paginate(PipelineName=pipeline_name, SortBy="CreationTime", SortOrder="Descending"):
        for summary in page.get("PipelineExecutionSummaries", []):
            executions.append(
                Execution(
                    arn=summary["PipelineExecutionArn"],
                    status=summary["PipelineExecutionStatus"],
                    start_time=summary["StartTime"],
                )
            )
    return executions


def start_request(settings: Settings, trigger: Trigger, parameters: list[dict[str, str]]) -> dict[str, Any]:
    """The StartPipelineExecution request for the trigger."""
    token = client_request_token(settings.pipeline_name, trigger.event_id)
    return {
        "PipelineName": settings.pipeline_name,
        # Display names allow letters, digits and hyphens only, at most 82 characters.
        "PipelineExecutionDisplayName": f"{trigger.kind.value}-{token[:16]}",
        # The whole reason (one line); the TriggerReason parameter holds its metadata-safe form.
        "PipelineExecutionDescription": trigger.reason,
        "PipelineParameters": parameters,
        "ClientRequestToken": token,
    }


def start_execution(
    sagemaker: Any, settings: Settings, trigger: Trigger, parameters: list[dict[str, str]]
) -> tuple[str, str]:
    """Starts the pipeline; returns the execution ARN and the idempotency token used."""
    request = start_request(settings, trigger, parameters)
    response = sagemaker.start_pipeline_execution(**request)
    return response["PipelineExecutionArn"], request["ClientRequestToken"]


def run(sagemaker: Any, s3: Any, settings: Settings, trigger: Trigger, *, now: datetime) -> dict[str, Any]:
    """Starts one execution for the trigger on the data as it is now, or records why it was skipped.

    Raises NoTrainingDataError, starting nothing, when there is no data to train on.
    """
    outcome: dict[str, Any] = {
        "trigger": trigger.kind.value,
        "reason": trigger.reason,
        "source_ids": list(trigger.source_ids),
        "event_id": trigger.event_id,
    }
    decision = decide(
        trigger,
        list_executions(sagemaker, settings.pipeline_name),
        now=now,
        quiet_period_minutes=settings.quiet_period_minutes,
    )
    if not decision.start:
        return {
            **outcome,
            "status": "skipped",
            "skip_reason": decision.skip_reason,
            "pipeline_execution_arn": decision.blocking_execution_arn,
        }
    snapshot = take_snapshot(s3, settings)
    manifest_uri = write_manifest(s3, settings, snapshot)
    champion = find_champion(sagemaker, settings.model_package_group)
    approval = approval_status(settings)
    parameters = pipeline_parameters(trigger, champion, manifest_uri, approval)
    arn, token = start_execution(sagemaker, settings, trigger, parameters)
    return {
        **outcome,
        "status": "started",
        "pipeline_execution_arn": arn,
        "client_request_token": token,
        "input_manifest_uri": manifest_uri,
        "input_objects": len(snapshot.objects),
        # What the run leaves out under the incoming prefix, and why (preprocess would not read it).
        "skipped_objects": list(snapshot.skipped),
        "model_approval_status": approval,
        "champion_model_package_arn": champion.model_package_arn if champion else None,
    }
