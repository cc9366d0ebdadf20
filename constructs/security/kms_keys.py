"""Customer-managed KMS keys as this app makes them: rotating, deleted only after a waiting period,
and grants only for AWS services acting for a principal (Control Tower's CT.KMS.PR.3)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct

# KMS waits 7 to 30 days before it deletes a key (ScheduleKeyDeletion PendingWindowInDays).
_LONGEST_PENDING_WINDOW_DAYS = 30


def managed_key(
    scope: Construct,
    id_: str,
    *,
    description: str,
    removal_policy: RemovalPolicy,
    pending_window_days: int = _LONGEST_PENDING_WINDOW_DAYS,
) -> kms.Key:
    """A rotating key that follows `removal_policy`, its grants restricted to AWS services."""
    key = kms.Key(
        scope,
        id_,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
        pending_window=Duration.days(pending_window_days),
    )
    restrict_grants_to_aws_services(key)
    return key


def restrict_grants_to_aws_services(key: kms.IKey) -> None:
    """CT.KMS.PR.3: only AWS services acting for a principal may create grants on `key`.

    SageMaker, Lambda and the other integrated services create their grants with
    kms:GrantIsForAWSResource true (AWS KMS developer guide, "kms:GrantIsForAWSResource");
    nothing in this app creates a grant directly.
    """
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsExceptForAwsServices",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        )
    )
