"""The CDK Pipelines CodePipeline that tests, synthesizes and promotes one cloud assembly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Stage, Validations, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from config import SourceConfig, SourceKind
from constructs import Construct, IConstruct
from constructs.checkov_skips import skip_checkov
from constructs.control_tower import guard_rule
from constructs.kms_keys import restrict_grants_to_aws_services
from constructs.model_registry import ModelRegistry
from constructs.nag_acknowledgments import acknowledge_wildcards

# What developers run, in the same order: install, test, pick the model versions, synthesize.
INSTALL = "make .venv/.installed node_modules/.installed"
CLI = ".venv/bin/python -m mlopsctl"
RELEASES_DIR = "releases"
# Where the post-deploy steps receive the synth step's resolved releases, before copying them
# into releases/ (a directory the repository may already have).
RESOLVED_RELEASES_INPUT = "resolved-releases"
# The post-deploy checks receive the EndpointConfig the deployment requested under this name.
REQUESTED_ENDPOINT_CONFIG_VARIABLE = "REQUESTED_ENDPOINT_CONFIG"

# Pinned runtimes, so an image update cannot change the Python or Node that builds the app
# (Python as in pyproject.toml; Node.js 22, the LTS line the CDK's jsii runtime supports, as the
# README recommends). The build image offers both: Amazon Linux 2023 standard 5.0 lists Python
# 3.9-3.14 and Node.js 18-24 (aws-codebuild-docker-images, al/x86_64/standard/5.0/runtimes.yml).
NODE_MAJOR = "22"
BUILD_IMAGE = codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5
_RUNTIMES = {"install": {"runtime-versions": {"python": "3.11", "nodejs": NODE_MAJOR}}}
# pip's and npm's download caches (CodeBuild's images build as root) kept on the build host
# between runs: LOCAL_CUSTOM_CACHE caches the buildspec's `cache: paths`, and "/**/*" is what
# makes a path mean the whole directory (CodeBuild user guide, "Local caching"). The cache is
# best effort: a build on a cold host downloads, the same pinned versions, as before.
DOWNLOAD_CACHE_PATHS = ("/root/.cache/pip/**/*", "/root/.npm/**/*")
_BUILD_SPEC = {"phases": _RUNTIMES, "cache": {"paths": list(DOWNLOAD_CACHE_PATHS)}}
# The pipeline's artifact bucket: how long replaced artifacts and unfinished uploads are kept, in days.
_ARTIFACT_NONCURRENT_DAYS = 30
_ABORT_UPLOAD_DAYS = 7


# Why the shared asset role may start builds on '*' (constructs/wildcard_resources.py accepts that statement).
ASSET_STARTS = (
    "codebuild:StartBuild/StopBuild/BatchGetBuilds that CDK Pipelines grants the shared asset role, denied outside "
    "the pipeline's own asset projects (_confine_asset_builds); publishing itself goes through the target accounts' "
    "file-publishing roles, granted by ARN"
)


def _confine_asset_builds(assets: IConstruct) -> None:
    """CDK Pipelines lets its shared asset roles start, stop and read the builds of every CodeBuild
    project of the account ('*', in its own policy); a Deny outside the pipeline's asset projects
    leaves them only those, so no other project's build (the self-mutation's, a check role's) can be
    started with their credentials."""
    projects = [project.project_arn for project in assets.node.find_all() if isinstance(project, codebuild.Project)]
    for role in assets.node.children:
        if isinstance(role, iam.Role):
            iam.Policy(
                role,
                "OwnAssetBuildsOnly",
                statements=[
                    iam.PolicyStatement(
                        effect=iam.Effect.DENY,
                        actions=["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"],
                        not_resources=projects,
                    )
                ],
            ).attach_to_role(role)


def cli(settings_file: str | None) -> str:
    """`mlopsctl` reading the settings the app was synthesized from (cdk.json, or another layout's file over it)."""
    return f"{CLI} --settings {settings_file}" if settings_file else CLI


def _install_commands() -> list[str]:
    """The CLI plus the synth step's resolved releases, as every check step needs them."""
    return [
        "make .venv/.installed",
        f"mkdir -p {RELEASES_DIR} && cp -R {RESOLVED_RELEASES_INPUT}/. {RELEASES_DIR}/",
    ]


@dataclass(frozen=True)
class Promotion:
    """One environment's place in the pipeline: its stage and the checks around its deployment."""

    environment: str
    stage: Stage
    verifier_role_arn: str
    # The checks after the deployment run as this role; the verifier role trusts it alone.
    check_role_name: str
    approval_before: bool
    smoke_test_after: bool
    # The serving stack's output naming the EndpointConfig it deployed; None without a release.
    requested_endpoint_config: CfnOutput | None = None
    # The shadow test's step timeout before the deployment (config.ShadowBudget.total); None: no shadow test.
    shadow_test_minutes: int | None = None


class DeliveryPipeline(Construct):
    """pipelines.CodePipeline (type V2, self-mutating) deploying every environment in order.

    The synth step resolves which approved model version each environment serves and
    synthesizes once; every stage deploys that one cloud assembly, so the version that passed
    staging is the version production gets. After each deployment a step running as the
    environment's named check role (the only principal the verifier trusts) assumes the
    environment's deploy-verifier role, checks that the endpoint really serves the intended
    endpoint config and model, and records it in the known-good ledger. Before production:
    the smoke test in the environment before it, then a manual approval.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        pipeline_name: str,
        source: SourceConfig,
        promotions: Sequence[Promotion],
        registry: ModelRegistry,
        cross_account_keys: bool,
        cdk_cli_version: str,
        access_logs: s3.IBucket,
        settings_file: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.promotions = tuple(promotions)
        # Every step reads the layout the app was synthesized with (`-c mlops-settings=<file>`).
        self.cli = cli(settings_file)
        self.source = self._source(source)
        self.synth_role = iam.Role(
            self,
            "SynthRole",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description="Runs the tests, resolves the release to ship from the model registry and synthesizes",
        )
        # Cross-account through the registry's resource policy, which lists this account.
        registry.grant_read(self.synth_role)
        self.synth_step = pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            install_commands=[INSTALL],
            commands=[
                "make test",
                "make test-slow",
                f"mkdir -p {RELEASES_DIR}",
                *(
                    f"{self.cli} resolve-release --env {p.environment} --allow-none --own-credentials"
                    for p in promotions
                ),
                f"make synth SETTINGS={settings_file}" if settings_file else "make synth",
            ],
            primary_output_directory="cdk.out",
            role=self.synth_role,
        )
        resolved_releases = self.synth_step.add_output_directory(RELEASES_DIR)

        self.code_pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            synth=self.synth_step,
            self_mutation=True,
            cross_account_keys=cross_account_keys,
            enable_key_rotation=cross_account_keys,
            cli_version=cdk_cli_version,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                partial_build_spec=codebuild.BuildSpec.from_object(_BUILD_SPEC),
                cache=codebuild.Cache.local(codebuild.LocalCacheMode.CUSTOM),
            ),
        )

        self.approvals: dict[str, pipelines.ManualApprovalStep] = {}
        self.smoke_tests: dict[str, pipelines.CodeBuildStep] = {}
        self.record_deployments: dict[str, pipelines.CodeBuildStep] = {}
        self.shadow_tests: dict[str, pipelines.CodeBuildStep] = {}
        for promotion in promotions:
            pre: list[pipelines.Step] = []
            if promotion.approval_before:
                approval = pipelines.ManualApprovalStep(
                    "ApproveRelease",
                    comment=(
                        f"Promote to {promotion.environment}: the model version and infrastructure "
                        "that passed every earlier environment and its smoke test."
                    ),
                )
                self.approvals[promotion.environment] = approval
                pre.append(approval)
            if promotion.shadow_test_minutes is not None:
                shadow = self._shadow_test_step(promotion, resolved_releases, promotion.shadow_test_minutes)
                if pre:
                    shadow.add_step_dependency(pre[-1])
                self.shadow_tests[promotion.environment] = shadow
                pre.append(shadow)
            post = self._post_deploy_steps(promotion, resolved_releases)
            self.code_pipeline.add_stage(promotion.stage, pre=pre, post=post)

        self.code_pipeline.build_pipeline()
        self.pipeline: codepipeline.Pipeline = self.code_pipeline.pipeline
        self._allow_connection(source)
        self._log_artifact_access(access_logs)
        self._keep_artifacts_like_our_buckets()
        self._acknowledge_generated_grants(registry)
        if not cross_account_keys:
            Validations.of(self).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-CB4",
                    reason=(
                        "Single-account setup: build output goes to the artifact bucket, which is encrypted with "
                        "the AWS-managed S3 KMS key; the customer-managed artifact key exists (and every project "
                        "uses it) as soon as any environment lives in another account."
                    ),
                )
            )

    def _source(self, source: SourceConfig) -> pipelines.CodePipelineSource:
        if source.kind is SourceKind.CODECONNECTIONS:
            assert source.connection_arn is not None  # config requires it for this kind
            return pipelines.CodePipelineSource.connection(
                source.repository, source.branch, connection_arn=source.connection_arn, trigger_on_push=True
            )
        repository = codecommit.Repository.from_repository_name(self, "Repository", source.repository)
        return pipelines.CodePipelineSource.code_commit(repository, source.branch)

    def _allow_connection(self, source: SourceConfig) -> None:
        """UseConnection in the service prefix of the connection's ARN.

        CDK grants `codestar-connections:UseConnection` only, but a connection created since the
        rename has a `codeconnections` ARN, and "the service prefix needs to match that of the
        resource" (Developer Tools console user guide, "Connections rename").
        """
        if source.connection_arn is None:
            return
        prefix = source.connection_arn.split(":")[2]
        if prefix == "codestar-connections":
            return
        # The source stage's action roles: CDK Pipelines creates them; only they read the source.
        source_stage = self.pipeline.node.find_child("Source")
        for role in (child for child in source_stage.node.find_all() if isinstance(child, iam.Role)):
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=[f"{prefix}:UseConnection"], resources=[source.connection_arn])
            )

    def _check_role(self, promotion: Promotion) -> iam.IRole:
        """The named role the environment's checks run as (the verifier role trusts exactly it)."""
        env = promotion.environment
        existing = self.node.try_find_child(f"DeployCheckRole{env.capitalize()}")
        if isinstance(existing, iam.Role):
            return existing
        check_role = iam.Role(
            self,
            f"DeployCheckRole{env.capitalize()}",
            role_name=promotion.check_role_name,
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"Runs the checks around the {env} deployment as that environment's deploy-verifier role",
        )
        check_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[promotion.verifier_role_arn])
        )
        return check_role

    def _shadow_test_step(
        self, promotion: Promotion, releases: pipelines.FileSet, minutes: int
    ) -> pipelines.CodeBuildStep:
        """`mlopsctl shadow-test` before the deployment: the release as shadow of the live model.

        A failed comparison exits non-zero, so the stage never deploys and the pipeline's failure
        notification carries the numbers. `minutes` is the sum of every phase's limit, which the
        CLI keeps to, so the build never times out before the endpoint is restored.
        """
        env = promotion.environment
        return pipelines.CodeBuildStep(
            "ShadowTest",
            input=self.source,
            additional_inputs={RESOLVED_RELEASES_INPUT: releases},
            install_commands=_install_commands(),
            commands=[
                f"{self.cli} --role-arn {promotion.verifier_role_arn} shadow-test --env {env} --skip-without-release"
            ],
            role=self._check_role(promotion),
            timeout=Duration.minutes(minutes),
        )

    def _post_deploy_steps(self, promotion: Promotion, releases: pipelines.FileSet) -> list[pipelines.Step]:
        env, role_arn = promotion.environment, promotion.verifier_role_arn
        check_role = self._check_role(promotion)
        install = _install_commands()

        requested = promotion.requested_endpoint_config
        variables = {REQUESTED_ENDPOINT_CONFIG_VARIABLE: requested} if requested is not None else {}
        config_check = f' --endpoint-config "${REQUESTED_ENDPOINT_CONFIG_VARIABLE}"' if requested is not None else ""

        def verifier_step(step_id: str, command: str) -> pipelines.CodeBuildStep:
            """`mlopsctl <command>` on the resolved releases, as the environment's deploy-verifier role.

            With a release, the endpoint must run the EndpointConfig this deployment requested. Without
            one it passes only while the environment has no endpoint (before the first approval); an
            endpoint left serving a version that is no longer Approved fails the step, and the pipeline.
            """
            return pipelines.CodeBuildStep(
                step_id,
                input=self.source,
                additional_inputs={RESOLVED_RELEASES_INPUT: releases},
                install_commands=install,
                commands=[
                    f"{self.cli} --role-arn {role_arn} {command} --env {env} --skip-without-release{config_check}"
                ],
                env_from_cfn_outputs=variables,
                role=check_role,
            )

        record = verifier_step("RecordDeployment", "record-deployment")
        self.record_deployments[env] = record
        if not promotion.smoke_test_after:
            return [record]
        smoke = verifier_step("SmokeTest", "smoke-test")
        # Only a deployment that passed its smoke test is recorded as known-good.
        record.add_step_dependency(smoke)
        self.smoke_tests[env] = smoke
        return [smoke, record]

    def _log_artifact_access(self, access_logs: s3.IBucket) -> None:
        """Server access logs for the artifact bucket that CDK Pipelines creates (cdk-nag S1)."""
        bucket = self.pipeline.artifact_bucket
        prefix = "pipeline-artifacts/"
        cfn = bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=access_logs.bucket_name, log_file_prefix=prefix
        )
        # CDK Pipelines retains the artifact bucket; its SSL-only policy stays with it.
        if bucket.policy is not None:
            bucket.policy.apply_removal_policy(RemovalPolicy.RETAIN)
        access_logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3ServerAccessLogsForPipelineArtifacts",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[access_logs.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": self.pipeline.env.account},
                },
            )
        )

    def _keep_artifacts_like_our_buckets(self) -> None:
        """The artifact bucket CDK Pipelines creates, versioned and expired like our own buckets."""
        bucket = self.pipeline.artifact_bucket
        cfn = bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
        cfn.lifecycle_configuration = s3.CfnBucket.LifecycleConfigurationProperty(
            rules=[
                s3.CfnBucket.RuleProperty(
                    id="ExpireOldVersionsAndUploads",
                    status="Enabled",
                    noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(
                        noncurrent_days=_ARTIFACT_NONCURRENT_DAYS
                    ),
                    abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                        days_after_initiation=_ABORT_UPLOAD_DAYS
                    ),
                )
            ]
        )
        if bucket.encryption_key is not None:
            restrict_grants_to_aws_services(bucket.encryption_key)
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id=guard_rule("s3_bucket_object_lock_enabled_check"),
                reason="Build artifacts are versioned and expire; Object Lock, which S3 never lets a bucket "
                "turn off again, would keep every build's output forever.",
            ),
            Acknowledgment(
                id=guard_rule("s3_event_notifications_enabled_check"),
                reason="Only CodePipeline reads its artifacts, by key; S3 events would go unread.",
            ),
        )
        # Every CodeBuild project of the pipeline; CloudWatch Logs is on unless LogsConfig turns it
        # off (CodeBuild API reference, CloudWatchLogsConfig: status defaults to ENABLED).
        Validations.of(self).acknowledge(
            Acknowledgment(
                id=guard_rule("codebuild_project_logging_enabled_check"),
                reason="CodeBuild logs every build to CloudWatch Logs under /aws/codebuild/<project> when "
                "LogsConfig is absent; the rule only asks for the setting to be written out.",
            )
        )

    def _acknowledge_generated_grants(self, registry: ModelRegistry) -> None:
        """cdk-nag IAM5 findings on the grants CDK Pipelines writes itself, each with its reason.

        Every wildcard below is confined to one resource this pipeline owns: its artifact
        bucket and key, or one CodeBuild project's own log group and report groups.
        """
        stack = Stack.of(self)
        region, account = stack.region, stack.account

        def ref(construct: IConstruct) -> str:
            child = construct.node.default_child
            assert child is not None
            return f"<{stack.get_logical_id(child)}>"  # type: ignore[arg-type]

        bucket_logical_id = stack.get_logical_id(self.pipeline.artifact_bucket.node.default_child)  # type: ignore[arg-type]
        artifact_grants = {
            "Action::s3:GetObject*": "read of pipeline artifacts and their versions, artifact bucket only",
            "Action::s3:GetBucket*": "bucket location and settings the build agents read, artifact bucket only",
            "Action::s3:List*": "listing of the artifact bucket to find an action's input artifacts",
            "Action::s3:DeleteObject*": "the pipeline replaces its own artifacts, artifact bucket only",
            "Action::s3:Abort*": "aborting failed multipart uploads of artifacts, artifact bucket only",
            f"Resource::<{bucket_logical_id}.Arn>/*": (
                "artifact names are generated per execution; objects of the artifact bucket only"
            ),
            "Action::kms:GenerateDataKey*": "encrypting artifacts with the pipeline's artifact key only",
            "Action::kms:ReEncrypt*": "re-encrypting artifacts under the pipeline's artifact key only",
        }
        acknowledge_wildcards(self, {found: f"CDK Pipelines grant: {why}." for found, why in artifact_grants.items()})
        steps = [*self.smoke_tests.values(), *self.record_deployments.values(), *self.shadow_tests.values()]
        projects = [self.code_pipeline.synth_project, self.code_pipeline.self_mutation_project]
        projects += [step.project for step in steps]
        for project in projects:
            name = ref(project)
            scoped_to_project = {
                f"Resource::arn:aws:logs:{region}:{account}:log-group:/aws/codebuild/{name}:*": (
                    "log streams of this CodeBuild project's own log group"
                ),
                f"Resource::arn:aws:codebuild:{region}:{account}:report-group/{name}-*": (
                    "test report groups named after this CodeBuild project"
                ),
            }
            assert project.role is not None
            acknowledge_wildcards(
                project.role, {finding: f"CodeBuild grant: {why}." for finding, why in scoped_to_project.items()}
            )
        self_mutation = {
            f"Resource::arn:*:iam::{account}:role/*": (
                "self-mutation assumes only this account's CDK bootstrap roles (deploy, file and image "
                "publishing), enforced by the iam:ResourceTag/aws-cdk:bootstrap-role condition"
            ),
        }
        acknowledge_wildcards(
            self.code_pipeline.self_mutation_project,
            {finding: f"CDK Pipelines self-mutation: {why}." for finding, why in self_mutation.items()},
        )
        # Exists once a stage has file assets (Lambda code): one role shared by all asset projects.
        assets = self.code_pipeline.node.try_find_child("Assets")
        if assets is not None:
            asset_publishing = {
                f"Resource::arn:aws:logs:{region}:{account}:log-group:/aws/codebuild/*": (
                    "the asset projects share one role and have generated names, so their logs are granted on "
                    "this account's CodeBuild log-group prefix"
                ),
                f"Resource::arn:aws:codebuild:{region}:{account}:report-group/*": (
                    "test report groups of the generated asset projects, this account and region only"
                ),
            }
            acknowledge_wildcards(
                assets, {finding: f"CDK Pipelines assets: {why}." for finding, why in asset_publishing.items()}
            )
            for policy in assets.node.find_all():
                if isinstance(policy, iam.CfnPolicy):
                    skip_checkov(policy, {"CKV_AWS_111": f"CDK Pipelines assets: {ASSET_STARTS}."})
            _confine_asset_builds(assets)
        acknowledge_wildcards(
            self.synth_role,
            {
                f"Resource::{registry.package_arn_pattern}": (
                    "Release resolution describes the versions of our one model package group; version "
                    "numbers are not known in advance, so the ARN ends in the group's version wildcard."
                )
            },
        )
