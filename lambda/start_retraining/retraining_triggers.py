"""Turns an EventBridge event into a typed retraining trigger, or rejects it with a clear reason.

Accepted events (field names as AWS publishes them):
- schedule: source "aws.events", detail-type "Scheduled Event";
- new data: source "aws.s3", detail-type "Object Created", detail.bucket.name / detail.object.key;
- drift: source "aws.cloudwatch", detail-type "CloudWatch Alarm State Change",
  detail.alarmName / detail.state.value (only "ALARM" of a drift alarm);
- manual: source "<project>.retraining", detail-type "Retraining Requested",
  detail {"reason": str, "requested_by": str (optional)}.
Anything else (a code push, a CodePipeline event, an alarm that is not a drift alarm) is not a
retraining trigger and is rejected, so it fails loudly instead of quietly starting a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3EventNotificationEventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from retraining_settings import Settings

SCHEDULE = ("aws.events", "Scheduled Event")
NEW_DATA = ("aws.s3", "Object Created")
DRIFT = ("aws.cloudwatch", "CloudWatch Alarm State Change")
MANUAL_DETAIL_TYPE = "Retraining Requested"

# SageMaker pipeline parameter values are limited to 1024 characters.
_MAX_REASON = 1024


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


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind
    reason: str
    source_ids: tuple[str, ...]
    event_id: str
    event_time: datetime


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
    reason: str = Field(min_length=1, max_length=512)
    requested_by: str | None = Field(default=None, max_length=128)

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
    if key == SCHEDULE:
        parsed = _parse(event, EventBridgeModel, "schedule")
        return Trigger(TriggerKind.SCHEDULE, "schedule", tuple(parsed.resources), parsed.id, parsed.time)
    if key == NEW_DATA:
        return _new_data(_parse(event, S3EventNotificationEventBridgeModel, "S3 Object Created"), settings)
    if key == DRIFT:
        return _drift(_parse(event, _AlarmEvent, "CloudWatch alarm"), settings)
    if key == (settings.manual_source, MANUAL_DETAIL_TYPE):
        parsed = _parse(event, _ManualEvent, "manual retraining")
        reason = f"manual: {parsed.detail.reason.strip()}"
        if parsed.detail.requested_by:
            reason += f" (requested by {parsed.detail.requested_by.strip()})"
        ids = (parsed.detail.requested_by,) if parsed.detail.requested_by else ()
        return Trigger(TriggerKind.MANUAL, reason[:_MAX_REASON], ids, parsed.id, parsed.time)
    raise UnknownTriggerError(
        f"Not a retraining trigger: source={source!r}, detail-type={detail_type!r}. Accepted: "
        f"{SCHEDULE}, {NEW_DATA}, {DRIFT}, ({settings.manual_source!r}, {MANUAL_DETAIL_TYPE!r})."
    )


def _new_data(parsed: S3EventNotificationEventBridgeModel, settings: Settings) -> Trigger:
    bucket, key = parsed.detail.bucket.name, parsed.detail.object.key
    if bucket != settings.data_bucket or not key.startswith(settings.incoming_prefix):
        raise UnknownTriggerError(
            f"Object s3://{bucket}/{key} is not new training data: only objects under "
            f"s3://{settings.data_bucket}/{settings.incoming_prefix} start a run."
        )
    uri = f"s3://{bucket}/{key}"
    return Trigger(TriggerKind.NEW_DATA, f"new-data: {uri}"[:_MAX_REASON], (uri,), parsed.id, parsed.time)


def _drift(parsed: _AlarmEvent, settings: Settings) -> Trigger:
    name, state = parsed.detail.alarmName, parsed.detail.state.value
    if not name.startswith(settings.drift_alarm_prefixes):
        raise UnknownTriggerError(
            f"Alarm {name!r} is not a drift alarm; drift alarms start with one of {settings.drift_alarm_prefixes}."
        )
    if state != "ALARM":
        raise MalformedTriggerError(f"Drift alarm {name!r} changed to {state!r}; only a change to 'ALARM' retrains.")
    return Trigger(TriggerKind.DRIFT, f"drift: {name}"[:_MAX_REASON], tuple(parsed.resources), parsed.id, parsed.time)
