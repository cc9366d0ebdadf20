"""Tells people when a model-building run fails and when a new version waits for their approval."""

from __future__ import annotations

from aws_cdk import Annotations, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

import contracts
from constructs import Construct


class PipelineNotifications(Construct):
    """Two EventBridge rules publishing a readable message to the environment's alerts topic.

    - the model-building pipeline's execution changed to Failed;
    - a version of the model package group was registered PendingManualApproval (status
      Completed, so the registration's intermediate states do not notify twice).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        topic: sns.ITopic,
        pipeline_arn: str,
        model_package_group_name: str,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id_)
        self.pipeline_failed_rule = events.Rule(
            self,
            "PipelineFailedRule",
            description="Notify: a model-building pipeline execution failed",
            event_pattern=events.EventPattern(
                source=[contracts.PIPELINE_EXECUTION_STATUS_CHANGE.source],
                detail_type=[contracts.PIPELINE_EXECUTION_STATUS_CHANGE.detail_type],
                detail={"pipelineArn": [pipeline_arn], "currentPipelineExecutionStatus": ["Failed"]},
            ),
        )
        self.pipeline_failed_rule.add_target(
            _notify(
                topic,
                dead_letter_queue,
                f"Model-building run FAILED at {events.EventField.time}. "
                f"Execution: {events.EventField.from_path('$.detail.pipelineExecutionArn')} "
                f"({events.EventField.from_path('$.detail.pipelineExecutionDisplayName')}). "
                "Why it ran and why it failed: `aws sagemaker describe-pipeline-execution "
                "--pipeline-execution-arn` with that ARN, or the execution in SageMaker Studio.",
            )
        )

        self.approval_pending_rule = events.Rule(
            self,
            "ApprovalPendingRule",
            description="Notify: a new model version waits for approval",
            event_pattern=events.EventPattern(
                source=[contracts.MODEL_PACKAGE_STATE_CHANGE.source],
                detail_type=[contracts.MODEL_PACKAGE_STATE_CHANGE.detail_type],
                detail={
                    "ModelPackageGroupName": [model_package_group_name],
                    "ModelApprovalStatus": [contracts.PENDING_MANUAL_APPROVAL],
                    "ModelPackageStatus": ["Completed"],
                },
            ),
        )
        self.approval_pending_rule.add_target(
            _notify(
                topic,
                dead_letter_queue,
                f"Model version {events.EventField.from_path('$.detail.ModelPackageVersion')} of "
                f"{events.EventField.from_path('$.detail.ModelPackageGroupName')} is waiting for approval. "
                f"ARN: {events.EventField.from_path('$.detail.ModelPackageArn')}. Compare it with the "
                "champion (`python -m mlopsctl compare`), then approve or reject it.",
            )
        )
        for rule in (self.pipeline_failed_rule, self.approval_pending_rule):
            Annotations.of(rule).acknowledge_warning(
                "@aws-cdk/aws-events:ruleUnresolvedEnvironment",
                "The alerts topic is imported by ARN from this environment's storage stack (see AlertsTopic), "
                "so its account and region are tokens; it is in the rule's own account and region.",
            )


def _notify(topic: sns.ITopic, dead_letter_queue: sqs.IQueue, text: str) -> targets.SnsTopic:
    """The alerts topic as a rule target: `text` as the message, three retries within two hours, then
    the dead-letter queue."""
    return targets.SnsTopic(
        topic,
        message=events.RuleTargetInput.from_text(text),
        dead_letter_queue=dead_letter_queue,
        retry_attempts=3,
        max_event_age=Duration.hours(2),
    )
