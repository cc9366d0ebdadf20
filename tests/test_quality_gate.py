"""The quality gate fails closed: a NaN, infinite or missing number never registers a candidate.

The evaluate step decides (`gate.passed`, a JSON boolean) with comparisons written so that NaN
fails them; the pipeline's condition step only tests that boolean. evaluation.json is strict
JSON, and preprocessing refuses data sets too small or missing a class in a split.
"""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path
from typing import Any

import botocore.session
import pandas as pd
import pytest

import config
from pipeline_steps import local_run, sample_data
from pipeline_steps.scripts import evaluate, preprocess
from tests.support import model_source, preprocessed, write_contract

train = model_source("xgboost", "train")
XGBOOST = config.load_model("models/xgboost")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model.tar.gz, splits directory) from the sample data, as the pipeline produces them.

    Beside the archive, evaluation/evaluation.json: the report its own run registered, which a
    later run reads when this model is its champion.
    """
    root = tmp_path_factory.mktemp("trained")
    preprocessed(XGBOOST, sample_data.sample_for(XGBOOST.data), root)
    train.main(
        [
            "--num_round=5",
            *("--train", str(root / "splits" / "train"), "--validation", str(root / "splits" / "validation")),
            *("--model-dir", str(root / "model"), "--checkpoint-dir", ""),
        ]
    )
    archive = root / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted((root / "model").rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root / "model")), recursive=False)
    run_evaluate(archive, root / "splits" / "test", root / "evaluation")
    return archive, root / "splits"


def as_champion(model: Path) -> list[str]:
    """The evaluate arguments that make `model` (from the fixture) the champion."""
    return [f"--champion-model={model}", f"--champion-evaluation={model.parent / 'evaluation' / 'evaluation.json'}"]


def single_class_test_dir(splits: Path, directory: Path) -> tuple[Path, int]:
    """The test split without its positive rows: what a test split of one class looks like."""
    rows = pd.read_csv(splits / "test" / "test.csv", header=None)
    negatives = rows[rows[0] == 0]
    directory.mkdir(parents=True)
    negatives.to_csv(directory / "test.csv", header=False, index=False)
    return directory, len(negatives)


def run_evaluate(model: Path, test_dir: Path, output: Path, *extra: str) -> str:
    evaluate.main(
        [
            *("--model-dir", str(model), "--test-dir", str(test_dir), "--output-dir", str(output)),
            "--task-type=binary_classification",
            "--metric=auc",
            "--higher-is-better=true",
            f"--inference-image={config.load_model('models/xgboost').images.inference.label}",
            "--threshold=0.8",
            "--allowed-regression=0.01",
            *extra,
        ]
    )
    return (output / "evaluation.json").read_text()


def strict_json(text: str) -> Any:
    """json.loads, refusing the NaN/Infinity tokens that are not JSON (RFC 8259 has no such numbers)."""

    def refuse(token: str) -> None:
        raise AssertionError(f"evaluation.json contains {token}, which is not JSON")

    return json.loads(text, parse_constant=refuse)


# --- the evaluate step's decision ------------------------------------------------------------


@pytest.mark.parametrize("with_champion", [False, True], ids=["first-model", "against-champion"])
def test_single_class_test_split_never_passes_the_gate(
    trained: tuple[Path, Path], tmp_path: Path, with_champion: bool
) -> None:
    model, splits = trained
    test_dir, negatives = single_class_test_dir(splits, tmp_path / "test")
    champion = as_champion(model) if with_champion else []
    report = strict_json(run_evaluate(model, test_dir, tmp_path / "eval", *champion))
    assert report["gate"]["passed"] is False
    assert f"test split has 1 class (0: {negatives} rows); need at least two classes" in report["gate"]["reason"]
    assert "auc is not a finite number" in report["gate"]["reason"]
    # An undefined AUC is written as null, never as a number a reader could take for a score.
    assert report["binary_classification_metrics"]["auc"]["value"] is None
    assert report["comparison"]["candidate"] is None
    assert report["metadata"]["metric_value"] == evaluate.NONE


def test_a_champion_of_other_classes_is_not_scored_by_its_own_code_on_this_split(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    """The contract's classes reordered (the positive class swapped): the champion's own code answers in its
    old order, which would read as an inverted AUC on the new labels; its stored metric is compared instead."""
    model, splits = trained
    contract = json.loads((splits / "test" / "data_contract.json").read_text())
    swapped = tmp_path / "test"
    swapped.mkdir()
    rows = pd.read_csv(splits / "test" / "test.csv", header=None)
    rows[0] = 1 - rows[0]
    rows.to_csv(swapped / "test.csv", header=False, index=False)
    (swapped / "data_contract.json").write_text(json.dumps({**contract, "classes": contract["classes"][::-1]}))
    report = strict_json(run_evaluate(model, swapped, tmp_path / "eval", *as_champion(model)))
    assert report["comparison"]["basis"] == evaluate.STORED_METRIC
    assert "classes" in report["comparison"]["note"]
    assert report["model"]["classes"] == contract["classes"][::-1]


@pytest.mark.parametrize(
    ("candidate", "champion", "threshold", "reason"),
    [
        (math.nan, None, 0.8, "auc is not a finite number (nan)"),
        (math.inf, None, 0.8, "auc is not a finite number (inf)"),
        (None, None, 0.8, "auc is not a finite number (missing)"),
        (0.9, math.nan, 0.8, "the champion's auc is not a finite number (nan)"),
        (math.nan, 0.9, 0.8, "auc is not a finite number (nan)"),
        (0.9, None, math.nan, "the threshold is not a finite number (nan)"),
        (0.9, 0.9, -math.inf, "the threshold is not a finite number (-inf)"),
    ],
    ids=["nan", "inf", "missing", "champion-nan", "nan-against-champion", "minimum-nan", "minimum-inf"],
)
def test_quality_gate_fails_closed_on_numbers_that_are_not_finite(
    candidate: float | None, champion: float | None, threshold: float, reason: str
) -> None:
    decision = evaluate.quality_gate(
        metric="auc",
        candidate=candidate,
        champion=champion,
        threshold=threshold,
        allowed_regression=0.01,
        class_counts={0: 50, 1: 30},
    )
    assert decision.passed is False
    assert reason in decision.reason


def test_quality_gate_fails_closed_on_a_tolerance_that_is_not_finite() -> None:
    decision = evaluate.quality_gate(
        metric="auc",
        candidate=0.5,
        champion=0.9,
        threshold=0.1,
        allowed_regression=math.nan,
        class_counts={0: 50, 1: 30},
    )
    assert decision.passed is False
    assert "the allowed regression is not a finite number (nan)" in decision.reason


def test_quality_gate_decision_is_a_strict_boolean() -> None:
    decision = evaluate.quality_gate(
        metric="auc", candidate=0.9, champion=0.89, threshold=0.8, allowed_regression=0.01, class_counts={0: 5, 1: 5}
    )
    assert decision.passed is True


# --- evaluation.json and the condition step ----------------------------------------------------


def test_evaluation_json_is_strict_json_with_a_boolean_decision(trained: tuple[Path, Path], tmp_path: Path) -> None:
    model, splits = trained
    text = run_evaluate(model, splits / "test", tmp_path / "good", *as_champion(model))
    assert type(strict_json(text)["gate"]["passed"]) is bool
    test_dir, _ = single_class_test_dir(splits, tmp_path / "one-class")
    assert "NaN" not in run_evaluate(model, test_dir, tmp_path / "bad")


def test_pipeline_condition_tests_the_evaluate_steps_boolean(trained: tuple[Path, Path], tmp_path: Path) -> None:
    """The condition compares gate.passed with true: a Boolean with a Boolean.

    SageMaker compares condition operands by type (the pipeline-definition schema's
    BinaryCondition takes String, Boolean, Integer or Float values; Equals needs both sides of
    one type), so the JSON type the evaluate step writes must be the one the condition expects.
    """
    from pipeline_steps import model_build_pipeline as builder

    definition = json.loads(builder.DEFINITION_FILE.read_text())
    gate = next(step for step in definition["Steps"] if step["Name"] == "QualityGate")
    assert gate["Arguments"]["Conditions"] == [
        {
            "Type": "Equals",
            "LeftValue": {
                "Std:JsonGet": {
                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                    "Path": "gate.passed",
                }
            },
            "RightValue": True,
        }
    ]
    model, splits = trained
    report = strict_json(run_evaluate(model, splits / "test", tmp_path / "eval"))
    assert type(report["gate"]["passed"]) is type(gate["Arguments"]["Conditions"][0]["RightValue"])


# --- model package metadata ----------------------------------------------------------------------


def metadata_contract() -> tuple[str, int, int]:
    """SageMaker's CustomerMetadataValue rule (botocore's service model), restricted to ASCII.

    The API's pattern uses Unicode classes (\\p{L}, \\p{Z}, \\p{N}); over ASCII they are letters,
    the space and digits, so a value matching the ASCII form also matches the API's.
    """
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("CustomerMetadataValue")
    pattern = shape.metadata["pattern"]
    character_class = pattern[pattern.index("[") : pattern.index("]") + 1]
    ascii_class = character_class.replace(r"\p{L}", "A-Za-z").replace(r"\p{Z}", " ").replace(r"\p{N}", "0-9")
    return ascii_class, shape.metadata["min"], shape.metadata["max"]


@pytest.mark.parametrize(
    "champion_args",
    [[], ["{champion}"], ["{champion}", f"--champion-model-package-arn={'a' * 40}"]],
    ids=["no-champion", "champion-without-arn", "champion-with-arn"],
)
def test_metadata_values_meet_the_registry_contract(
    trained: tuple[Path, Path], tmp_path: Path, champion_args: list[str]
) -> None:
    import re

    model, splits = trained
    args = [a for arg in champion_args for a in (as_champion(model) if arg == "{champion}" else [arg])]
    report = strict_json(run_evaluate(model, splits / "test", tmp_path / "eval", *args))
    character_class, low, high = metadata_contract()
    for key, value in report["metadata"].items():
        assert isinstance(value, str) and low <= len(value) <= high, (key, value)
        assert re.fullmatch(f"{character_class}*", value), (key, value)


@pytest.mark.parametrize(
    "arn",
    [f"arn:aws:sagemaker:eu-west-1:222222222222:model-package/{'g' * 250}/1", "arn:aws:sagemaker:x:1:mp/a#b/1"],
    ids=["too-long", "bad-character"],
)
def test_champion_arn_outside_the_metadata_contract_is_refused(
    trained: tuple[Path, Path], tmp_path: Path, arn: str
) -> None:
    model, splits = trained
    with pytest.raises(evaluate.EvaluationInputError, match="champion_model_package_arn"):
        run_evaluate(
            model,
            splits / "test",
            tmp_path / "eval",
            *as_champion(model),
            f"--champion-model-package-arn={arn}",
        )


# --- preprocessing refuses data the gate could not judge -----------------------------------------


def preprocess_args(model: config.ModelConfig, table: pd.DataFrame, root: Path) -> list[str]:
    sample_data.write_csv(table, root / "in" / "data.csv", model.data)
    contract = write_contract(model, root / "contract")
    return [f"--contract={contract}", f"--input-dir={root / 'in'}", f"--output-dir={root / 'o'}"]


def rows_of_class(table: pd.DataFrame, position: int, rows: int | None = None) -> pd.DataFrame:
    """Rows of the contract's class at `position` (0: its first class)."""
    chosen = table[table[XGBOOST.data.label] == XGBOOST.data.classes[position]]
    return chosen if rows is None else chosen.head(rows)


def stratified_split(table: pd.DataFrame, tmp_path: Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The breast-cancer contract, and `table`'s rows checked and split by class as preprocess does."""
    contract = json.loads(write_contract(XGBOOST, tmp_path).read_text())
    checked = preprocess.checked_rows(table.reset_index(drop=True).astype(str), contract, "data.csv")
    parts = preprocess.split(
        checked, validation_fraction=0.15, test_fraction=0.15, seed=42, stratify_by=contract["label"]
    )
    return contract, parts


def test_preprocess_refuses_a_data_set_that_is_too_small(tmp_path: Path) -> None:
    raw = sample_data.sample_for(XGBOOST.data).head(preprocess.MIN_ROWS - 1)
    with pytest.raises(
        preprocess.InputDataError, match=rf"Only {preprocess.MIN_ROWS - 1} rows; need at least {preprocess.MIN_ROWS}"
    ):
        preprocess.main(preprocess_args(XGBOOST, raw, tmp_path))


def test_preprocess_refuses_a_data_set_missing_a_class_of_the_contract(tmp_path: Path) -> None:
    first = rows_of_class(sample_data.sample_for(XGBOOST.data), 0)
    absent, present = XGBOOST.data.classes[1], XGBOOST.data.classes[0]
    with pytest.raises(
        preprocess.InputDataError,
        match=rf"The data set has no row of class '{absent}' \({present}: {len(first)} rows\); need every class",
    ):
        preprocess.main(preprocess_args(XGBOOST, first, tmp_path))


def test_the_stratified_split_gives_every_split_each_class(tmp_path: Path) -> None:
    """Two rows of a class among 200: a shuffle alone would leave a split without it; per class, each split has one."""
    raw = sample_data.sample_for(XGBOOST.data)
    contract, parts = stratified_split(pd.concat([rows_of_class(raw, 0, 198), rows_of_class(raw, 1, 3)]), tmp_path)
    assert [int((parts[n][contract["label"]] == 1).sum()) for n in preprocess.SPLITS] == [1, 1, 1]
    preprocess.check_classes(preprocess.class_counts(parts, contract["label"]), contract, min_rows_per_class=1)


def test_the_preprocess_step_splits_a_classifiers_data_by_class(tmp_path: Path) -> None:
    """The step itself, not only its split function: three rows of a class among 201, one in each split."""
    raw = sample_data.sample_for(XGBOOST.data)
    table = pd.concat([rows_of_class(raw, 0, 198), rows_of_class(raw, 1, 3)])
    preprocess.main([*preprocess_args(XGBOOST, table, tmp_path), "--min-rows-per-class=1"])
    for name in preprocess.SPLITS:
        labels = pd.read_csv(tmp_path / "o" / name / f"{name}.csv", header=None)[0]
        assert int((labels == 1).sum()) == 1, name


def test_preprocess_refuses_a_split_with_too_few_rows_of_a_class(tmp_path: Path) -> None:
    raw = sample_data.sample_for(XGBOOST.data)
    contract, parts = stratified_split(pd.concat([rows_of_class(raw, 0, 150), rows_of_class(raw, 1, 20)]), tmp_path)
    counts = parts["test"][contract["label"]].value_counts()
    first, second = XGBOOST.data.classes
    with pytest.raises(
        preprocess.InputDataError,
        match=rf"test split has {counts[1]} rows of class {second} \({first}: {counts[0]} rows, {second}: "
        rf"{counts[1]} rows\); need at least {counts[1] + 1} of each class",
    ):
        preprocess.check_classes(
            preprocess.class_counts(parts, contract["label"]), contract, min_rows_per_class=counts[1] + 1
        )


def test_a_regression_split_has_no_class_to_count(tmp_path: Path) -> None:
    diabetes = config.load_model("models/diabetes")
    contract = json.loads(write_contract(diabetes, tmp_path).read_text())
    table = preprocess.checked_rows(sample_data.sample_for(diabetes.data).astype(str), contract, "data.csv")
    parts = preprocess.split(table, validation_fraction=0.15, test_fraction=0.15, seed=1)
    preprocess.check_classes(preprocess.class_counts(parts, contract["label"]), contract, min_rows_per_class=10_000)


def test_preprocess_thresholds_are_arguments(tmp_path: Path) -> None:
    raw = sample_data.sample_for(XGBOOST.data).head(60)
    args = preprocess_args(XGBOOST, raw, tmp_path)
    counts = raw[XGBOOST.data.label].value_counts()
    rarest = counts.idxmin()
    test_rows = round(counts[rarest] * 0.15)
    with pytest.raises(preprocess.InputDataError, match=rf"test split has {test_rows} rows of class {rarest}"):
        preprocess.main([*args, "--min-rows=50"])
    preprocess.main([*args, "--min-rows=50", f"--min-rows-per-class={test_rows}"])
    assert (tmp_path / "o" / "test" / "test.csv").exists()
    with pytest.raises(preprocess.InputDataError, match=r"--min-rows-per-class must be at least 1; got 0"):
        preprocess.main([*args, "--min-rows=50", "--min-rows-per-class=0"])


def test_local_run_table_shows_a_metric_without_a_number_as_a_dash(trained: tuple[Path, Path], tmp_path: Path) -> None:
    model, splits = trained
    test_dir, _ = single_class_test_dir(splits, tmp_path / "test")
    report = strict_json(run_evaluate(model, test_dir, tmp_path / "eval", *as_champion(model)))
    table = local_run.metrics_table(local_run.RunResult("one-class", report, model, tmp_path))
    assert table.splitlines()[1].split() == ["auc", "-", "-", "-"]
    assert "gate: FAIL - the test split has 1 class" in table
