"""How an endpoint update rolls out: blue/green traffic shifting or rolling batches, and how long it bakes."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Self

from pydantic import model_validator

from config.errors import invalid
from config.fields import Choice, Whole
from config.schema import Schema


class RolloutType(StrEnum):
    """CANARY, LINEAR and ALL_AT_ONCE are blue/green traffic shifting; ROLLING replaces the fleet in batches."""

    ALL_AT_ONCE = "ALL_AT_ONCE"
    CANARY = "CANARY"
    LINEAR = "LINEAR"
    ROLLING = "ROLLING"


class BatchSizeType(StrEnum):
    """How a rolling batch is sized (SageMaker CapacitySize.Type)."""

    CAPACITY_PERCENT = "CAPACITY_PERCENT"
    INSTANCE_COUNT = "INSTANCE_COUNT"


_BATCH = "a whole number: 5 to 50 percent of the instances, or 5% to 50% of them counted in instances"
_ROLLBACK_BATCH = "a whole number up to 100 percent of the instances or all of them counted in instances, or null"


class RolloutConfig(Schema):
    type: Annotated[RolloutType, Choice()]
    # SageMaker: canary <= 50% of the variant's instances; linear step 10-50%.
    canary_size_percent: Annotated[int, Whole(1, 50, " percent")] = 50
    linear_step_percent: Annotated[int, Whole(10, 50, " percent")] = 25
    # SageMaker: WaitIntervalInSeconds and TerminationWaitInSeconds 0-3600 s.
    wait_interval_minutes: Annotated[int, Whole(0, 60, " minutes")] = 5
    termination_wait_minutes: Annotated[int, Whole(0, 60, " minutes")] = 5
    # SageMaker: MaximumExecutionTimeoutInSeconds 600-28800 s.
    max_execution_timeout_minutes: Annotated[int, Whole(10, 480, " minutes")] = 60
    # ROLLING only: the batch the new fleet grows (and the old one shrinks) by, and the batch
    # a rollback restores the old fleet in (None: all of it at once, SageMaker's default).
    # RollingUpdatePolicy.MaximumBatchSize "must be between 5% to 50% of the variant's total
    # instance count"; CapacitySize.Value is at least 1 (SageMaker API reference, botocore model).
    # RollbackMaximumBatchSize has no documented upper bound beyond the whole old fleet. Bounds
    # in instances depend on the fleet: EnvironmentConfig checks them (and defaults the batch).
    rolling_batch_type: Annotated[BatchSizeType, Choice()] = BatchSizeType.CAPACITY_PERCENT
    rolling_batch_size: Annotated[int, Whole(0, 10_000, phrase=_BATCH)] = 25
    rollback_batch_size: Annotated[int | None, Whole(0, 10_000, phrase=_ROLLBACK_BATCH)] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.rolling_batch_type is BatchSizeType.CAPACITY_PERCENT:
            if not 5 <= self.rolling_batch_size <= 50:
                raise invalid(
                    "rolling_batch_size",
                    self.rolling_batch_size,
                    "a whole number from 5 to 50 percent of the instances",
                )
            if self.rollback_batch_size is not None and not 1 <= self.rollback_batch_size <= 100:
                raise invalid(
                    "rollback_batch_size",
                    self.rollback_batch_size,
                    "a whole number from 1 to 100 percent of the instances, or null",
                )
        return self

    def traffic_steps(self, instance_count: int) -> int:
        """How many times traffic moves to the new fleet (each followed by a wait interval)."""
        if self.type is RolloutType.CANARY:
            return 2
        if self.type is RolloutType.LINEAR:
            return math.ceil(100 / self.linear_step_percent)
        if self.type is RolloutType.ROLLING:
            batch = self.rolling_batch_size
            if self.rolling_batch_type is BatchSizeType.CAPACITY_PERCENT:
                # SageMaker does not document how it rounds a percentage to instances; rounding
                # down gives the most batches, so the timeout check never passes a rollout too long.
                batch = max(1, instance_count * batch // 100)
            return math.ceil(instance_count / batch)
        return 1

    def bake_minutes(self, instance_count: int) -> int:
        """Minimum length of a deployment: every wait interval plus the termination wait.

        A rolling deployment has no termination wait: it bakes every batch, the last one included.
        """
        termination = 0 if self.type is RolloutType.ROLLING else self.termination_wait_minutes
        return self.traffic_steps(instance_count) * self.wait_interval_minutes + termination
