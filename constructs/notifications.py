"""One SNS topic per environment for everything a human must hear about."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from constructs import Construct

# Services that publish to the topic and therefore must use its key.
_PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "codestar-notifications.amazonaws.com")


class Notifications(Construct):
    """KMS-encrypted, SSL-only SNS topic with the environment's e-mail subscriptions.

    Alarms, EventBridge rules and CodeStar notifications publish here, so the topic has
    its own key whose policy lets exactly those services encrypt messages.
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
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the alerts topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=Duration.days(30),
        )
        publishers = [iam.ServicePrincipal(service) for service in _PUBLISHERS]
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAwsServicesToPublish",
                principals=publishers,
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        for publisher in publishers:
            self.topic.grant_publish(publisher)
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
