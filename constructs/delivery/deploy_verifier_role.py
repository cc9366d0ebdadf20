"""The role the CI/CD pipeline assumes in a serving environment to verify and record a deploy."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config import Release
from constructs import Construct
from constructs.security.nag_acknowledgments import acknowledge_wildcards, objects_in
from constructs.security.sagemaker_role_grants import grant_build_account_reads
from contracts import SAMPLE_PAYLOADS_PATTERN


class DeployVerifierRole(Construct):
    """Trusted by one role of the toolchain account; reads the endpoint, invokes it, writes the ledger.

    Only the delivery pipeline's deploy-check role (the CodeBuild role of the steps after this
    environment's deployment) may assume it, not every principal of the toolchain account. The
    trust names the account and conditions on aws:PrincipalArn, rather than naming the role as
    principal, so it deploys even before the pipeline's stack has created that role.

    After a deployment the pipeline checks that the endpoint serves the released model on
    its current config (Describe*), smoke-tests it (InvokeEndpoint) with the sample payload
    registered with the version it serves (read where the model-building pipeline wrote it: this
    environment's bucket when it is the model-building environment, else a bucket of the
    model-building account, which may be this very account), and appends the known-good entry to
    the ledger parameter (its version history is the ledger).
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
        release: Release,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        sample_payloads_are_local: bool,
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
                resources=[release.package_arn_pattern],
            )
        )
        acknowledge_wildcards(
            self.role,
            {
                f"Resource::{configs}": "Describe only; config names are generated per release, so not known here.",
                f"Resource::{models}": "Describe only; model names are generated per release, so not known here.",
                f"Resource::{release.package_arn_pattern}": "Describe the versions of the one released model group.",
                **self._grant_sample_payloads(release, artifacts_bucket, key, local=sample_payloads_are_local),
            },
        )

    def _grant_sample_payloads(
        self, release: Release, bucket: s3.IBucket, key: kms.IKey, *, local: bool
    ) -> dict[str, str]:
        """Read the versions' sample payloads (the smoke test's rows), not the training data beside them.

        `local`: this environment builds the models, so `bucket` is the one they are written to. Any
        other environment reads the model-building environment's bucket, even in the same account.
        """
        if local:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadSamplePayloads",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(SAMPLE_PAYLOADS_PATTERN)],
                )
            )
            key.grant_decrypt(self.role)
            return {objects_in(self, bucket, SAMPLE_PAYLOADS_PATTERN): "Sample payloads registered with versions only."}
        objects, keys = grant_build_account_reads(
            self.role,
            self,
            what="SamplePayload",
            pattern=SAMPLE_PAYLOADS_PATTERN,
            actions=["s3:GetObject"],
            account=release.registry_account,
            region=release.registry_region,
        )
        return {
            f"Resource::{objects}": "Sample payloads in buckets the model-building account owns (s3:ResourceAccount).",
            f"Resource::{keys}": "Decrypt through S3 only (kms:ViaService) with the model-building account's key.",
        }
