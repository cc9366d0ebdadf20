"""The model_build section: the model-building pipeline's settings and its retraining triggers.

Parsed with `_Reader` (config/reader.py) rather than a pydantic model in config/schema.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.errors import _fail
from config.fields import INSTANCE, SCHEDULE
from config.instances import has_instance_storage
from config.reader import _Reader

_INSTANCE = re.compile(INSTANCE)
_SCHEDULE = re.compile(SCHEDULE)


@dataclass(frozen=True)
class RetrainingConfig:
    schedule: str | None
    on_new_data: bool
    on_drift: bool
    incoming_prefix: str
    quiet_period_minutes: int
    # Off by default: Lambda keeps 100 concurrent executions unreserved per account, so on
    # accounts with a low concurrency quota (new accounts) a reservation fails the deploy.
    one_trigger_at_a_time: bool = False


@dataclass(frozen=True)
class ModelBuildConfig:
    environment: str
    processing_instance_type: str
    training_instance_type: str
    use_spot_training: bool
    max_training_minutes: int
    metric_name: str
    min_metric: float
    allowed_regression: float
    retraining: RetrainingConfig


def _retraining(r: _Reader) -> RetrainingConfig:
    r.only("schedule", "on_new_data", "on_drift", "incoming_prefix", "quiet_period_minutes", "one_trigger_at_a_time")
    prefix = r.string("incoming_prefix", re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$"), "an S3 prefix ending in '/'")
    return RetrainingConfig(
        schedule=r.optional_string("schedule", _SCHEDULE, "rate(N minutes|hours|days) or cron(6 fields)"),
        on_new_data=r.boolean("on_new_data", True),
        on_drift=r.boolean("on_drift", True),
        incoming_prefix=prefix,
        quiet_period_minutes=r.integer("quiet_period_minutes", 0, 1440, 60, " minutes"),
        one_trigger_at_a_time=r.boolean("one_trigger_at_a_time", False),
    )


def _job_instance_type(r: _Reader, name: str) -> str:
    """A processing or training instance type: the pipelines encrypt its volume with the environment's key."""
    instance_type = r.string(name, _INSTANCE, "an ml.* instance type")
    if has_instance_storage(instance_type):
        raise _fail(
            r.key(name),
            instance_type,
            "an instance type without local instance storage (SageMaker refuses the volume KMS key the "
            "pipelines set for types with NVMe instance storage), e.g. ml.m5.xlarge",
        )
    return instance_type


def _model_build(r: _Reader, env_names: tuple[str, ...]) -> ModelBuildConfig:
    r.only(
        "environment",
        "processing_instance_type",
        "training_instance_type",
        "use_spot_training",
        "max_training_minutes",
        "metric_name",
        "min_metric",
        "allowed_regression",
        "retraining",
    )
    environment = r.raw("environment")
    if environment not in env_names:
        raise _fail(r.key("environment"), environment, "one of the configured environments: " + ", ".join(env_names))
    return ModelBuildConfig(
        environment=environment,
        processing_instance_type=_job_instance_type(r, "processing_instance_type"),
        training_instance_type=_job_instance_type(r, "training_instance_type"),
        use_spot_training=r.boolean("use_spot_training", True),
        max_training_minutes=r.integer("max_training_minutes", 1, 5 * 24 * 60, 60, " minutes"),
        metric_name=r.string("metric_name", re.compile(r"^(auc|accuracy|f1)$"), "auc | accuracy | f1", "auc"),
        min_metric=r.number("min_metric", 0.0, 1.0),
        allowed_regression=r.number("allowed_regression", 0.0, 1.0, 0.01),
        retraining=_retraining(r.child("retraining")),
    )
