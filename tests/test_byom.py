"""Bring your own model: the model block in config, both examples end to end, a framework switch,
task types and metric directions, the source archive, and the image pull permissions."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import numpy as np
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

import config
from config import ConfigError
from constructs.security.sagemaker_role_grants import grant_image_pull
from constructs.storage.model_registry import ModelRegistry
from constructs.training import model_build_pipeline as construct
from pipeline_steps import checked_in, local_run, source_archive
from pipeline_steps import model_build_pipeline as builder
from pipeline_steps.scripts import evaluate
from stacks.serving_stack import serving_images
from tests.conftest import ROOT, cdk_json_context, raw_config

XGBOOST = config.load_model("models/xgboost")
SKLEARN = config.load_model("models/sklearn")
SMALL = {XGBOOST.origin: {"num_round": "10"}, SKLEARN.origin: {"n_estimators": "20"}}
TEAM_TRAINING = "999999999999.dkr.ecr.eu-west-1.amazonaws.com/team/churn-train:2024.06"
TEAM_SERVING = "888888888888.dkr.ecr.eu-west-1.amazonaws.com/team/churn-serve@sha256:" + "b" * 64


def inline_model(**changes: Any) -> dict[str, Any]:
    """The xgboost example's model.json as an inline block of cdk.json, with `changes` applied."""
    block = json.loads((ROOT / "models" / "xgboost" / "model.json").read_text())
    block["source_dir"] = "models/xgboost/src"
    block["data"] = "models/data/breast_cancer.json"
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = block
        for part in parents:
            node = node[part]
        node[last] = value
    return block


def load_with_model(model: Any, tmp_path: Path) -> config.AppConfig:
    raw = raw_config()
    raw["model_build"]["model"] = model
    return config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)


# --- the model block in config -----------------------------------------------------------------


def test_a_model_directory_and_the_same_block_inline_are_one_model(tmp_path: Path) -> None:
    inline = load_with_model(inline_model(), tmp_path).model_build.model
    assert dataclasses.replace(inline, origin=XGBOOST.origin) == XGBOOST
    assert XGBOOST.source_dir == ROOT / "models" / "xgboost" / "src"
    assert XGBOOST.hyperparameter_map == {"eta": "0.2", "max_depth": "4", "num_round": "100", "subsample": "0.9"}
    assert (
        SKLEARN.images.training.label == "sklearn:1.2-1" and SKLEARN.task_type is config.TaskType.BINARY_CLASSIFICATION
    )


def test_switching_the_example_is_one_value_and_a_dash_c_override_reaches_it() -> None:
    switched = config.load_cdk_json(overrides={"mlops.model_build.model": "models/sklearn"}).model_build.model
    assert switched == SKLEARN


@pytest.mark.parametrize(
    ("changes", "key", "allowed"),
    [
        ({"task_type": "ranking"}, "task_type", "binary_classification | multiclass_classification | regression"),
        ({"metric.name": "rmse"}, "metric.name", "a metric the evaluation computes for binary_classification"),
        ({"metric.higher_is_better": False}, "metric.higher_is_better", "true for auc"),
        ({"metric.threshold": 1.5}, "metric.threshold", "a number from 0.0 to 1.0"),
        ({"hyperparameters.sagemaker_program": "x.py"}, "hyperparameters.sagemaker_program", "not starting with"),
        ({"hyperparameters.depth": True}, "hyperparameters.depth", "a string or a number"),
        ({"hyperparameters.depth": "x" * 2501}, "hyperparameters.depth", "1 to 2500 characters"),
        ({"entry_point": "fit.py"}, "entry_point", "a source_dir holding fit.py"),
        ({"source_dir": "models/none"}, "source_dir", "a directory relative to"),
        (
            {"images.training": {"uri": "docker.io/library/python:3.12"}},
            "images.training.uri",
            "an Amazon ECR image URI",
        ),
        ({"images.training": {"framework": "xgboost"}}, "images.training.version", None),
    ],
)
def test_a_bad_model_setting_fails_in_one_line_naming_it(
    changes: dict[str, Any], key: str, allowed: str | None, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as error:
        load_with_model(inline_model(**changes), tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert f"'mlops.model_build.model.{key}'" in message
    assert allowed is None or allowed in message


def test_an_unknown_model_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    block = inline_model()
    block["hyperparameter"] = {}
    with pytest.raises(ConfigError, match=r"Unknown config 'mlops\.model_build\.model\.hyperparameter': did you mean"):
        load_with_model(block, tmp_path)


def test_a_model_needs_an_inference_script_beside_its_entry_point(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("")
    with pytest.raises(
        ConfigError, match=r"'mlops\.model_build\.model\.source_dir'.*a source_dir holding inference\.py"
    ):
        load_with_model(inline_model(source_dir=str(tmp_path / "src")), tmp_path)


def test_an_ecr_image_must_be_in_the_model_build_region(tmp_path: Path) -> None:
    elsewhere = TEAM_TRAINING.replace("eu-west-1", "us-east-1")
    with pytest.raises(
        ConfigError, match=r"'mlops\.model_build\.model\.images\.training\.uri'.*an image in 'eu-west-1'"
    ):
        load_with_model(inline_model(**{"images.training": {"uri": elsewhere}}), tmp_path)


def test_ecr_images_of_any_account_and_a_regression_model_are_accepted(tmp_path: Path) -> None:
    model = load_with_model(
        inline_model(
            **{
                "images.training": {"uri": TEAM_TRAINING},
                "images.inference": {"uri": TEAM_SERVING},
                "task_type": "regression",
                "metric": {"name": "rmse", "higher_is_better": False, "threshold": 12.5, "allowed_regression": 0.5},
                "data": "models/data/diabetes.json",
            }
        ),
        tmp_path,
    ).model_build.model
    assert (model.images.training.uri, model.images.inference.label) == (TEAM_TRAINING, TEAM_SERVING)
    assert model.metric == config.MetricConfig("rmse", False, 12.5, 0.5)


def test_config_and_the_evaluate_step_share_one_metric_table() -> None:
    assert {task.value: dict(metrics) for task, metrics in config.TASK_METRICS.items()} == {
        task: dict(metrics) for task, metrics in evaluate.TASK_METRICS.items()
    }


# --- metrics of every task type, in their direction ----------------------------------------------


def test_multiclass_and_regression_metrics_match_hand_computed_values() -> None:
    labels = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    predictions = evaluate.as_predictions(evaluate.MULTICLASS, probabilities, 4, "candidate", 3)
    assert predictions.shape == (4, 3)
    assert evaluate.class_accuracy(labels, predictions) == pytest.approx(0.75)
    # F1 per class: 0 -> 2/3, 1 -> 1, 2 -> 2/3.
    assert evaluate.macro_f1(labels, predictions) == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert evaluate.log_loss(labels, predictions) == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.7, 0.1])))
    # A model that answers classes only: accuracy and F1, but no log loss (fails a gate on it, closed).
    classes = evaluate.as_predictions(evaluate.MULTICLASS, [0, 1, 2, 0], 4, "candidate", 3)
    assert evaluate.class_accuracy(labels, classes) == pytest.approx(0.75)
    assert np.isnan(evaluate.log_loss(labels, classes))
    with pytest.raises(evaluate.EvaluationInputError, match=r"or 3 class probabilities per row"):
        evaluate.as_predictions(evaluate.MULTICLASS, probabilities[:, :2], 4, "candidate", 3)
    values, predicted = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 4.0, 2.0])
    assert evaluate.rmse(values, predicted) == pytest.approx(np.sqrt(5 / 4))
    assert evaluate.mae(values, predicted) == pytest.approx(0.75)
    assert evaluate.r2(values, predicted) == pytest.approx(1 - 5 / 5)
    assert set(evaluate.task_metrics(evaluate.REGRESSION, values, predicted)) == {"rmse", "mae", "r2"}


def test_log_loss_clips_a_zero_probability_of_the_true_class_and_rescales_rows() -> None:
    """A sure but wrong answer costs -log(1e-15), not infinity (which no gate could compare)."""
    labels = np.array([0, 1])
    sure_and_wrong = np.array([[0.0, 1.0], [0.0, 2.0]])  # the second row is rescaled to [0, 1]
    assert evaluate.log_loss(labels, sure_and_wrong) == pytest.approx(-np.log(1e-15) / 2)
    assert evaluate.finite(evaluate.task_metrics(evaluate.MULTICLASS, labels, sure_and_wrong)["log_loss"]["value"])


def test_a_binary_model_may_return_both_class_probabilities() -> None:
    scores = evaluate.as_predictions(evaluate.BINARY, [[0.9, 0.1], [0.2, 0.8]], 2, "champion")
    assert list(scores) == [0.1, 0.8]
    with pytest.raises(evaluate.EvaluationInputError, match="expected one prediction per row"):
        evaluate.as_predictions(evaluate.REGRESSION, [1.0, 2.0], 3, "candidate")


@pytest.mark.parametrize(
    ("candidate", "champion", "passed", "reason"),
    [
        (4.0, None, True, "rmse 4.0000 <= maximum 5.0000; no champion yet"),
        (6.0, None, False, "rmse 6.0000 is above the maximum 5.0000"),
        (4.2, 4.0, True, "champion 4.0000"),
        (4.8, 4.0, False, "rmse 4.8000 is 0.8000 worse than the champion's 4.0000"),
        (3.0, 4.0, True, "champion 4.0000"),
    ],
    ids=["first", "above-threshold", "within-tolerance", "worse", "better"],
)
def test_the_gate_follows_a_lower_is_better_metric(
    candidate: float, champion: float | None, passed: bool, reason: str
) -> None:
    decision = evaluate.quality_gate(
        metric="rmse",
        candidate=candidate,
        champion=champion,
        threshold=5.0,
        allowed_regression=0.5,
        class_counts=None,
        higher_is_better=False,
    )
    assert (decision.passed, reason in decision.reason) == (passed, True), decision.reason
    if champion is not None:
        assert decision.regression == pytest.approx(candidate - champion)


# --- both examples and the switch, as `make local-pipeline` runs them ---------------------------


@pytest.fixture(scope="module")
def switch(tmp_path_factory: pytest.TempPathFactory) -> list[local_run.RunResult]:
    """An XGBoost champion, then a scikit-learn candidate: the first run after a framework change."""
    root = tmp_path_factory.mktemp("switch")
    return local_run.run_local_pipeline(root, drift=0.8, model=SKLEARN, first_model=XGBOOST, hyperparameters=SMALL)


def test_the_first_run_after_a_framework_change_compares_on_the_stored_metric(
    switch: list[local_run.RunResult],
) -> None:
    champion, candidate = switch
    assert champion.report["model"]["inference_image"] == "xgboost:3.0-5"
    report = candidate.report
    assert report["model"]["inference_image"] == "sklearn:1.2-1"
    comparison = report["comparison"]
    assert comparison["basis"] == report["metadata"]["comparison_basis"] == evaluate.STORED_METRIC
    assert comparison["champion"] == champion.report["binary_classification_metrics"]["auc"]["value"]
    assert "built for xgboost:3.0-5 (binary_classification), the candidate for sklearn:1.2-1" in comparison["note"]
    # Passing or not depends on two models' scores on two random test splits; the rule must hold either way.
    allowed = SKLEARN.metric.allowed_regression
    assert report["gate"]["passed"] is (comparison["regression"] <= allowed), report["gate"]["reason"]
    assert report["gate"]["reason"].endswith(comparison["note"])
    # The champion's code never ran here: its metrics are the stored number only.
    assert report["champion"] == {
        "model_package_arn": None,
        "inference_image": "xgboost:3.0-5",
        "basis": evaluate.STORED_METRIC,
    }
    assert "compared: champion compared on its stored auc" in local_run.metrics_table(candidate)


def test_a_scikit_learn_champion_is_scored_by_its_own_code(tmp_path: Path) -> None:
    first, second = local_run.run_local_pipeline(tmp_path, drift=0.8, model=SKLEARN, hyperparameters=SMALL)
    assert first.report["gate"]["passed"] and second.report["gate"]["passed"]
    comparison = second.report["comparison"]
    assert comparison["basis"] == evaluate.SAME_TEST_SPLIT
    assert set(second.report["champion"]["binary_classification_metrics"]) == {"auc", "accuracy", "f1"}
    with tarfile.open(second.model_archive) as archive:
        names = set(archive.getnames())
    assert {"model.pkl", "code/inference.py", "code/features.py", "code/train.py"} <= names


def test_the_champion_runs_its_own_code_even_where_the_candidate_ships_modules_of_the_same_names(
    switch: list[local_run.RunResult],
) -> None:
    """Each archive's inference.py (and its siblings) is imported on its own and forgotten again."""
    xgboost_champion, sklearn_candidate = switch
    features, labels = evaluate.load_test(sklearn_candidate.model_archive.parent / "splits" / "test")
    first = evaluate.predict(sklearn_candidate.model_archive, features, "candidate", evaluate.BINARY)
    second = evaluate.predict(xgboost_champion.model_archive, features, "champion", evaluate.BINARY)
    again = evaluate.predict(sklearn_candidate.model_archive, features, "candidate", evaluate.BINARY)
    assert np.array_equal(first, again) and not np.array_equal(first, second)
    assert len(labels) == len(first)


def test_each_models_sibling_modules_are_its_own_and_forgotten_after_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two models' inference.py import a sibling of the same name (helper.py) with different contents: each
    sees its own, and none stays loaded for the next (whatever path the folder is reached by: absolute,
    relative, through a symlink)."""
    import sys

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "helper.py").write_text(f"value = {name!r}\n")
        (tmp_path / name / "inference.py").write_text("import helper\n\nvalue = helper.value\n")
    (tmp_path / "link-to-b").symlink_to(tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    for folder, expected in (("a", "a"), ("link-to-b", "b"), ("a", "a")):
        with evaluate._inference_module(tmp_path / folder, "candidate_inference") as module:
            assert module.value == expected
        assert "helper" not in sys.modules and "candidate_inference" not in sys.modules
        with evaluate._inference_module(Path(folder), "candidate_inference") as module:
            assert module.value == expected
        assert "helper" not in sys.modules and "candidate_inference" not in sys.modules


def test_a_champion_whose_own_code_cannot_read_the_new_split_is_compared_on_its_stored_metric(
    switch: list[local_run.RunResult], tmp_path: Path
) -> None:
    """The data gained a feature: the champion's inference code refuses it, and retraining goes on."""
    champion, candidate = switch
    features, labels = evaluate.load_test(candidate.model_archive.parent / "splits" / "test")
    wider = features.assign(extra="0")
    stored = json.loads(champion.evaluation.read_text())
    result = evaluate.champion_result(
        champion_model=str(champion.model_archive),
        champion_report=stored,
        task=evaluate.BINARY,
        metric="auc",
        inference_image="xgboost:3.0-5",
        features=wider,
        labels=labels,
        workdir=tmp_path,
    )
    assert result.basis == evaluate.STORED_METRIC and result.failure is None
    assert result.value == stored["binary_classification_metrics"]["auc"]["value"]
    assert "its own code could not score this test split" in result.note
    assert "expects 30 features; got 31" in result.note


def test_a_champion_without_a_comparable_stored_metric_fails_the_gate_closed(
    switch: list[local_run.RunResult], tmp_path: Path
) -> None:
    champion, candidate = switch
    stored = json.loads(champion.evaluation.read_text())
    stored["model"]["task_type"] = evaluate.REGRESSION
    other = tmp_path / "evaluation.json"
    other.write_text(json.dumps(stored))
    report = evaluate.evaluate(
        model=candidate.model_archive,
        test_dir=candidate.model_archive.parent / "splits" / "test",
        champion_model=str(champion.model_archive),
        champion_arn="",
        champion_evaluation=str(other),
        metric="auc",
        inference_image="sklearn:1.2-1",
        threshold=0.5,
        allowed_regression=0.01,
    )
    assert report["gate"]["passed"] is False
    assert report["metadata"]["comparison_basis"] == evaluate.NOT_COMPARABLE
    assert "the champion cannot be compared: it was built for xgboost:3.0-5 (regression)" in report["gate"]["reason"]


def test_an_archive_entry_outside_the_model_directory_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"#"))
    with pytest.raises(evaluate.EvaluationInputError, match=r"unsafe entry '\.\./escape\.py'"):
        evaluate.extract_model(archive, tmp_path / "out", "champion")


# --- the source directory archive ----------------------------------------------------------------


def test_the_source_archive_depends_only_on_paths_and_contents(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("print('train')\n")
    (source / "inference.py").write_text("print('serve')\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")
    first = source_archive.archive_bytes(source)
    (source / "train.py").touch()  # a new modification time, same content
    assert source_archive.archive_bytes(source) == first
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["inference.py", "train.py"]
    assert {(m.mtime, m.uid, m.gid, m.mode) for m in members} == {(0, 0, 0, 0o644)}
    (source / "train.py").write_text("print('changed')\n")
    assert source_archive.archive_bytes(source) != first
    path = source_archive.write_archive(source, tmp_path / "out")
    assert path.name.endswith(".tar.gz") and source_archive.write_archive(source, tmp_path / "out") == path


# --- the images a role may pull ------------------------------------------------------------------


def pull_statements(template: Template) -> list[dict[str, Any]]:
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "ecr:BatchGetImage" in actions or "ecr:GetAuthorizationToken" in actions:
                found.append(statement)
    return found


@pytest.mark.template
def test_a_role_may_pull_exactly_the_repositories_its_images_name_in_any_account() -> None:
    stack = cdk.Stack(
        cdk.App(context=cdk_json_context()), "Images", env=cdk.Environment(account="222222222222", region="eu-west-1")
    )
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    grant_image_pull(role, stack, [TEAM_TRAINING, TEAM_SERVING, TEAM_TRAINING.replace(":2024.06", ":2024.07")])
    pull, login = pull_statements(Template.from_stack(stack))
    assert pull["Resource"] == [
        "arn:aws:ecr:eu-west-1:888888888888:repository/team/churn-serve",
        "arn:aws:ecr:eu-west-1:999999999999:repository/team/churn-train",
    ]
    assert sorted(pull["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert (login["Action"], login["Resource"]) == ("ecr:GetAuthorizationToken", "*")


@pytest.mark.template
def test_the_model_build_role_pulls_a_custom_ecr_training_image_and_the_inference_image_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team's own images synthesize: the pipeline role may pull the repositories of its three images.

    The definition's text does not depend on the image URIs (they are Fn::Sub variables), so the
    checked-in one serves; the inputs file says it was generated from this model.
    """
    app_config = load_with_model(
        inline_model(**{"images.processing": {"uri": TEAM_TRAINING}, "images.training": {"uri": TEAM_TRAINING}}),
        tmp_path,
    )
    settings = builder.settings_from_config(app_config)
    inputs = tmp_path / "model_build.inputs.json"
    inputs.write_text(json.dumps(builder.definition_inputs(settings)))
    monkeypatch.setattr(checked_in, "MODEL_BUILD_INPUTS", inputs)
    stack = cdk.Stack(
        cdk.App(context=cdk_json_context()), "Build", env=cdk.Environment(account="222222222222", region="eu-west-1")
    )
    key = kms.Key(stack, "Key")
    pipeline = construct.ModelBuildPipeline(
        stack,
        "Pipeline",
        pipeline_name="team-model-build",
        definition_settings=settings,
        data_bucket=s3.Bucket(stack, "Data"),
        artifacts_bucket=s3.Bucket(stack, "Artifacts"),
        key=key,
        registry=ModelRegistry(stack, "Registry", group_name="team", description="team models"),
        network=config.NetworkConfig(),
    )
    assert pipeline.image_uris["training"] == TEAM_TRAINING
    template = Template.from_stack(stack)
    pull = next(s for s in pull_statements(template) if s["Sid"] == "PullImages")
    # The inference image too: registering a version names it (here the XGBoost framework image).
    assert pull["Resource"] == [
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost",
        "arn:aws:ecr:eu-west-1:999999999999:repository/team/churn-train",
    ]
    (props,) = [p["Properties"] for p in template.find_resources("AWS::SageMaker::Pipeline").values()]
    variables = props["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][1]
    assert variables["TrainingImageUri"] == variables["ProcessingImageUri"] == TEAM_TRAINING
    assert variables["InferenceImageUri"].endswith("/sagemaker-xgboost:3.0-5")


def test_an_endpoint_may_pull_the_configured_image_and_the_releases_own(tmp_path: Path) -> None:
    """After a framework switch the release still names the image it was registered with."""
    app_config = load_with_model("models/sklearn", tmp_path)
    arn = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/3"
    recorded = config.Release(model_package_arn=arn, image_uri=TEAM_SERVING)
    assert serving_images(app_config, recorded, "eu-west-1") == [
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        TEAM_SERVING,
    ]
    assert serving_images(app_config, config.Release(model_package_arn=arn), "eu-west-1") == [
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    ]


def test_a_release_file_records_its_image_and_refuses_what_is_not_an_ecr_uri(tmp_path: Path) -> None:
    arn = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/3"
    (tmp_path / "dev.json").write_text(json.dumps({"model_package_arn": arn, "image_uri": TEAM_SERVING}))
    loaded = config.load({config.CONTEXT_KEY: raw_config()}, releases_dir=tmp_path)
    assert loaded.environment("dev").release == config.Release(model_package_arn=arn, image_uri=TEAM_SERVING)
    (tmp_path / "dev.json").write_text(json.dumps({"model_package_arn": arn, "image_uri": "python:3.12"}))
    with pytest.raises(
        ConfigError, match=r"dev\.json\.image_uri': got 'python:3\.12'; allowed: an Amazon ECR image URI"
    ):
        config.load({config.CONTEXT_KEY: raw_config()}, releases_dir=tmp_path)


@pytest.mark.parametrize(
    ("task", "classes", "body", "problem"),
    [
        (config.TaskType.BINARY_CLASSIFICATION, None, "0.25\n0.75", None),
        (config.TaskType.BINARY_CLASSIFICATION, None, "12.5\n0.75", r"not a probability in \[0, 1\]"),
        (config.TaskType.REGRESSION, None, "12.5\n-3", None),
        (config.TaskType.REGRESSION, None, "nan\n1", "not a finite number"),
        (config.TaskType.MULTICLASS_CLASSIFICATION, 3, "0.2,0.3,0.5\n1,0,0", None),
        (config.TaskType.MULTICLASS_CLASSIFICATION, 3, "2\n0", None),
        (config.TaskType.MULTICLASS_CLASSIFICATION, 3, "0.2,0.8\n1,0", "has 2 class probabilities; the model has 3"),
        (config.TaskType.MULTICLASS_CLASSIFICATION, 3, "0.2,0.3,0.6\n1,0,0", "add up to 1.1000, not 1"),
        (config.TaskType.MULTICLASS_CLASSIFICATION, 3, "3\n0", r"not a class index \(0 to 2\)"),
        (config.TaskType.MULTICLASS_CLASSIFICATION, 3, "0.2,0.3,0.5", "1 rows for 2 rows"),
    ],
)
def test_the_smoke_test_reads_each_answer_by_the_versions_task(
    task: config.TaskType, classes: int | None, body: str, problem: str | None
) -> None:
    from mlopsctl import payload
    from mlopsctl.errors import OperatorError

    if problem is None:
        payload.check_answer(body, 2, task, classes)
        return
    with pytest.raises(OperatorError, match=problem):
        payload.check_answer(body, 2, task, classes)


def test_a_regression_model_may_be_shadow_tested_with_its_relative_error_tolerance(tmp_path: Path) -> None:
    """The shadow test compares each task's own answers (mlopsctl/shadow_compare.py)."""
    raw = raw_config()
    raw["model_build"]["model"] = inline_model(
        task_type="regression",
        metric={"name": "mae", "higher_is_better": False, "threshold": 3.0},
        data="models/data/diabetes.json",
    )
    raw["environments"]["prod"]["shadow"] = {"enabled": True, "max_relative_error_percent": 5}
    prod = config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path).environment("prod")
    assert prod.shadow.enabled and prod.shadow.max_relative_error_percent == 5.0


def test_a_dash_c_override_inside_a_model_directory_is_refused_not_ignored() -> None:
    """A model named by its directory is edited in its model.json; `-c ...model.metric.threshold` cannot reach it."""
    with pytest.raises(ConfigError, match=r"'mlops\.model_build\.model\.metric\.threshold'.*'model' is not an object"):
        config.load_cdk_json(overrides={"mlops.model_build.model.metric.threshold": "0.9"})
