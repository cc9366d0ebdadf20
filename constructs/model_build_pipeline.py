"""The model-building SageMaker pipeline and its least-privilege execution role."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aws_cdk import ArnFormat, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker

from config import ModelConfig
from constructs import Construct
from constructs.image_access import LOGIN_FINDING, grant_image_pull
from constructs.model_registry import ModelRegistry
from constructs.nag_acknowledgments import acknowledge_wildcards, objects_in
from pipeline_steps import model_build_pipeline as builder
from pipeline_steps.source_archive import write_archive

# The builder's names are the contract with the checked-in definition. Importing the builder
# is cheap: it imports the SageMaker SDK only inside the functions that generate definitions.
_STEPS_DIR = Path(builder.__file__).resolve().parent
DEFINITION_FILE = builder.DEFINITION_FILE
STEP_SCRIPTS = builder.STEP_SCRIPTS
MODEL_ARTIFACTS_PREFIX = builder.MODEL_ARTIFACTS_PREFIX
PIPELINE_OUTPUT_PREFIX = f"{builder.PIPELINE_OUTPUT_PREFIX}/"
INPUT_MANIFESTS = f"{builder.INPUT_MANIFESTS_PREFIX}*"
# Where synth writes the model's source tar.gz before CDK stages it as a file asset.
_SOURCE_ARCHIVES = Path(tempfile.gettempdir()) / "mlops-model-source"


def model_image_uris(model: ModelConfig, region: str) -> dict[str, str]:
    """The processing, training and inference image URIs the model names in `region`."""
    return {role: builder.image_uri(image, role, region) for role, image in model.images.by_role().items()}


class ModelBuildPipeline(Construct):
    """AWS::SageMaker::Pipeline from the checked-in SDK definition, plus its execution role.

    The definition holds `${...}` variables for everything environment-specific; they are
    filled here with Fn::Sub: the role, buckets, key, registry group, the model's processing,
    training and inference images in this stack's region, the step scripts (CDK file assets,
    no bundling) and the model's source directory (a deterministic tar.gz file asset).
    The role may read training data and the runs' input manifests, read and write pipeline
    outputs and model artifacts, use the key, register into the group, run its own processing
    and training jobs, pull exactly the model's images, write its job logs and pass itself to
    SageMaker; nothing more.
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
    ) -> None:
        super().__init__(scope, id_)
        # Before anything else: a definition generated from other settings must not deploy.
        builder.check_definition_inputs(definition_settings)
        stack = Stack.of(self)
        self.pipeline_name = pipeline_name
        model = definition_settings.build.model
        self.image_uris = model_image_uris(model, stack.region)

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
        self.model_source = s3_assets.Asset(
            self, "ModelSource", path=str(write_archive(model.source_dir, _SOURCE_ARCHIVES))
        )

        variables = {
            builder.ROLE_NAME: self.role.role_name,
            builder.ARTIFACTS_BUCKET: artifacts_bucket.bucket_name,
            builder.KMS_KEY_ARN: key.key_arn,
            **{builder.IMAGE_VARIABLES[role]: uri for role, uri in self.image_uris.items()},
            builder.MODEL_PACKAGE_GROUP: registry.group_name,
            builder.CODE_BUCKET: self.model_source.s3_bucket_name,
            builder.MODEL_SOURCE_KEY: self.model_source.s3_object_key,
            **{builder.code_key_variable(script): asset.s3_object_key for script, asset in self.scripts.items()},
        }
        definition = DEFINITION_FILE.read_text()
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
        # Jobs pull the processing and training images; registering names the inference image,
        # which the pipeline never pulls (the serving environments' roles do).
        grant_image_pull(self.role, self, [self.image_uris["processing"], self.image_uris["training"]])
        self._grant_scripts()
        self._acknowledge(data_bucket, artifacts_bucket, registry)

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

    def _grant_scripts(self) -> None:
        """Read exactly the step scripts' and the model source's objects in the CDK asset bucket, nothing else there."""
        bucket = self.model_source.bucket
        keys = [asset.s3_object_key for asset in (*self.scripts.values(), self.model_source)]
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

    def _acknowledge(self, data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket, registry: ModelRegistry) -> None:
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
            LOGIN_FINDING: "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no "
            "resource-level permissions; metrics are limited to the /aws/sagemaker/* namespaces by condition.",
        }
        acknowledge_wildcards(self.role, findings)
