"""The one function that turns any retraining trigger into a model-building pipeline execution."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicies,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

import contracts
from config import ApprovalMode, RetrainingConfig
from constructs import Construct
from constructs.security.checkov_skips import skip_checkov
from constructs.security.control_tower import guard_rule
from constructs.security.kms_keys import managed_key
from constructs.security.nag_acknowledgments import acknowledge_wildcards, objects_in
from constructs.storage.event_dead_letters import acknowledge_dead_letter_queue, alarm_on_any_message
from constructs.storage.model_registry import ModelRegistry

ASSET_DIR = Path(__file__).resolve().parents[2] / "lambda" / "start_retraining"
# The names the function shares with the pipeline and the CLI, bundled beside its modules.
CONTRACTS_MODULE = Path(contracts.__file__).resolve()
# Powertools for AWS Lambda (Python) v3, published by AWS as a public layer in every commercial
# region; pinned so a deploy never picks up a new Powertools release unannounced. The local
# tests run against the version pinned in requirements-dev.txt. AWS builds the V3 layers with
# every extra, the parser's pydantic v2 among them ("Extra dependencies", Powertools install
# docs), which the function's settings model (retraining_settings.py) uses.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27
# The layer's name spells the runtime and architecture; the function below uses the same two.
LAYER_RUNTIME = "python314"
LAYER_ARCHITECTURE = "arm64"
# The objects the function may write: the run's input manifests, nothing else.
INPUT_MANIFESTS = f"{contracts.INPUT_MANIFESTS_PREFIX}*"


@jsii.implements(ILocalBundling)
class _WithContracts:
    """Bundles the function's folder plus contracts.py, by copying: pure Python, no Docker."""

    # The bundling options arrive as jsii passes them; copying needs none of them.
    def try_bundle(self, output_dir: str, *_options: Any, **_named_options: Any) -> bool:
        shutil.copytree(
            ASSET_DIR,
            output_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache"),
        )
        shutil.copy2(CONTRACTS_MODULE, output_dir)
        return True


def function_code() -> lambda_.Code:
    """The function's asset: lambda/start_retraining with contracts.py beside its modules.

    The folder stays an asset root of its own (no project code but the contracts module), and
    the hash of the bundled output names the asset, so a change to either gives a new version.
    """
    return lambda_.Code.from_asset(
        str(ASSET_DIR),
        asset_hash_type=AssetHashType.OUTPUT,
        # Bundling always succeeds locally; CDK requires an image for the Docker fallback it never takes.
        bundling=BundlingOptions(image=DockerImage.from_registry("unused-local-bundling"), local=_WithContracts()),
    )


class StartRetrainingFunction(Construct):
    """Lambda function + its KMS-encrypted dead-letter queue + an alarm on the queue's depth.

    At most one run per trigger: the function skips while an execution is running or stopping,
    and a redelivered event reuses its idempotency token. Concurrency is not reserved unless
    `retraining.one_trigger_at_a_time` says so, because Lambda refuses a reservation that leaves
    fewer than 100 unreserved executions in the account (Lambda developer guide, "Configuring
    reserved concurrency"), which fails the deploy on new accounts with a low quota; with the
    option on, two different triggers arriving in the same instant cannot both start a run.
    Failed async invocations are retried by Lambda, then land in `dead_letter_queue`; the
    EventBridge rules send what they cannot deliver to the same queue, so one alarm covers every
    lost trigger. The queue, its key and the log group follow `removal_policy`, like the buckets.

    Before each run it lists the data under the incoming prefix and writes the run's input
    manifest to `input-manifests/` in the artifacts bucket: S3 access is that listing and
    that write, nothing more.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        pipeline_name: str,
        registry: ModelRegistry,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        retraining: RetrainingConfig,
        approval: ApprovalMode,
        production: bool,
        manual_source: str,
        drift_alarm_prefixes: Sequence[str],
        alerts_topic: sns.ITopic,
        removal_policy: RemovalPolicy,
        retry_attempts: int = 2,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        self._dead_letters(stack, removal_policy)
        self._logs(stack, removal_policy)
        self._function(
            stack,
            retraining=retraining,
            retry_attempts=retry_attempts,
            environment={
                "PIPELINE_NAME": pipeline_name,
                "MODEL_PACKAGE_GROUP": registry.group_name,
                "DATA_BUCKET": data_bucket.bucket_name,
                "INCOMING_PREFIX": retraining.incoming_prefix,
                "MANIFEST_BUCKET": artifacts_bucket.bucket_name,
                "QUIET_PERIOD_MINUTES": str(retraining.quiet_period_minutes),
                "APPROVAL_MODE": approval.value,
                "PRODUCTION": str(production).lower(),
                "MANUAL_SOURCE": manual_source,
                "DRIFT_ALARM_PREFIXES": ",".join(drift_alarm_prefixes),
                "POWERTOOLS_SERVICE_NAME": "start-retraining",
                "POWERTOOLS_METRICS_NAMESPACE": f"{registry.group_name}/Retraining",
            },
        )
        # Lambda sends failed invocations to the queue as this role, so it must encrypt with the key.
        self.queue_key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        registry.grant_read(self.function)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartAndListModelBuildRuns",
                actions=["sagemaker:StartPipelineExecution", "sagemaker:ListPipelineExecutions"],
                resources=[self.pipeline_arn],
            )
        )
        self._grant_snapshots(
            stack, data_bucket=data_bucket, artifacts_bucket=artifacts_bucket, key=key, retraining=retraining
        )
        self.dead_letter_alarm = alarm_on_any_message(
            self,
            "DeadLetterAlarm",
            queue=self.dead_letter_queue,
            topic=alerts_topic,
            description="A retraining trigger failed after its retries and waits in the dead-letter queue.",
        )
        acknowledge_wildcards(
            self.role,
            {
                objects_in(self, artifacts_bucket, INPUT_MANIFESTS): "Writes input manifests only; each is named "
                "by the hash of the data it lists, known only when a run starts.",
                f"Resource::{registry.package_arn_pattern}": "Reads the versions of this one model package group "
                "only (to find the champion); version ARNs end in a number that is not known before registration.",
            },
        )

    def _dead_letters(self, stack: Stack, removal_policy: RemovalPolicy) -> None:
        """The queue every lost trigger lands in (the function's failed invocations and the rules'
        undeliverable events), encrypted with a key of its own that EventBridge may use."""
        self.queue_key = managed_key(
            self,
            "DeadLetterKey",
            description="Encrypts the start-retraining dead-letter queue and log group",
            removal_policy=removal_policy,
            pending_window_days=7,
        )
        # EventBridge writes undeliverable events to the queue and must encrypt them with this key.
        self.queue_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToUseTheQueue",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.queue_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        # The queue's SSL-only policy is kept or removed with the queue it protects.
        RemovalPolicies.of(self.dead_letter_queue).apply(removal_policy)
        acknowledge_dead_letter_queue(
            self.dead_letter_queue,
            "the dead-letter queue of the function and of the retraining rules",
            "its alarm pages an operator, who redrives or drops the messages",
        )

    def _logs(self, stack: Stack, removal_policy: RemovalPolicy) -> None:
        """The function's log group, encrypted with the dead-letter queue's key."""
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.queue_key,
            removal_policy=removal_policy,
        )
        # CloudWatch Logs encrypts with the key as its regional service principal, bound to this
        # account's log groups by the encryption context (CloudWatch Logs user guide, "Encrypt log
        # data in CloudWatch Logs using AWS KMS"). The group's own ARN would make a dependency cycle.
        self.queue_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsToEncryptThisAccountsLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def _function(
        self, stack: Stack, *, retraining: RetrainingConfig, retry_attempts: int, environment: dict[str, str]
    ) -> None:
        """The function, its own role (logs to its group only) and Powertools layer, outside any VPC."""
        # Own role rather than the AWSLambdaBasicExecutionRole managed policy: logs to this group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Starts the model-building pipeline for a retraining trigger",
        )
        self.log_group.grant_write(self.role)
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            f"arn:{stack.partition}:lambda:{stack.region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-{LAYER_RUNTIME}-{LAYER_ARCHITECTURE}:{POWERTOOLS_LAYER_VERSION}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Turns a schedule, new-data, drift or manual trigger into one model-building run",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="start_retraining.lambda_handler",
            code=function_code(),
            layers=[powertools],
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.seconds(60),
            memory_size=256,
            reserved_concurrent_executions=1 if retraining.one_trigger_at_a_time else None,
            retry_attempts=retry_attempts,
            max_event_age=Duration.hours(6),
            dead_letter_queue=self.dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
        )
        no_vpc = (
            "The function only calls AWS APIs (SageMaker, S3, CloudWatch) with IAM-signed TLS requests and "
            "reaches no private network resource; a VPC would add NAT or one interface endpoint per API and "
            "protect nothing."
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(id=guard_rule("lambda_inside_vpc_check"), reason=no_vpc)
        )
        skips = {
            "CKV_AWS_117": no_vpc,
            "CKV_AWS_173": "The variables hold resource names and settings, no secrets; Lambda encrypts them at "
            "rest with its AWS managed key.",
        }
        if not retraining.one_trigger_at_a_time:
            skips["CKV_AWS_115"] = (
                "retraining.one_trigger_at_a_time is off: triggers may run side by side, the handler's "
                "deduplication keeps one run per trigger, and reserving concurrency would take it from the "
                "account's other functions."
            )
        skip_checkov(self.function, skips)

    def _grant_snapshots(
        self,
        stack: Stack,
        *,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        retraining: RetrainingConfig,
    ) -> None:
        """List the incoming prefix (with versions) and write input manifests: nothing else in S3."""
        # ListObjectVersions is authorized as s3:ListBucketVersions; s3:prefix is the Prefix the call sends.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListIncomingTrainingData",
                actions=["s3:ListBucketVersions"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": retraining.incoming_prefix}},
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteInputManifests",
                actions=["s3:PutObject"],
                resources=[artifacts_bucket.arn_for_objects(INPUT_MANIFESTS)],
            )
        )
        # A single PutObject to an SSE-KMS bucket needs kms:GenerateDataKey on its key; only multipart
        # uploads add kms:Decrypt: https://repost.aws/knowledge-center/s3-large-file-encryption-kms-key
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="EncryptInputManifestsThroughS3",
                actions=["kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            )
        )
