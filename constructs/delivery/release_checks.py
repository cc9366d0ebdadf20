"""The steps around each environment's deployment in the delivery pipeline: the manual approval and
the shadow test before it, the smoke test and the known-good record after it."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Stage, pipelines
from aws_cdk import aws_iam as iam

from constructs import Construct

# Where the checks receive the synth step's resolved releases, before copying them into the
# releases directory (a directory the repository may already have).
RESOLVED_RELEASES_INPUT = "resolved-releases"
# The post-deploy checks receive the EndpointConfig the deployment requested under this name.
REQUESTED_ENDPOINT_CONFIG_VARIABLE = "REQUESTED_ENDPOINT_CONFIG"


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


class ReleaseChecks:
    """The checks of every promotion, as CDK Pipelines steps; each environment's run as its named check role.

    The check role (`DeployCheckRole<Env>`) is created in `scope`, the delivery pipeline, once per
    environment: the only principal the environment's deploy-verifier role trusts. Each step runs
    `cli` (mlopsctl, reading the settings the app was synthesized from) on the synth step's
    resolved releases, as that verifier role.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        source: pipelines.IFileSetProducer,
        releases: pipelines.FileSet,
        releases_dir: str,
        cli: str,
    ) -> None:
        self._scope = scope
        self._source = source
        self._releases = releases
        self._cli = cli
        # The CLI plus the synth step's resolved releases, as every check step needs them.
        self._install = [
            "make .venv/.installed",
            f"mkdir -p {releases_dir} && cp -R {RESOLVED_RELEASES_INPUT}/. {releases_dir}/",
        ]
        self.approvals: dict[str, pipelines.ManualApprovalStep] = {}
        self.smoke_tests: dict[str, pipelines.CodeBuildStep] = {}
        self.record_deployments: dict[str, pipelines.CodeBuildStep] = {}
        self.shadow_tests: dict[str, pipelines.CodeBuildStep] = {}

    @property
    def steps(self) -> list[pipelines.CodeBuildStep]:
        """Every CodeBuild step made so far."""
        return [*self.smoke_tests.values(), *self.record_deployments.values(), *self.shadow_tests.values()]

    def before(self, promotion: Promotion) -> list[pipelines.Step]:
        """The manual approval (production), then the shadow test (where configured)."""
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
            shadow = self._shadow_test_step(promotion, promotion.shadow_test_minutes)
            if pre:
                shadow.add_step_dependency(pre[-1])
            self.shadow_tests[promotion.environment] = shadow
            pre.append(shadow)
        return pre

    def _check_role(self, promotion: Promotion) -> iam.IRole:
        """The named role the environment's checks run as (the verifier role trusts exactly it)."""
        env = promotion.environment
        existing = self._scope.node.try_find_child(f"DeployCheckRole{env.capitalize()}")
        if isinstance(existing, iam.Role):
            return existing
        check_role = iam.Role(
            self._scope,
            f"DeployCheckRole{env.capitalize()}",
            role_name=promotion.check_role_name,
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"Runs the checks around the {env} deployment as that environment's deploy-verifier role",
        )
        check_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[promotion.verifier_role_arn])
        )
        return check_role

    def _shadow_test_step(self, promotion: Promotion, minutes: int) -> pipelines.CodeBuildStep:
        """`mlopsctl shadow-test` before the deployment: the release as shadow of the live model.

        A failed comparison exits non-zero, so the stage never deploys and the pipeline's failure
        notification carries the numbers. `minutes` is the sum of every phase's limit, which the
        CLI keeps to, so the build never times out before the endpoint is restored.
        """
        env = promotion.environment
        return pipelines.CodeBuildStep(
            "ShadowTest",
            input=self._source,
            additional_inputs={RESOLVED_RELEASES_INPUT: self._releases},
            install_commands=list(self._install),
            commands=[
                f"{self._cli} --role-arn {promotion.verifier_role_arn} shadow-test --env {env} --skip-without-release"
            ],
            role=self._check_role(promotion),
            timeout=Duration.minutes(minutes),
        )

    def after(self, promotion: Promotion) -> list[pipelines.Step]:
        """The smoke test (in the environment before production), then the known-good record."""
        env = promotion.environment
        record = self._verifier_step(promotion, "RecordDeployment", "record-deployment")
        self.record_deployments[env] = record
        if not promotion.smoke_test_after:
            return [record]
        smoke = self._verifier_step(promotion, "SmokeTest", "smoke-test")
        # Only a deployment that passed its smoke test is recorded as known-good.
        record.add_step_dependency(smoke)
        self.smoke_tests[env] = smoke
        return [smoke, record]

    def _verifier_step(self, promotion: Promotion, step_id: str, command: str) -> pipelines.CodeBuildStep:
        """`mlopsctl <command>` on the resolved releases, as the environment's deploy-verifier role.

        With a release, the endpoint must run the EndpointConfig this deployment requested. Without
        one it passes only while the environment has no endpoint (before the first approval); an
        endpoint left serving a version that is no longer Approved fails the step, and the pipeline.
        """
        requested = promotion.requested_endpoint_config
        variables = {REQUESTED_ENDPOINT_CONFIG_VARIABLE: requested} if requested is not None else {}
        config_check = f' --endpoint-config "${REQUESTED_ENDPOINT_CONFIG_VARIABLE}"' if requested is not None else ""
        role_arn, env = promotion.verifier_role_arn, promotion.environment
        return pipelines.CodeBuildStep(
            step_id,
            input=self._source,
            additional_inputs={RESOLVED_RELEASES_INPUT: self._releases},
            install_commands=list(self._install),
            commands=[f"{self._cli} --role-arn {role_arn} {command} --env {env} --skip-without-release{config_check}"],
            env_from_cfn_outputs=variables,
            role=self._check_role(promotion),
        )
