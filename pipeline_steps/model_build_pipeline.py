"""The model-building SageMaker pipeline, defined with the SageMaker Python SDK (v3), offline.

preprocess -> train -> evaluate (candidate vs champion) + baseline -> quality gate ->
register the version (metrics, comparison, baseline, images, trigger reason) | fail with the reason.

What is trained comes from config (`model_build.model`, e.g. models/xgboost/model.json): the
training script runs in script mode from the model's source directory (a tar.gz file asset,
the training toolkit's `sagemaker_submit_directory`), with the configured hyperparameters, in
the configured training image; the processing steps run in the processing image; the version
is registered with the inference image and serves the inference.py the training script put
into model.tar.gz's code/ folder.

The SDK is slow to import and heavy, so this runs outside `cdk synth`:
`make pipeline-definitions` writes definitions/model_build.json and the image URI of every
framework image a model may name, in every region, to definitions/framework_images.json, both
checked in. The CDK construct reads them and fills the environment-specific `${...}` variables
(see `SUBSTITUTIONS`) with Fn::Sub.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import contracts
from contracts import (
    ARTIFACTS_BUCKET_VARIABLE,
    BASELINE_OUTPUT,
    CODE_BUCKET_VARIABLE,
    IMAGE_URI_VARIABLES,
    INPUT_MANIFEST_PARAMETER,
    INPUT_MANIFESTS_PREFIX,
    KMS_KEY_ARN_VARIABLE,
    MODEL_ARTIFACTS_PREFIX,
    MODEL_PACKAGE_GROUP_VARIABLE,
    MODEL_SOURCE_KEY_VARIABLE,
    ROLE_NAME_VARIABLE,
    STEP_SCRIPTS,
    code_key_variable,
)
from pipeline_steps import checked_in, images
from pipeline_steps.checked_in import BuildSettings, canonical_json, definition_inputs, settings_from_config
from pipeline_steps.sdk_session import (
    image_uris_by_region,
    offline_pipeline_session,
    placeholder,
    report_for_people,
    role_arn_placeholder,
    stale_files,
    write_files,
)

DEFINITION_FILE = checked_in.MODEL_BUILD_DEFINITION
INPUTS_FILE = checked_in.MODEL_BUILD_INPUTS
FRAMEWORK_IMAGES_FILE = checked_in.FRAMEWORK_IMAGES
# Framework images resolved by every `make pipeline-definitions`, besides those the config names:
# the two examples' (models/xgboost, models/sklearn), so switching between them needs no new map.
EXAMPLE_FRAMEWORK_IMAGES = tuple((image.framework, image.version) for image in images.EXAMPLE_MODEL_IMAGES.values())
IMAGE_SCOPES = ("training", "inference")
# Definitions are generated in one region; the region-specific values are Fn::Sub variables.
GENERATION_REGION = "us-east-1"

CACHE_EXPIRY = "P30D"
# Step outputs go under contracts.PIPELINE_OUTPUT_PREFIX, joined with '/' to the execution's parts.
PIPELINE_OUTPUT_PREFIX = contracts.PIPELINE_OUTPUT_PREFIX.rstrip("/")
# The serving contract of a registered version: the framework container imports inference.py
# from the code/ folder the training script wrote into model.tar.gz (extracted to /opt/ml/model).
# The toolkit copies a local SAGEMAKER_SUBMIT_DIRECTORY instead of downloading it, so serving
# needs no S3 access for code and works with network isolation. The toolkit (sagemaker_containers,
# _env.py) turns a request without Accept, or with */*, into application/json unless
# SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT names another type: the models answer in CSV.
# At start the toolkit runs `python -m pip install .` in that code (sagemaker-containers
# 2.8.6.post2, _modules.import_module: prepare() writes a setup.py when there is none, then
# install()), which both example images use. A pip that builds in an isolated environment
# (PEP 517; the only way from pip 25.3) fetches setuptools from the index first, which an endpoint
# with network isolation cannot reach. So pip builds with the image's own setuptools and wheel
# (images.py checks both images have them): PIP_NO_BUILD_ISOLATION must be "false" to do that,
# because pip applies the variable to the option's destination, build_isolation (pypa/pip#5735);
# "true" would keep isolation on. The version check is skipped too: it, also, would go online.
SERVING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
    "PIP_NO_BUILD_ISOLATION": "false",
    "PIP_DISABLE_PIP_VERSION_CHECK": "true",
}

# Every run reads its raw data through a manifest (S3DataType ManifestFile) that the
# start-retraining function writes to the artifacts bucket before it starts the run. Its key
# is a hash of the listing, so the Preprocess step's arguments, and with them its cache key,
# change exactly when the data does. SageMaker's cache key covers a processing step's
# AppSpecification, Environment and ProcessingInputs, never the data an S3 URI points to:
# https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html
# The parameter's default names no manifest the function writes (those are hashes), so a run
# started without one fails at Preprocess naming this key instead of training on stale data.
NO_MANIFEST_KEY = f"{INPUT_MANIFESTS_PREFIX}none-start-runs-with-a-retraining-event.manifest"

# Fn::Sub variables the CDK construct must provide (besides AWS::Partition/AccountId/Region).
ROLE_NAME = ROLE_NAME_VARIABLE
ARTIFACTS_BUCKET = ARTIFACTS_BUCKET_VARIABLE
KMS_KEY_ARN = KMS_KEY_ARN_VARIABLE
MODEL_PACKAGE_GROUP = MODEL_PACKAGE_GROUP_VARIABLE
CODE_BUCKET = CODE_BUCKET_VARIABLE
MODEL_SOURCE_KEY = MODEL_SOURCE_KEY_VARIABLE
DATA_CONTRACT_KEY = contracts.DATA_CONTRACT_KEY_VARIABLE
IMAGE_VARIABLES = IMAGE_URI_VARIABLES
PROCESSING_IMAGE_URI = contracts.PROCESSING_IMAGE_URI_VARIABLE
TRAINING_IMAGE_URI = contracts.TRAINING_IMAGE_URI_VARIABLE
INFERENCE_IMAGE_URI = contracts.INFERENCE_IMAGE_URI_VARIABLE


def code_uri(script: str) -> str:
    return f"s3://{placeholder(CODE_BUCKET)}/{placeholder(code_key_variable(script))}"


SUBSTITUTIONS: tuple[str, ...] = (
    ROLE_NAME,
    ARTIFACTS_BUCKET,
    KMS_KEY_ARN,
    *IMAGE_VARIABLES.values(),
    MODEL_PACKAGE_GROUP,
    CODE_BUCKET,
    MODEL_SOURCE_KEY,
    DATA_CONTRACT_KEY,
    *(code_key_variable(s) for s in STEP_SCRIPTS),
)


def _artifacts(*parts: Any) -> Any:
    from sagemaker.core.workflow.functions import Join

    return Join(on="/", values=[f"s3://{placeholder(ARTIFACTS_BUCKET)}/{PIPELINE_OUTPUT_PREFIX}", *parts])


def build_pipeline(settings: BuildSettings) -> Any:
    """The SDK Pipeline object (offline); `definition()` gives its JSON."""
    # First: it sets up the environment the SDK reads when its modules are imported.
    session = offline_pipeline_session(region=GENERATION_REGION, bucket=placeholder(ARTIFACTS_BUCKET))
    from sagemaker.core import shapes
    from sagemaker.core.drift_check_baselines import DriftCheckBaselines
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.training.configs import Compute, InputData
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer

    model_config = settings.build.model
    metric = model_config.metric
    role = role_arn_placeholder(ROLE_NAME)
    kms = placeholder(KMS_KEY_ARN)
    cache = CacheConfig(enable_caching=True, expire_after=CACHE_EXPIRY)
    execution = ExecutionVariables.PIPELINE_EXECUTION_ID

    input_manifest = ParameterString(
        INPUT_MANIFEST_PARAMETER, default_value=f"s3://{placeholder(ARTIFACTS_BUCKET)}/{NO_MANIFEST_KEY}"
    )
    trigger_reason = ParameterString(
        contracts.TRIGGER_REASON_PARAMETER, default_value="manual: started without a reason"
    )
    champion_uri = ParameterString(contracts.CHAMPION_MODEL_URI_PARAMETER, default_value="")
    champion_arn = ParameterString(contracts.CHAMPION_ARN_PARAMETER, default_value="")
    champion_evaluation = ParameterString(contracts.CHAMPION_EVALUATION_URI_PARAMETER, default_value="")
    approval = ParameterString(
        contracts.APPROVAL_STATUS_PARAMETER,
        default_value=settings.approval_status,
        enum_values=[contracts.PENDING_MANUAL_APPROVAL, contracts.APPROVED],
    )
    threshold = ParameterFloat("MetricThreshold", default_value=metric.threshold)
    allowed_regression = ParameterFloat("AllowedRegression", default_value=metric.allowed_regression)
    processing_type = ParameterString("ProcessingInstanceType", default_value=settings.build.processing_instance_type)
    training_type = ParameterString("TrainingInstanceType", default_value=settings.build.training_instance_type)

    def processor(name: str, instances: int = 1) -> Any:
        # The code arrives as one CDK file asset; its object name is known only to the CDK app.
        return Processor(
            role=role,
            image_uri=placeholder(PROCESSING_IMAGE_URI),
            entrypoint=["python3", f"/opt/ml/processing/input/code/{placeholder(code_key_variable(name))}"],
            instance_count=instances,
            instance_type=processing_type,
            volume_kms_key=kms,
            output_kms_key=kms,
            base_job_name=f"model-build-{name}",
            sagemaker_session=session,
        )

    def s3_input(name: str, uri: Any, local: str, data_type: str = "S3Prefix", shard: bool = False) -> Any:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri,
                local_path=local,
                s3_data_type=data_type,
                s3_input_mode="File",
                s3_data_distribution_type="ShardedByS3Key" if shard else "FullyReplicated",
            ),
        )

    def code_input(name: str) -> Any:
        return s3_input("code", code_uri(name), "/opt/ml/processing/input/code")

    def s3_output(step: str, name: str, local: str) -> Any:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=_artifacts(execution, step, name), local_path=local, s3_upload_mode="EndOfJob"
            ),
        )

    def output_uri(step: Any, name: str) -> Any:
        return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri

    preprocess = ProcessingStep(
        "Preprocess",
        step_args=processor("preprocess", settings.build.preprocess_instance_count).run(
            inputs=[
                # Each instance preprocesses a share of the raw files (all of them on one instance).
                s3_input("raw", input_manifest, "/opt/ml/processing/input/raw", data_type="ManifestFile", shard=True),
                # The data contract: a file asset, so a new contract is a new URI (and cache key).
                s3_input(
                    "contract",
                    f"s3://{placeholder(CODE_BUCKET)}/{placeholder(DATA_CONTRACT_KEY)}",
                    "/opt/ml/processing/input/contract",
                ),
                code_input("preprocess"),
            ],
            outputs=[
                s3_output("preprocess", output, f"/opt/ml/processing/output/{output}")
                for output in ("train", "validation", "test", contracts.SAMPLE_PAYLOAD_OUTPUT)
            ],
            # At least one train file per training instance, so that each gets a share (ShardedByS3Key).
            arguments=[f"--train-files={settings.build.training_instance_count}"],
        ),
        description="Check the raw CSVs against the data contract, split train/validation/test deterministically.",
        cache_config=cache,
    )

    max_runtime = settings.build.max_training_minutes * 60
    trainer = ModelTrainer(
        sagemaker_session=session,
        role=role,
        training_image=placeholder(TRAINING_IMAGE_URI),
        base_job_name="model-build-train",
        compute=Compute(
            instance_type=training_type,
            instance_count=settings.build.training_instance_count,
            volume_kms_key_id=kms,
            enable_managed_spot_training=settings.build.use_spot_training,
        ),
        stopping_condition=shapes.StoppingCondition(
            max_runtime_in_seconds=max_runtime,
            # Spot: wait for capacity up to as long again as the training may run.
            max_wait_time_in_seconds=2 * max_runtime if settings.build.use_spot_training else None,
        ),
        # A fixed prefix keeps the step cacheable; a training script resumes only a matching checkpoint.
        checkpoint_config=shapes.CheckpointConfig(
            s3_uri=f"s3://{placeholder(ARTIFACTS_BUCKET)}/{PIPELINE_OUTPUT_PREFIX}/checkpoints"
        )
        if settings.build.use_spot_training
        else None,
        output_data_config=shapes.OutputDataConfig(
            s3_output_path=f"s3://{placeholder(ARTIFACTS_BUCKET)}/{MODEL_ARTIFACTS_PREFIX.rstrip('/')}", kms_key_id=kms
        ),
        # Script mode: the image's training toolkit extracts the source tar.gz, runs the entry point
        # with the others as `--name value` arguments and sets SM_CHANNEL_<CHANNEL> and SM_MODEL_DIR.
        hyperparameters={
            **model_config.hyperparameter_map,
            "sagemaker_program": model_config.entry_point,
            "sagemaker_submit_directory": f"s3://{placeholder(CODE_BUCKET)}/{placeholder(MODEL_SOURCE_KEY)}",
            "sagemaker_region": "${AWS::Region}",
        },
    )
    train = TrainingStep(
        "Train",
        step_args=trainer.train(
            input_data_config=[
                InputData(
                    channel_name="train",
                    data_source=shapes.S3DataSource(
                        s3_data_type="S3Prefix",
                        s3_uri=output_uri(preprocess, "train"),
                        # Several instances: each trains on a share of the train files (distributed training).
                        s3_data_distribution_type=(
                            "ShardedByS3Key" if settings.build.training_instance_count > 1 else "FullyReplicated"
                        ),
                    ),
                    content_type="text/csv",
                ),
                InputData(
                    channel_name="validation", data_source=output_uri(preprocess, "validation"), content_type="text/csv"
                ),
            ]
        ),
        description=f"{model_config.entry_point} in script mode (spot training with checkpoints when configured).",
        cache_config=cache,
    )

    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        step_args=processor("evaluate").run(
            inputs=[
                s3_input("model", train.properties.ModelArtifacts.S3ModelArtifacts, "/opt/ml/processing/model"),
                s3_input("test", output_uri(preprocess, "test"), "/opt/ml/processing/test"),
                code_input("evaluate"),
            ],
            outputs=[s3_output("evaluate", "evaluation", "/opt/ml/processing/evaluation")],
            # `--name=value`: an empty champion (first run) stays a well-formed argument.
            arguments=[
                Join(on="=", values=["--champion-model", champion_uri]),
                Join(on="=", values=["--champion-model-package-arn", champion_arn]),
                Join(on="=", values=["--champion-evaluation", champion_evaluation]),
                f"--task-type={model_config.task_type.value}",
                f"--metric={metric.name}",
                f"--higher-is-better={str(metric.higher_is_better).lower()}",
                f"--inference-image={model_config.images.inference.label}",
                Join(on="=", values=["--threshold", threshold]),
                Join(on="=", values=["--allowed-regression", allowed_regression]),
                # boto3 reads only AWS_DEFAULT_REGION, which a processing job need not have.
                "--region=${AWS::Region}",
            ],
        ),
        description="Score candidate and champion by their own inference code (or the champion's stored metric); gate.",
        property_files=[evaluation_report],
        cache_config=cache,
    )

    baseline = ProcessingStep(
        "Baseline",
        step_args=processor("baseline").run(
            inputs=[
                s3_input("train", output_uri(preprocess, "train"), "/opt/ml/processing/train"),
                code_input("baseline"),
            ],
            outputs=[s3_output("baseline", BASELINE_OUTPUT, "/opt/ml/processing/baseline")],
        ),
        description="Data-quality baseline of the training data (Model Monitor file format, our own step).",
        cache_config=cache,
    )

    def report(path: str) -> Any:
        return JsonGet(step_name=evaluate.name, property_file=evaluation_report, json_path=path)

    evaluation_json = Join(on="/", values=[output_uri(evaluate, "evaluation"), "evaluation.json"])
    statistics = MetricsSource(
        content_type="application/json",
        s3_uri=Join(on="/", values=[output_uri(baseline, "baseline"), "statistics.json"]),
    )
    constraints = MetricsSource(
        content_type="application/json",
        s3_uri=Join(on="/", values=[output_uri(baseline, "baseline"), "constraints.json"]),
    )
    model = ModelBuilder(
        image_uri=placeholder(INFERENCE_IMAGE_URI),
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        env_vars=dict(SERVING_ENVIRONMENT),
        role_arn=role,
        sagemaker_session=session,
    )
    register = ModelStep(
        "Register",
        step_args=model.register(
            model_package_group_name=placeholder(MODEL_PACKAGE_GROUP),
            content_types=["text/csv"],
            response_types=["text/csv"],
            approval_status=approval,
            description="Candidate model; metadata holds the trigger, its images and the champion comparison.",
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_json),
                model_data_statistics=statistics,
                model_data_constraints=constraints,
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=statistics, model_data_constraints=constraints
            ),
            # Held-out request rows (one tar.gz, as CreateModelPackage's SamplePayloadUrl takes them).
            sample_payload_url=Join(
                on="/",
                values=[output_uri(preprocess, contracts.SAMPLE_PAYLOAD_OUTPUT), contracts.SAMPLE_PAYLOAD_ARCHIVE],
            ),
            customer_metadata_properties={
                contracts.METADATA_TRIGGER_REASON: trigger_reason,
                contracts.METADATA_METRIC_NAME: report("metadata.metric_name"),
                contracts.METADATA_METRIC_VALUE: report("metadata.metric_value"),
                contracts.METADATA_CHAMPION_ARN: report("metadata.champion_model_package_arn"),
                contracts.METADATA_CHAMPION_METRIC_VALUE: report("metadata.champion_metric_value"),
                contracts.METADATA_METRIC_DELTA: report("metadata.metric_delta"),
                contracts.METADATA_COMPARISON_BASIS: report("metadata.comparison_basis"),
                contracts.METADATA_METRIC_HIGHER_IS_BETTER: str(metric.higher_is_better).lower(),
                contracts.METADATA_TASK_TYPE: model_config.task_type.value,
                contracts.METADATA_CLASS_COUNT: report("metadata.class_count"),
                **{
                    contracts.image_metadata_key(role_name): image.label
                    for role_name, image in model_config.images.by_role().items()
                },
                contracts.METADATA_PIPELINE_EXECUTION_ARN: ExecutionVariables.PIPELINE_EXECUTION_ARN,
            },
        ),
    )
    fail = FailStep(
        "QualityGateFailed",
        error_message=Join(on="", values=["Candidate not registered: ", report("gate.reason")]),
        description="The candidate missed the threshold, regressed against the champion, or was not measurable.",
    )
    gate = ConditionStep(
        "QualityGate",
        # evaluate.quality_gate decides (MetricThreshold, AllowedRegression; NaN/inf/missing fail) in Python,
        # where a NaN cannot slip through a numeric comparison; the condition tests only its JSON
        # boolean. Equals compares operands of one type (BinaryCondition values are String, Boolean,
        # Integer or Float in SageMaker's pipeline-definition JSON schema); a missing gate.passed
        # fails the JsonGet, so the step fails and nothing is registered.
        conditions=[ConditionEquals(left=report("gate.passed"), right=True)],
        if_steps=[register],
        else_steps=[fail],
        description="Register only a candidate that meets the threshold and does not regress beyond the tolerance.",
    )
    return Pipeline(
        name=settings.pipeline_name,
        parameters=[
            input_manifest,
            trigger_reason,
            champion_uri,
            champion_arn,
            champion_evaluation,
            approval,
            threshold,
            allowed_regression,
            processing_type,
            training_type,
        ],
        steps=[preprocess, train, evaluate, baseline, gate],
        sagemaker_session=session,
        pipeline_experiment_config=None,
    )


def _region_neutral(node: Any) -> Any:
    """The SDK writes the session's region into the model's environment; make it the stage's."""
    if isinstance(node, dict):
        return {
            key: "${AWS::Region}" if key == "SAGEMAKER_REGION" else _region_neutral(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_region_neutral(item) for item in node]
    return node


def build_definition(settings: BuildSettings) -> str:
    """The definition JSON (canonical text) with `${...}` variables for Fn::Sub."""
    return canonical_json(_region_neutral(json.loads(build_pipeline(settings).definition())))


def framework_images(settings: BuildSettings) -> list[tuple[str, str]]:
    """The framework images to resolve: the examples' and every one the configured model names."""
    configured = [
        (str(image.framework), str(image.version))
        for image in settings.build.model.images.by_role().values()
        if not image.uri
    ]
    return sorted(set(EXAMPLE_FRAMEWORK_IMAGES) | set(configured))


def build_image_map(settings: BuildSettings) -> str:
    resolved: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for framework, version in framework_images(settings):
        resolved.setdefault(framework, {})[version] = {
            scope: image_uris_by_region(framework, version, image_scope=scope) for scope in IMAGE_SCOPES
        }
    return canonical_json(resolved)


def _no_progress(_message: str) -> None:
    """The default: generate without a word (tests)."""


def generated_files(settings: BuildSettings, progress: Callable[[str], None] = _no_progress) -> dict[Path, str]:
    progress("model build: building its pipeline definition with the SageMaker SDK")
    definition = build_definition(settings)
    images = ", ".join(f"{framework} {version}" for framework, version in framework_images(settings))
    progress(f"model build: resolving the image URIs of {images} in every region")
    return {
        DEFINITION_FILE: definition,
        INPUTS_FILE: canonical_json(definition_inputs(settings)),
        FRAMEWORK_IMAGES_FILE: build_image_map(settings),
    }


def main(argv: Sequence[str] | None = None) -> None:
    import config

    parser = argparse.ArgumentParser(description="Write the checked-in model-build pipeline definition.")
    parser.add_argument("--check", action="store_true", help="fail if the checked-in files are not current")
    args = parser.parse_args(argv)
    progress = report_for_people()
    files = generated_files(settings_from_config(config.load_cdk_json()), progress)
    if args.check:
        stale = stale_files(files)
        if stale:
            raise SystemExit(f"Out of date: {', '.join(map(str, stale))}. Run `make pipeline-definitions`.")
        print("pipeline definitions are current")
        return
    write_files(files)


if __name__ == "__main__":
    main()
