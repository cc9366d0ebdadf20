"""The drift alarm: the endpoint's inputs moved away from the live version's baseline."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns

from config import DriftConfig
from constructs import Construct


class DriftAlarm(cloudwatch.Alarm):
    """Alarms when the drift metric exceeds `threshold`, and notifies the alerts topic: our check's
    count of drifted features above 0, or Model Monitor's distance above `drift.threshold`.

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
        threshold: float,
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
                f"(PSI above {drift.threshold:g}). Starts retraining where the config allows; never promotes."
            ),
            metric=drift_metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.add_alarm_action(actions.SnsAction(topic))
