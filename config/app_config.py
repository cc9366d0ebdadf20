"""The whole config: names, the toolchain, the model build and every environment, checked across them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, InstanceOf, model_validator

from config.ecr_images import parse_ecr_image
from config.environment import ApprovalMode, EnvironmentConfig, RemovalMode
from config.errors import CONTEXT_KEY, ConfigError, invalid
from config.fields import ENV_NAME, PROJECT, ROLE_ARN, Flag, Listed, Text
from config.model_build import ModelBuildConfig
from config.names import ResourceNames, physical_name_problem
from config.schema import Schema
from config.toolchain import SourceConfig, ToolchainConfig


class MigrateTo(Schema):
    """The name a rename moves to, confirming that the retained resources are left behind."""

    project_name: str | None = None
    model_build_environment: str | None = None


class RetainedNames(Schema):
    """The names the retained registry group and ledgers were created with (README: Renaming)."""

    project_name: Annotated[str, Text(PROJECT, "3-32 lower-case letters, digits and hyphens")]
    model_build_environment: Annotated[str, Text(ENV_NAME, "an environment name")]
    migrate_to: MigrateTo = Field(default_factory=MigrateTo)


class AppConfig(Schema):
    """The whole config; loading.py validates the environments and the model_build section first."""

    # The settings file `-c mlops-settings=<file>` named, which the pipeline's build reads again.
    derived_keys: ClassVar[tuple[str, ...]] = ("settings_file",)

    project_name: Annotated[str, Text(PROJECT, "3-32 lower-case letters, digits and hyphens")]
    # The one-account sandbox (cdk.sandbox.json): model building, one serving environment and
    # the toolchain in one account and region, with no production environment to promote to.
    sandbox: Annotated[bool, Flag()] = False
    retained_names: RetainedNames
    toolchain: ToolchainConfig
    source: SourceConfig
    model_build: InstanceOf[ModelBuildConfig]
    environments: tuple[EnvironmentConfig, ...]
    # Roles that may assume the operator roles; empty: the toolchain account's principals
    # carrying the operator tag (ResourceNames.operator_tag_key = project name).
    operator_principals: Annotated[
        tuple[str, ...], Listed(ROLE_ARN, "a list of IAM role ARNs (arn:aws:iam::<account>:role/<name>)")
    ] = ()
    settings_file: str | None = None

    @classmethod
    def with_defaults(cls, data: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        data.setdefault("retained_names", {})
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        problem = physical_name_problem(self.project_name, self.environment_names)
        if problem:
            raise invalid("project_name", self.project_name, problem)
        self._check_retained_names()
        self._check_sandbox()
        self._check_monitored_features()
        self._check_regions()
        self._check_isolated_steps()
        self._check_shared_endpoints()
        return self

    def _check_retained_names(self) -> None:
        """Refuses a rename that would silently orphan the retained registry and known-good ledgers.

        The model package group (named after the project, in the model-build environment) and each
        environment's ledger parameter (/<project>/<env>/known-good) are retained and physically
        named. Renaming the project or moving the model build creates new, empty ones and leaves
        the old ones behind, so it needs an explicit `retained_names.migrate_to` naming the target.
        """
        retained = self.retained_names
        current = {
            "project_name": (self.project_name, "project_name"),
            "model_build_environment": (self.model_build.environment, "model_build.environment"),
        }
        for name, (value, key) in current.items():
            created_with = getattr(retained, name)
            if value in (created_with, getattr(retained.migrate_to, name)):
                continue
            if name == "project_name":
                what = f"the retained model package group {created_with!r} and ledgers /{created_with}/<env>/known-good"
            else:
                what = f"the retained model package group {self.project_name!r} in that environment's account"
            raise invalid(
                key,
                value,
                f"{created_with!r} ({CONTEXT_KEY}.retained_names.{name}), the name {what} were created with; to "
                f"leave them behind and start new, empty ones, set {CONTEXT_KEY}.retained_names.migrate_to.{name} "
                f"to {value!r} (README: Renaming)",
            )

    def _check_sandbox(self) -> None:
        """A sandbox is what its name says: one environment, not production, in the toolchain's account and region."""
        if not self.sandbox:
            return
        why = "with sandbox: true (model building, serving and the toolchain share one account and region)"
        if len(self.environments) != 1:
            raise invalid("environments", list(self.environment_names), f"exactly one environment {why}")
        env, toolchain = self.environments[0], self.toolchain
        for key, value, expected in (
            ("account", env.account, toolchain.account),
            ("region", env.region, toolchain.region),
        ):
            if value != expected:
                raise invalid(f"environments.{env.name}.{key}", value, f"{expected!r}, the toolchain's {key}, {why}")
        if env.production:
            raise invalid(
                f"environments.{env.name}.production",
                True,
                f"false {why}: production needs the four-account layout's staging, smoke test and approval",
            )

    def _check_monitored_features(self) -> None:
        """Model Monitor publishes a drift metric per feature of the data contract: only those can be watched."""
        features = self.model_build.model.data.feature_names
        for env in self.environments:
            unknown = [name for name in env.drift.model_monitor_features if name not in features]
            if unknown:
                raise invalid(
                    f"environments.{env.name}.drift.model_monitor_features",
                    list(env.drift.model_monitor_features),
                    f"features of model_build.model.data ({unknown[0]!r} is not one): {', '.join(features[:10])}"
                    + (", ..." if len(features) > 10 else ""),
                )

    def _check_regions(self) -> None:
        """Every environment serves in the model-build region, where the model's ECR images must be.

        Serving reads the registry and the model artifacts of the model-build environment, which
        are not copied across regions; SageMaker runs only images of a job's or endpoint's own
        region. Whether a framework image or the drift check's image is published in a region is
        for the checked-in image maps to say (pipeline_steps/checked_in.py, `check_images`).
        """
        build = self.build_environment
        for role, image in self.model_build.model.images.by_role().items():
            ecr = parse_ecr_image(image.uri) if image.uri else None
            if ecr is not None and ecr.region != build.region:
                raise invalid(
                    f"model_build.model.images.{role}.uri",
                    image.uri,
                    f"an image in {build.region!r}, the region of the model-build environment {build.name!r} "
                    "(SageMaker pulls images from its own region only)",
                )
        for env in self.environments:
            if env.region != build.region:
                raise invalid(
                    f"environments.{env.name}.region",
                    env.region,
                    f"{build.region!r}, the region of the model-build environment {build.name!r}: the registry and "
                    "model artifacts are not copied across regions",
                )

    def _check_isolated_steps(self) -> None:
        """Model-build steps run only in the model-build environment: their isolation is set there."""
        for env in self.environments:
            if env.network.isolated_steps and env is not self.build_environment:
                raise invalid(
                    f"environments.{env.name}.network.network_isolation.{env.network.isolated_steps[0]}",
                    True,
                    f"only in the model-build environment {self.build_environment.name!r}, "
                    "where the model-build pipeline's jobs run",
                )

    def _check_shared_endpoints(self) -> None:
        """One VPC holds one endpoint per service with private DNS, and one S3 route per route table."""
        created: dict[str, tuple[str, set[str]]] = {}
        for env in self.environments:
            network = env.network
            if not network.private_networking or network.vpc_id is None:
                continue
            if network.vpc_id in created:
                other, services = created[network.vpc_id]
                both = sorted(services & set(network.vpc_endpoints))
                if both:
                    raise invalid(
                        f"environments.{env.name}.network.vpc_endpoints",
                        list(network.vpc_endpoints),
                        f"none of {both}: environment {other!r} creates them in the same VPC {network.vpc_id}",
                    )
            created[network.vpc_id] = (env.name, set(network.vpc_endpoints))

    @property
    def warnings(self) -> tuple[str, ...]:
        """Settings that lower safety without being wrong, each naming its key; synth shows them.

        Production environments refuse auto-approval and destroy outright; whether an environment
        is production comes from `production` (default: named prod), so a last environment named
        otherwise, or one set production: false, would get them without a word. A one-account
        sandbox legitimately ends in a non-production environment, so these warn, not refuse; a layout
        that declares `sandbox: true` has said so already and gets none of them.
        """
        found: list[str] = []
        if self.sandbox:
            return ()
        last = self.promotion_order[-1]
        if not last.production:
            found.append(
                f"{CONTEXT_KEY}.environments.{last.name}.production is false, but {last.name!r} is the last "
                "environment the pipeline promotes to: no manual approval before it, and auto-approval and "
                "removal_policy destroy are allowed there. Set it to true if it serves production traffic."
            )
        for env in self.environments:
            if env.production:
                continue
            if env.approval is ApprovalMode.AUTO:
                found.append(
                    f"{CONTEXT_KEY}.environments.{env.name}.approval is auto: models built there are approved "
                    f"without a review, because {CONTEXT_KEY}.environments.{env.name}.production is false."
                )
            if env.removal_policy is RemovalMode.DESTROY:
                found.append(
                    f"{CONTEXT_KEY}.environments.{env.name}.removal_policy is destroy: deleting its stacks deletes its "
                    f"data, registry and ledger, because {CONTEXT_KEY}.environments.{env.name}.production is false."
                )
        return tuple(found)

    @property
    def names(self) -> ResourceNames:
        return ResourceNames(self.project_name)

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise ConfigError(f"Unknown environment {name!r}; configured: {', '.join(self.environment_names)}.")

    @property
    def environment_names(self) -> tuple[str, ...]:
        return tuple(env.name for env in self.environments)

    @property
    def build_environment(self) -> EnvironmentConfig:
        return self.environment(self.model_build.environment)

    @property
    def promotion_order(self) -> tuple[EnvironmentConfig, ...]:
        """The order the delivery pipeline deploys in: the model-build environment, then cdk.json order."""
        build = self.build_environment
        return (build, *(env for env in self.environments if env is not build))

    @property
    def consumer_accounts(self) -> tuple[str, ...]:
        """Accounts other than the build account that must read the registry and model artifacts."""
        build = self.build_environment.account
        return tuple(sorted({e.account for e in self.environments if e.account != build}))

    @property
    def registry_reader_accounts(self) -> tuple[str, ...]:
        """Serving accounts plus the toolchain account, whose pipeline resolves the release to ship."""
        build = self.build_environment.account
        return tuple(sorted({*self.consumer_accounts, self.toolchain.account} - {build}))
