"""The role the CI/CD pipeline assumes in a serving environment to verify and record a deploy."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge_wildcards


class DeployVerifierRole(Construct):
    """Trusted by one role of the toolchain account; reads the endpoint, invokes it, writes the ledger.

    Only the delivery pipeline's deploy-check role (the CodeBuild role of the steps after this
    environment's deployment) may assume it, not every principal of the toolchain account. The
    trust names the account and conditions on aws:PrincipalArn, rather than naming the role as
    principal, so it deploys even before the pipeline's stack has created that role.

    After a deployment the pipeline checks that the endpoint serves the released model on
    its current config (Describe*), smoke-tests it (InvokeEndpoint), and appends the
    known-good entry to the ledger parameter (its version history is the ledger).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        role_name: str,
        toolchain_account: str,
        caller_role_name: str,
        endpoint_name: str,
        ledger_parameter_name: str,
        model_package_arn_pattern: str,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint_name)
        self.ledger_parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=ledger_parameter_name.lstrip("/")
        )
        self.caller_role_arn = stack.format_arn(
            service="iam", region="", account=toolchain_account, resource="role", resource_name=caller_role_name
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.AccountPrincipal(toolchain_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": self.caller_role_arn}}
            ),
            description=f"Assumed by the delivery pipeline to verify {endpoint_name} and record known-good releases",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="VerifyEndpoint",
                actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                resources=[self.endpoint_arn],
            )
        )
        # EndpointConfig and Model names are generated per release, so only the type is fixed.
        configs = stack.format_arn(service="sagemaker", resource="endpoint-config", resource_name="*")
        models = stack.format_arn(service="sagemaker", resource="model", resource_name="*")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWhatTheEndpointServes",
                actions=["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                resources=[configs, models],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="KnownGoodLedger",
                actions=["ssm:GetParameter", "ssm:PutParameter", "ssm:GetParameterHistory"],
                resources=[self.ledger_parameter_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadRegisteredVersions",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[model_package_arn_pattern],
            )
        )
        acknowledge_wildcards(
            self.role,
            {
                f"Resource::{configs}": "Describe only; config names are generated per release, so not known here.",
                f"Resource::{models}": "Describe only; model names are generated per release, so not known here.",
                f"Resource::{model_package_arn_pattern}": "Describe the versions of the one released model group.",
            },
        )
