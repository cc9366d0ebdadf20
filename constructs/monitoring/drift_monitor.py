"""Scheduled drift detection for one endpoint: composes the drift strategy, its alarms and forwarder."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from config import AwsTarget, DriftConfig, NetworkConfig, Release, VpcSettings
from constructs import Construct
from constructs.monitoring.drift_alarm import DriftAlarm
from constructs.monitoring.drift_alarm_forwarder import DriftAlarmForwarder
from constructs.monitoring.drift_check_health_alarms import drift_check_health_alarms
from constructs.monitoring.drift_job_role import DriftJobRole
from constructs.monitoring.model_monitor_schedule import ModelMonitorSchedule
from constructs.monitoring.scheduled_drift_check import ScheduledDriftCheck
from constructs.network.job_network import grant_vpc_access
from constructs.security.nag_acknowledgments import acknowledge_wildcards
from pipeline_steps import checked_in

IMAGES_FILE = checked_in.DRIFT_CHECK_IMAGES


class DriftMonitor(Construct):
    """Compares what the endpoint receives with the baseline of the live model version.

    Default: the drift-check SageMaker pipeline on an EventBridge schedule
    (scheduled_drift_check.py). With `drift.use_model_monitor`, a Model Monitor data-quality
    schedule runs instead (model_monitor_schedule.py). Both run as the same DriftJobRole.

    Either way the drift alarm is named `<alarm_name_prefix>...`, notifies the alerts topic
    and, when models are built in another account or region, its state changes are
    forwarded to that environment's default event bus, where the retraining rule listens.
    The drift check's own health alarms (drift_check_health_alarms.py), named
    `<health_alarm_prefix>...`, notify the same topic but never start retraining.

    The check's jobs run in the environment's VPC when `network` names one, never with network
    isolation: drift_check.py reads captured data, looks up the baseline and publishes its
    metrics through AWS APIs, and Model Monitor publishes its metrics to CloudWatch.

    `baselines_are_local`: this environment builds the models, so the baselines registered with them are
    in its own bucket; any other reads them from the model-building environment's, even in one account.

    A scheduled start or a forwarded alarm state change that EventBridge cannot deliver lands in
    `dead_letter_queue` (the environment's EventDeadLetters), whose alarm notifies `topic`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        pipeline_name: str,
        endpoint_name: str,
        release: Release,
        drift: DriftConfig,
        capture_uri: str,
        capture_prefix: str,
        reports_prefix: str,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        metric_namespace: str,
        alarm_name_prefix: str,
        health_alarm_prefix: str,
        instance_type: str,
        model_build_target: AwsTarget,
        network: NetworkConfig,
        baselines_are_local: bool,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        image_uri = _image_uri(stack.region, drift)
        self.role = DriftJobRole(
            self,
            "Role",
            endpoint_name=endpoint_name,
            release=release,
            capture_prefix=capture_prefix,
            reports_prefix=reports_prefix,
            artifacts_bucket=artifacts_bucket,
            key=key,
            image_uri=image_uri,
            metric_namespace=metric_namespace,
            baselines_are_local=baselines_are_local,
        )
        if network.vpc is not None:
            _grant_vpc_access(self.role, network.vpc)

        self.check: ScheduledDriftCheck | None = None
        self.model_monitor: ModelMonitorSchedule | None = None
        self.records_metric: cloudwatch.IMetric | None = None
        self.health_alarms: list[cloudwatch.Alarm] = []
        if drift.use_model_monitor:
            self.model_monitor = ModelMonitorSchedule(
                self,
                role=self.role,
                schedule_name=pipeline_name,
                endpoint_name=endpoint_name,
                release=release,
                drift=drift,
                bucket=artifacts_bucket,
                reports_prefix=reports_prefix,
                key=key,
                image_uri=image_uri,
                instance_type=instance_type,
                vpc=network.vpc,
            )
            self.drift_metric = self.model_monitor.drift_metric
            alarm_metric, alarm_threshold = self.model_monitor.alarm_metric, self.model_monitor.alarm_threshold
        else:
            self.check = ScheduledDriftCheck(
                self,
                role=self.role,
                pipeline_name=pipeline_name,
                endpoint_name=endpoint_name,
                release=release,
                drift=drift,
                capture_uri=capture_uri,
                bucket=artifacts_bucket,
                reports_prefix=reports_prefix,
                key=key,
                image_uri=image_uri,
                instance_type=instance_type,
                metric_namespace=metric_namespace,
                vpc=network.vpc,
                dead_letter_queue=dead_letter_queue,
            )
            self.drift_metric = self.check.drift_metric
            self.records_metric = self.check.records_metric
            alarm_metric, alarm_threshold = self.check.alarm_metric, self.check.alarm_threshold
        self.alarm = DriftAlarm(
            self,
            "DriftAlarm",
            endpoint_name=endpoint_name,
            drift_metric=alarm_metric,
            threshold=alarm_threshold,
            drift=drift,
            alarm_name_prefix=alarm_name_prefix,
            topic=topic,
        )
        if self.check:
            self.health_alarms = drift_check_health_alarms(
                self,
                endpoint_name=endpoint_name,
                pipeline_name=pipeline_name,
                drift=drift,
                metric_namespace=metric_namespace,
                prefix=health_alarm_prefix,
                topic=topic,
            )
        self.alarms = [self.alarm, *self.health_alarms]

        self.forward_rule: events.Rule | None = None
        if (model_build_target.account, model_build_target.region) != (stack.account, stack.region):
            self.forward_rule = DriftAlarmForwarder(
                self,
                "ForwardDriftAlarms",
                alarm_name_prefix=alarm_name_prefix,
                model_build_target=model_build_target,
                dead_letter_queue=dead_letter_queue,
            )


def _image_uri(region: str, drift: DriftConfig) -> str:
    """The drift check's (scikit-learn) or Model Monitor's image in `region`, from the checked-in list."""
    images = json.loads(IMAGES_FILE.read_text())
    image_kind = "model-monitor" if drift.use_model_monitor else "sklearn"
    if region not in images[image_kind]:
        raise ValueError(
            f"No {image_kind} image known for region {region!r}; regenerate "
            f"{IMAGES_FILE.name} with `make pipeline-definitions` after updating the SageMaker SDK."
        )
    return str(images[image_kind][region])


def _grant_vpc_access(role: DriftJobRole, vpc: VpcSettings) -> None:
    findings: dict[str, str] = {}
    # The drift check and Model Monitor both run processing jobs.
    grant_vpc_access(role, vpc, findings, runs_processing_jobs=True)
    acknowledge_wildcards(role, findings)
