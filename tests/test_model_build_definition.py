"""The checked-in model-build pipeline definition: steps, parameters, gate, register, fail."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

import config
from pipeline_steps import checked_in
from pipeline_steps import model_build_pipeline as builder
from tests.conftest import ROOT

# The SDK's own deprecation notices are not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


@pytest.fixture(autouse=True)
def restore_environment() -> Iterator[None]:
    """The offline SDK session sets region variables; other tests expect conftest's."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(builder.DEFINITION_FILE.read_text())


def steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = {}
    for step in definition["Steps"]:
        result[step["Name"]] = step
        if step["Type"] == "Condition":
            for nested in step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]:
                result[nested["Name"]] = nested
    return result


def references(node: Any) -> set[str]:
    """Step names a step reads properties from (how pipelines infer dependencies)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Get" and isinstance(value, str) and value.startswith("Steps."):
                found.add(value.split(".")[1])
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


@pytest.mark.slow
def test_checked_in_definition_is_current() -> None:
    """Regenerates with the SDK (offline) and compares: edit cdk.json or a builder -> make pipeline-definitions."""
    settings = builder.settings_from_config(config.load_cdk_json(ROOT / "cdk.json"))
    for path, text in builder.generated_files(settings).items():
        assert path.read_text() == text, f"{path.name} is stale: run `make pipeline-definitions`"


def test_parameters_are_the_contract_with_defaults_from_config(definition: dict[str, Any]) -> None:
    params = {p["Name"]: p for p in definition["Parameters"]}
    assert set(params) == {
        "InputManifestUri",
        "TriggerReason",
        "ChampionModelUri",
        "ChampionModelPackageArn",
        "ChampionEvaluationUri",
        "ModelApprovalStatus",
        "MetricThreshold",
        "AllowedRegression",
        "ProcessingInstanceType",
        "TrainingInstanceType",
    }
    build = config.load_cdk_json(ROOT / "cdk.json").model_build
    metric = build.model.metric
    assert params["MetricThreshold"] == {"Name": "MetricThreshold", "Type": "Float", "DefaultValue": metric.threshold}
    assert params["AllowedRegression"]["DefaultValue"] == metric.allowed_regression
    assert params["TrainingInstanceType"]["DefaultValue"] == build.training_instance_type
    assert params["ProcessingInstanceType"]["DefaultValue"] == build.processing_instance_type
    assert params["ChampionModelUri"]["DefaultValue"] == ""
    assert params["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert params["ModelApprovalStatus"]["EnumValues"] == ["PendingManualApproval", "Approved"]
    # No run trains without the manifest the function writes: the default names none of them.
    assert params["InputManifestUri"]["DefaultValue"] == f"s3://${{ArtifactsBucket}}/{builder.NO_MANIFEST_KEY}"


def test_preprocess_reads_the_runs_input_manifest(definition: dict[str, Any]) -> None:
    """The raw data arrives through the manifest named by InputManifestUri, so its URI is in the cache key."""
    import botocore.session

    inputs = {
        i["InputName"]: i["S3Input"] for i in steps_by_name(definition)["Preprocess"]["Arguments"]["ProcessingInputs"]
    }
    assert inputs["raw"] == {
        "S3Uri": {"Get": f"Parameters.{builder.INPUT_MANIFEST_PARAMETER}"},
        "S3DataType": "ManifestFile",
        "S3InputMode": "File",
        "LocalPath": "/opt/ml/processing/input/raw",
        # Each Preprocess instance gets a share of the listed objects (all of them on one instance).
        "S3DataDistributionType": "ShardedByS3Key",
        "S3CompressionType": "None",
    }
    model = botocore.session.get_session().get_service_model("sagemaker")
    assert "ManifestFile" in model.shape_for("ProcessingS3Input").members["S3DataType"].enum
    # Only Preprocess reads raw data; every other step reads what an earlier step wrote.
    text = json.dumps(definition)
    assert text.count(f"Parameters.{builder.INPUT_MANIFEST_PARAMETER}") == 1


def test_steps_and_their_data_dependencies(definition: dict[str, Any]) -> None:
    steps = steps_by_name(definition)
    assert [s["Name"] for s in definition["Steps"]] == ["Preprocess", "Train", "Evaluate", "Baseline", "QualityGate"]
    assert references(steps["Train"]) == {"Preprocess"}
    assert references(steps["Evaluate"]) == {"Preprocess", "Train"}
    assert references(steps["Baseline"]) == {"Preprocess"}
    assert references(steps["QualityGate"]["Arguments"]["Conditions"]) == {"Evaluate"}
    # Preprocess too: the version's sample payload (SamplePayloadUrl) is its held-out rows.
    assert references(steps["Register"]) == {"Preprocess", "Train", "Evaluate", "Baseline"}
    assert steps["Register"]["Type"] == "RegisterModel"
    assert steps["QualityGateFailed"]["Type"] == "Fail"


def test_every_job_step_is_cached(definition: dict[str, Any]) -> None:
    for name in ("Preprocess", "Train", "Evaluate", "Baseline"):
        assert steps_by_name(definition)[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}


def test_training_uses_spot_with_checkpoints_and_writes_models_prefix(definition: dict[str, Any]) -> None:
    train = steps_by_name(definition)["Train"]["Arguments"]
    assert train["EnableManagedSpotTraining"] is True
    assert train["CheckpointConfig"]["S3Uri"] == "s3://${ArtifactsBucket}/pipelines/model-build/checkpoints"
    stop = train["StoppingCondition"]
    assert stop["MaxWaitTimeInSeconds"] >= stop["MaxRuntimeInSeconds"]
    assert train["OutputDataConfig"] == {"S3OutputPath": "s3://${ArtifactsBucket}/models", "KmsKeyId": "${KmsKeyArn}"}
    assert train["ResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    # Script mode: the image's own entrypoint (its training toolkit) runs the model's entry point
    # from the source tar.gz asset, with the configured hyperparameters; the SDK uploaded nothing.
    assert train["AlgorithmSpecification"] == {"TrainingImage": "${TrainingImageUri}", "TrainingInputMode": "File"}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    model = config.load_cdk_json(ROOT / "cdk.json").model_build.model
    assert train["HyperParameters"] == {
        **model.hyperparameter_map,
        "sagemaker_program": model.entry_point,
        "sagemaker_submit_directory": "s3://${CodeAssetBucket}/${ModelSourceKey}",
        "sagemaker_region": "${AWS::Region}",
    }
    assert set(train["HyperParameters"]) >= set(config.TOOLKIT_HYPERPARAMETERS)


@pytest.mark.slow
def test_spot_training_can_be_turned_off(variant_model_build_definition: dict[str, Any]) -> None:
    train = steps_by_name(variant_model_build_definition)["Train"]["Arguments"]
    assert "EnableManagedSpotTraining" not in train or train["EnableManagedSpotTraining"] is False
    assert "CheckpointConfig" not in train
    assert "MaxWaitTimeInSeconds" not in train["StoppingCondition"]


@pytest.mark.slow
def test_preprocess_and_training_spread_over_the_configured_instances(
    variant_model_build_definition: dict[str, Any],
) -> None:
    steps = steps_by_name(variant_model_build_definition)
    preprocess = steps["Preprocess"]["Arguments"]
    assert preprocess["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    assert preprocess["AppSpecification"]["ContainerArguments"] == ["--train-files=2"]
    train = steps["Train"]["Arguments"]
    assert train["ResourceConfig"]["InstanceCount"] == 2
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in train["InputDataConfig"]}
    assert channels["train"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert channels["validation"]["S3DataDistributionType"] == "FullyReplicated"


def test_processing_steps_run_the_shipped_scripts_with_kms(definition: dict[str, Any]) -> None:
    for name, script in (("Preprocess", "Preprocess"), ("Evaluate", "Evaluate"), ("Baseline", "Baseline")):
        args = steps_by_name(definition)[name]["Arguments"]
        assert args["AppSpecification"]["ContainerEntrypoint"] == [
            "python3",
            f"/opt/ml/processing/input/code/${{{script}CodeKey}}",
        ]
        code = next(i for i in args["ProcessingInputs"] if i["InputName"] == "code")
        assert code["S3Input"]["S3Uri"] == f"s3://${{CodeAssetBucket}}/${{{script}CodeKey}}"
        assert args["ProcessingOutputConfig"]["KmsKeyId"] == "${KmsKeyArn}"
        assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == "${KmsKeyArn}"
        for output in args["ProcessingOutputConfig"]["Outputs"]:
            uri = output["S3Output"]["S3Uri"]["Std:Join"]["Values"]
            assert uri[0] == "s3://${ArtifactsBucket}/pipelines/model-build"
            assert uri[1] == {"Get": "Execution.PipelineExecutionId"}


def test_evaluate_gets_the_champion_and_the_gate_thresholds(definition: dict[str, Any]) -> None:
    args = steps_by_name(definition)["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    joined = {json.dumps(a) for a in args}
    for flag, parameter in (
        ("--champion-model", "ChampionModelUri"),
        ("--champion-model-package-arn", "ChampionModelPackageArn"),
        ("--champion-evaluation", "ChampionEvaluationUri"),
        ("--threshold", "MetricThreshold"),
        ("--allowed-regression", "AllowedRegression"),
    ):
        expected = {"Std:Join": {"On": "=", "Values": [flag, {"Get": f"Parameters.{parameter}"}]}}
        assert json.dumps(expected) in joined
    model = config.load_cdk_json(ROOT / "cdk.json").model_build.model
    assert {
        f"--task-type={model.task_type.value}",
        f"--metric={model.metric.name}",
        f"--higher-is-better={str(model.metric.higher_is_better).lower()}",
        f"--inference-image={model.images.inference.label}",
    } <= {a for a in args if isinstance(a, str)}
    assert steps_by_name(definition)["Evaluate"]["Arguments"]["AppSpecification"]["ImageUri"] == "${ProcessingImageUri}"


def test_gate_condition_is_minimum_and_regression_against_champion(definition: dict[str, Any]) -> None:
    """MetricThreshold and AllowedRegression reach the evaluate step, which applies them (failing closed
    on NaN, infinite or missing numbers); the condition tests only its boolean decision."""
    conditions = steps_by_name(definition)["QualityGate"]["Arguments"]["Conditions"]
    assert [(c["Type"], c["LeftValue"]["Std:JsonGet"]["Path"], c["RightValue"]) for c in conditions] == [
        ("Equals", "gate.passed", True)
    ]
    gate = steps_by_name(definition)["QualityGate"]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["Register"]
    assert [s["Name"] for s in gate["ElseSteps"]] == ["QualityGateFailed"]


def test_fail_message_carries_the_gates_reason(definition: dict[str, Any]) -> None:
    message = steps_by_name(definition)["QualityGateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert message[0] == "Candidate not registered: "
    assert message[1]["Std:JsonGet"]["Path"] == "gate.reason"


def test_register_targets_the_group_with_metrics_baseline_and_metadata(definition: dict[str, Any]) -> None:
    register = steps_by_name(definition)["Register"]["Arguments"]
    assert register["ModelPackageGroupName"] == "${ModelPackageGroupName}"
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_REGION"] == "${AWS::Region}"
    # The serving contract: the framework container imports inference.py from model.tar.gz's code/.
    assert container["Image"] == "${InferenceImageUri}"
    assert {k: container["Environment"][k] for k in builder.SERVING_ENVIRONMENT} == builder.SERVING_ENVIRONMENT
    assert register["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]
    quality = register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"]
    assert quality[1] == "evaluation.json"
    for section in (register["ModelMetrics"]["ModelDataQuality"], register["DriftCheckBaselines"]["ModelDataQuality"]):
        assert section["Statistics"]["S3Uri"]["Std:Join"]["Values"][1] == "statistics.json"
        assert section["Constraints"]["S3Uri"]["Std:Join"]["Values"][1] == "constraints.json"
    metadata = register["CustomerMetadataProperties"]
    assert metadata["trigger_reason"] == {"Get": "Parameters.TriggerReason"}
    assert metadata["pipeline_execution_arn"] == {"Get": "Execution.PipelineExecutionArn"}
    for key in (
        "metric_name",
        "metric_value",
        "champion_model_package_arn",
        "champion_metric_value",
        "metric_delta",
        "comparison_basis",
        "class_count",
    ):
        assert metadata[key]["Std:JsonGet"]["Path"] == f"metadata.{key}"
    # The version's sample payload: the held-out rows the Preprocess step wrote, for the smoke test.
    sample = register["SamplePayloadUrl"]["Std:Join"]["Values"]
    assert sample == [
        {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['sample'].S3Output.S3Uri"},
        "payload.tar.gz",
    ]
    # What the next run needs to decide whether it can score this version by its own code.
    model = config.load_cdk_json(ROOT / "cdk.json").model_build.model
    assert {k: metadata[k] for k in ("task_type", "metric_higher_is_better", "inference_image", "training_image")} == {
        "task_type": model.task_type.value,
        "metric_higher_is_better": str(model.metric.higher_is_better).lower(),
        "inference_image": model.images.inference.label,
        "training_image": model.images.training.label,
    }


def test_definition_uses_only_variables_the_construct_fills(definition: dict[str, Any]) -> None:
    text = builder.DEFINITION_FILE.read_text()
    used = set(re.findall(r"\$\{([A-Za-z:]+)\}", text))
    pseudo = {"AWS::Partition", "AWS::AccountId", "AWS::Region"}
    assert used - pseudo == set(builder.SUBSTITUTIONS)
    # Any other "${" would be read by Fn::Sub as a variable and break the deployment.
    assert text.count("${") == len(re.findall(r"\$\{[A-Za-z:]+\}", text))
    # Nothing of the generating machine leaks into the definition.
    assert "us-east-1" not in text and "sagemaker-us-east-1" not in text


def test_image_map_covers_both_examples_in_the_configured_regions() -> None:
    images = json.loads(builder.FRAMEWORK_IMAGES_FILE.read_text())
    for env in config.load_cdk_json(ROOT / "cdk.json").environments:
        for model, repository in (("xgboost", "sagemaker-xgboost:3.0-5"), ("sklearn", "sagemaker-scikit-learn:1.2-1")):
            for role, image in config.load_model(f"models/{model}").images.by_role().items():
                assert checked_in.image_uri(image, role, env.region).endswith(
                    f"/{repository}" + ("-cpu-py3" * (model == "sklearn"))
                )
                scope = "inference" if role == "inference" else "training"
                assert env.region in images[image.framework][image.version][scope]
