"""The step scripts: pure functions, bad input, and a small local end-to-end run."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import config
from pipeline_steps import baseline, evaluate, local_run, preprocess, sample_data
from tests.support import model_source

train = model_source("xgboost", "train")
inference = model_source("xgboost", "inference")
XGBOOST = config.load_model("models/xgboost")
# The local runs train small models: the examples' own hyperparameters are for real data.
SMALL = {"models/xgboost": {"num_round": "10"}, "models/sklearn": {"n_estimators": "20"}}


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return sample_data.initial_data()


def write_raw(table: pd.DataFrame, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    table.to_csv(directory / "data.csv", index=False)
    return directory


# --- preprocess ---------------------------------------------------------------------------


def test_sample_data_matches_the_pipeline_schema(raw: pd.DataFrame) -> None:
    assert list(raw.columns) == [*preprocess.FEATURES, preprocess.LABEL]
    assert len(raw) == 569
    assert set(raw[preprocess.LABEL]) == {0, 1}


def test_split_is_deterministic_and_disjoint(raw: pd.DataFrame) -> None:
    table = preprocess.to_numeric(raw.astype(str))
    first = preprocess.split(table, validation_fraction=0.15, test_fraction=0.15, seed=7)
    second = preprocess.split(table, validation_fraction=0.15, test_fraction=0.15, seed=7)
    for name in preprocess.SPLITS:
        pd.testing.assert_frame_equal(first[name], second[name])
    assert sum(len(part) for part in first.values()) == len(raw)
    assert len(first["test"]) == round(len(raw) * 0.15)


def test_preprocess_writes_label_first_headerless_splits(raw: pd.DataFrame, tmp_path: Path) -> None:
    preprocess.main(["--input-dir", str(write_raw(raw, tmp_path / "in")), "--output-dir", str(tmp_path / "out")])
    train_rows = pd.read_csv(tmp_path / "out" / "train" / "train.csv", header=None)
    assert train_rows.shape[1] == 31
    assert set(train_rows[0]) == {0, 1}
    assert json.loads((tmp_path / "out" / "train" / "features.json").read_text()) == list(preprocess.FEATURES)
    assert (tmp_path / "out" / "test" / "test.csv").exists()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.drop(columns=["mean_radius"]), r"missing: \['mean_radius'\]"),
        (lambda t: t.assign(extra_column=1), r"unexpected: \['extra_column'\]"),
        (lambda t: t.assign(mean_area="big"), r"Column 'mean_area' has a missing or non-numeric value 'big'"),
        (lambda t: t.assign(target=2), r"Column 'target' has values \[2.0\]; allowed: 0 and 1"),
        (lambda t: t.iloc[0:0], "header but no data rows"),
    ],
    ids=["missing-column", "extra-column", "non-numeric", "bad-label", "header-only"],
)
def test_preprocess_rejects_bad_input_naming_the_problem(raw: pd.DataFrame, tmp_path: Path, mutate, message) -> None:
    with pytest.raises(preprocess.InputDataError, match=message):
        preprocess.main(["--input-dir", str(write_raw(mutate(raw), tmp_path)), "--output-dir", str(tmp_path / "o")])


def test_preprocess_rejects_an_empty_file_and_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(preprocess.InputDataError, match=r"No \*\.csv file"):
        preprocess.read_raw(tmp_path)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(preprocess.InputDataError, match=r"empty\.csv is empty"):
        preprocess.read_raw(tmp_path)


# --- train --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def splits(raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("splits")
    preprocess.main(["--input-dir", str(write_raw(raw, root / "in")), "--output-dir", str(root)])
    return root


def test_train_writes_the_model_and_the_inference_code_that_serves_it(splits: Path, tmp_path: Path) -> None:
    train.main(
        [
            "--num_round=5",
            *("--train", str(splits / "train"), "--validation", str(splits / "validation")),
            *("--model-dir", str(tmp_path), "--checkpoint-dir", ""),
        ]
    )
    assert sorted(p.name for p in (tmp_path / "code").iterdir()) == ["inference.py", "train.py"]
    booster = inference.model_fn(str(tmp_path))
    assert booster.num_boosted_rounds() == 5
    assert booster.num_features() == 30
    body = (splits / "test" / "test.csv").read_text().splitlines()[0].split(",", 1)[1]
    (probability,) = inference.predict_fn(inference.input_fn(body.encode(), "text/csv"), booster)
    assert 0 <= probability <= 1
    assert inference.output_fn(np.array([0.25, 0.5]), "text/csv") == ("0.25\n0.5", "text/csv")


def test_train_takes_the_toolkits_arguments_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Script mode: hyperparameters arrive as `--name value`, locations as SM_CHANNEL_* and SM_MODEL_DIR."""
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "train"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    args = train.parse_args(["--max_depth", "6", "--eta", "0.05"])
    assert (args.max_depth, args.eta, args.num_round) == (6, 0.05, 100)
    assert (args.train, args.model_dir) == (tmp_path / "train", tmp_path / "model")
    with pytest.raises(SystemExit):
        train.parse_args(["--max_depth", "deep"])


def test_spot_restart_resumes_only_its_own_checkpoint(splits: Path, tmp_path: Path) -> None:
    data = train.load_channel(splits / "train", "train")
    validation = train.load_channel(splits / "validation", "validation")
    params = {**train.booster_params(train.parse_args([])), "max_depth": 2}
    train.train(data, validation, params, num_round=10, checkpoint_dir=tmp_path, checkpoint_every=5)
    assert json.loads((tmp_path / train.CHECKPOINT_META).read_text())["rounds"] == 10
    same_run = train.fingerprint(*data, params, 10)
    resumed, done = train.resume_from(tmp_path, same_run)
    assert resumed is not None and done == 10
    other_run = train.fingerprint(*data, {**params, "eta": 0.01}, 10)
    assert train.resume_from(tmp_path, other_run) == (None, 0)
    # Resuming a finished run adds no rounds.
    again = train.train(data, validation, params, num_round=10, checkpoint_dir=tmp_path, checkpoint_every=5)
    assert again.num_boosted_rounds() == 10


def test_train_rejects_missing_and_non_numeric_channels(tmp_path: Path) -> None:
    with pytest.raises(train.TrainingDataError, match=r"Channel 'train': no \*\.csv file"):
        train.load_channel(tmp_path, "train")
    (tmp_path / "bad.csv").write_text("1,2,x\n0,3,4\n")
    with pytest.raises(train.TrainingDataError, match="Channel 'validation': non-numeric"):
        train.load_channel(tmp_path, "validation")


# --- evaluate -----------------------------------------------------------------------------


def test_metrics_match_hand_computed_values() -> None:
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.6, 0.4, 0.9])
    assert evaluate.auc(labels, scores) == pytest.approx(0.75)
    assert evaluate.accuracy(labels, scores) == pytest.approx(0.5)
    assert evaluate.f1(labels, scores) == pytest.approx(0.5)
    assert evaluate.auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("candidate", "champion", "passed", "reason"),
    [
        (0.90, None, True, "no champion yet"),
        (0.70, None, False, "auc 0.7000 is below the minimum 0.8000"),
        (0.895, 0.90, True, "champion 0.9000"),
        (0.85, 0.90, False, "0.0500 worse than the champion's 0.9000 (allowed regression 0.0100)"),
        (0.75, 0.90, False, "below the minimum 0.8000; auc 0.7500 is 0.1500 worse"),
    ],
    ids=["first-model", "first-model-too-weak", "within-tolerance", "regressed", "both-fail"],
)
def test_quality_gate_names_the_failed_condition_and_numbers(candidate, champion, passed, reason) -> None:
    decision = evaluate.quality_gate(
        metric="auc",
        candidate=candidate,
        champion=champion,
        threshold=0.8,
        allowed_regression=0.01,
        class_counts={0: 30, 1: 55},
    )
    assert decision.passed is passed
    assert reason in decision.reason


def test_gate_reports_the_regression_against_the_champion() -> None:
    both = {0: 30, 1: 55}
    first = evaluate.quality_gate(
        metric="auc", candidate=0.9, champion=None, threshold=0, allowed_regression=0, class_counts=both
    )
    assert first.regression == 0
    better = evaluate.quality_gate(
        metric="auc", candidate=0.95, champion=0.9, threshold=0, allowed_regression=0, class_counts=both
    )
    assert better.regression == pytest.approx(-0.05) and better.passed


def test_evaluate_rejects_missing_models_and_mismatched_test_data(splits: Path, tmp_path: Path) -> None:
    features, _ = evaluate.load_test(splits / "test")
    with pytest.raises(evaluate.EvaluationInputError, match="The candidate model is missing"):
        evaluate.predict(tmp_path / "nothing", features, "candidate", evaluate.BINARY)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(splits / "test" / "test.csv", arcname="not-a-model")
    with pytest.raises(evaluate.EvaluationInputError, match=r"has no code/inference.py: the training script must copy"):
        evaluate.predict(archive, features, "champion", evaluate.BINARY)
    with pytest.raises(evaluate.EvaluationInputError, match=r"Test data: no \*\.csv file"):
        evaluate.load_test(tmp_path)


# --- baseline -----------------------------------------------------------------------------


def test_baseline_has_the_model_monitor_shape_with_ten_buckets(splits: Path) -> None:
    features = baseline.load_training_features(splits / "train")
    stats = baseline.statistics(features)
    assert stats["version"] == 0.0 and stats["dataset"]["item_count"] == len(features)
    assert [f["name"] for f in stats["features"]] == list(preprocess.FEATURES)
    radius = stats["features"][0]["numerical_statistics"]
    buckets = radius["distribution"]["kll"]["buckets"]
    assert len(buckets) == 10
    assert buckets[0]["lower_bound"] == radius["min"] and buckets[-1]["upper_bound"] == radius["max"]
    assert sum(b["count"] for b in buckets) == radius["common"]["num_present"] == len(features)
    assert radius["mean"] == pytest.approx(features["mean_radius"].mean())
    constraints = baseline.constraints(stats)
    assert constraints["features"][0] == {
        "name": "mean_radius",
        "inferred_type": "Fractional",
        "completeness": 1.0,
        "num_constraints": {"is_non_negative": True},
    }
    assert "monitoring_config" in constraints


def test_baseline_histogram_of_a_constant_feature_is_one_bucket() -> None:
    assert baseline.histogram(np.array([2.0, 2.0]), 2.0, 2.0) == [
        {"lower_bound": 2.0, "upper_bound": 2.0, "count": 2.0}
    ]
    assert baseline.inferred_type(np.array([1.0, 3.0])) == "Integral"


def test_baseline_rejects_missing_feature_list_and_non_numeric_values(splits: Path, tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("1,2.0\n")
    with pytest.raises(baseline.BaselineInputError, match=r"features\.json is missing"):
        baseline.load_training_features(tmp_path)
    (tmp_path / "features.json").write_text('["a"]')
    (tmp_path / "train.csv").write_text("1,2.0\n0,abc\n")
    with pytest.raises(baseline.BaselineInputError, match="Feature 'a' has the non-numeric value 'abc' at row 2"):
        baseline.load_training_features(tmp_path)
    (tmp_path / "features.json").write_text('["a", "b"]')
    with pytest.raises(baseline.BaselineInputError, match="expected the label plus 2 features"):
        baseline.load_training_features(tmp_path)


# --- sample data and the local run ---------------------------------------------------------


def test_weekly_batch_drifts_by_the_requested_amount(raw: pd.DataFrame) -> None:
    calm = sample_data.weekly_batch(raw, week=1, drift=0.0)
    drifted = sample_data.weekly_batch(raw, week=1, drift=1.0)
    shift = (drifted["mean_radius"].mean() - calm["mean_radius"].mean()) / raw["mean_radius"].std()
    assert shift == pytest.approx(1.0, abs=0.05)
    pd.testing.assert_frame_equal(drifted, sample_data.weekly_batch(raw, week=1, drift=1.0))
    with pytest.raises(ValueError, match="drift must be >= 0"):
        sample_data.weekly_batch(raw, week=1, drift=-1)


def test_local_pipeline_registers_a_first_model_then_compares_the_next_with_it(tmp_path: Path) -> None:
    first, second = local_run.run_local_pipeline(tmp_path, drift=0.8, model=XGBOOST, hyperparameters=SMALL)
    assert first.report["champion"] is None and first.report["gate"]["passed"]
    assert first.report["metadata"]["champion_metric_value"] == "none"
    comparison = second.report["comparison"]
    assert comparison["champion"] is not None
    assert comparison["delta"] == pytest.approx(comparison["candidate"] - comparison["champion"], abs=1e-6)
    # The first model has not seen the shifted data; the retrained one has.
    assert comparison["delta"] > 0 and second.report["gate"]["passed"]
    assert (second.baseline_dir / "statistics.json").exists() and (second.baseline_dir / "constraints.json").exists()
    assert comparison["basis"] == second.report["metadata"]["comparison_basis"] == evaluate.SAME_TEST_SPLIT
    table = local_run.metrics_table(second)
    assert "candidate" in table and "gate: REGISTER" in table
    assert "champion scored on this test split by its own inference code (xgboost:3.0-5)" in table


def test_local_gate_fails_a_candidate_below_the_minimum(tmp_path: Path) -> None:
    first, _ = local_run.run_local_pipeline(
        tmp_path, drift=0.0, model=XGBOOST, hyperparameters={"models/xgboost": {"num_round": "2"}}, threshold=0.9999
    )
    assert not first.report["gate"]["passed"]
    assert "below the minimum 0.9999" in local_run.metrics_table(first)
