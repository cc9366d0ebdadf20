"""The drift alarm: the endpoint's inputs moved away from the live version's baseline."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns

from config import DriftConfig
from constructs import Construct


class DriftAlarm(cloudwatch.Alarm):
    """Alarms when the drift metric exceeds `drift.threshold`, and notifies the alerts topic.

    Named `<alarm_name_prefix>data-drift`: the retraining rule listens for that prefix, so the
    alarm may start retraining; it never promotes a model.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        drift_metric: cloudwatch.IMetric,
        drift: DriftConfig,
        alarm_name_prefix: str,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(
            scope,
            id_,
            alarm_name=f"{alarm_name_prefix}data-drift",
            alarm_description=(
                f"{endpoint_name}: captured inputs drifted from the live version's baseline "
                f"(above {drift.threshold:g}). Starts retraining where the config allows; never promotes."
            ),
            metric=drift_metric,
            threshold=drift.threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.add_alarm_action(actions.SnsAction(topic))
