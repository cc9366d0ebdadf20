"""The CDK Pipelines CodePipeline that tests, synthesizes and promotes one cloud assembly."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Stack, Validations, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from config import SourceConfig, SourceKind
from constructs import Construct, IConstruct
from constructs.delivery.artifact_bucket import harden_artifact_bucket
from constructs.delivery.release_checks import Promotion, ReleaseChecks
from constructs.security.checkov_skips import skip_checkov
from constructs.security.control_tower import guard_rule
from constructs.security.nag_acknowledgments import acknowledge_wildcards
from constructs.storage.model_registry import ModelRegistry

# What developers run, in the same order: install, test, pick the model versions, synthesize.
INSTALL = "make .venv/.installed node_modules/.installed"
CLI = ".venv/bin/python -m mlopsctl"
RELEASES_DIR = "releases"

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


# Why the shared asset role may start builds on '*' (constructs/security/wildcard_resources.py accepts that statement).
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
        self.synth_step = self._synth_step(registry, settings_file)
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
        self.checks = ReleaseChecks(
            self, source=self.source, releases=resolved_releases, releases_dir=RELEASES_DIR, cli=self.cli
        )
        for promotion in promotions:
            pre = self.checks.before(promotion)
            self.code_pipeline.add_stage(promotion.stage, pre=pre, post=self.checks.after(promotion))

        self.code_pipeline.build_pipeline()
        self.pipeline: codepipeline.Pipeline = self.code_pipeline.pipeline
        self._allow_connection(source)
        harden_artifact_bucket(self.pipeline, access_logs)
        # Every CodeBuild project of the pipeline; CloudWatch Logs is on unless LogsConfig turns it
        # off (CodeBuild API reference, CloudWatchLogsConfig: status defaults to ENABLED).
        Validations.of(self).acknowledge(
            Acknowledgment(
                id=guard_rule("codebuild_project_logging_enabled_check"),
                reason="CodeBuild logs every build to CloudWatch Logs under /aws/codebuild/<project> when "
                "LogsConfig is absent; the rule only asks for the setting to be written out.",
            )
        )
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

    def _synth_step(self, registry: ModelRegistry, settings_file: str | None) -> pipelines.CodeBuildStep:
        """What developers run, in the same order: install, test, pick the model versions, synthesize."""
        self.synth_role = iam.Role(
            self,
            "SynthRole",
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description="Runs the tests, resolves the release to ship from the model registry and synthesizes",
        )
        # Cross-account through the registry's resource policy, which lists this account.
        registry.grant_read(self.synth_role)
        return pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            install_commands=[INSTALL],
            commands=[
                "make test",
                "make test-slow",
                f"mkdir -p {RELEASES_DIR}",
                *(
                    f"{self.cli} resolve-release --env {p.environment} --allow-none --own-credentials"
                    for p in self.promotions
                ),
                f"make synth SETTINGS={settings_file}" if settings_file else "make synth",
            ],
            primary_output_directory="cdk.out",
            role=self.synth_role,
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
        projects = [self.code_pipeline.synth_project, self.code_pipeline.self_mutation_project]
        projects += [step.project for step in self.checks.steps]
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
