"""The SageMaker Model Registry group that every trained version is registered into."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct


class ModelRegistry(Construct):
    """AWS::SageMaker::ModelPackageGroup, retained on delete.

    The group's name is fixed (`group_name`) because things outside this stack must find
    it: the serving environments' model ARNs, the approval-event rule and the operator CLI.
    When serving environments live in other accounts, a resource policy lets those accounts
    describe and list the group's versions (read only: approval stays in this account).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        group_name: str,
        description: str,
        consumer_accounts: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.group_name = group_name
        stack = Stack.of(self)
        self.group_arn = stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=group_name)
        # Versions live under model-package/<group>/<n>, not under the group's ARN.
        self.package_arn_pattern = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{group_name}/*"
        )
        policy = self._cross_account_policy(consumer_accounts) if consumer_accounts else None
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=group_name,
            model_package_group_description=description,
            model_package_group_policy=policy,
        )
        self.group.apply_removal_policy(RemovalPolicy.RETAIN)

    def _cross_account_policy(self, accounts: Sequence[str]) -> dict:
        principals = [iam.AccountPrincipal(account) for account in accounts]
        document = iam.PolicyDocument(
            statements=[
                # ListModelPackages names the group, not a version: AWS's cross-account example
                # (SageMaker guide, "Cross-account discoverability") grants it on the group too.
                iam.PolicyStatement(
                    sid="ConsumerAccountsDescribeGroup",
                    principals=principals,
                    actions=["sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"],
                    resources=[self.group_arn],
                ),
                iam.PolicyStatement(
                    sid="ConsumerAccountsReadVersions",
                    principals=principals,
                    actions=["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
                    resources=[self.package_arn_pattern],
                ),
            ]
        )
        return Stack.of(self).resolve(document.to_json())

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Describe and list the group's versions (serving, release resolution)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:DescribeModelPackage",
                "sagemaker:ListModelPackages",
            ],
            resource_arns=[self.group_arn, self.package_arn_pattern],
        )

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Register new versions (the model-building pipeline)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:CreateModelPackage", "sagemaker:AddTags"],
            resource_arns=[self.group_arn, self.package_arn_pattern],
        )
