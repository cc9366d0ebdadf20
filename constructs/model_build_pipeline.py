"""The model-building SageMaker pipeline and its least-privilege execution role."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import ArnFormat, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker

from config import NetworkConfig
from constructs import Construct
from constructs.job_network import grant_vpc_access, with_network
from constructs.model_registry import ModelRegistry
from constructs.nag_acknowledgments import acknowledge_wildcards, objects_in
from pipeline_steps import model_build_pipeline as builder

# The builder's names are the contract with the checked-in definition. Importing the builder
# is cheap: it imports the SageMaker SDK only inside the functions that generate definitions.
_STEPS_DIR = Path(builder.__file__).resolve().parent
DEFINITION_FILE = builder.DEFINITION_FILE
IMAGES_FILE = builder.IMAGES_FILE
STEP_SCRIPTS = builder.STEP_SCRIPTS
MODEL_ARTIFACTS_PREFIX = builder.MODEL_ARTIFACTS_PREFIX
PIPELINE_OUTPUT_PREFIX = f"{builder.PIPELINE_OUTPUT_PREFIX}/"
INPUT_MANIFESTS = f"{builder.INPUT_MANIFESTS_PREFIX}*"


def image_for_region(region: str) -> str:
    """The SageMaker XGBoost image URI of `region`: what the pipeline trains and registers with."""
    images: dict[str, str] = json.loads(IMAGES_FILE.read_text())
    if region not in images:
        raise ValueError(
            f"No SageMaker XGBoost image for region {region!r} in {IMAGES_FILE.name}; "
            f"allowed: {', '.join(sorted(images))}."
        )
    return images[region]


def image_repository_arn(stack: Stack, image_uri: str) -> str:
    """ARN of the ECR repository of an `<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` URI."""
    registry_host, _, repository_and_tag = image_uri.partition("/")
    image_account, _, _, image_region, *_ = registry_host.split(".")
    return stack.format_arn(
        service="ecr",
        account=image_account,
        region=image_region,
        resource="repository",
        resource_name=repository_and_tag.split(":", 1)[0],
    )


class ModelBuildPipeline(Construct):
    """AWS::SageMaker::Pipeline from the checked-in SDK definition, plus its execution role.

    The definition holds `${...}` variables for everything environment-specific; they are
    filled here with Fn::Sub: the role, buckets, key, registry group, the XGBoost image of
    this stack's region and the step scripts, shipped as CDK file assets (no bundling).
    The role may read training data and the runs' input manifests, read and write pipeline
    outputs and model artifacts, use the key, register into the group, run its own processing
    and training jobs, pull the XGBoost image, write its job logs and pass itself to
    SageMaker; nothing more. With a VPC in `network`, every job attaches to it (and the role
    may create the jobs' network interfaces there); the steps `network.isolated_steps` name
    run with network isolation.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        pipeline_name: str,
        definition_settings: builder.BuildSettings,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        registry: ModelRegistry,
        network: NetworkConfig,
    ) -> None:
        super().__init__(scope, id_)
        # Before anything else: a definition generated from other settings must not deploy.
        builder.check_definition_inputs(definition_settings)
        stack = Stack.of(self)
        self.pipeline_name = pipeline_name
        self.image_uri = image_for_region(stack.region)

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the {pipeline_name} pipeline and its processing and training jobs",
        )
        self.scripts = {
            script: s3_assets.Asset(self, f"{script.capitalize()}Script", path=str(_STEPS_DIR / f"{script}.py"))
            for script in STEP_SCRIPTS
        }

        variables = {
            builder.ROLE_NAME: self.role.role_name,
            builder.ARTIFACTS_BUCKET: artifacts_bucket.bucket_name,
            builder.KMS_KEY_ARN: key.key_arn,
            builder.IMAGE_URI: self.image_uri,
            builder.MODEL_PACKAGE_GROUP: registry.group_name,
            builder.CODE_BUCKET: self.scripts["train"].s3_bucket_name,
            **{builder.code_key_variable(script): asset.s3_object_key for script, asset in self.scripts.items()},
        }
        definition = with_network(DEFINITION_FILE.read_text(), network.vpc, network.isolated_steps)
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_description="Preprocess, train, evaluate against the champion, baseline, gate, register",
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": Fn.sub(definition, variables)},
        )
        self.pipeline.node.add_dependency(self.role)
        self.pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)

        self._grant_data(data_bucket, artifacts_bucket, key)
        registry.grant_register(self.role)
        self._grant_jobs(stack)
        self._grant_image_pull(stack)
        self._grant_scripts()
        self._acknowledge(data_bucket, artifacts_bucket, registry, network)

    def _grant_data(self, data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, key: kms.IKey) -> None:
        # A run's input manifest may list any object of the data bucket; reading is all the pipeline does there.
        data_bucket.grant_read(self.role)
        # Preprocess reads the run's manifest, written by the start-retraining function.
        artifacts_bucket.grant_read(self.role, INPUT_MANIFESTS)
        artifacts_bucket.grant_read_write(self.role, f"{PIPELINE_OUTPUT_PREFIX}*")
        # Training writes model.tar.gz under models/; evaluate reads the champion's from there.
        artifacts_bucket.grant_read_write(self.role, f"{MODEL_ARTIFACTS_PREFIX}*")
        key.grant_encrypt_decrypt(self.role)
        # Jobs encrypt their volumes with the key: SageMaker creates grants for the instances.
        key.grant(self.role, "kms:CreateGrant", "kms:DescribeKey")

    def _grant_jobs(self, stack: Stack) -> None:
        self._job_arns = [
            stack.format_arn(service="sagemaker", resource=kind, resource_name="*")
            for kind in ("processing-job", "training-job")
        ]
        self._log_group_arns = [
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"/aws/sagemaker/{kind}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for kind in ("ProcessingJobs", "TrainingJobs")
        ]
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RunPipelineJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=self._job_arns,
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassOnlyItselfToSageMaker",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=self._log_group_arns,
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PublishJobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            )
        )

    def _grant_image_pull(self, stack: Stack) -> None:
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PullSageMakerXGBoostImage",
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[image_repository_arn(stack, self.image_uri)],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )

    def _grant_scripts(self) -> None:
        """Read exactly the step scripts' objects in the CDK asset bucket, nothing else there."""
        bucket = self.scripts["train"].bucket
        keys = [asset.s3_object_key for asset in self.scripts.values()]
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadStepScripts",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(k) for k in keys],
            )
        )
        # Processing inputs are S3 prefixes: SageMaker lists them before downloading.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListStepScripts",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": keys}},
            )
        )
        for asset in self.scripts.values():
            if asset.asset_path and "/" in asset.s3_object_key:
                raise ValueError(
                    f"Step script asset key {asset.s3_object_key!r} has a prefix; the pipeline expects a flat key."
                )

    def _acknowledge(
        self, data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, registry: ModelRegistry, network: NetworkConfig
    ) -> None:
        findings = {
            "Action::s3:GetObject*": "Bucket grants (grant_read/grant_read_write) use the "
            "S3 action families they need for reading objects and their versions and tags.",
            "Action::s3:GetBucket*": "Bucket grants read bucket-level settings "
            "(location, encryption) that SageMaker checks before it reads inputs.",
            "Action::s3:List*": "Bucket grants list objects: processing and training "
            "inputs are S3 prefixes that SageMaker lists.",
            "Action::s3:DeleteObject*": "grant_read_write on the pipeline-output and model "
            "prefixes only: jobs overwrite their own outputs.",
            "Action::s3:Abort*": "grant_read_write: multipart uploads of large model artifacts may need to be aborted.",
            "Action::kms:ReEncrypt*": "grant_encrypt_decrypt on the environment's own data key.",
            "Action::kms:GenerateDataKey*": "grant_encrypt_decrypt on the environment's own "
            "data key, which encrypts every input and output.",
            objects_in(self, data_bucket, "*"): "The training data: "
            "a run's input manifest may list any object of the data bucket, and the pipeline only reads it.",
            objects_in(self, artifacts_bucket, INPUT_MANIFESTS): "Input manifests are named by "
            "the hash of the data they list, known only when a run starts; the pipeline only reads them.",
            objects_in(self, artifacts_bucket, PIPELINE_OUTPUT_PREFIX + "*"): "Step "
            "outputs are written per execution under the pipeline's own prefix.",
            objects_in(self, artifacts_bucket, MODEL_ARTIFACTS_PREFIX + "*"): "Model "
            "artifacts are written by training jobs (one folder per job name) and the champion's is read back.",
            f"Resource::{registry.package_arn_pattern}": "Registering creates a new version "
            "under the group; version numbers are assigned by SageMaker.",
            **{
                f"Resource::{arn}": "Pipelines name each job at run time; scoped to this account and region."
                for arn in self._job_arns
            },
            **{
                f"Resource::{arn}": "SageMaker writes each job's logs to this fixed group, one stream per job."
                for arn in self._log_group_arns
            },
            "Resource::*": "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no "
            "resource-level permissions; metrics are limited to the /aws/sagemaker/* namespaces by condition.",
        }
        if network.vpc is not None:
            grant_vpc_access(self.role, network.vpc, findings)
        acknowledge_wildcards(self.role, findings)
