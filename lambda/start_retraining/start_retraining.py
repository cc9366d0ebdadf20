"""Lambda handler: any retraining trigger (schedule, new data, drift, manual) -> one pipeline run.

Thin on purpose: parse the event into a Trigger, let retraining_runs decide and act, log and
return the outcome. A rejected event, or a run refused because there is no training data,
raises, so EventBridge/Lambda retry it and it ends in the dead-letter queue, whose alarm tells
a human.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from retraining_runs import run
from retraining_settings import Settings
from training_data import NoTrainingDataError
from trigger_events import TriggerError, parse_trigger

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> Settings:
    return Settings.from_env(os.environ)


@cache
def sagemaker_client() -> Any:
    return boto3.client("sagemaker")


@cache
def s3_client() -> Any:
    return boto3.client("s3")


def reset() -> None:
    """Forget cached settings and clients (tests change the environment and the AWS backend)."""
    settings.cache_clear()
    sagemaker_client.cache_clear()
    s3_client.cache_clear()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings()
    try:
        trigger = parse_trigger(event, config)
    except TriggerError as error:
        logger.error("Event rejected: not a valid retraining trigger", extra={"rejection_reason": str(error)})
        metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
        raise
    logger.append_keys(trigger=trigger.kind.value, trigger_event_id=trigger.event_id)
    try:
        outcome = run(sagemaker_client(), s3_client(), config, trigger, now=datetime.now(UTC))
    except NoTrainingDataError as error:
        logger.error("Retraining refused: no training data", extra={"refusal_reason": str(error)})
        metrics.add_metric(name="RefusedRuns", unit=MetricUnit.Count, value=1)
        raise
    if outcome["status"] == "skipped":
        logger.warning("Retraining trigger skipped", extra=outcome)
        metrics.add_metric(name="SkippedTriggers", unit=MetricUnit.Count, value=1)
    else:
        logger.info("Retraining started", extra=outcome)
        metrics.add_metric(name="StartedRuns", unit=MetricUnit.Count, value=1)
    return outcome
