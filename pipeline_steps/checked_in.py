"""The checked-in pipeline definitions as synth reads them, without the SageMaker SDK.

The builders (model_build_pipeline.py, drift_check_pipeline.py) import the SDK to generate
these files; `cdk synth` only reads them. So the constructs import this module, never a
builder: where the files and step scripts are, their text form, the settings the model-build
definition was generated from, and the images each region has, all checked before anything
deploys. What the files cannot serve raises CheckedInError, which app.py reports like a
config error: one line naming the key and what is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import contracts

if TYPE_CHECKING:
    from config import AppConfig, ImageRef, ModelBuildConfig, ModelConfig

STEPS_DIR = Path(__file__).resolve().parent
# The step scripts, each shipped alone to its SageMaker job.
SCRIPTS_DIR = STEPS_DIR / "scripts"
# Where every builder writes its checked-in definition and image map.
DEFINITIONS_DIR = STEPS_DIR / "definitions"

MODEL_BUILD_DEFINITION = DEFINITIONS_DIR / "model_build.json"
# The settings MODEL_BUILD_DEFINITION was generated from, so synth can refuse settings it does not hold.
MODEL_BUILD_INPUTS = DEFINITIONS_DIR / "model_build.inputs.json"
# {framework: {version: {"training"|"inference": {region: uri}}}}; processing uses the training image.
FRAMEWORK_IMAGES = DEFINITIONS_DIR / "framework_images.json"
DRIFT_CHECK_DEFINITION = DEFINITIONS_DIR / "drift_check.json"
DRIFT_CHECK_IMAGES = DEFINITIONS_DIR / "image_uris.json"
DRIFT_CHECK_SCRIPT = SCRIPTS_DIR / "drift_check.py"


class CheckedInError(Exception):
    """The settings ask for what the checked-in definitions or image maps do not hold.

    One line, like config.ConfigError, naming the config key, the value and what is allowed;
    regenerating the files (`make pipeline-definitions`) or changing the setting fixes it.
    """


def canonical_json(definition: str | Mapping[str, Any]) -> str:
    """A stable text form of a definition, so the checked-in file only changes with its content."""
    data = json.loads(definition) if isinstance(definition, str) else definition
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def step_script(script: str) -> Path:
    """The file of one of contracts.STEP_SCRIPTS."""
    return SCRIPTS_DIR / f"{script}.py"


@dataclass(frozen=True)
class BuildSettings:
    """What the definition depends on: cdk.json's `model_build` section, the name, the default approval."""

    pipeline_name: str
    build: ModelBuildConfig
    approval_status: str


def settings_from_config(app_config: AppConfig) -> BuildSettings:
    from config import ApprovalMode

    approval = app_config.build_environment.approval
    return BuildSettings(
        pipeline_name=app_config.names.model_build_pipeline,
        build=app_config.model_build,
        approval_status=contracts.APPROVED if approval is ApprovalMode.AUTO else contracts.PENDING_MANUAL_APPROVAL,
    )


def model_inputs(model: ModelConfig) -> dict[str, Any]:
    """The model settings the definition bakes in, by key (its source directory ships as an asset)."""
    metric = model.metric
    return {
        "entry_point": model.entry_point,
        **{f"images.{role}": image.label for role, image in model.images.by_role().items()},
        "hyperparameters": model.hyperparameter_map,
        "metric.name": metric.name,
        "metric.higher_is_better": metric.higher_is_better,
        "metric.threshold": metric.threshold,
        "metric.allowed_regression": metric.allowed_regression,
        "task_type": model.task_type.value,
        "distributed_training": model.distributed_training,
    }


def definition_inputs(settings: BuildSettings) -> dict[str, Any]:
    """Every setting the generated definition bakes in, by the config key a user edits.

    Left out: `retraining` (the triggers, which synth builds from the config), the pipeline's
    name (CloudFormation sets it, the definition does not hold it) and the model's source
    directory (a file asset whose key synth fills in).
    """
    build = settings.build
    baked = (
        "processing_instance_type",
        "training_instance_type",
        "use_spot_training",
        "max_training_minutes",
        "preprocess_instance_count",
        "training_instance_count",
    )
    return {
        f"mlops.environments.{build.environment}.approval (default approval status)": settings.approval_status,
        **{f"mlops.model_build.{name}": getattr(build, name) for name in baked},
        **{f"mlops.model_build.model.{key}": value for key, value in model_inputs(build.model).items()},
    }


def check_definition_inputs(settings: BuildSettings) -> None:
    """Refuses settings other than those the checked-in definition was generated from.

    The definition is generated outside synth (the SDK is slow and heavy), so a changed
    cdk.json value or a `-c mlops.model_build.*` override would otherwise synthesize the old
    value without a word. Raises CheckedInError naming every key that differs.
    """
    regenerate = (
        "set them in cdk.json (a -c override cannot reach the checked-in definition) and run "
        "`make pipeline-definitions`"
    )
    if not MODEL_BUILD_INPUTS.exists():
        raise CheckedInError(
            f"Missing {MODEL_BUILD_INPUTS.name} beside the model-build pipeline definition: {regenerate}."
        )
    generated_from = json.loads(MODEL_BUILD_INPUTS.read_text())
    current = definition_inputs(settings)
    differing = [
        f"'{key}' is {current.get(key)!r}, the definition has {generated_from.get(key)!r}"
        for key in sorted(set(current) | set(generated_from))
        if current.get(key) != generated_from.get(key)
    ]
    if differing:
        raise CheckedInError(
            f"Stale model-build pipeline definition ({MODEL_BUILD_DEFINITION.name}): {'; '.join(differing)}. "
            f"To use these settings, {regenerate}, then commit the result."
        )


def image_uri(image: ImageRef, role: str, region: str) -> str:
    """The URI an image reference names in `region`: an ECR URI as given, a framework image from the map.

    The one check that a framework image exists in a region: SageMaker runs only images of a
    job's or endpoint's own region, and publishes each framework image in some regions only.
    Raises CheckedInError when the image, or the image in `region`, is not in the checked-in map.
    """
    if image.uri:
        return image.uri
    # Absent only before the first `make pipeline-definitions`, which writes it.
    known: dict[str, Any] = json.loads(FRAMEWORK_IMAGES.read_text()) if FRAMEWORK_IMAGES.exists() else {}
    scope = "inference" if role == "inference" else "training"
    by_region = known.get(str(image.framework), {}).get(str(image.version), {}).get(scope)
    if by_region is None:
        resolved = ", ".join(
            f"{fw}:{version}" for fw, versions in sorted(known.items()) for version in sorted(versions)
        )
        raise CheckedInError(
            f"Invalid config 'mlops.model_build.model.images.{role}': got {image.label!r}; allowed: a framework image "
            f"resolved in {FRAMEWORK_IMAGES.name} ({resolved}); to add it, run `make pipeline-definitions`."
        )
    if region not in by_region:
        raise CheckedInError(
            f"Invalid config 'mlops.model_build.model.images.{role}': got {image.label!r} in region {region!r}; "
            f"allowed: a region where SageMaker publishes it ({FRAMEWORK_IMAGES.name}): {', '.join(sorted(by_region))}."
        )
    return str(by_region[region])


def model_image_uris(model: ModelConfig, region: str) -> dict[str, str]:
    """The processing, training and inference image URIs the model names in `region`."""
    return {role: image_uri(image, role, region) for role, image in model.images.by_role().items()}


def drift_check_image_uri(*, use_model_monitor: bool, region: str, key: str) -> str:
    """The drift check's image in `region` (Model Monitor's with `use_model_monitor`), pinned in DRIFT_CHECK_IMAGES.

    Raises CheckedInError naming `key`, the config key of the region, when none is pinned there.
    """
    images: dict[str, dict[str, str]] = json.loads(DRIFT_CHECK_IMAGES.read_text())
    kind = "model-monitor" if use_model_monitor else "sklearn"
    if region not in images[kind]:
        raise CheckedInError(
            f"Invalid config '{key}': got {region!r}; allowed: a region with a pinned {kind} image in "
            f"{DRIFT_CHECK_IMAGES.name}: {', '.join(sorted(images[kind]))}."
        )
    return images[kind][region]


def check_images(app_config: AppConfig) -> None:
    """Every image the settings name exists where it runs: the model's in the model-build region
    (which serves every environment), each environment's drift check in its region.

    Raises CheckedInError for the first one the checked-in maps do not hold there.
    """
    build = app_config.build_environment
    model_image_uris(app_config.model_build.model, build.region)
    for env in app_config.environments:
        drift_check_image_uri(
            use_model_monitor=env.drift.use_model_monitor,
            region=env.region,
            key=f"mlops.environments.{env.name}.region",
        )
