"""The toolchain account's stack: the delivery pipeline, what starts it, and who hears about it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_codepipeline as codepipeline

from config import CONTEXT_KEY, AppConfig
from constructs import Construct
from constructs.delivery.delivery_pipeline import DeliveryPipeline
from constructs.delivery.model_approval_trigger import ModelApprovalTrigger
from constructs.delivery.release_checks import Promotion
from constructs.storage.alerts_topic import AlertsTopic
from constructs.storage.event_dead_letters import EventDeadLetters
from constructs.storage.model_registry import ModelRegistry
from constructs.storage.secure_bucket import AccessLogBucket
from stacks.environment_stage import EnvironmentStage


def _requested_endpoint_config(stage: EnvironmentStage) -> CfnOutput | None:
    return stage.serving.requested_endpoint_config if stage.serving is not None else None


class CicdStack(Stack):
    """One pipeline for code and models: a git push and a registry approval both start it.

    `stages` holds one EnvironmentStage per environment; the pipeline deploys them in
    `app_config.promotion_order`, each exactly once.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        app_config: AppConfig,
        stages: Mapping[str, EnvironmentStage],
        registry: ModelRegistry,
        cdk_cli_version: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        names = app_config.names
        order = app_config.promotion_order
        promotions = [
            Promotion(
                environment=env.name,
                stage=stages[env.name],
                verifier_role_arn=self.format_arn(
                    service="iam",
                    region="",
                    account=env.account,
                    resource="role",
                    resource_name=names.deploy_verifier_role(env.name),
                ),
                check_role_name=names.deploy_check_role(env.name),
                approval_before=env.production,
                # The last environment before production is where the release is smoke-tested.
                smoke_test_after=not env.production and index + 1 < len(order) and order[index + 1].production,
                requested_endpoint_config=_requested_endpoint_config(stages[env.name]),
                shadow_test_minutes=env.shadow_budget.total if env.shadow.enabled else None,
            )
            for index, env in enumerate(order)
        ]
        # Who read or wrote pipeline artifacts is audit evidence: kept when the stack goes.
        self.access_logs = AccessLogBucket(self, "AccessLogs", removal_policy=RemovalPolicy.RETAIN).bucket
        self.delivery = DeliveryPipeline(
            self,
            "Delivery",
            pipeline_name=names.delivery_pipeline,
            source=app_config.source,
            promotions=promotions,
            registry=registry,
            cross_account_keys=any(env.account != app_config.toolchain.account for env in app_config.environments),
            cdk_cli_version=cdk_cli_version,
            access_logs=self.access_logs,
            settings_file=app_config.settings_file,
        )
        self.notifications = AlertsTopic(
            self, "Notifications", emails=app_config.toolchain.notification_emails, removal_policy=RemovalPolicy.DESTROY
        )
        if not app_config.toolchain.notification_emails and any(env.production for env in order):
            Annotations.of(self).add_warning_v2(
                "mlops:noNotificationEmails",
                f"{CONTEXT_KEY}.toolchain.notification_emails is empty: failed pipeline runs and the approval "
                "waiting before production notify a topic nobody subscribes to. Add who must act "
                "(docs/operations.md).",
            )
        self.undelivered_events = EventDeadLetters(
            self,
            "UndeliveredEvents",
            key=self.notifications.key,
            topic=self.notifications.publish_target,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.approval_trigger = ModelApprovalTrigger(
            self,
            "ModelApprovalTrigger",
            pipeline=self.delivery.pipeline,
            registry=registry,
            dead_letter_queue=self.undelivered_events.target,
        )
        self.delivery.pipeline.notify_on(
            "FailedOrWaitingForApproval",
            self.notifications.publish_target,
            events=[
                codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
                codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
            ],
        )
