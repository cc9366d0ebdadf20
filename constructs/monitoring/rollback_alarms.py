"""The CloudWatch alarms that SageMaker watches while it shifts traffic to a new fleet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns

from config import AlarmConfig
from constructs import Construct
from contracts import (
    INVOCATION_4XX_ERRORS_METRIC,
    INVOCATION_5XX_ERRORS_METRIC,
    INVOCATIONS_METRIC,
    MODEL_ERRORS_METRIC,
    MODEL_LATENCY_METRIC,
    SAGEMAKER_NAMESPACE,
)

# CloudWatch reports ModelLatency in microseconds; config speaks milliseconds.
_MICROSECONDS_PER_MS = 1000


def endpoint_metric(
    endpoint_name: str,
    variant_name: str,
    metric_name: str,
    statistic: str,
    *,
    period: Duration,
    endpoint_config_name: str | None = None,
    label: str | None = None,
) -> cloudwatch.Metric:
    """A SageMaker invocation metric of one endpoint variant, or of one fleet of it.

    With `endpoint_config_name` the metric is the fleet of that EndpointConfig only: during a
    blue/green deployment SageMaker publishes the invocation metrics with an extra
    EndpointConfigName dimension once the new fleet takes traffic, and keeps publishing them
    after the deployment (SageMaker "Auto-Rollback Configuration and Monitoring").
    """
    dimensions = {"EndpointName": endpoint_name, "VariantName": variant_name}
    if endpoint_config_name is not None:
        dimensions["EndpointConfigName"] = endpoint_config_name
    return cloudwatch.Metric(
        namespace=SAGEMAKER_NAMESPACE,
        metric_name=metric_name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=period,
        label=label,
    )


def error_rate(
    metric: Callable[[str, str], cloudwatch.Metric],
    error_metric: str,
    *,
    period: Duration,
    min_invocations: int,
    label: str,
) -> cloudwatch.MathExpression:
    """Errors as a percentage of requests; 0 in a period with fewer than `min_invocations` requests.

    The errors' id is the metric's name, so rates of different errors can share one graph.
    """
    errors = error_metric[0].lower() + error_metric[1:]
    return cloudwatch.MathExpression(
        expression=f"IF(invocations >= {min_invocations}, 100 * {errors} / invocations, 0)",
        using_metrics={errors: metric(error_metric, "Sum"), "invocations": metric(INVOCATIONS_METRIC, "Sum")},
        label=label,
        period=period,
    )


@dataclass(frozen=True)
class _Watch:
    """One alarm: what it measures, its threshold and how a reader should say it."""

    metric: cloudwatch.IMetric
    threshold: float
    what: str


class RollbackAlarms(Construct):
    """Alarms named for AutoRollbackConfiguration: on the new fleet, and on the whole endpoint.

    New fleet (`new-fleet-*`): EndpointName + VariantName + EndpointConfigName of the
    EndpointConfig in this template, which is the config a release deploys. They judge the
    candidate alone, so a canary's errors are not diluted by the old fleet's traffic.

    Whole endpoint (`endpoint-*`): EndpointName + VariantName, the dimensions SageMaker
    always publishes. They also cover an endpoint's first creation (no deployment, so no
    EndpointConfigName metrics) and stop a release into an endpoint that is already failing.

    Error alarms are rates (errors / invocations in %, metric math) counted only in a period
    with at least `min_invocations` requests: a low-traffic canary can trip them, an idle
    minute with one failed request cannot. No traffic is not a breach.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        variant_name: str,
        new_endpoint_config_name: str,
        alarm_name_prefix: str,
        new_fleet_alarm_prefix: str,
        whole_endpoint_alarm_prefix: str,
        config: AlarmConfig,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        period = Duration.seconds(config.period_seconds)
        self.worst_case_detection = Duration.seconds(config.worst_case_detection_seconds)
        whole = partial(endpoint_metric, endpoint_name, variant_name, period=period)
        new_fleet_suffix = new_fleet_alarm_prefix.removeprefix(alarm_name_prefix)
        whole_suffix = whole_endpoint_alarm_prefix.removeprefix(alarm_name_prefix)
        fleets = {new_fleet_suffix: partial(whole, endpoint_config_name=new_endpoint_config_name), whole_suffix: whole}
        rate = partial(error_rate, period=period, min_invocations=config.min_invocations)
        watches: dict[str, _Watch] = {}
        for prefix, metric in fleets.items():
            fleet = "new fleet" if prefix == new_fleet_suffix else "whole endpoint"
            watches[f"{prefix}5xx-rate"] = _Watch(
                rate(metric, INVOCATION_5XX_ERRORS_METRIC, label=f"5XX rate (%), {fleet}"),
                config.max_5xx_rate_percent,
                f"5XX rate above {config.max_5xx_rate_percent:g}%",
            )
            watches[f"{prefix}model-error-rate"] = _Watch(
                rate(metric, MODEL_ERRORS_METRIC, label=f"model error rate (%), {fleet}"),
                config.max_model_error_rate_percent,
                f"model error rate above {config.max_model_error_rate_percent:g}%",
            )
        new_fleet = fleets[new_fleet_suffix]
        watches[f"{new_fleet_suffix}4xx-rate"] = _Watch(
            rate(new_fleet, INVOCATION_4XX_ERRORS_METRIC, label="4XX rate (%), new fleet"),
            config.max_4xx_rate_percent,
            f"4XX rate above {config.max_4xx_rate_percent:g}%",
        )
        watches[f"{new_fleet_suffix}p99-latency"] = _Watch(
            new_fleet(MODEL_LATENCY_METRIC, "p99", label="p99 model latency, new fleet"),
            config.p99_latency_ms * _MICROSECONDS_PER_MS,
            f"p99 model latency above {config.p99_latency_ms} ms",
        )
        self.metrics: dict[str, cloudwatch.IMetric] = {suffix: watch.metric for suffix, watch in watches.items()}
        notify = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []
        for suffix, watch in watches.items():
            fleet = "new fleet" if suffix.startswith(new_fleet_suffix) else "whole endpoint"
            alarm = cloudwatch.Alarm(
                self,
                "".join(part.capitalize() for part in suffix.split("-")),
                alarm_name=f"{alarm_name_prefix}{suffix}",
                alarm_description=(
                    f"{endpoint_name}/{variant_name} ({fleet}): {watch.what} in {config.datapoints_to_alarm} of "
                    f"{config.evaluation_periods} periods of {config.period_seconds} s. Rolls back a deployment "
                    "in progress."
                ),
                metric=watch.metric,
                threshold=watch.threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=config.evaluation_periods,
                datapoints_to_alarm=config.datapoints_to_alarm,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(notify)
            alarm.add_ok_action(notify)
            self.alarms.append(alarm)
        self.alarm_names = [f"{alarm_name_prefix}{suffix}" for suffix in watches]
