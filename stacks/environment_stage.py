"""One deployable environment (dev, staging, prod, ...): the unit the pipeline promotes."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Environment, RemovalPolicy, Stage

from config import CONTEXT_KEY, AppConfig, EnvironmentConfig, RemovalMode
from constructs import Construct
from constructs.security.operator_role import OperatorAccess
from pipeline_steps.checked_in import settings_from_config
from stacks.model_build_stack import ModelBuildStack
from stacks.network_stack import NetworkStack
from stacks.retraining_stack import RetrainingStack
from stacks.serving_stack import ServingStack
from stacks.storage_stack import StorageStack


class EnvironmentStage(Stage):
    """The stacks of one environment, in the order of the flow they serve.

    Storage always; the VPC endpoints only where the config asks for private networking;
    model building only in the environment that builds models; serving only when a release
    (an approved model version) is given for this environment.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        app_config: AppConfig,
        environment: EnvironmentConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, env=Environment(account=environment.account, region=environment.region), **kwargs)
        project = app_config.project_name
        names = app_config.names
        builds_models = environment.name == app_config.model_build.environment
        pipeline_elsewhere = app_config.toolchain.target != environment.target
        removal = RemovalPolicy.RETAIN if environment.removal_policy is RemovalMode.RETAIN else RemovalPolicy.DESTROY
        self.storage = StorageStack(
            self,
            "Storage",
            stack_name=names.stack(environment.name, "storage"),
            description=f"{project} {environment.name}: key, buckets, model registry, alerts (stateful)",
            termination_protection=environment.production,
            project_name=project,
            model_package_group_name=names.model_package_group,
            removal_policy=removal,
            notification_emails=environment.notification_emails,
            builds_models=builds_models,
            operator_access=OperatorAccess(
                names=names,
                environment=environment.name,
                trusted_principals=app_config.operator_principals,
                toolchain_account=app_config.toolchain.account,
                registry=app_config.build_environment.target,
            ),
            consumer_accounts=app_config.consumer_accounts if builds_models else (),
            registry_reader_accounts=app_config.registry_reader_accounts if builds_models else (),
            approval_events_target=app_config.toolchain.target if builds_models and pipeline_elsewhere else None,
        )

        if environment.production and not environment.notification_emails:
            # A warning, not a refusal: the first synth of a fresh clone has no addresses yet.
            Annotations.of(self.storage).add_warning_v2(
                "mlops:noNotificationEmails",
                f"{CONTEXT_KEY}.environments.{environment.name}.notification_emails is empty: the alarms of "
                f"production environment {environment.name!r} (rollback, drift, drift-check health, undelivered "
                "events) notify a topic nobody subscribes to. Add who must act (docs/operations.md).",
            )

        self.network: NetworkStack | None = None
        if environment.network.private_networking:
            self.network = NetworkStack(
                self,
                "Network",
                stack_name=names.stack(environment.name, "network"),
                description=f"{project} {environment.name}: VPC endpoints of the SageMaker jobs and endpoint",
                network=environment.network,
            )

        self.model_build: ModelBuildStack | None = None
        if builds_models:
            assert self.storage.registry is not None
            self.model_build = ModelBuildStack(
                self,
                "ModelBuild",
                stack_name=names.stack(environment.name, "model-build"),
                description=f"{project} {environment.name}: model-building SageMaker pipeline and its role",
                pipeline_name=names.model_build_pipeline,
                definition_settings=settings_from_config(app_config),
                data_bucket=self.storage.data_bucket,
                artifacts_bucket=self.storage.artifacts_bucket,
                key=self.storage.key,
                registry=self.storage.registry,
                network=environment.network,
            )
            if self.network:
                self.model_build.add_stack_dependency(self.network, "jobs reach AWS through the VPC endpoints")
            self.retraining = RetrainingStack(
                self,
                "Retraining",
                stack_name=names.stack(environment.name, "retraining"),
                description=f"{project} {environment.name}: retraining triggers, start-retraining function, alerts",
                pipeline_name=self.model_build.pipeline_name,
                registry=self.storage.registry,
                data_bucket=self.storage.data_bucket,
                artifacts_bucket=self.storage.artifacts_bucket,
                key=self.storage.key,
                alerts_topic=self.storage.alerts_topic,
                retraining=app_config.model_build.retraining,
                approval=environment.approval,
                production=environment.production,
                manual_source=names.manual_retraining_source,
                drift_alarm_prefixes=[names.drift_alarm_prefix(env.name) for env in app_config.environments],
                drift_alarm_accounts=[env.account for env in app_config.environments],
                # Serving accounts other than this one forward their drift alarms to this account's bus.
                forwarding_accounts=app_config.consumer_accounts,
                removal_policy=removal,
            )

        self.serving: ServingStack | None = None
        if environment.release is None:
            env = environment.name
            # On the storage stack, which every environment has: `cdk synth` lists its annotations.
            Annotations.of(self.storage).add_info(
                f"{names.stack(env, 'serving')}: skipped, no release for {env} (run `make resolve-release "
                f"ENV={env}` or pass -c release.{env}=<model package version ARN>)"
            )
        else:
            self.serving = ServingStack(
                self,
                "Serving",
                stack_name=names.stack(environment.name, "serving"),
                description=f"{project} {environment.name}: endpoint v{environment.release.version}, alarms, drift",
                app_config=app_config,
                environment=environment,
                release=environment.release,
                artifacts_bucket=self.storage.artifacts_bucket,
                key=self.storage.key,
                alerts_topic=self.storage.alerts_topic,
                undelivered_events=self.storage.undelivered_events.target,
            )
            if self.network:
                self.serving.add_stack_dependency(self.network, "the endpoint reaches AWS through the VPC endpoints")
