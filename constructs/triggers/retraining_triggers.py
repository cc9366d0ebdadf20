"""EventBridge rules that decide when the model rebuilds: schedule, new data, drift, manual."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

import contracts
from config import RetrainingConfig
from constructs import Construct
from constructs.triggers.default_bus_policy import DefaultBusPolicy


class RetrainingTriggers(Construct):
    """One rule per trigger kind, each enabled and tuned from `model_build.retraining`.

    Every rule targets the same function with a retry policy and the function's dead-letter
    queue, so whichever way a trigger fails it is retried and then kept for a human. Drift
    alarms of serving environments in other accounts arrive through this account's default
    bus; `forwarding_accounts` are allowed to put events there (nothing else is).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        retraining: RetrainingConfig,
        data_bucket: s3.IBucket,
        manual_source: str,
        drift_alarm_prefixes: Sequence[str],
        drift_alarm_accounts: Sequence[str],
        forwarding_accounts: Sequence[str] = (),
        retry_attempts: int = 3,
        max_event_age_hours: int = 2,
    ) -> None:
        super().__init__(scope, id_)
        self._target = targets.LambdaFunction(
            function,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=retry_attempts,
            max_event_age=Duration.hours(max_event_age_hours),
        )

        self.schedule_rule: events.Rule | None = None
        if retraining.schedule:
            self.schedule_rule = self._rule(
                "ScheduleRule",
                "Scheduled retraining",
                schedule=events.Schedule.expression(retraining.schedule),
            )

        self.new_data_rule: events.Rule | None = None
        if retraining.on_new_data:
            self.new_data_rule = self._rule(
                "NewDataRule",
                f"Retrain when new training data lands under {retraining.incoming_prefix}",
                event_pattern=events.EventPattern(
                    source=[contracts.OBJECT_CREATED.source],
                    detail_type=[contracts.OBJECT_CREATED.detail_type],
                    detail={
                        "bucket": {"name": [data_bucket.bucket_name]},
                        "object": {"key": events.Match.prefix(retraining.incoming_prefix)},
                    },
                ),
            )

        self.drift_rule: events.Rule | None = None
        self.bus_policy: DefaultBusPolicy | None = None
        if retraining.on_drift:
            self.drift_rule = self._rule(
                "DriftRule",
                "Retrain when a serving environment's drift alarm goes to ALARM",
                event_pattern=events.EventPattern(
                    source=[contracts.ALARM_STATE_CHANGE.source],
                    detail_type=[contracts.ALARM_STATE_CHANGE.detail_type],
                    account=sorted(set(drift_alarm_accounts)),
                    detail={
                        "alarmName": events.Match.any_of(*(events.Match.prefix(p) for p in drift_alarm_prefixes)),
                        "state": {"value": ["ALARM"]},
                    },
                ),
            )
            if forwarding_accounts:
                self.bus_policy = self._allow_forwarding(sorted(set(forwarding_accounts)))

        self.manual_rule = self._rule(
            "ManualRule",
            "Retrain on request (aws events put-events)",
            event_pattern=events.EventPattern(source=[manual_source], detail_type=[contracts.RETRAINING_REQUESTED]),
        )

    def _rule(
        self,
        id_: str,
        description: str,
        *,
        schedule: events.Schedule | None = None,
        event_pattern: events.EventPattern | None = None,
    ) -> events.Rule:
        rule = events.Rule(self, id_, description=description, schedule=schedule, event_pattern=event_pattern)
        rule.add_target(self._target)
        return rule

    def _allow_forwarding(self, accounts: list[str]) -> DefaultBusPolicy:
        """Lets the serving accounts forward their drift alarms' state changes to the default bus."""
        stack = Stack.of(self)
        bus_arn = stack.format_arn(service="events", resource="event-bus", resource_name="default")
        statement = iam.PolicyStatement(
            sid="ServingAccountsForwardDriftAlarms",
            principals=[iam.AccountPrincipal(account) for account in accounts],
            actions=["events:PutEvents"],
            resources=[bus_arn],
            # Only alarm state changes: the serving accounts cannot inject manual or S3 events.
            conditions={
                "ForAllValues:StringEquals": {"events:source": [contracts.ALARM_STATE_CHANGE.source]},
                "StringEquals": {"events:detail-type": contracts.ALARM_STATE_CHANGE.detail_type},
            },
        )
        return DefaultBusPolicy(
            self, "ForwardedDriftAlarms", statement_id="ServingAccountsForwardDriftAlarms", statement=statement
        )
