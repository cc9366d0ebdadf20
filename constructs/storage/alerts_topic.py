"""One SNS topic per environment for everything a human must hear about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from constructs import Construct
from constructs.security.kms_keys import managed_key

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTBRIDGE = "events.amazonaws.com"
CODESTAR_NOTIFICATIONS = "codestar-notifications.amazonaws.com"


class AlertsTopic(Construct):
    """KMS-encrypted, SSL-only SNS topic with the environment's e-mail subscriptions.

    Alarms, EventBridge rules and CodeStar notifications publish here, so the topic has its own
    key whose policy lets exactly those services encrypt messages. Each service may publish only
    on behalf of this account (aws:SourceAccount), alarms and rules only as this account's alarms
    and rules (aws:SourceArn), so no other account can use them as a confused deputy to reach the
    topic. Point alarms, rules and notification rules at `publish_target`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        emails: Sequence[str],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        account = stack.account
        sources = {
            CLOUDWATCH: stack.format_arn(
                service="cloudwatch", resource="alarm", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
            ),
            EVENTBRIDGE: stack.format_arn(service="events", resource="rule", resource_name="*"),
        }
        self.key = managed_key(self, "Key", description="Encrypts the alerts topic", removal_policy=removal_policy)
        encrypt = ["kms:Decrypt", "kms:GenerateDataKey*"]
        # CloudWatch passes the alarm as aws:SourceArn to KMS too (CloudWatch user guide,
        # "Confused deputy prevention").
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarmsToPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=encrypt,
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": sources[CLOUDWATCH]},
                },
            )
        )
        # CodeStar Notifications documents a kms:ViaService condition for the topic key (Developer
        # Tools console user guide, "Configure Amazon SNS topics for notifications").
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowNotificationRulesToPublishThroughSns",
                principals=[iam.ServicePrincipal(CODESTAR_NOTIFICATIONS)],
                actions=encrypt,
                resources=["*"],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}},
            )
        )
        # EventBridge sends no aws:SourceAccount/aws:SourceArn to KMS, so conditions on them would
        # drop every event (EventBridge user guide, "Amazon SNS permissions"); the topic policy
        # below still admits only this account's rules.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToPublish",
                principals=[iam.ServicePrincipal(EVENTBRIDGE)],
                actions=encrypt,
                resources=["*"],
            )
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        for service in (CLOUDWATCH, EVENTBRIDGE, CODESTAR_NOTIFICATIONS):
            conditions: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account}}
            if service in sources:
                conditions["ArnLike"] = {"aws:SourceArn": sources[service]}
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions=conditions,
                )
            )
        # What alarms, rules and notification rules are pointed at: the same topic imported by
        # ARN, because CDK's SNS targets grant their service principal on the topic (and its key)
        # without conditions; the statements above already admit each publisher.
        self.publish_target: sns.ITopic = sns.Topic.from_topic_arn(self, "PublishTarget", self.topic.topic_arn)
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
