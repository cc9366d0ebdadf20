"""The drift check's own health: it stopped completing, or captured rows do not fit the baseline."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns

import contracts
from config import DriftConfig
from constructs import Construct
from constructs.monitoring.scheduled_drift_check import check_metric

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


def drift_check_health_alarms(
    scope: Construct,
    *,
    endpoint_name: str,
    pipeline_name: str,
    drift: DriftConfig,
    metric_namespace: str,
    prefix: str,
    topic: sns.ITopic,
) -> list[cloudwatch.Alarm]:
    """Three alarms that notify `topic`: the check is not running, it rejects captured rows, or it
    cannot see drift in some feature.

    "Not running": no completed check for 1.5 schedule intervals (missing data breaches).
    "Rejected rows": more captured rows than `drift.max_rejected_fraction` do not match the
    baseline's schema.
    "Unchecked features": a completed check judged not every feature: the window held fewer rows
    than the decision needs (an empty capture too), or a feature was missing in (nearly) every row.
    A run that publishes RowsRead=0 keeps "not running" quiet; this one speaks.

    Named `<prefix>...` so that they never start retraining. Created in `scope` under the
    construct IDs they have always had there, so their logical IDs stay put.
    """
    period, periods = health_alarm_window(drift.check_interval_minutes)
    not_running = cloudwatch.Alarm(
        scope,
        "DriftCheckNotRunningAlarm",
        alarm_name=f"{prefix}drift-check-not-running",
        alarm_description=(
            f"{endpoint_name}: no drift check completed in {period * periods} minutes (schedule "
            f"{drift.schedule}). Drift cannot be detected: see the {pipeline_name} pipeline's executions."
        ),
        metric=check_metric(metric_namespace, endpoint_name, contracts.DRIFT_ROWS_READ_METRIC, "SampleCount", period),
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
    )
    # One period holds a whole check interval (at most a day), so a failing check keeps it in ALARM.
    rejected_period = min(period * periods, SHORT_PERIOD_SPAN_LIMIT_MINUTES)
    rejected = cloudwatch.Alarm(
        scope,
        "DriftCheckRejectedRowsAlarm",
        alarm_name=f"{prefix}drift-check-rejected-rows",
        alarm_description=(
            f"{endpoint_name}: more than {drift.max_rejected_fraction:.0%} of the captured rows do not "
            "match the baseline's schema (column count, CSV content type, numbers). The check failed without "
            "a drift verdict; its report in drift-reports/ gives the reasons."
        ),
        metric=check_metric(
            metric_namespace, endpoint_name, contracts.DRIFT_REJECTED_FRACTION_METRIC, "Maximum", rejected_period
        ),
        threshold=drift.max_rejected_fraction,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    unchecked = cloudwatch.Alarm(
        scope,
        "DriftCheckUncheckedFeaturesAlarm",
        alarm_name=f"{prefix}drift-check-unchecked-features",
        alarm_description=(
            f"{endpoint_name}: the drift check could not judge every feature, so drift there cannot be seen. "
            "Too few captured rows in the window (raise drift.window_hours or data capture, see min_rows in "
            "the report in drift-reports/) or a feature missing in every row (see unchecked_features)."
        ),
        metric=check_metric(
            metric_namespace, endpoint_name, contracts.DRIFT_UNCHECKED_FEATURES_METRIC, "Maximum", rejected_period
        ),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarms = [not_running, rejected, unchecked]
    for alarm in alarms:
        alarm.add_alarm_action(actions.SnsAction(topic))
    return alarms
