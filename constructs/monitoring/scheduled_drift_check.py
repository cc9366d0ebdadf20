"""The default drift strategy: our drift-check SageMaker pipeline, started by an EventBridge schedule."""

from __future__ import annotations

from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sqs as sqs

import contracts
from config import DRIFT_ALARM_PERIOD_HOURS as ALARM_PERIOD_HOURS
from config import DriftConfig, Release, VpcSettings
from constructs import Construct
from constructs.network.job_network import grant_create_jobs, with_network
from constructs.security.nag_acknowledgments import acknowledge_wildcards
from pipeline_steps import checked_in

# The builder's files; importing it is cheap (the SageMaker SDK is imported only inside its functions).
DEFINITION_FILE = checked_in.DRIFT_CHECK_DEFINITION
DRIFT_SCRIPT = checked_in.DRIFT_CHECK_SCRIPT


def check_metric(namespace: str, endpoint_name: str, name: str, statistic: str, minutes: int) -> cloudwatch.Metric:
    """A per-run metric of the drift check (dimension EndpointName)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={contracts.DRIFT_ENDPOINT_DIMENSION: endpoint_name},
        statistic=statistic,
        period=Duration.minutes(minutes),
    )


class ScheduledDriftCheck:
    """The drift-check pipeline (definition generated from pipeline_steps/drift_check_pipeline.py
    and checked in), started on `drift.schedule` with the release's model package ARN and
    baseline URI and the instance count as parameters; a start EventBridge cannot deliver goes to
    `dead_letter_queue`. It publishes, per run, the drifted features
    (`alarm_metric`, which the drift alarm watches above `alarm_threshold`), PSI per feature and
    Feature="ALL" (`drift_metric`, the maximum, which the dashboard shows) and the rows checked
    (`records_metric`).

    Not a construct of its own: its resources are created in `scope` (the DriftMonitor) under
    the construct IDs they have always had there, so their logical IDs, and with them the
    deployed pipeline and schedule, stay put.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        role: iam.Role,
        pipeline_name: str,
        endpoint_name: str,
        release: Release,
        drift: DriftConfig,
        capture_uri: str,
        bucket: s3.IBucket,
        reports_prefix: str,
        key: kms.IKey,
        image_uri: str,
        instance_type: str,
        metric_namespace: str,
        vpc: VpcSettings | None,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        stack = Stack.of(scope)
        script = assets.Asset(scope, "DriftCheckScript", path=str(DRIFT_SCRIPT))
        # The processing input is an S3 prefix: SageMaker lists it, then downloads the one object.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadDriftCheckScript",
                actions=["s3:GetObject"],
                resources=[f"arn:{stack.partition}:s3:::{script.s3_bucket_name}/{script.s3_object_key}"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListDriftCheckScript",
                actions=["s3:ListBucket"],
                resources=[f"arn:{stack.partition}:s3:::{script.s3_bucket_name}"],
                conditions={"StringEquals": {"s3:prefix": script.s3_object_key}},
            )
        )
        networked = with_network(DEFINITION_FILE.read_text(), vpc, isolated_steps=())
        definition = Fn.sub(
            networked,
            {
                "RoleName": role.role_name,
                "KmsKeyArn": key.key_arn,
                "ImageUri": image_uri,
                "InstanceType": instance_type,
                "CodeBucket": script.s3_bucket_name,
                "CodeKey": script.s3_object_key,
                "ReportsUri": f"s3://{bucket.bucket_name}/{reports_prefix.rstrip('/')}",
                "CaptureUri": capture_uri,
                "EndpointName": endpoint_name,
                "MetricNamespace": metric_namespace,
                "DriftThreshold": f"{drift.threshold:g}",
                "FalseAlarmRate": f"{drift.false_alarm_rate:g}",
                "DetectionPower": f"{drift.detection_power:g}",
                "DetectableShift": f"{drift.detectable_shift_std:g}",
                "MaxRejectedFraction": f"{drift.max_rejected_fraction:g}",
                contracts.DRIFT_WINDOW_PARAMETER: str(drift.window_hours),
            },
        )
        self.pipeline = sagemaker.CfnPipeline(
            scope,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_description=f"Drift check of {endpoint_name} against the live version's baseline",
            role_arn=role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": definition},
        )
        self.pipeline.node.add_dependency(role)
        pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        jobs = stack.format_arn(service="sagemaker", resource="processing-job", resource_name="pipelines-*")
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RunDriftCheckJobs",
                actions=[
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[jobs],
            )
        )
        grant_create_jobs(role, job_arns={"Processing": jobs}, definition=networked, vpc=vpc, isolated_steps=())
        acknowledge_wildcards(
            role, {f"Resource::{jobs}": "Processing jobs the pipeline creates, all named pipelines-<id>-..."}
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassOwnRoleToJobs",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        start_role = iam.Role(
            scope,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"Starts the drift check of {endpoint_name} on schedule",
        )
        start_role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:StartPipelineExecution"], resources=[pipeline_arn])
        )
        parameters = [
            events.CfnRule.SageMakerPipelineParameterProperty(
                name=contracts.DRIFT_MODEL_PACKAGE_PARAMETER, value=release.model_package_arn
            ),
            events.CfnRule.SageMakerPipelineParameterProperty(
                name=contracts.DRIFT_INSTANCE_COUNT_PARAMETER, value=str(drift.instances)
            ),
        ]
        if release.baseline_statistics_uri:
            parameters.append(
                events.CfnRule.SageMakerPipelineParameterProperty(
                    name=contracts.DRIFT_BASELINE_PARAMETER, value=release.baseline_statistics_uri
                )
            )
        self.schedule = events.CfnRule(
            scope,
            "Schedule",
            description=f"Drift check of {endpoint_name} ({drift.schedule})",
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
                    # A start SageMaker refuses (throttled, the pipeline gone) is kept, not dropped.
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letter_queue.queue_arn),
                )
            ],
        )
        self.schedule.node.add_dependency(self.pipeline)
        self.drift_metric = cloudwatch.Metric(
            namespace=metric_namespace,
            metric_name=contracts.DRIFT_PSI_METRIC,
            dimensions_map={
                contracts.DRIFT_ENDPOINT_DIMENSION: endpoint_name,
                contracts.DRIFT_FEATURE_DIMENSION: contracts.DRIFT_ALL_FEATURES,
            },
            statistic="Maximum",
            period=Duration.hours(ALARM_PERIOD_HOURS),
            label="max PSI over features",
        )
        # The verdict: features whose change is both significant for the window and above the PSI
        # threshold. PSI alone reads high on small windows, so the alarm watches the verdict.
        self.alarm_metric: cloudwatch.IMetric = check_metric(
            metric_namespace, endpoint_name, contracts.DRIFT_DRIFTED_FEATURES_METRIC, "Maximum", ALARM_PERIOD_HOURS * 60
        )
        self.alarm_threshold = 0.0
        self.records_metric = check_metric(
            metric_namespace, endpoint_name, contracts.DRIFT_ROWS_ACCEPTED_METRIC, "Sum", ALARM_PERIOD_HOURS * 60
        ).with_(label="rows checked")
