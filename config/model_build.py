"""The model_build section: the model-building pipeline's settings and its retraining triggers.

Parsed with `_Reader` (config/reader.py) rather than a pydantic model on config/schema.py's base.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from config.data_contract import DataContract, load_contract
from config.ecr_images import ECR_IMAGE_FORMAT, parse_ecr_image
from config.errors import CONTEXT_KEY, _fail
from config.fields import INSTANCE, SCHEDULE
from config.instances import InstanceUse, has_instance_storage, instance_type_problem
from config.reader import _Reader
from config.schedules import schedule_problem

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


class TaskType(StrEnum):
    """What the evaluate step computes: its metrics and how it reads the model's predictions."""

    BINARY_CLASSIFICATION = "binary_classification"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    REGRESSION = "regression"


# The metrics the evaluate step computes per task type, each with the direction that is better
# (pipeline_steps/scripts/evaluate.py TASK_METRICS holds the same table; a test keeps them equal).
TASK_METRICS: Mapping[TaskType, Mapping[str, bool]] = {
    TaskType.BINARY_CLASSIFICATION: {"auc": True, "accuracy": True, "f1": True},
    TaskType.MULTICLASS_CLASSIFICATION: {"accuracy": True, "macro_f1": True, "log_loss": False},
    TaskType.REGRESSION: {"rmse": False, "mae": False, "r2": True},
}


@dataclass(frozen=True)
class ImageRef:
    """A SageMaker framework image (resolved per region from the checked-in map) or an ECR image URI."""

    framework: str | None = None
    version: str | None = None
    uri: str | None = None

    @property
    def label(self) -> str:
        """Region-neutral name of the image: `framework:version`, or the URI itself."""
        return self.uri if self.uri else f"{self.framework}:{self.version}"


@dataclass(frozen=True)
class ModelImages:
    processing: ImageRef
    training: ImageRef
    inference: ImageRef

    def by_role(self) -> dict[str, ImageRef]:
        return {"processing": self.processing, "training": self.training, "inference": self.inference}


@dataclass(frozen=True)
class MetricConfig:
    """The gate's metric: a candidate must reach `threshold` and not be worse than the champion
    by more than `allowed_regression`, both in the metric's direction."""

    name: str
    higher_is_better: bool
    threshold: float
    allowed_regression: float


@dataclass(frozen=True)
class ModelConfig:
    """The model a team brings: its code, images, hyperparameters, metric, task type and data contract."""

    source_dir: Path
    entry_point: str
    images: ModelImages
    hyperparameters: tuple[tuple[str, str], ...]
    metric: MetricConfig
    task_type: TaskType
    data: DataContract
    # Where it was configured: "models/xgboost" (a directory with model.json) or "inline".
    origin: str = "inline"
    # Whether its training script trains one model across several instances (each with a share of
    # the train split), so that model_build.training_instance_count may be above 1.
    distributed_training: bool = False

    @property
    def hyperparameter_map(self) -> dict[str, str]:
        return dict(self.hyperparameters)


@dataclass(frozen=True)
class ModelBuildConfig:
    environment: str
    processing_instance_type: str
    training_instance_type: str
    use_spot_training: bool
    max_training_minutes: int
    model: ModelConfig
    retraining: RetrainingConfig
    # Processing instances that preprocess a share of the raw files each (ShardedByS3Key over the
    # manifest), and training instances (more than one: each trains on a share of the train split's
    # files, ShardedByS3Key, in a training script that distributes, as the XGBoost example does).
    preprocess_instance_count: int = 1
    training_instance_count: int = 1


def _retraining(r: _Reader) -> RetrainingConfig:
    r.only("schedule", "on_new_data", "on_drift", "incoming_prefix", "quiet_period_minutes", "one_trigger_at_a_time")
    prefix = r.string("incoming_prefix", re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$"), "an S3 prefix ending in '/'")
    schedule = r.optional_string("schedule", _SCHEDULE, "rate(N minutes|hours|days) or cron(6 fields)")
    problem = schedule_problem(schedule) if schedule else None
    if problem:
        raise _fail(r.key("schedule"), schedule, problem)
    return RetrainingConfig(
        schedule=schedule,
        on_new_data=r.boolean("on_new_data", True),
        on_drift=r.boolean("on_drift", True),
        incoming_prefix=prefix,
        quiet_period_minutes=r.integer("quiet_period_minutes", 0, 1440, 60, " minutes"),
        one_trigger_at_a_time=r.boolean("one_trigger_at_a_time", False),
    )


def _job_instance_type(r: _Reader, name: str, use: InstanceUse) -> str:
    """A processing or training instance type: the pipelines encrypt its volume with the environment's key."""
    instance_type = r.string(name, _INSTANCE, "an ml.* instance type")
    problem = instance_type_problem(instance_type, use)
    if problem:
        raise _fail(r.key(name), instance_type, problem)
    if has_instance_storage(instance_type):
        raise _fail(
            r.key(name),
            instance_type,
            "an instance type without local instance storage (SageMaker refuses the volume KMS key the "
            "pipelines set for types with NVMe instance storage), e.g. ml.m5.xlarge",
        )
    return instance_type


# The repository root: model directories (models/<name>) are relative to it.
_ROOT = Path(__file__).resolve().parent.parent
MODEL_FILE = "model.json"
# The serving contract: the inference container imports this module from model.tar.gz's code/.
INFERENCE_SCRIPT = "inference.py"
_FRAMEWORK = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_FRAMEWORK_VERSION = re.compile(r"^[0-9][A-Za-z0-9._-]{0,63}$")
_ENTRY_POINT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}\.py$")
# Hyperparameters reach the script as `--name value` arguments (the training toolkit), so names
# are argument-like. CreateTrainingJob HyperParameters: at most 100 entries, keys up to 256 and
# values up to 2500 characters (botocore's sagemaker service model); the pipeline adds the
# toolkit's own sagemaker_* entries, which a model may therefore not set.
_HYPERPARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,255}$")
_HYPERPARAMETER_VALUE_MAX = 2500
TOOLKIT_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region")
_MAX_HYPERPARAMETERS = 100 - len(TOOLKIT_HYPERPARAMETERS)
# Metric ranges the threshold and the allowed regression must fall in.
_METRIC_RANGES: Mapping[str, tuple[float, float]] = {
    "auc": (0.0, 1.0),
    "accuracy": (0.0, 1.0),
    "f1": (0.0, 1.0),
    "macro_f1": (0.0, 1.0),
    "log_loss": (0.0, 1e12),
    "r2": (-1e12, 1.0),
    "rmse": (0.0, 1e12),
    "mae": (0.0, 1e12),
}


def _image(r: _Reader) -> ImageRef:
    if "uri" in r.data:
        r.only("uri")
        uri = r.raw("uri")
        if not isinstance(uri, str) or parse_ecr_image(uri) is None:
            raise _fail(r.key("uri"), uri, f"an Amazon ECR image URI: {ECR_IMAGE_FORMAT}")
        return ImageRef(uri=uri)
    r.only("framework", "version")
    framework = r.string("framework", _FRAMEWORK, "a SageMaker framework name such as xgboost, sklearn, pytorch")
    return ImageRef(framework, r.string("version", _FRAMEWORK_VERSION, "a framework image version such as 1.2-1"))


def _hyperparameters(r: _Reader) -> tuple[tuple[str, str], ...]:
    raw = r.raw("hyperparameters", {})
    if not isinstance(raw, Mapping) or len(raw) > _MAX_HYPERPARAMETERS:
        raise _fail(r.key("hyperparameters"), raw, f"an object of at most {_MAX_HYPERPARAMETERS} name: value pairs")
    pairs = []
    for name, value in raw.items():
        key = f"{r.key('hyperparameters')}.{name}"
        if not _HYPERPARAMETER_NAME.match(name) or name.startswith("sagemaker_"):
            raise _fail(key, name, "a name of letters, digits, _ . - (up to 256), not starting with sagemaker_")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _fail(key, value, "a string or a number")
        text = value if isinstance(value, str) else json.dumps(value)
        if not 0 < len(text) <= _HYPERPARAMETER_VALUE_MAX:
            raise _fail(key, value, f"1 to {_HYPERPARAMETER_VALUE_MAX} characters")
        pairs.append((name, text))
    return tuple(sorted(pairs))


def _metric(r: _Reader, task: TaskType) -> MetricConfig:
    r.only("name", "higher_is_better", "threshold", "allowed_regression")
    metrics = TASK_METRICS[task]
    name = r.raw("name")
    if name not in metrics:
        raise _fail(r.key("name"), name, f"a metric the evaluation computes for {task.value}: {' | '.join(metrics)}")
    higher = r.boolean("higher_is_better")
    if higher is not metrics[name]:
        raise _fail(r.key("higher_is_better"), higher, f"{str(metrics[name]).lower()} for {name}")
    low, high = _METRIC_RANGES[name]
    return MetricConfig(
        name=name,
        higher_is_better=higher,
        threshold=r.number("threshold", low, high),
        allowed_regression=r.number("allowed_regression", 0.0, high - max(low, 0.0), 0.0),
    )


def _model_block(r: _Reader, base: Path, origin: str) -> ModelConfig:
    r.only(
        "source_dir", "entry_point", "images", "hyperparameters", "metric", "task_type", "data", "distributed_training"
    )
    source = r.raw("source_dir")
    source_dir = (base / source).resolve() if isinstance(source, str) and source else None
    if source_dir is None or not source_dir.is_dir():
        raise _fail(r.key("source_dir"), source, f"a directory relative to {base}")
    entry_point = r.string("entry_point", _ENTRY_POINT, "a Python file name in source_dir, e.g. train.py")
    for script in (entry_point, INFERENCE_SCRIPT):
        if not (source_dir / script).is_file():
            key = r.key("entry_point" if script == entry_point else "source_dir")
            raise _fail(key, script if script == entry_point else source, f"a source_dir holding {script}")
    images = r.child("images")
    images.only("processing", "training", "inference")
    task = r.choice("task_type", TaskType)
    return ModelConfig(
        source_dir=source_dir,
        entry_point=entry_point,
        images=ModelImages(*(_image(images.child(role)) for role in ("processing", "training", "inference"))),
        hyperparameters=_hyperparameters(r),
        metric=_metric(r.child("metric"), task),
        task_type=task,
        data=load_contract(r, "data", base, task.value),
        origin=origin,
        distributed_training=r.boolean("distributed_training", False),
    )


def _model(r: _Reader, name: str) -> ModelConfig:
    """`model`: a directory holding model.json (e.g. "models/xgboost"), or the same block inline."""
    value = r.raw(name)
    if isinstance(value, Mapping):
        return _model_block(r.child(name), _ROOT, "inline")
    directory = (_ROOT / value).resolve() if isinstance(value, str) and value else None
    if directory is None or not (directory / MODEL_FILE).is_file():
        examples = ", ".join(sorted(str(p.parent.relative_to(_ROOT)) for p in _ROOT.glob(f"models/*/{MODEL_FILE}")))
        raise _fail(r.key(name), value, f"a directory holding {MODEL_FILE} ({examples}) or a model object")
    try:
        block = json.loads((directory / MODEL_FILE).read_text())
    except json.JSONDecodeError as error:
        raise _fail(r.key(name), value, f"a directory whose {MODEL_FILE} is JSON ({error})") from error
    return _model_block(_Reader(block, f"{r.key(name)}[{value}/{MODEL_FILE}]"), directory, value)


def load_model(reference: str | Mapping[str, Any], key: str = f"{CONTEXT_KEY}.model_build.model") -> ModelConfig:
    """A `model_build.model` value on its own (the local run takes one from the command line)."""
    return _model(_Reader({"model": reference}, key.rsplit(".", 1)[0]), "model")


def _model_build(r: _Reader, env_names: tuple[str, ...]) -> ModelBuildConfig:
    r.only(
        "environment",
        "processing_instance_type",
        "training_instance_type",
        "use_spot_training",
        "max_training_minutes",
        "preprocess_instance_count",
        "training_instance_count",
        "model",
        "retraining",
    )
    environment = r.raw("environment")
    if environment not in env_names:
        raise _fail(r.key("environment"), environment, "one of the configured environments: " + ", ".join(env_names))
    model = _model(r, "model")
    training_instances = r.integer("training_instance_count", 1, 100, 1, " instances")
    if training_instances > 1 and not model.distributed_training:
        raise _fail(
            r.key("training_instance_count"),
            training_instances,
            "1, unless the model's training script trains across instances (model.distributed_training: true)",
        )
    return ModelBuildConfig(
        environment=environment,
        processing_instance_type=_job_instance_type(r, "processing_instance_type", InstanceUse.PROCESSING),
        training_instance_type=_job_instance_type(r, "training_instance_type", InstanceUse.TRAINING),
        use_spot_training=r.boolean("use_spot_training", True),
        max_training_minutes=r.integer("max_training_minutes", 1, 5 * 24 * 60, 60, " minutes"),
        model=model,
        retraining=_retraining(r.child("retraining")),
        preprocess_instance_count=r.integer("preprocess_instance_count", 1, 100, 1, " instances"),
        training_instance_count=training_instances,
    )
