"""Turns an EventBridge event into a typed retraining trigger, or rejects it with a clear reason.

Accepted events (field names as AWS publishes them):
- schedule: source "aws.events", detail-type "Scheduled Event";
- new data: source "aws.s3", detail-type "Object Created", detail.bucket.name / detail.object.key;
- drift: source "aws.cloudwatch", detail-type "CloudWatch Alarm State Change",
  detail.alarmName / detail.state.value (only "ALARM" of a drift alarm);
- manual: source "<project>.retraining", detail-type "Retraining Requested",
  detail {"reason": str, "requested_by": str (optional)}, each within the lengths
  contracts.py states for the function and `mlopsctl retrain` alike.
Anything else (a code push, a CodePipeline event, an alarm that is not a drift alarm) is not a
retraining trigger and is rejected, so it fails loudly instead of quietly starting a run.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3EventNotificationEventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from retraining_settings import Settings

from contracts import (
    ALARM_STATE_CHANGE,
    OBJECT_CREATED,
    RETRAINING_REASON_MAX_LENGTH,
    RETRAINING_REQUESTED,
    RETRAINING_REQUESTED_BY_MAX_LENGTH,
    SCHEDULED_EVENT,
)

# StartPipelineExecution PipelineExecutionDescription: at most 3072 characters matching the Java
# pattern `.*`, so no line breaks (SageMaker API Reference).
_DESCRIPTION_MAX = 3072
# CreateModelPackage CustomerMetadataProperties values, where the pipeline stores the reason: 1-256
# characters matching [\p{L}\p{Z}\p{N}_.:/=+\-@]* (SageMaker API Reference). Letters, digits
# and separators are the Unicode categories L*, N* and Z*.
_METADATA_MAX = 256
_METADATA_SYMBOLS = frozenset("_.:/=+-@")
_METADATA_CATEGORIES = ("L", "N", "Z")


class TriggerKind(StrEnum):
    SCHEDULE = "schedule"
    NEW_DATA = "new-data"
    DRIFT = "drift"
    MANUAL = "manual"


class TriggerError(ValueError):
    """The event cannot start a retraining run; the message says why."""


class UnknownTriggerError(TriggerError):
    """The event is not one of the retraining triggers."""


class MalformedTriggerError(TriggerError):
    """The event claims to be a trigger but lacks or misstates a required field."""


def one_line(text: str, limit: int = _DESCRIPTION_MAX) -> str:
    """`text` with every run of blanks and line breaks as one space, at most `limit` characters."""
    return " ".join(text.split())[:limit]


def metadata_value(text: str) -> str:
    """`text` as a model package metadata value: other characters become spaces, at most 256 long.

    The length is counted in UTF-16 code units, as Java counts it, so a letter outside the Basic
    Multilingual Plane can never push the value over the limit.
    """
    kept = "".join(
        c if c in _METADATA_SYMBOLS or unicodedata.category(c).startswith(_METADATA_CATEGORIES) else " " for c in text
    )
    value = " ".join(kept.split())
    while len(value.encode("utf-16-le")) > 2 * _METADATA_MAX:
        value = value[:-1]
    return value.rstrip() or "none"


@dataclass(frozen=True)
class Trigger:
    """One retraining trigger; `reason` is one line and fits the pipeline execution's description."""

    kind: TriggerKind
    reason: str
    source_ids: tuple[str, ...]
    event_id: str
    event_time: datetime

    @property
    def metadata_reason(self) -> str:
        """The reason as the pipeline's TriggerReason, which the model package stores as metadata."""
        return metadata_value(self.reason)


class _AlarmState(BaseModel):
    value: str
    reason: str = ""


class _AlarmDetail(BaseModel):
    alarmName: str = Field(min_length=1)  # AWS's field name, kept as published
    state: _AlarmState


class _AlarmEvent(EventBridgeModel):
    detail: _AlarmDetail


class _ManualDetail(BaseModel):
    # Unknown keys are refused so a typo ("reasons") is an error, not a run without a reason.
    model_config = ConfigDict(extra="forbid")
    # Maximum lengths are checked in _manual, with a message that names the limit.
    reason: str = Field(min_length=1)
    requested_by: str | None = None

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, reason: str) -> str:
        # A reason of spaces would record a run that nobody can explain.
        if not reason.strip():
            raise ValueError("must not be blank")
        return reason


class _ManualEvent(EventBridgeModel):
    detail: _ManualDetail


def _envelope(event: Any) -> tuple[str, str]:
    if not isinstance(event, dict):
        raise MalformedTriggerError(f"Event must be a JSON object, got {type(event).__name__}.")
    source, detail_type = event.get("source"), event.get("detail-type")
    if not isinstance(source, str) or not isinstance(detail_type, str):
        raise MalformedTriggerError("Event has no 'source' or 'detail-type': not an EventBridge event.")
    return source, detail_type


def _parse(event: dict[str, Any], model: type[EventBridgeModel], what: str) -> Any:
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise MalformedTriggerError(f"Malformed {what} event: {problems}.") from error


def parse_trigger(event: Any, settings: Settings) -> Trigger:
    """Returns the trigger the event stands for; raises TriggerError when it stands for none."""
    source, detail_type = _envelope(event)
    key = (source, detail_type)
    if key == SCHEDULED_EVENT:
        parsed = _parse(event, EventBridgeModel, "schedule")
        return Trigger(TriggerKind.SCHEDULE, "schedule", tuple(parsed.resources), parsed.id, parsed.time)
    if key == OBJECT_CREATED:
        return _new_data(_parse(event, S3EventNotificationEventBridgeModel, "S3 Object Created"), settings)
    if key == ALARM_STATE_CHANGE:
        return _drift(_parse(event, _AlarmEvent, "CloudWatch alarm"), settings)
    if key == (settings.manual_source, RETRAINING_REQUESTED):
        return _manual(_parse(event, _ManualEvent, "manual retraining"))
    raise UnknownTriggerError(
        f"Not a retraining trigger: source={source!r}, detail-type={detail_type!r}. Accepted: "
        f"{tuple(SCHEDULED_EVENT)}, {tuple(OBJECT_CREATED)}, {tuple(ALARM_STATE_CHANGE)}, "
        f"({settings.manual_source!r}, {RETRAINING_REQUESTED!r})."
    )


def _manual(parsed: _ManualEvent) -> Trigger:
    detail = parsed.detail
    limits = (
        ("reason", detail.reason, RETRAINING_REASON_MAX_LENGTH),
        ("requested_by", detail.requested_by or "", RETRAINING_REQUESTED_BY_MAX_LENGTH),
    )
    for field, value, limit in limits:
        if len(value) > limit:
            raise MalformedTriggerError(
                f"Malformed manual retraining event: detail.{field} has {len(value)} characters; at most {limit}."
            )
    reason = f"manual: {detail.reason.strip()}"
    if detail.requested_by:
        reason += f" (requested by {detail.requested_by.strip()})"
    ids = (detail.requested_by,) if detail.requested_by else ()
    return Trigger(TriggerKind.MANUAL, one_line(reason), ids, parsed.id, parsed.time)


def _new_data(parsed: S3EventNotificationEventBridgeModel, settings: Settings) -> Trigger:
    bucket, key = parsed.detail.bucket.name, parsed.detail.object.key
    if bucket != settings.data_bucket or not key.startswith(settings.incoming_prefix):
        raise UnknownTriggerError(
            f"Object s3://{bucket}/{key} is not new training data: only objects under "
            f"s3://{settings.data_bucket}/{settings.incoming_prefix} start a run."
        )
    uri = f"s3://{bucket}/{key}"
    return Trigger(TriggerKind.NEW_DATA, one_line(f"new-data: {uri}"), (uri,), parsed.id, parsed.time)


def _drift(parsed: _AlarmEvent, settings: Settings) -> Trigger:
    name, state = parsed.detail.alarmName, parsed.detail.state.value
    if not name.startswith(settings.drift_alarm_prefixes):
        raise UnknownTriggerError(
            f"Alarm {name!r} is not a drift alarm; drift alarms start with one of {settings.drift_alarm_prefixes}."
        )
    if state != "ALARM":
        raise MalformedTriggerError(f"Drift alarm {name!r} changed to {state!r}; only a change to 'ALARM' retrains.")
    return Trigger(TriggerKind.DRIFT, one_line(f"drift: {name}"), tuple(parsed.resources), parsed.id, parsed.time)
