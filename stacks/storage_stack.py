"""Stateful resources of one environment: key, buckets, registry, alerts topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_events as events

from config import AwsTarget
from constructs import Construct
from constructs.delivery.approval_event_forwarder import ApprovalEventForwarder
from constructs.security.kms_keys import managed_key
from constructs.security.operator_role import OperatorAccess, OperatorRole
from constructs.storage.alerts_topic import AlertsTopic
from constructs.storage.event_dead_letters import EventDeadLetters
from constructs.storage.model_registry import ModelRegistry
from constructs.storage.secure_bucket import AccessLogBucket, SecureBucket
from contracts import MODEL_ARTIFACTS_PREFIX, REGISTERED_BASELINES_PATTERN, SAMPLE_PAYLOADS_PATTERN

# Serving accounts may read model artifacts (contracts.MODEL_ARTIFACTS_PREFIX) and the
# data-quality baselines registered with each version, which their drift checks compare
# captured data with (contracts.REGISTERED_BASELINES_PATTERN), and the sample payloads registered
# with each version, which their smoke tests send (contracts.SAMPLE_PAYLOADS_PATTERN). Training data
# written beside them under the pipeline's output prefix stays private to this account.


class StorageStack(Stack):
    """Everything in an environment that holds data or must outlive a redeploy.

    Kept apart from the stacks that change often, so a bad serving or pipeline change can
    never replace a bucket, the key or the registry.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        project_name: str,
        model_package_group_name: str,
        removal_policy: RemovalPolicy,
        notification_emails: Sequence[str],
        builds_models: bool,
        operator_access: OperatorAccess,
        consumer_accounts: Sequence[str] = (),
        registry_reader_accounts: Sequence[str] = (),
        approval_events_target: AwsTarget | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.key = managed_key(
            self,
            "DataKey",
            description=f"{project_name}: data, artifacts, captured inference data",
            removal_policy=removal_policy,
        )
        self.access_logs = AccessLogBucket(self, "AccessLogs", removal_policy=removal_policy).bucket
        self.data_bucket = SecureBucket(
            self,
            "Data",
            key=self.key,
            access_logs=self.access_logs,
            removal_policy=removal_policy,
            event_bridge=True,
        ).bucket
        artifacts = SecureBucket(
            self,
            "Artifacts",
            key=self.key,
            access_logs=self.access_logs,
            removal_policy=removal_policy,
        )
        self.artifacts_bucket = artifacts.bucket
        # The one name an operator needs by hand: where the first training data is uploaded.
        CfnOutput(
            self,
            "DataBucketName",
            value=self.data_bucket.bucket_name,
            description="Bucket for raw training data (upload CSVs under the retraining incoming prefix)",
        )
        self.notifications = AlertsTopic(self, "Alerts", emails=notification_emails, removal_policy=removal_policy)
        self.alerts_topic = self.notifications.publish_target
        # Every rule target of this environment's account (this stack's and the serving stack's)
        # leaves what it cannot deliver here.
        self.undelivered_events = EventDeadLetters(
            self,
            "UndeliveredEvents",
            key=self.notifications.key,
            topic=self.alerts_topic,
            removal_policy=removal_policy,
        )
        # Here, not in the serving stack: approvals happen before any release exists.
        self.operator = OperatorRole(self, "Operator", access=operator_access, key=self.key)

        self.registry: ModelRegistry | None = None
        self.approval_events: ApprovalEventForwarder | None = None
        if builds_models:
            self.registry = ModelRegistry(
                self,
                "ModelRegistry",
                group_name=model_package_group_name,
                description=f"{project_name}: every trained candidate, with metrics and drift baseline",
                consumer_accounts=registry_reader_accounts,
            )
            names = operator_access.names
            self.operator.grant_registry_operations(
                registry=self.registry,
                pipeline_name=names.model_build_pipeline,
                manual_retraining_source=names.manual_retraining_source,
                artifacts_bucket=self.artifacts_bucket,
            )
            if consumer_accounts:
                # Serving accounts read model artifacts, the baselines their drift checks use and the smoke test's rows.
                artifacts.share_reads_with_accounts(
                    consumer_accounts,
                    sid_prefix="ServingAccounts",
                    patterns={
                        "ModelArtifacts": f"{MODEL_ARTIFACTS_PREFIX}*",
                        "DriftBaselines": REGISTERED_BASELINES_PATTERN,
                        "SamplePayloads": SAMPLE_PAYLOADS_PATTERN,
                    },
                )
            if approval_events_target:
                # The delivery pipeline runs elsewhere: carry approval decisions to its default bus.
                toolchain_bus_arn = self.format_arn(
                    service="events",
                    account=approval_events_target.account,
                    region=approval_events_target.region,
                    resource="event-bus",
                    resource_name="default",
                )
                self.approval_events = ApprovalEventForwarder(
                    self,
                    "ApprovalEventsToPipeline",
                    registry=self.registry,
                    destination=events.EventBus.from_event_bus_arn(self, "PipelineEventBus", toolchain_bus_arn),
                    dead_letter_queue=self.undelivered_events.target,
                )
