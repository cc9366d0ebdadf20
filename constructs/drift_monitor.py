"""Scheduled drift detection for one endpoint, its drift alarm, and the alarm's way to retraining."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk import ArnFormat, Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from config import AwsTarget, DriftConfig, Release
from constructs import Construct
from constructs.image_access import grant_image_pull
from constructs.nag_acknowledgments import acknowledge_wildcards, objects_in
from pipeline_steps import drift_check, drift_check_pipeline, model_build_pipeline

# The builder's files; importing it is cheap (the SageMaker SDK is imported only inside its functions).
DEFINITION_FILE = drift_check_pipeline.DEFINITION_FILE
IMAGES_FILE = drift_check_pipeline.IMAGES_FILE
DRIFT_SCRIPT = Path(drift_check_pipeline.__file__).resolve().parent / "drift_check.py"

# Where the model-building pipeline writes the baselines it registers (not its training data).
REGISTERED_BASELINES = model_build_pipeline.REGISTERED_BASELINES_PATTERN
# Model Monitor's data-quality metrics for a real-time endpoint, as deployed monitors publish them.
MODEL_MONITOR_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
# One data point per drift check: an hour-long period holds every check of an hourly schedule.
_ALARM_PERIOD_HOURS = 1
# The "not running" alarm fires after 1.5 check intervals without a completed check, at least
# half an hour more than one interval: a processing job takes minutes to start and to run.
_MIN_SLACK_MINUTES = 30
_HEALTH_EVALUATION_PERIODS = 6
# PutMetricAlarm (botocore cloudwatch service-2.json, Period): Period * EvaluationPeriods may
# not exceed 7 days, or 1 day when Period is under an hour; Period is a multiple of 60 s.
ALARM_SPAN_LIMIT_MINUTES = 7 * 24 * 60
SHORT_PERIOD_SPAN_LIMIT_MINUTES = 24 * 60
SHORT_PERIOD_MINUTES = 60


def health_alarm_window(check_interval_minutes: int) -> tuple[int, int]:
    """(period in minutes, evaluation periods) of the "drift check not running" alarm.

    All periods of the window must lack the completion metric for the alarm to fire, so the
    window (period * periods) is the time allowed without a completed check.
    """
    allowed = check_interval_minutes + max(check_interval_minutes // 2, _MIN_SLACK_MINUTES)
    period = -(-allowed // _HEALTH_EVALUATION_PERIODS)  # whole minutes, rounded up
    span = period * _HEALTH_EVALUATION_PERIODS
    limit = SHORT_PERIOD_SPAN_LIMIT_MINUTES if period < SHORT_PERIOD_MINUTES else ALARM_SPAN_LIMIT_MINUTES
    if span > limit:
        raise ValueError(
            f"a check every {check_interval_minutes} minutes needs an alarm over {span} minutes; "
            f"CloudWatch allows {limit}"
        )
    return period, _HEALTH_EVALUATION_PERIODS


def model_monitor_schedule(expression: str) -> str:
    """Model Monitor takes hourly or daily cron expressions only; config may say rate(...)."""
    rate = re.fullmatch(r"rate\((\d+) (hour|hours|day|days)\)", expression)
    if not rate:
        return expression
    count, unit = int(rate.group(1)), rate.group(2)
    if unit.startswith("day"):
        return "cron(0 0 ? * * *)"
    return "cron(0 * ? * * *)" if count == 1 else f"cron(0 0/{count} ? * * *)"


class DriftMonitor(Construct):
    """Compares what the endpoint receives with the baseline of the live model version.

    Default: the drift-check SageMaker pipeline (definition generated from
    pipeline_steps/drift_check_pipeline.py and checked in) started by an EventBridge schedule
    with the release's model package ARN and baseline URI as parameters; it publishes PSI per
    feature and Feature="ALL" (the maximum) to `metric_namespace`. With
    `drift.use_model_monitor`, a Model Monitor data-quality schedule runs instead and the
    alarm watches its feature_baseline_drift_<feature> metrics.

    Either way the drift alarm is named `<alarm_name_prefix>...`, notifies the alerts topic
    and, when models are built in another account or region, its state changes are
    forwarded to that environment's default event bus, where the retraining rule listens.

    The drift check's own health has two more alarms, named `<health_alarm_prefix>...` so
    that they notify the same topic but never start retraining: "not running" (no completed
    check for 1.5 schedule intervals: missing data breaches) and "rejected rows" (more
    captured rows than `drift.max_rejected_fraction` do not match the baseline's schema).
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
        metric_namespace: str,
        alarm_name_prefix: str,
        health_alarm_prefix: str,
        instance_type: str,
        model_build_target: AwsTarget,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.endpoint_name = endpoint_name
        self.pipeline_name = pipeline_name
        images = json.loads(IMAGES_FILE.read_text())
        image_kind = "model-monitor" if drift.use_model_monitor else "sklearn"
        if stack.region not in images[image_kind]:
            raise ValueError(
                f"No {image_kind} image known for region {stack.region!r}; regenerate "
                f"{IMAGES_FILE.name} with `make pipeline-definitions` after updating the SageMaker SDK."
            )
        image_uri = images[image_kind][stack.region]
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{endpoint_name}: runs the drift check and publishes its metrics",
        )
        artifacts_bucket.grant_read(self.role, f"{capture_prefix}*")
        artifacts_bucket.grant_put(self.role, f"{reports_prefix}*")
        # Processing volume and report output are encrypted with the environment's key.
        key.grant_encrypt_decrypt(self.role)
        self._findings: dict[str, str] = {
            "Action::s3:GetObject*": "grant_read on the data-capture prefix and the registered baselines only.",
            "Action::s3:GetBucket*": "grant_read: bucket metadata for reading captured data and baselines.",
            "Action::s3:List*": "grant_read: the drift check lists the hourly data-capture folders of its window.",
            "Action::s3:Abort*": "grant_put on the drift-reports prefix: aborts its own multipart uploads.",
            "Action::kms:GenerateDataKey*": "Reports and job volumes are encrypted with the environment's key.",
            "Action::kms:ReEncrypt*": "grant_encrypt_decrypt on the environment's key only.",
            objects_in(self, artifacts_bucket, f"{capture_prefix}*"): "Captured requests of this environment only.",
            objects_in(self, artifacts_bucket, f"{reports_prefix}*"): "Drift reports of this environment only.",
            "Resource::*": "ecr:GetAuthorizationToken has no resource-level permissions; cloudwatch:PutMetricData "
            "has none either and is limited to the drift namespaces by the cloudwatch:namespace condition.",
        }
        self._grant_baseline_read(artifacts_bucket, release)
        self._grant_job_basics(image_uri, metric_namespace)

        self.alarm: cloudwatch.Alarm
        self.pipeline: sagemaker.CfnPipeline | None = None
        self.records_metric: cloudwatch.IMetric | None = None
        self.monitoring_schedule: sagemaker.CfnMonitoringSchedule | None = None
        if drift.use_model_monitor:
            self._model_monitor(release, drift, artifacts_bucket, reports_prefix, key, image_uri, instance_type)
            self.drift_metric: cloudwatch.IMetric = self._model_monitor_metric(drift)
        else:
            self._drift_check_pipeline(
                release,
                drift,
                capture_uri,
                artifacts_bucket,
                reports_prefix,
                key,
                image_uri,
                instance_type,
                metric_namespace,
            )
            self.drift_metric = cloudwatch.Metric(
                namespace=metric_namespace,
                metric_name=drift_check.PSI_METRIC,
                dimensions_map={
                    drift_check.ENDPOINT_DIMENSION: endpoint_name,
                    drift_check.FEATURE_DIMENSION: drift_check.ALL_FEATURES,
                },
                statistic="Maximum",
                period=Duration.hours(_ALARM_PERIOD_HOURS),
                label="max PSI over features",
            )
            self.records_metric = self._check_metric(
                metric_namespace, drift_check.ROWS_ACCEPTED_METRIC, "Sum", _ALARM_PERIOD_HOURS * 60
            ).with_(label="rows checked")
        self.alarm = cloudwatch.Alarm(
            self,
            "DriftAlarm",
            alarm_name=f"{alarm_name_prefix}data-drift",
            alarm_description=(
                f"{endpoint_name}: captured inputs drifted from the live version's baseline "
                f"(above {drift.threshold:g}). Starts retraining where the config allows; never promotes."
            ),
            metric=self.drift_metric,
            threshold=drift.threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(topic))
        self.health_alarms: list[cloudwatch.Alarm] = []
        if not drift.use_model_monitor:
            self.health_alarms = self._health_alarms(drift, metric_namespace, health_alarm_prefix, topic)
        self.alarms = [self.alarm, *self.health_alarms]

        self.forward_rule: events.Rule | None = None
        if (model_build_target.account, model_build_target.region) != (stack.account, stack.region):
            self._forward_alarm_events(alarm_name_prefix, model_build_target)
        acknowledge_wildcards(self.role, self._findings)

    def _check_metric(self, namespace: str, name: str, statistic: str, minutes: int) -> cloudwatch.Metric:
        """A per-run metric of the drift check (dimension EndpointName)."""
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map={drift_check.ENDPOINT_DIMENSION: self.endpoint_name},
            statistic=statistic,
            period=Duration.minutes(minutes),
        )

    def _health_alarms(
        self, drift: DriftConfig, namespace: str, prefix: str, topic: sns.ITopic
    ) -> list[cloudwatch.Alarm]:
        """The drift check stopped completing, or most captured rows do not fit the baseline."""
        period, periods = health_alarm_window(drift.check_interval_minutes)
        not_running = cloudwatch.Alarm(
            self,
            "DriftCheckNotRunningAlarm",
            alarm_name=f"{prefix}drift-check-not-running",
            alarm_description=(
                f"{self.endpoint_name}: no drift check completed in {period * periods} minutes (schedule "
                f"{drift.schedule}). Drift cannot be detected: see the {self.pipeline_name} pipeline's executions."
            ),
            metric=self._check_metric(namespace, drift_check.ROWS_READ_METRIC, "SampleCount", period),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        # One period holds a whole check interval (at most a day), so a failing check keeps it in ALARM.
        rejected_period = min(period * periods, SHORT_PERIOD_SPAN_LIMIT_MINUTES)
        rejected = cloudwatch.Alarm(
            self,
            "DriftCheckRejectedRowsAlarm",
            alarm_name=f"{prefix}drift-check-rejected-rows",
            alarm_description=(
                f"{self.endpoint_name}: more than {drift.max_rejected_fraction:.0%} of the captured rows do not "
                "match the baseline's schema (column count, CSV content type, numbers). The check failed without "
                "a drift verdict; its report in drift-reports/ gives the reasons."
            ),
            metric=self._check_metric(namespace, drift_check.REJECTED_FRACTION_METRIC, "Maximum", rejected_period),
            threshold=drift.max_rejected_fraction,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (not_running, rejected):
            alarm.add_alarm_action(actions.SnsAction(topic))
        return [not_running, rejected]

    def _drift_check_pipeline(
        self,
        release: Release,
        drift: DriftConfig,
        capture_uri: str,
        bucket: s3.IBucket,
        reports_prefix: str,
        key: kms.IKey,
        image_uri: str,
        instance_type: str,
        metric_namespace: str,
    ) -> None:
        stack = Stack.of(self)
        script = assets.Asset(self, "DriftCheckScript", path=str(DRIFT_SCRIPT))
        # The processing input is an S3 prefix: SageMaker lists it, then downloads the one object.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadDriftCheckScript",
                actions=["s3:GetObject"],
                resources=[f"arn:{stack.partition}:s3:::{script.s3_bucket_name}/{script.s3_object_key}"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ListDriftCheckScript",
                actions=["s3:ListBucket"],
                resources=[f"arn:{stack.partition}:s3:::{script.s3_bucket_name}"],
                conditions={"StringEquals": {"s3:prefix": script.s3_object_key}},
            )
        )
        definition = Fn.sub(
            DEFINITION_FILE.read_text(),
            {
                "RoleName": self.role.role_name,
                "KmsKeyArn": key.key_arn,
                "ImageUri": image_uri,
                "InstanceType": instance_type,
                "CodeBucket": script.s3_bucket_name,
                "CodeKey": script.s3_object_key,
                "ReportsUri": f"s3://{bucket.bucket_name}/{reports_prefix.rstrip('/')}",
                "CaptureUri": capture_uri,
                "EndpointName": self.endpoint_name,
                "MetricNamespace": metric_namespace,
                "DriftThreshold": f"{drift.threshold:g}",
                "MaxRejectedFraction": f"{drift.max_rejected_fraction:g}",
                "WindowHours": str(drift.window_hours),
            },
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_description=f"Drift check of {self.endpoint_name} against the live version's baseline",
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": definition},
        )
        self.pipeline.node.add_dependency(self.role)
        pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=self.pipeline_name)
        jobs = stack.format_arn(service="sagemaker", resource="processing-job", resource_name="pipelines-*")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="RunDriftCheckJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[jobs],
            )
        )
        self._findings[f"Resource::{jobs}"] = "Processing jobs the pipeline creates, all named pipelines-<id>-..."
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassOwnRoleToJobs",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        start_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"Starts the drift check of {self.endpoint_name} on schedule",
        )
        start_role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:StartPipelineExecution"], resources=[pipeline_arn])
        )
        parameters = [
            events.CfnRule.SageMakerPipelineParameterProperty(name="ModelPackageArn", value=release.model_package_arn)
        ]
        if release.baseline_statistics_uri:
            parameters.append(
                events.CfnRule.SageMakerPipelineParameterProperty(
                    name="BaselineStatisticsUri", value=release.baseline_statistics_uri
                )
            )
        self.schedule = events.CfnRule(
            self,
            "Schedule",
            description=f"Drift check of {self.endpoint_name} ({drift.schedule})",
            schedule_expression=drift.schedule,
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    id="DriftCheck",
                    arn=pipeline_arn,
                    role_arn=start_role.role_arn,
                    sage_maker_pipeline_parameters=events.CfnRule.SageMakerPipelineParametersProperty(
                        pipeline_parameter_list=parameters
                    ),
                    retry_policy=events.CfnRule.RetryPolicyProperty(maximum_retry_attempts=3),
                )
            ],
        )
        self.schedule.node.add_dependency(self.pipeline)

    def _model_monitor(
        self,
        release: Release,
        drift: DriftConfig,
        bucket: s3.IBucket,
        reports_prefix: str,
        key: kms.IKey,
        image_uri: str,
        instance_type: str,
    ) -> None:
        # config.py guarantees both baseline URIs when Model Monitor is selected.
        job = sagemaker.CfnDataQualityJobDefinition(
            self,
            "DataQualityJob",
            # Job definitions are immutable: a new release (new baseline) gets a new name.
            job_definition_name=f"{self.endpoint_name}-dq-v{release.version}",
            role_arn=self.role.role_arn,
            data_quality_app_specification=sagemaker.CfnDataQualityJobDefinition.DataQualityAppSpecificationProperty(
                image_uri=image_uri,
                environment={"publish_cloudwatch_metrics": "Enabled"},
            ),
            data_quality_baseline_config=sagemaker.CfnDataQualityJobDefinition.DataQualityBaselineConfigProperty(
                statistics_resource=sagemaker.CfnDataQualityJobDefinition.StatisticsResourceProperty(
                    s3_uri=release.baseline_statistics_uri
                ),
                constraints_resource=sagemaker.CfnDataQualityJobDefinition.ConstraintsResourceProperty(
                    s3_uri=release.baseline_constraints_uri
                ),
            ),
            data_quality_job_input=sagemaker.CfnDataQualityJobDefinition.DataQualityJobInputProperty(
                endpoint_input=sagemaker.CfnDataQualityJobDefinition.EndpointInputProperty(
                    endpoint_name=self.endpoint_name, local_path="/opt/ml/processing/input/endpoint"
                )
            ),
            data_quality_job_output_config=sagemaker.CfnDataQualityJobDefinition.MonitoringOutputConfigProperty(
                kms_key_id=key.key_arn,
                monitoring_outputs=[
                    sagemaker.CfnDataQualityJobDefinition.MonitoringOutputProperty(
                        s3_output=sagemaker.CfnDataQualityJobDefinition.S3OutputProperty(
                            local_path="/opt/ml/processing/output",
                            s3_uri=f"s3://{bucket.bucket_name}/{reports_prefix}model-monitor",
                            s3_upload_mode="EndOfJob",
                        )
                    )
                ],
            ),
            job_resources=sagemaker.CfnDataQualityJobDefinition.MonitoringResourcesProperty(
                cluster_config=sagemaker.CfnDataQualityJobDefinition.ClusterConfigProperty(
                    instance_count=1, instance_type=instance_type, volume_size_in_gb=20, volume_kms_key_id=key.key_arn
                )
            ),
            stopping_condition=sagemaker.CfnDataQualityJobDefinition.StoppingConditionProperty(
                max_runtime_in_seconds=3600
            ),
        )
        job.node.add_dependency(self.role)
        self.monitoring_schedule = sagemaker.CfnMonitoringSchedule(
            self,
            "MonitoringSchedule",
            monitoring_schedule_name=self.pipeline_name,
            endpoint_name=self.endpoint_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=job.job_definition_name,
                monitoring_type="DataQuality",
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=model_monitor_schedule(drift.schedule)
                ),
            ),
        )

    def _model_monitor_metric(self, drift: DriftConfig) -> cloudwatch.IMetric:
        """The largest feature_baseline_drift_<feature> of the monitored features."""
        using = {
            f"f{i}": cloudwatch.Metric(
                namespace=MODEL_MONITOR_NAMESPACE,
                metric_name=f"feature_baseline_drift_{feature}",
                dimensions_map={"Endpoint": self.endpoint_name, "MonitoringSchedule": self.pipeline_name},
                statistic="Maximum",
                period=Duration.hours(_ALARM_PERIOD_HOURS),
            )
            for i, feature in enumerate(drift.model_monitor_features)
        }
        return cloudwatch.MathExpression(
            expression=f"MAX([{', '.join(using)}])",
            using_metrics=using,
            label="max baseline drift over monitored features",
            period=Duration.hours(_ALARM_PERIOD_HOURS),
        )

    def _grant_baseline_read(self, bucket: s3.IBucket, release: Release) -> None:
        """The baselines registered with model versions, in this account or the model-building one."""
        partition, region, account = Stack.of(self).partition, release.registry_region, release.registry_account
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FindRegisteredBaseline",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[release.package_arn_pattern],
            )
        )
        # Baselines only: the training splits beside them under pipelines/ stay out of reach.
        bucket.grant_read(self.role, REGISTERED_BASELINES)
        self._findings.update(
            {
                f"Resource::{release.package_arn_pattern}": "Versions of the released model package group: "
                "the drift check looks up the baseline registered with the live version.",
                objects_in(self, bucket, REGISTERED_BASELINES): "Baselines the model-build pipeline registers "
                "(its Baseline step's output), not its training data.",
            }
        )
        if account != Stack.of(self).account:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadBaselineOfBuildAccount",
                    actions=["s3:GetObject"],
                    resources=[f"arn:{partition}:s3:::*/{REGISTERED_BASELINES}"],
                    conditions={"StringEquals": {"s3:ResourceAccount": account}},
                )
            )
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="DecryptBaselineOfBuildAccount",
                    actions=["kms:Decrypt"],
                    resources=[f"arn:{partition}:kms:{region}:{account}:key/*"],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                )
            )
            self._findings[f"Resource::arn:{partition}:s3:::*/{REGISTERED_BASELINES}"] = (
                "Registered baselines in buckets owned by the model-building account only (s3:ResourceAccount)."
            )
            self._findings[f"Resource::arn:{partition}:kms:{region}:{account}:key/*"] = (
                "Decrypt through S3 only (kms:ViaService) with the model-building account's key."
            )

    def _grant_job_basics(self, image_uri: str, metric_namespace: str) -> None:
        stack = Stack.of(self)
        grant_image_pull(self.role, self, [image_uri], sid="PullJobImages")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishDriftMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": [metric_namespace, MODEL_MONITOR_NAMESPACE]}},
            )
        )
        logs = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/ProcessingJobs:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="JobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[logs],
            )
        )
        self._findings[f"Resource::{logs}"] = "Streams of SageMaker's processing-job log group, where jobs log."

    def _forward_alarm_events(self, alarm_name_prefix: str, model_build_target: AwsTarget) -> None:
        stack = Stack.of(self)
        bus = events.EventBus.from_event_bus_arn(
            self,
            "ModelBuildBus",
            stack.format_arn(
                service="events",
                account=model_build_target.account,
                region=model_build_target.region,
                resource="event-bus",
                resource_name="default",
            ),
        )
        self.forward_rule = events.Rule(
            self,
            "ForwardDriftAlarms",
            description="Drift alarm state changes to the model-building environment, where retraining starts",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": events.Match.prefix(alarm_name_prefix)},
            ),
            targets=[targets.EventBus(bus)],
        )
