"""The rollback alarms' settings, and how long CloudWatch takes at worst to see a bad fleet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import model_validator

from config.errors import invalid
from config.fields import Number, Whole
from config.schema import Schema

# SageMaker publishes invocation metrics once a minute unless enhanced metrics change the
# frequency (MetricsConfig.MetricPublishFrequencyInSeconds, which this app does not set), so
# the only alarm period that sees every datapoint is 60 s.
ALARM_PERIOD_SECONDS = 60
# Assumed delay on top of the evaluation window: up to one minute for SageMaker to publish a
# minute's datapoint, and up to one more until CloudWatch next evaluates a 60 s alarm (it
# evaluates alarms of a period of a minute or more once a minute; "Using Amazon CloudWatch alarms").
CLOUDWATCH_DELAY_SECONDS = 120
# PutMetricAlarm: for a period under one hour, Period x EvaluationPeriods <= 86,400 s (one day).
_MAX_EVALUATION_PERIODS = 86_400 // ALARM_PERIOD_SECONDS


class AlarmConfig(Schema):
    period_seconds: Annotated[
        int,
        Whole(
            ALARM_PERIOD_SECONDS,
            ALARM_PERIOD_SECONDS,
            phrase=f"{ALARM_PERIOD_SECONDS}, the interval at which SageMaker publishes invocation metrics",
        ),
    ] = ALARM_PERIOD_SECONDS
    evaluation_periods: Annotated[int, Whole(1, _MAX_EVALUATION_PERIODS)] = 2
    # Default: evaluation_periods; at most that many.
    datapoints_to_alarm: Annotated[
        int, Whole(1, _MAX_EVALUATION_PERIODS, phrase="a whole number from 1 to evaluation_periods")
    ] = 2
    max_5xx_rate_percent: Annotated[float, Number(0.1, 100.0)] = 1.0
    max_model_error_rate_percent: Annotated[float, Number(0.1, 100.0)] = 1.0
    max_4xx_rate_percent: Annotated[float, Number(0.1, 100.0)] = 10.0
    # Error rates count only in a period with at least this many requests: a canary with
    # little traffic can still trip, a single failed request in an idle minute cannot.
    min_invocations: Annotated[int, Whole(1, 1_000_000)] = 10
    p99_latency_ms: Annotated[int, Whole(1, 600_000, " ms")] = 500

    @classmethod
    def with_defaults(cls, data: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        data.setdefault("datapoints_to_alarm", data.get("evaluation_periods", 2))
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise invalid(
                "datapoints_to_alarm",
                self.datapoints_to_alarm,
                f"a whole number from 1 to {self.evaluation_periods}",
            )
        return self

    @property
    def worst_case_detection_seconds(self) -> int:
        """Longest time from a bad fleet's first errors to the alarm leaving OK.

        The alarm needs `evaluation_periods` full periods of data, plus CLOUDWATCH_DELAY_SECONDS.
        """
        return self.period_seconds * self.evaluation_periods + CLOUDWATCH_DELAY_SECONDS
