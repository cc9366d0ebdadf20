"""The CloudWatch alarms that SageMaker watches while it shifts traffic to a new fleet."""

from __future__ import annotations

from functools import partial

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns

from config import AlarmConfig
from constructs import Construct

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
# CloudWatch reports ModelLatency in microseconds; config speaks milliseconds.
_MICROSECONDS_PER_MS = 1000


def endpoint_metric(
    endpoint_name: str,
    variant_name: str,
    metric_name: str,
    statistic: str,
    *,
    period: Duration,
    label: str | None = None,
) -> cloudwatch.Metric:
    """A SageMaker invocation metric of one endpoint variant, the way the rollback alarms watch it."""
    return cloudwatch.Metric(
        namespace=SAGEMAKER_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant_name},
        statistic=statistic,
        period=period,
        label=label,
    )


class RollbackAlarms(Construct):
    """Four alarms on the endpoint's own invocation metrics, named for AutoRollbackConfiguration.

    Every alarm watches the whole variant (EndpointName + VariantName): those are the
    dimensions SageMaker documents for its invocation metrics, and an alarm on a
    dimension that is never emitted would stay in INSUFFICIENT_DATA and never roll
    anything back. Old-fleet errors therefore also stop a deployment, which is intended:
    a release should not proceed into an endpoint that is already failing.

    The error metrics are 1 per failed request, so errors alarm on a Sum per period and
    client errors on a rate (4XX / Invocations) that can actually cross a percentage.
    No traffic is not a breach (missing data is treated as not breaching).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        variant_name: str,
        alarm_name_prefix: str,
        config: AlarmConfig,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        period = Duration.seconds(config.period_seconds)
        metric = partial(endpoint_metric, endpoint_name, variant_name, period=period)

        four_xx_rate = cloudwatch.MathExpression(
            expression="IF(invocations > 0, 100 * errors / invocations, 0)",
            using_metrics={
                "errors": metric("Invocation4XXErrors", "Sum"),
                "invocations": metric("Invocations", "Sum"),
            },
            label="4XX rate (%)",
            period=period,
        )
        self.worst_case_detection = Duration.seconds(config.worst_case_detection_seconds)
        self.metrics: dict[str, cloudwatch.IMetric] = {
            "5xx-errors": metric("Invocation5XXErrors", "Sum"),
            "model-errors": metric("InvocationModelErrors", "Sum"),
            "p99-latency": metric("ModelLatency", "p99"),
            "4xx-rate": four_xx_rate,
        }
        thresholds = {
            "5xx-errors": (config.max_5xx_errors, f"more than {config.max_5xx_errors} 5XX responses"),
            "model-errors": (config.max_model_errors, f"more than {config.max_model_errors} model errors"),
            "p99-latency": (
                config.p99_latency_ms * _MICROSECONDS_PER_MS,
                f"p99 model latency above {config.p99_latency_ms} ms",
            ),
            "4xx-rate": (config.max_4xx_rate_percent, f"4XX rate above {config.max_4xx_rate_percent:g}%"),
        }
        notify = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []
        for suffix, (threshold, what) in thresholds.items():
            alarm = cloudwatch.Alarm(
                self,
                "".join(part.capitalize() for part in suffix.split("-")),
                alarm_name=f"{alarm_name_prefix}{suffix}",
                alarm_description=(
                    f"{endpoint_name}/{variant_name}: {what} in {config.datapoints_to_alarm} of "
                    f"{config.evaluation_periods} periods of {config.period_seconds} s. Rolls back a deployment "
                    "in progress."
                ),
                metric=self.metrics[suffix],
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=config.evaluation_periods,
                datapoints_to_alarm=config.datapoints_to_alarm,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(notify)
            alarm.add_ok_action(notify)
            self.alarms.append(alarm)
        self.alarm_names = [f"{alarm_name_prefix}{suffix}" for suffix in thresholds]
