"""Serving of one environment: the guarded endpoint, its alarms, drift detection, dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from config import AppConfig, EnvironmentConfig, Release
from constructs import Construct
from constructs.delivery.deploy_verifier_role import DeployVerifierRole
from constructs.delivery.shadow_test_access import ShadowTestAccess
from constructs.monitoring.drift_monitor import DriftMonitor
from constructs.monitoring.endpoint_dashboard import EndpointDashboard
from constructs.monitoring.rollback_alarms import RollbackAlarms
from constructs.monitoring.shadow_dashboard import add_shadow_widgets
from constructs.security.operator_role import OperatorReleasePermissions
from constructs.serving.endpoint_autoscaling import EndpointAutoscaling
from constructs.serving.guarded_endpoint import GuardedEndpoint
from contracts import data_capture_prefix, drift_reports_prefix
from pipeline_steps.checked_in import model_image_uris


def serving_images(app_config: AppConfig, release: Release, region: str) -> list[str]:
    """The inference images an endpoint may run: the configured model's, and the release's own if recorded."""
    configured = model_image_uris(app_config.model_build.model, region)["inference"]
    return sorted({configured, *([release.image_uri] if release.image_uri else [])})


class ServingStack(Stack):
    """deploy candidate (canary) -> observe metrics, roll back if needed -> detect drift.

    Exists only for an environment with a release (an approved model version resolved
    outside synth). A new release replaces the Model and EndpointConfig and updates the
    endpoint in place: SageMaker shifts traffic blue/green and rolls back on any alarm.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        app_config: AppConfig,
        environment: EnvironmentConfig,
        release: Release,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        alerts_topic: sns.ITopic,
        undelivered_events: sqs.IQueue,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self._app_config, self._environment, self._release = app_config, environment, release
        self._artifacts_bucket, self._key, self._alerts_topic = artifacts_bucket, key, alerts_topic
        names = app_config.names
        self._endpoint_name = names.endpoint(environment.name)
        self._capture_prefix = data_capture_prefix(environment.name)
        self._serve()
        self._watch(undelivered_events)
        self._admit_checks_and_operators()

    def _serve(self) -> None:
        """The guarded endpoint, the alarms that roll it back, its autoscaling, what a deployment requested."""
        names, environment, env = self._app_config.names, self._environment, self._environment.name
        build = self._app_config.build_environment
        endpoint_name = self._endpoint_name
        self.endpoint = GuardedEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            variant_name=names.variant,
            release=self._release,
            endpoint=environment.endpoint,
            rollout=environment.rollout,
            artifacts_bucket=self._artifacts_bucket,
            key=self._key,
            capture_prefix=self._capture_prefix,
            model_artifacts_are_local=env == build.name,
            network=environment.network,
            image_uris=serving_images(self._app_config, self._release, build.region),
        )
        self.rollback_alarms = RollbackAlarms(
            self,
            "RollbackAlarms",
            endpoint_name=endpoint_name,
            variant_name=names.variant,
            new_endpoint_config_name=self.endpoint.endpoint_config.attr_endpoint_config_name,
            alarm_name_prefix=names.rollback_alarm_prefix(env),
            new_fleet_alarm_prefix=names.new_fleet_alarm_prefix(env),
            whole_endpoint_alarm_prefix=names.whole_endpoint_alarm_prefix(env),
            config=environment.alarms,
            topic=self._alerts_topic,
        )
        self.endpoint.roll_back_on(self.rollback_alarms)
        self.autoscaling = (
            EndpointAutoscaling(
                self,
                "Autoscaling",
                endpoint=self.endpoint.endpoint,
                endpoint_name=endpoint_name,
                variant_name=names.variant,
                autoscaling=environment.endpoint.autoscaling,
            )
            if environment.endpoint.autoscaling.enabled
            else None
        )
        # The tag lets `mlopsctl cleanup` find this endpoint's retained Models and EndpointConfigs.
        for per_release in (self.endpoint.model, self.endpoint.endpoint_config):
            Tags.of(per_release).add(names.endpoint_resource_tag, endpoint_name)
        # What this deployment asked the endpoint to run; the pipeline's checks compare it with
        # what DescribeEndpoint reports, which differs after a guardrail rollback.
        self.requested_endpoint_config = CfnOutput(
            self,
            "RequestedEndpointConfig",
            value=self.endpoint.endpoint_config.attr_endpoint_config_name,
            description=f"EndpointConfig this deployment of {endpoint_name} requested",
        )

    def _watch(self, undelivered_events: sqs.IQueue) -> None:
        """Drift detection on the captured requests, and the endpoint's dashboard."""
        names, environment, env = self._app_config.names, self._environment, self._environment.name
        build = self._app_config.build_environment
        endpoint_name = self._endpoint_name
        self.drift = DriftMonitor(
            self,
            "DriftMonitor",
            pipeline_name=names.drift_check_pipeline(env),
            endpoint_name=endpoint_name,
            release=self._release,
            drift=environment.drift,
            capture_uri=f"{self.endpoint.capture_uri}{endpoint_name}/{names.variant}/",
            capture_prefix=self._capture_prefix,
            reports_prefix=drift_reports_prefix(env),
            artifacts_bucket=self._artifacts_bucket,
            key=self._key,
            topic=self._alerts_topic,
            dead_letter_queue=undelivered_events,
            metric_namespace=names.drift_metric_namespace,
            alarm_name_prefix=names.drift_alarm_prefix(env),
            health_alarm_prefix=names.health_alarm_prefix(env),
            instance_type=self._app_config.model_build.processing_instance_type,
            model_build_target=build.target,
            network=environment.network,
            baselines_are_local=env == build.name,
        )
        self.dashboard = EndpointDashboard(
            self,
            "Dashboard",
            dashboard_name=endpoint_name,
            endpoint_name=endpoint_name,
            variant_name=names.variant,
            drift_metric=self.drift.drift_metric,
            drift_threshold=environment.drift.threshold,
            records_metric=self.drift.records_metric,
            rollback_alarms=self.rollback_alarms.alarms,
            rollback_metrics=self.rollback_alarms.metrics,
            drift_alarms=self.drift.alarms,
            autoscaling=environment.endpoint.autoscaling,
        )

    def _admit_checks_and_operators(self) -> None:
        """The pipeline's deploy verifier, the operators' release permissions and, with a shadow test, its access."""
        names, environment, env = self._app_config.names, self._environment, self._environment.name
        self.verifier = DeployVerifierRole(
            self,
            "DeployVerifier",
            role_name=names.deploy_verifier_role(env),
            toolchain_account=self._app_config.toolchain.account,
            caller_role_name=names.deploy_check_role(env),
            endpoint_name=self._endpoint_name,
            ledger_parameter_name=names.ledger_parameter(env),
            release=self._release,
            artifacts_bucket=self._artifacts_bucket,
            key=self._key,
            sample_payloads_are_local=env == self._app_config.build_environment.name,
        )
        self.operator_releases = OperatorReleasePermissions(
            self,
            "OperatorReleases",
            names=names,
            environment=env,
            execution_role=self.endpoint.role,
        )
        if environment.shadow.enabled:
            ShadowTestAccess(
                self,
                "ShadowTestAccess",
                verifier_role=self.verifier.role,
                names=names,
                environment=env,
                execution_role=self.endpoint.role,
                capture_bucket=self._artifacts_bucket,
                capture_prefix=self._capture_prefix,
                key=self._key,
            )
            add_shadow_widgets(
                self.dashboard.dashboard,
                endpoint_name=self._endpoint_name,
                production_variant=names.variant,
                shadow_variant=names.shadow_variant,
            )
