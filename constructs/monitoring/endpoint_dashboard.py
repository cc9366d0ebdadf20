"""One CloudWatch dashboard per endpoint: traffic, errors, latency, scaling, drift, deployment alarms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from config import AutoscalingConfig
from constructs import Construct
from constructs.monitoring.rollback_alarms import endpoint_metric
from contracts import (
    INVOCATION_4XX_ERRORS_METRIC,
    INVOCATION_5XX_ERRORS_METRIC,
    INVOCATIONS_METRIC,
    MODEL_ERRORS_METRIC,
    MODEL_LATENCY_METRIC,
)

_WIDTH = 12
_PERIOD_MINUTES = 1
# Per-instance utilization metrics of an endpoint (SageMaker "Amazon SageMaker AI metrics in
# Amazon CloudWatch"): each instance publishes one datapoint a minute under the variant's dimensions.
INSTANCE_METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"


def instances_reporting(endpoint_name: str, variant_name: str, period: Duration) -> cloudwatch.Metric:
    """How many instances serve the variant, counted as the CPUUtilization datapoints of a minute.

    SageMaker publishes no instance-count metric and Application Auto Scaling publishes none
    either, so the sample count of a per-instance metric stands in for it. During a blue/green
    deployment it counts both fleets.
    """
    return cloudwatch.Metric(
        namespace=INSTANCE_METRICS_NAMESPACE,
        metric_name="CPUUtilization",
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant_name},
        statistic="SampleCount",
        period=period,
        label="instances reporting",
    )


class EndpointDashboard(Construct):
    """What an on-call engineer looks at during a deployment or after a drift alarm.

    Plain aws_cloudwatch widgets: the metrics are the ones the alarms watch, so the
    dashboard and the rollback decision never disagree.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        dashboard_name: str,
        endpoint_name: str,
        variant_name: str,
        drift_metric: cloudwatch.IMetric,
        drift_threshold: float,
        records_metric: cloudwatch.IMetric | None,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
        rollback_metrics: Mapping[str, cloudwatch.IMetric],
        drift_alarms: Sequence[cloudwatch.IAlarm],
        autoscaling: AutoscalingConfig,
    ) -> None:
        super().__init__(scope, id_)
        period = Duration.minutes(_PERIOD_MINUTES)
        metric = partial(endpoint_metric, endpoint_name, variant_name, period=period)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Deployment (rollback) and drift alarms",
                alarms=[*rollback_alarms, *drift_alarms],
                width=2 * _WIDTH,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations",
                left=[metric(INVOCATIONS_METRIC, "Sum", label="invocations")],
                right=[metric("InvocationsPerInstance", "Sum", label="per instance")],
                width=_WIDTH,
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[
                    metric(INVOCATION_5XX_ERRORS_METRIC, "Sum", label="5XX"),
                    metric(INVOCATION_4XX_ERRORS_METRIC, "Sum", label="4XX"),
                    metric(MODEL_ERRORS_METRIC, "Sum", label="model errors"),
                ],
                width=_WIDTH,
            ),
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{title}: what the rollback alarms watch",
                    left=[m for suffix, m in rollback_metrics.items() if suffix.startswith(fleet)],
                    width=_WIDTH,
                )
                for fleet, title in (("new-fleet-", "New fleet"), ("endpoint-", "Whole endpoint"))
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Model latency (microseconds)",
                left=[
                    metric(MODEL_LATENCY_METRIC, "p50", label="p50"),
                    metric(MODEL_LATENCY_METRIC, "p99", label="p99"),
                    metric("OverheadLatency", "p99", label="overhead p99"),
                ],
                width=_WIDTH,
            ),
            cloudwatch.GraphWidget(
                title="Data drift",
                left=[drift_metric],
                right=[records_metric] if records_metric else [],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=drift_threshold, label="drift alarm")],
                width=_WIDTH,
            ),
        )
        self.dashboard.add_widgets(
            *self.scaling_widgets(
                instances=instances_reporting(endpoint_name, variant_name, period),
                per_instance=metric("InvocationsPerInstance", "Sum", label="invocations per instance"),
                autoscaling=autoscaling,
            )
        )

    @staticmethod
    def scaling_widgets(
        *, instances: cloudwatch.IMetric, per_instance: cloudwatch.IMetric, autoscaling: AutoscalingConfig
    ) -> list[cloudwatch.IWidget]:
        """Instance count within autoscaling's bounds, and the tracked metric against its target.

        Target tracking keeps the per-minute InvocationsPerInstance near the target; a line far
        above it with the count at the maximum means the endpoint needs a higher max_instances.
        """
        bounds: list[cloudwatch.HorizontalAnnotation] = []
        target: list[cloudwatch.HorizontalAnnotation] = []
        if autoscaling.enabled:
            bounds = [
                cloudwatch.HorizontalAnnotation(value=autoscaling.min_instances, label="autoscaling minimum"),
                cloudwatch.HorizontalAnnotation(value=autoscaling.max_instances, label="autoscaling maximum"),
            ]
            target = [
                cloudwatch.HorizontalAnnotation(
                    value=autoscaling.target_invocations_per_instance, label="autoscaling target"
                )
            ]
        return [
            cloudwatch.GraphWidget(
                title="Instances (both fleets during a deployment)",
                left=[instances],
                left_annotations=bounds,
                width=_WIDTH,
            ),
            cloudwatch.GraphWidget(
                title="Scaling: invocations per instance per minute vs target",
                left=[per_instance],
                left_annotations=target,
                width=_WIDTH,
            ),
        ]
