"""One deployable environment (dev, staging, prod, ...): the unit the pipeline promotes."""

from __future__ import annotations

from typing import Any

from aws_cdk import Environment, RemovalPolicy, Stage

from config import AppConfig, EnvironmentConfig, RemovalMode
from constructs import Construct
from stacks.storage_stack import StorageStack


class EnvironmentStage(Stage):
    """The stacks of one environment, in the order of the flow they serve.

    Storage always; model building only in the environment that builds models; serving
    only when a release (an approved model version) is given for this environment.
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
            consumer_accounts=app_config.consumer_accounts if builds_models else (),
            registry_reader_accounts=app_config.registry_reader_accounts if builds_models else (),
            approval_events_target=app_config.toolchain.target if builds_models and pipeline_elsewhere else None,
        )
