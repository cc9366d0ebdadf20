"""Where EventBridge puts the events this account's rules could not deliver, and who hears of it."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicies, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from constructs.security.control_tower import guard_rule

# As long as SQS keeps a message (the most it allows): time to find the cause and redrive.
RETENTION_DAYS = 14


class EventDeadLetters(Construct):
    """A KMS-encrypted, SSL-only queue that is every rule target's dead-letter queue, with a depth alarm.

    EventBridge retries a failed delivery (a deleted pipeline, a refused cross-account put, a
    throttled SageMaker call) and then drops the event, unless the target names a dead-letter
    queue ("Using dead-letter queues to process undelivered events", EventBridge user guide).
    The queue admits EventBridge only for this account's rules (aws:SourceAccount and
    aws:SourceArn), so one queue per account serves the rules of every stack there: point their
    targets at `target`, the queue imported by ARN (CDK would otherwise add a statement per rule
    to this stack's queue policy, a reference from every other stack back into this one).
    `key` must let events.amazonaws.com use it (kms:GenerateDataKey*, kms:Decrypt), as the
    alerts topic's key does. Any message in the queue sets off `alarm`, which notifies `topic`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        key: kms.IKey,
        topic: sns.ITopic,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(RETENTION_DAYS),
            removal_policy=removal_policy,
        )
        # The queue's policy is kept or removed with the queue it protects.
        RemovalPolicies.of(self.queue).apply(removal_policy)
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ThisAccountsRulesSendUndeliveredEvents",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(service="events", resource="rule", resource_name="*")
                    },
                },
            )
        )
        acknowledge_dead_letter_queue(
            self.queue,
            "the dead-letter queue of the account's EventBridge rule targets",
            "its alarm notifies an operator, who redelivers or drops the messages (docs/operations.md)",
        )
        self.target: sqs.IQueue = sqs.Queue.from_queue_arn(self, "Target", self.queue.queue_arn)
        # One per stack; the runbook reads it by this name (docs/operations.md: Redelivering dead letters).
        CfnOutput(
            self, "QueueUrl", value=self.queue.queue_url, description="Events this account's rules could not deliver"
        ).override_logical_id("UndeliveredEventsQueueUrl")
        self.alarm = alarm_on_any_message(
            self,
            "DepthAlarm",
            queue=self.queue,
            topic=topic,
            description=(
                "An EventBridge rule could not deliver an event after its retries; the event waits in the "
                "undelivered-events queue (docs/operations.md: Redelivering dead letters)."
            ),
        )


def acknowledge_dead_letter_queue(queue: sqs.IQueue, what: str, who_reads_it: str) -> None:
    """cdk-nag's SQS3 and Control Tower's CT.SQS.PR.1 ask every queue for a dead-letter queue of its own."""
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason=f"This queue is {what}; a dead-letter queue of its own would only move the same messages "
            "one step further.",
        ),
        Acknowledgment(
            id=guard_rule("sqs_dlq_check"),
            reason=f"This queue is itself a dead-letter queue (see AwsSolutions-SQS3): {who_reads_it}.",
        ),
    )


def alarm_on_any_message(
    scope: Construct, id_: str, *, queue: sqs.IQueue, topic: sns.ITopic, description: str
) -> cloudwatch.Alarm:
    """An alarm that notifies `topic` as soon as a message is visible in the dead-letter queue `queue`."""
    alarm = cloudwatch.Alarm(
        scope,
        id_,
        alarm_description=description,
        metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return alarm
