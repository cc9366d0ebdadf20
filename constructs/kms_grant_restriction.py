"""CT.KMS.PR.3 for a KMS key: only AWS services acting for a principal may create grants on it."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms


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
