"""The drift check's schedule, window and threshold, or Model Monitor in its place."""

from __future__ import annotations

import math
import re
from typing import Annotated, Self

from pydantic import model_validator

from config.errors import invalid
from config.fields import FEATURE, SCHEDULE, Flag, Listed, Number, Text, Whole
from config.schedules import schedule_problem
from config.schema import Schema

# The "drift check not running" alarm spans 1.5 checks; CloudWatch caps an alarm's span
# (constructs/monitoring/drift_check_health_alarms.py, health_alarm_window), and a check less often than every
# four days leaves most captured data unchecked anyway.
_MAX_CHECK_INTERVAL_HOURS = 96


# The drift alarm's and the drift check's metric period: one data point per check, and an hour-long
# period holds every check of an hourly schedule.
DRIFT_ALARM_PERIOD_HOURS = 1
# Model Monitor's data-quality metrics for a real-time endpoint, as deployed monitors publish them.
MODEL_MONITOR_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
_FEATURES = "1 to 10 feature names (the drift alarm's metrics) when use_model_monitor is true"
# Rows one drift-check instance counts within half its job's hour (MaxRuntimeInSeconds 3600): about
# 100,000 rows a second on one core of the default ml.m5.large, half the benchmark's rate for
# headroom (docs/benchmarks.md, bench/volume.py).
DRIFT_ROWS_PER_INSTANCE = 100_000 * 1800
_MAX_DRIFT_INSTANCES = 100


class DriftConfig(Schema):
    schedule: Annotated[str, Text(SCHEDULE, "rate(N minutes|hours|days) or cron(6 fields)")] = "rate(1 hour)"
    window_hours: Annotated[int, Whole(1, 168, " hours")] = 1
    threshold: Annotated[float, Number(0.0, 10.0)] = 0.2
    use_model_monitor: Annotated[bool, Flag()] = False
    # Model Monitor publishes one metric per feature; the drift alarm can watch up to ten.
    model_monitor_features: Annotated[tuple[str, ...], Listed(FEATURE, _FEATURES, high=10)] = ()
    # Share of captured rows that may not match the baseline's schema before a check fails.
    max_rejected_fraction: Annotated[float, Number(0.0, 0.99)] = 0.05
    # The decision (pipeline_steps/scripts/drift_check.py, `decide`): at most this share of undrifted windows
    # flagged, and a shift of `detectable_shift_std` standard deviations in one feature flagged in
    # `detection_power` of windows; the smallest window that holds both follows from the baseline.
    false_alarm_rate: Annotated[float, Number(0.0001, 0.2)] = 0.01
    detection_power: Annotated[float, Number(0.5, 0.999)] = 0.95
    detectable_shift_std: Annotated[float, Number(0.1, 10.0)] = 1.0
    # Processing instances that count the window's capture objects: this many, or enough for
    # `expected_rows_per_hour` (DriftConfig.instances), else one.
    instance_count: Annotated[int | None, Whole(1, _MAX_DRIFT_INSTANCES, " instances")] = None
    expected_rows_per_hour: Annotated[int | None, Whole(1, 10**12, " rows")] = None
    # Longest time between two scheduled checks, for a cron() schedule (a rate() gives it).
    max_hours_between_checks: Annotated[
        int | None, Whole(1, _MAX_CHECK_INTERVAL_HOURS, " hours (needed with a cron() schedule)")
    ] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        problem = schedule_problem(self.schedule)
        if problem:
            raise invalid("schedule", self.schedule, problem)
        rate = self._rate_minutes
        if rate is None and self.max_hours_between_checks is None:
            raise invalid(
                "max_hours_between_checks",
                None,
                f"a whole number from 1 to {_MAX_CHECK_INTERVAL_HOURS} hours (needed with a cron() schedule)",
            )
        if rate is not None and not 1 <= rate <= 60 * _MAX_CHECK_INTERVAL_HOURS:
            raise invalid(
                "schedule", self.schedule, f"a schedule that checks at least every {_MAX_CHECK_INTERVAL_HOURS} hours"
            )
        if self.use_model_monitor:
            if not self.model_monitor_features:
                raise invalid("model_monitor_features", [], _FEATURES)
            if "minute" in self.schedule:
                raise invalid("schedule", self.schedule, "an hourly or daily schedule when use_model_monitor is true")
        return self

    @property
    def _rate_minutes(self) -> int | None:
        rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", self.schedule)
        if rate is None:
            return None
        return int(rate.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[rate.group(2)]

    @property
    def instances(self) -> int:
        """`instance_count`, else one instance per DRIFT_ROWS_PER_INSTANCE rows of the window's expected size."""
        if self.instance_count is not None:
            return self.instance_count
        if self.expected_rows_per_hour is None:
            return 1
        rows = self.expected_rows_per_hour * self.window_hours
        return min(max(1, math.ceil(rows / DRIFT_ROWS_PER_INSTANCE)), _MAX_DRIFT_INSTANCES)

    @property
    def check_interval_minutes(self) -> int:
        """Longest time between two scheduled checks, which the "drift check not running" alarm must cover."""
        rate = self._rate_minutes
        if rate is not None:
            return rate
        assert self.max_hours_between_checks is not None  # _check refuses a cron() without it
        return 60 * self.max_hours_between_checks
