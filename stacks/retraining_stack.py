"""When the model rebuilds, and why: triggers -> one start-retraining function -> notifications."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from config import ApprovalMode, RetrainingConfig
from constructs import Construct
from constructs.storage.model_registry import ModelRegistry
from constructs.triggers.pipeline_notifications import PipelineNotifications
from constructs.triggers.retraining_triggers import RetrainingTriggers
from constructs.triggers.start_retraining_function import StartRetrainingFunction


class RetrainingStack(Stack):
    """Only in the model-building environment, next to the pipeline it starts."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        pipeline_name: str,
        registry: ModelRegistry,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        alerts_topic: sns.ITopic,
        retraining: RetrainingConfig,
        approval: ApprovalMode,
        production: bool,
        manual_source: str,
        drift_alarm_prefixes: Sequence[str],
        drift_alarm_accounts: Sequence[str],
        forwarding_accounts: Sequence[str],
        removal_policy: RemovalPolicy,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.start_retraining = StartRetrainingFunction(
            self,
            "StartRetraining",
            pipeline_name=pipeline_name,
            registry=registry,
            data_bucket=data_bucket,
            artifacts_bucket=artifacts_bucket,
            key=key,
            retraining=retraining,
            approval=approval,
            production=production,
            manual_source=manual_source,
            drift_alarm_prefixes=drift_alarm_prefixes,
            alerts_topic=alerts_topic,
            removal_policy=removal_policy,
        )
        self.triggers = RetrainingTriggers(
            self,
            "Triggers",
            function=self.start_retraining.function,
            dead_letter_queue=self.start_retraining.dead_letter_queue,
            retraining=retraining,
            data_bucket=data_bucket,
            manual_source=manual_source,
            drift_alarm_prefixes=drift_alarm_prefixes,
            drift_alarm_accounts=drift_alarm_accounts,
            forwarding_accounts=forwarding_accounts,
        )
        # What redelivering a failed trigger needs (docs/operations.md: Redelivering dead letters).
        CfnOutput(
            self,
            "DeadLetterQueueUrl",
            value=self.start_retraining.dead_letter_queue.queue_url,
            description="Retraining triggers that failed after their retries",
        )
        CfnOutput(
            self,
            "StartRetrainingFunctionName",
            value=self.start_retraining.function.function_name,
            description="The function every retraining trigger invokes",
        )
        self.notifications = PipelineNotifications(
            self,
            "Notifications",
            topic=alerts_topic,
            pipeline_arn=self.start_retraining.pipeline_arn,
            model_package_group_name=registry.group_name,
            dead_letter_queue=self.start_retraining.dead_letter_queue,
        )
