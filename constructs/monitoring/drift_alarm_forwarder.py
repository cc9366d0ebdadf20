"""Drift alarm state changes, forwarded to the model-building environment's default event bus."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs

import contracts
from config import AwsTarget
from constructs import Construct


class DriftAlarmForwarder(events.Rule):
    """Sends the state changes of alarms named `<alarm_name_prefix>...` to `model_build_target`.

    Needed only when models are built in another account or region: the retraining rule
    listens on the default bus of the model-building environment. What that bus refuses lands in
    `dead_letter_queue` after EventBridge's retries.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        alarm_name_prefix: str,
        model_build_target: AwsTarget,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(
            scope,
            id_,
            description="Drift alarm state changes to the model-building environment, where retraining starts",
            event_pattern=events.EventPattern(
                source=[contracts.ALARM_STATE_CHANGE.source],
                detail_type=[contracts.ALARM_STATE_CHANGE.detail_type],
                detail={"alarmName": events.Match.prefix(alarm_name_prefix)},
            ),
        )
        bus = events.EventBus.from_event_bus_arn(
            self,
            "ModelBuildBus",
            Stack.of(self).format_arn(
                service="events",
                account=model_build_target.account,
                region=model_build_target.region,
                resource="event-bus",
                resource_name="default",
            ),
        )
        self.add_target(targets.EventBus(bus, dead_letter_queue=dead_letter_queue))
