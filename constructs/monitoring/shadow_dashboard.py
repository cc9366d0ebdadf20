"""Dashboard rows for a shadow test: production and shadow variant side by side."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from constructs.monitoring.rollback_alarms import endpoint_metric
from contracts import INVOCATION_5XX_ERRORS_METRIC, INVOCATIONS_METRIC, MODEL_LATENCY_METRIC

_WIDTH = 12


def add_shadow_widgets(
    dashboard: cloudwatch.Dashboard, *, endpoint_name: str, production_variant: str, shadow_variant: str
) -> None:
    """p99 latency and 5XX errors of both variants, the numbers `mlopsctl shadow-test` judges.

    The metrics are those SageMaker's own shadow-test dashboard compares per variant ("Monitor a
    shadow test"), by EndpointName and VariantName; outside a shadow test the shadow lines are empty.
    """

    def metric(variant: str, name: str, statistic: str) -> cloudwatch.Metric:
        return endpoint_metric(
            endpoint_name, variant, name, statistic, period=Duration.minutes(1), label=f"{variant} {statistic}"
        )

    variants = (production_variant, shadow_variant)
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="Shadow test: model latency p99 (microseconds) per variant",
            left=[metric(variant, MODEL_LATENCY_METRIC, "p99") for variant in variants],
            width=_WIDTH,
        ),
        cloudwatch.GraphWidget(
            title="Shadow test: 5XX errors and invocations per variant",
            left=[metric(variant, INVOCATION_5XX_ERRORS_METRIC, "Sum") for variant in variants],
            right=[metric(variant, INVOCATIONS_METRIC, "Sum") for variant in variants],
            width=_WIDTH,
        ),
    )
