"""A SageMaker endpoint that takes each new model version blue/green or rolling, guarded by alarms."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from config import EndpointConfig, NetworkConfig, Release, RolloutConfig
from constructs import Construct
from constructs.monitoring.rollback_alarms import RollbackAlarms
from constructs.network.job_network import grant_vpc_access
from constructs.security.nag_acknowledgments import acknowledge_wildcards, objects_in
from constructs.security.sagemaker_role_grants import (
    grant_build_account_reads,
    grant_container_logs,
    grant_image_pull,
)
from contracts import MODEL_ARTIFACTS_PREFIX
from endpoint_deployment import deployment_config


class GuardedEndpoint(Construct):
    """Model, EndpointConfig and Endpoint for the released model package version.

    The endpoint's name is fixed (the CLI, alarms and callers know it) while the Model and
    EndpointConfig keep CloudFormation-generated names: a new release replaces both, and
    CloudFormation then *updates* the endpoint to the new config, which SageMaker performs
    as a blue/green deployment with the configured traffic shifting, rolling back on its
    own if any rollback alarm fires. The variant name never changes, as blue/green and
    autoscaling require.

    Data capture (request and response, sampled) goes to
    s3://<artifacts>/<capture_prefix><endpoint>/<variant>/yyyy/mm/dd/hh/, encrypted with
    the environment's key, for the drift check.

    The Model runs with network isolation unless `network` turns it off, and in the
    environment's VPC when `network` names one.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        variant_name: str,
        release: Release,
        endpoint: EndpointConfig,
        rollout: RolloutConfig,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        capture_prefix: str,
        model_artifacts_are_local: bool,
        network: NetworkConfig,
        image_uris: Sequence[str],
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        self.release = release
        self.rollout = rollout
        self.capture_uri = f"s3://{artifacts_bucket.bucket_name}/{capture_prefix}"
        self.endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint_name)

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{endpoint_name}: pulls the released model and writes captured requests",
        )
        self._grant_model_access(artifacts_bucket, capture_prefix, model_artifacts_are_local, network, image_uris)

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                model_package_name=release.model_package_arn
            ),
            enable_network_isolation=network.endpoint_isolation,
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=list(network.vpc.security_group_ids), subnets=list(network.vpc.subnet_ids)
            )
            if network.vpc
            else None,
        )
        self.model.node.add_dependency(self.role)

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            # Instance types with local NVMe storage refuse a volume key; SageMaker encrypts that
            # storage in hardware (CreateEndpointConfig, KmsKeyId).
            kms_key_id=key.key_arn if endpoint.volume_kms_key_allowed else None,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=variant_name,
                    model_name=self.model.attr_model_name,
                    initial_instance_count=endpoint.instance_count,
                    instance_type=endpoint.instance_type,
                    initial_variant_weight=1.0,
                )
            ],
            data_capture_config=sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                initial_sampling_percentage=endpoint.data_capture_percent,
                destination_s3_uri=self.capture_uri,
                kms_key_id=key.key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=["text/csv"]
                ),
            ),
        )

        # Kept when replaced (UpdateReplacePolicy) and when the stack goes (DeletionPolicy): after a
        # guardrail rollback the endpoint still runs the replaced pair, which CloudFormation would
        # otherwise delete once it reports the update done. `mlopsctl cleanup` removes unused ones.
        for replaced_per_release in (self.model, self.endpoint_config):
            replaced_per_release.apply_removal_policy(RemovalPolicy.RETAIN)

        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )

    def roll_back_on(self, rollback_alarms: RollbackAlarms) -> None:
        """Every update of the endpoint shifts traffic as configured and rolls back on `rollback_alarms`.

        The alarms watch this template's EndpointConfig, so they exist only after it; the
        endpoint then waits for them, which updates them to the new config before a release's
        deployment starts.
        """
        # Written in CloudFormation's own shape so the template says exactly what config asked for.
        self.endpoint.add_property_override(
            "DeploymentConfig", deployment_config(self.rollout, rollback_alarms.alarm_names)
        )
        # The alarms are referenced by name only; they must exist before a deployment uses them.
        self.endpoint.node.add_dependency(rollback_alarms)
        # "Ensure that your IAM execution role has permission to perform the cloudwatch:DescribeAlarms
        # action on the auto-rollback alarms you specify" (SageMaker developer guide, "Auto-Rollback
        # Configuration and Monitoring"). Whoever calls Create/UpdateEndpoint needs it as well.
        # A policy of its own: the alarms watch the EndpointConfig, which needs the Model, which
        # waits for the role's default policy, so a statement there would be a cycle.
        read_alarms = iam.Policy(
            self,
            "ReadRollbackAlarms",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadRollbackAlarms",
                    actions=["cloudwatch:DescribeAlarms"],
                    resources=[alarm.alarm_arn for alarm in rollback_alarms.alarms],
                )
            ],
        )
        self.endpoint.node.add_dependency(read_alarms)

    def _grant_model_access(
        self,
        bucket: s3.IBucket,
        capture_prefix: str,
        artifacts_are_local: bool,
        network: NetworkConfig,
        image_uris: Sequence[str],
    ) -> None:
        region, account = self.release.registry_region, self.release.registry_account
        bucket.grant_read(self.role, f"{MODEL_ARTIFACTS_PREFIX}*")
        bucket.grant_put(self.role, f"{capture_prefix}*")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadRegisteredVersions",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[self.release.package_arn_pattern],
            )
        )
        # The registered version names its inference image: the release's own (recorded by
        # resolve-release) and the one the model config names, in the registry's region.
        grant_image_pull(self.role, self, image_uris)
        (log_streams,) = grant_container_logs(
            self.role, self, [f"/aws/sagemaker/Endpoints/{self.endpoint_name}"], sid="ContainerLogs"
        )
        findings = {
            "Action::s3:GetObject*": "grant_read on the models/ prefix only: object and version reads.",
            "Action::s3:GetBucket*": "grant_read: bucket location/metadata needed to download model data.",
            "Action::s3:List*": "grant_read: SageMaker lists the model data prefix before downloading it.",
            "Action::s3:Abort*": "grant_put on the data-capture prefix: aborts its own multipart uploads.",
            "Action::kms:GenerateDataKey*": "Captured data is written encrypted with the environment's key.",
            "Action::kms:ReEncrypt*": "grant_put of a KMS bucket; limited to the environment's key.",
            objects_in(self, bucket, f"{MODEL_ARTIFACTS_PREFIX}*"): "Model artifacts: the models/ prefix only.",
            objects_in(self, bucket, f"{capture_prefix}*"): "Data capture writes under this environment's prefix only.",
            f"Resource::{self.release.package_arn_pattern}": "Versions of the one model package group served here.",
            f"Resource::{log_streams}": "Log streams of this endpoint's own log group.",
        }
        if not artifacts_are_local:
            # Model data lives in the model-building account's artifacts bucket, under models/.
            foreign_objects, foreign_keys = grant_build_account_reads(
                self.role,
                self,
                what="ModelArtifacts",
                pattern=f"{MODEL_ARTIFACTS_PREFIX}*",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                account=account,
                region=region,
            )
            findings[f"Resource::{foreign_objects}"] = (
                "models/ objects of buckets owned by the model-building account only (s3:ResourceAccount); "
                "that bucket's policy shares the same prefix."
            )
            findings[f"Resource::{foreign_keys}"] = (
                "Decrypt through S3 only (kms:ViaService) with the model-building account's key, whose policy "
                "allows this account."
            )
        if network.vpc is not None:
            grant_vpc_access(self.role, network.vpc, findings, runs_processing_jobs=False)
        acknowledge_wildcards(self.role, findings)
