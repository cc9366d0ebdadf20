"""What the AWS Control Tower proactive controls (cfn-guard, checked at synth) ask of our resources.

The validator reports a finding under its plugin name and the guard rule's name; CDK's
`Validations.of(scope).acknowledge` takes that id, `guard_rule` spells it.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

# The name CfnGuardValidator reports under; CDK uses it as the acknowledgement prefix.
GUARD_PLUGIN = "cdk-validator-cfnguard"


def guard_rule(name: str) -> str:
    """The acknowledgement id of a guard rule, e.g. `s3_bucket_object_lock_enabled_check`."""
    return f"{GUARD_PLUGIN}::{name}"


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
