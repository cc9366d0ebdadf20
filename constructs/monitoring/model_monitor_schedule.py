"""The optional drift strategy: a SageMaker Model Monitor data-quality schedule on the endpoint."""

from __future__ import annotations

import hashlib
import json
import re

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from config import DRIFT_ALARM_PERIOD_HOURS, MODEL_MONITOR_NAMESPACE, DriftConfig, Release, VpcSettings
from constructs import Construct


def model_monitor_cron(expression: str) -> str:
    """Model Monitor takes hourly or daily cron expressions only; config may say rate(...)."""
    rate = re.fullmatch(r"rate\((\d+) (hour|hours|day|days)\)", expression)
    if not rate:
        return expression
    count, unit = int(rate.group(1)), rate.group(2)
    if unit.startswith("day"):
        return "cron(0 0 ? * * *)"
    return "cron(0 * ? * * *)" if count == 1 else f"cron(0 0/{count} ? * * *)"


# CreateDataQualityJobDefinition's JobDefinitionName: at most 63 characters of
# [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} (botocore sagemaker model, MonitoringJobDefinitionName).
MAX_JOB_DEFINITION_NAME = 63


def job_definition_name(endpoint_name: str, version: int, vpc: VpcSettings | None) -> str:
    """`<endpoint>-dq-v<version>`, plus a hash of the network settings when there is a VPC.

    Every property of AWS::SageMaker::DataQualityJobDefinition is create-only (NetworkConfig
    included, CloudFormation resource schema) and CloudFormation can't replace a resource with a
    custom name: a new release gets a new name by its version, a new network by its hash. The
    hash covers the endpoint's name too, so when a long endpoint name has to be shortened to fit,
    the name still belongs to that endpoint alone.
    """
    name = f"{endpoint_name}-dq-v{version}"
    if vpc is None:
        return name
    network = json.dumps([endpoint_name, vpc.sagemaker_vpc_config], sort_keys=True)
    suffix = f"-dq-v{version}-{hashlib.sha256(network.encode()).hexdigest()[:8]}"
    return endpoint_name[: MAX_JOB_DEFINITION_NAME - len(suffix)].rstrip("-") + suffix


class ModelMonitorSchedule:
    """A data-quality job definition for the release's baselines and its monitoring schedule;
    `drift_metric` is the largest feature_baseline_drift_<feature> of the monitored features.

    Not a construct of its own: its resources are created in `scope` (the DriftMonitor) under
    the construct IDs they have always had there, so their logical IDs stay put.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        role: iam.Role,
        schedule_name: str,
        endpoint_name: str,
        release: Release,
        drift: DriftConfig,
        bucket: s3.IBucket,
        reports_prefix: str,
        key: kms.IKey,
        image_uri: str,
        instance_type: str,
        vpc: VpcSettings | None,
    ) -> None:
        # The config (EnvironmentConfig) guarantees both baseline URIs when Model Monitor is selected.
        job = sagemaker.CfnDataQualityJobDefinition(
            scope,
            "DataQualityJob",
            job_definition_name=job_definition_name(endpoint_name, release.version, vpc),
            role_arn=role.role_arn,
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
                    endpoint_name=endpoint_name, local_path="/opt/ml/processing/input/endpoint"
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
            network_config=sagemaker.CfnDataQualityJobDefinition.NetworkConfigProperty(
                enable_network_isolation=False,
                vpc_config=sagemaker.CfnDataQualityJobDefinition.VpcConfigProperty(
                    security_group_ids=list(vpc.security_group_ids), subnets=list(vpc.subnet_ids)
                ),
            )
            if vpc
            else None,
        )
        job.node.add_dependency(role)
        self.monitoring_schedule = sagemaker.CfnMonitoringSchedule(
            scope,
            "MonitoringSchedule",
            monitoring_schedule_name=schedule_name,
            endpoint_name=endpoint_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=job.job_definition_name,
                monitoring_type="DataQuality",
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=model_monitor_cron(drift.schedule)
                ),
            ),
        )
        using = {
            f"f{i}": cloudwatch.Metric(
                namespace=MODEL_MONITOR_NAMESPACE,
                metric_name=f"feature_baseline_drift_{feature}",
                dimensions_map={"Endpoint": endpoint_name, "MonitoringSchedule": schedule_name},
                statistic="Maximum",
                period=Duration.hours(DRIFT_ALARM_PERIOD_HOURS),
            )
            for i, feature in enumerate(drift.model_monitor_features)
        }
        self.drift_metric: cloudwatch.IMetric = cloudwatch.MathExpression(
            expression=f"MAX([{', '.join(using)}])",
            using_metrics=using,
            label="max baseline drift over monitored features",
            period=Duration.hours(DRIFT_ALARM_PERIOD_HOURS),
        )
        # Model Monitor's metric is a distance: the alarm compares it with the configured threshold.
        self.alarm_metric: cloudwatch.IMetric = self.drift_metric
        self.alarm_threshold = drift.threshold
