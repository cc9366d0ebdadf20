"""What the deploy-verifier role may do to run a shadow test (mlopsctl shadow-test), and no more."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config import Generated, ResourceNames
from constructs import Construct
from constructs.security.nag_acknowledgments import acknowledge_wildcards, objects_in
from constructs.security.operator_role import guard_alarm_statement, guard_alarms_arn


class ShadowTestAccess(Construct):
    """A policy on the verifier role: create the shadow Model and EndpointConfig, switch, compare.

    The shadow test names its Model and EndpointConfig as config.ResourceNames.generated does, so
    creation is scoped to that pattern; restoring the endpoint goes back to a CloudFormation-named
    config, so UpdateEndpoint needs every config of the account and region (the endpoint is fixed).
    Each update is guarded by the rollback alarms and copies of the new-fleet alarms it makes.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        verifier_role: iam.IRole,
        names: ResourceNames,
        environment: str,
        execution_role: iam.IRole,
        capture_bucket: s3.IBucket,
        capture_prefix: str,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        endpoint_name = names.endpoint(environment)
        shadow_models = arn("model", names.generated_pattern(environment, Generated.SHADOW))
        shadow_configs = arn("endpoint-config", names.generated_pattern(environment, Generated.SHADOW))
        any_config = arn("endpoint-config", "*")
        rollback_alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{names.rollback_alarm_prefix(environment)}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[verifier_role],
            statements=[
                iam.PolicyStatement(
                    sid="CreateShadowModelAndConfig",
                    # Creating with tags also needs AddTags (SageMaker "Amazon SageMaker AI API permissions").
                    actions=["sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:AddTags"],
                    resources=[shadow_models, shadow_configs],
                ),
                # A later run finds the config to return to in a left-behind shadow config's tags.
                iam.PolicyStatement(
                    sid="ReadShadowConfigTags", actions=["sagemaker:ListTags"], resources=[shadow_configs]
                ),
                iam.PolicyStatement(
                    sid="ReadRollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=[rollback_alarms]
                ),
                guard_alarm_statement(stack, names, environment),
                iam.PolicyStatement(
                    sid="SwitchEndpointToShadowAndBack",
                    actions=["sagemaker:UpdateEndpoint"],
                    resources=[arn("endpoint", endpoint_name), any_config],
                ),
                # CreateModel passes the endpoint's execution role to the candidate's Model.
                iam.PolicyStatement(
                    sid="PassEndpointExecutionRole",
                    actions=["iam:PassRole"],
                    resources=[execution_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                # "The KMS key policy must grant permission to the IAM role that you specify in your
                # CreateEndpoint and UpdateEndpoint requests" (CreateEndpointConfig, KmsKeyId): the shadow
                # config keeps the environment's volume and capture key; grants only for AWS resources.
                iam.PolicyStatement(
                    sid="UseEnvironmentKeyForEndpointUpdate",
                    actions=["kms:CreateGrant"],
                    resources=[key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
                # GetMetricData has no resource-level permissions (Service Authorization Reference).
                iam.PolicyStatement(sid="ReadVariantMetrics", actions=["cloudwatch:GetMetricData"], resources=["*"]),
            ],
        )
        # Captured requests and responses of both variants, decrypted with the environment's key.
        capture_bucket.grant_read(verifier_role, f"{capture_prefix}*")
        acknowledge_wildcards(
            self.policy,
            {
                f"Resource::{shadow_models}": "Only the Models the shadow test names after this endpoint.",
                f"Resource::{shadow_configs}": "Only the EndpointConfigs the shadow test names after this endpoint.",
                f"Resource::{any_config}": (
                    "UpdateEndpoint of this one endpoint back to its CloudFormation-named config, unknown here."
                ),
                f"Resource::{rollback_alarms}": "Describe only, and only this environment's rollback alarms.",
                f"Resource::{guard_alarms_arn(stack, names, environment)}": (
                    "The alarm copies that guard an update to a shadow test's config, named after that config."
                ),
            },
        )
        # On the role's default policy, where grant_read put its statements.
        default_policy = verifier_role.node.find_child("DefaultPolicy")
        acknowledge_wildcards(
            default_policy,
            {
                "Action::s3:GetObject*": "grant_read of captured requests under this environment's capture prefix.",
                "Action::s3:GetBucket*": "grant_read: bucket location before reading captured data.",
                "Action::s3:List*": "grant_read: listing the capture prefix to find the test window's files.",
                objects_in(self, capture_bucket, f"{capture_prefix}*"): "Captured data of this environment only.",
            },
        )
