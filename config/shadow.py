"""The shadow test before production's canary, and the time budget of its pipeline step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from config.fields import Flag, Number, Whole
from config.schema import Schema

# CodeBuild's build timeout: 5 to 2160 minutes (botocore codebuild model, BuildTimeOut; the
# AWS::CodeBuild::Project schema's TimeoutInMinutes maximum), raised from 480 in June 2024. The
# CodeBuild quotas page still says 480, and the aws-cn CodePipeline quotas still give CodeBuild
# actions 8 hours: keep a shadow test's budget under 480 minutes there.
CODEBUILD_MAX_TIMEOUT_MINUTES = 2160


class ShadowConfig(Schema):
    """A shadow test of the candidate beside the champion on live traffic, before the canary.

    Off by default (it costs a second fleet for `duration_minutes`); recommended for production.
    What each phase may take, and so the pipeline step's timeout, is EnvironmentConfig.shadow_budget.
    """

    # Time on top of the phases: CodeBuild's start and `make .venv/.installed`.
    INSTALL_MINUTES: ClassVar[int] = 15
    # SageMaker writes capture files and CloudWatch its datapoints a few minutes after the requests.
    CAPTURE_DELAY_MINUTES: ClassVar[int] = 5
    # Longest time spent replaying captured requests when too few pairs were seen (mlopsctl/shadow.py).
    REPLAY_MINUTES: ClassVar[int] = 10

    enabled: Annotated[bool, Flag()] = False
    # Share of live requests SageMaker copies to the shadow variant.
    # ShadowModelVariantConfig.SamplingPercentage: at most 100 (SageMaker API reference).
    sampling_percent: Annotated[int, Whole(1, 100, " percent")] = 100
    # With the updates and the install, it must fit CodeBuild's longest build (EnvironmentConfig checks).
    duration_minutes: Annotated[int, Whole(10, 1440, " minutes")] = 60
    max_error_rate_increase_percent: Annotated[float, Number(0.0, 100.0)] = 0.5
    max_p99_latency_increase_ms: Annotated[int, Whole(0, 60_000)] = 50
    max_disagreement_percent: Annotated[float, Number(0.0, 100.0)] = 5.0
    # Regression only: an answer disagrees when it differs from the champion's by more than this
    # share of the champion's answer (a champion answer of 0 admits only 0).
    max_relative_error_percent: Annotated[float, Number(0.0, 1000.0)] = 10.0
    # Fewer requests compared than this, and the test cannot judge: it fails.
    min_compared_requests: Annotated[int, Whole(1, 100_000)] = 100


@dataclass(frozen=True)
class ShadowBudget:
    """Minutes each phase of a shadow test may take; the pipeline step's timeout is their sum.

    Three endpoint updates at most: restoring a shadow variant an earlier run left, adding the
    candidate as shadow, and restoring the endpoint. Each may run its deployment's whole
    MaximumExecutionTimeout and termination wait, plus a margin for SageMaker to report it.
    """

    install: int
    update: int
    duration: int
    capture_delay: int
    replay: int

    UPDATES: ClassVar[int] = 3

    @property
    def total(self) -> int:
        return self.install + self.UPDATES * self.update + self.duration + 2 * self.capture_delay + self.replay
