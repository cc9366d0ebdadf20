"""Evaluate step: score the candidate and the champion on the same test split, apply the gate.

Runs in the model's processing image (defaults below) and locally:
    python pipeline_steps/scripts/evaluate.py --model-dir model.tar.gz --test-dir out/test --output-dir eval/ \\
        --task-type=binary_classification --metric=auc --higher-is-better=true \\
        --inference-image=xgboost:3.0-5 --threshold=0.8 --allowed-regression=0.01 \\
        [--champion-model champion/model.tar.gz --champion-evaluation champion/evaluation.json]

Framework-neutral: a model is scored through its own serving contract, the inference.py its
training script put into model.tar.gz's code/ folder (model_fn, input_fn with text/csv,
predict_fn), so the champion is scored by the champion's code, never the candidate's. That
code can run here only when the champion was built for the same inference image (and task
type, and class order: its answers follow the classes it was trained on) as the candidate;
otherwise, e.g. on the first run after a framework change, the
champion is compared on the metric stored in its own evaluation.json (--champion-evaluation,
its registered ModelMetrics), and the report and the registered metadata say so.

Writes evaluation.json in the SageMaker model-metrics shape (<task>_metrics with value and
standard_deviation) with the candidate's metrics, the champion's, their comparison and the
quality gate's decision. The gate is decided here and fails closed: a NaN, infinite or missing
number, a classification test split with a single class, or a champion that cannot be
compared never passes. The pipeline's condition step only tests `gate.passed` and the fail step
reports `gate.reason`. The file is strict JSON: a metric that is not a finite number is null.
One file and the standard library, numpy and pandas only: it is shipped to the job alone and
runs in whichever framework image the model names (Python 3.9 and later).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import re
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # typing.TypeGuard is Python 3.10+: only the type checker imports it (3.9 images run this)
    from typing import TypeGuard  # novermin

BINARY, MULTICLASS, REGRESSION = "binary_classification", "multiclass_classification", "regression"
# The metrics of each task type and whether higher is better (config/model_build.py TASK_METRICS is the same
# table; tests/test_byom.py keeps them equal).
TASK_METRICS: Mapping[str, Mapping[str, bool]] = {
    BINARY: {"auc": True, "accuracy": True, "f1": True},
    MULTICLASS: {"accuracy": True, "macro_f1": True, "log_loss": False},
    REGRESSION: {"rmse": False, "mae": False, "r2": True},
}
# SageMaker's model quality metrics JSON names the metrics object after the problem type.
METRICS_KEY = {task: f"{task}_metrics" for task in TASK_METRICS}
INFERENCE_CODE = PurePosixPath("code") / "inference.py"
# Written by the preprocess step beside each split (contracts.DATA_CONTRACT_FILE): the classes.
CONTRACT_FILE = "data_contract.json"
# A probability is clipped to [1e-15, 1] before its logarithm, as log loss is usually computed.
_LOG_LOSS_FLOOR = 1e-15
CSV = "text/csv"
BOOTSTRAP_SAMPLES = 200
# CustomerMetadataProperties values must be non-empty strings; this marks "no champion" / "no number".
NONE = "none"
# The ASCII part of the API's CustomerMetadataValue rule (1-256 of [\p{L}\p{Z}\p{N}_.:/=+\-@];
# botocore's sagemaker service model): a value matching it is accepted at registration.
METADATA_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+\-@]{1,256}")
# How the champion was compared (registered as comparison_basis; each matches METADATA_VALUE).
NO_CHAMPION = "no champion"
SAME_TEST_SPLIT = "same test split"
STORED_METRIC = "stored metric"
NOT_COMPARABLE = "not comparable"


class EvaluationInputError(ValueError):
    """A model or the test data is missing or malformed; the message names it."""


# --- metrics -----------------------------------------------------------------------------------


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    return float(np.mean((scores >= threshold).astype(int) == labels))


def f1(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    predicted = scores >= threshold
    true_positives = float(np.sum(predicted & (labels == 1)))
    denominator = float(np.sum(predicted)) + float(np.sum(labels == 1))
    return 2 * true_positives / denominator if denominator else 0.0


def _classes(predictions: np.ndarray) -> np.ndarray:
    """A multiclass model's answer as classes: the likeliest of its class probabilities, or the class."""
    return np.argmax(predictions, axis=1) if predictions.ndim == 2 else predictions


def class_accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean(_classes(predictions) == labels))


def macro_f1(labels: np.ndarray, predictions: np.ndarray) -> float:
    """F1 per class present in the labels or the predictions, averaged with equal weight."""
    classes = _classes(predictions)
    scores = []
    for label in np.union1d(labels, classes):
        true_positives = float(np.sum((classes == label) & (labels == label)))
        denominator = float(np.sum(classes == label)) + float(np.sum(labels == label))
        scores.append(2 * true_positives / denominator if denominator else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def log_loss(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Mean negative log of the probability given to the true class; needs class probabilities (NaN without)."""
    if predictions.ndim != 2 or len(labels) == 0 or int(labels.max()) >= predictions.shape[1]:
        return float("nan")
    totals = predictions.sum(axis=1, keepdims=True)
    probabilities = np.divide(predictions, totals, out=np.zeros_like(predictions), where=totals > 0)
    chosen = np.clip(probabilities[np.arange(len(labels)), labels], _LOG_LOSS_FLOOR, 1.0)
    return float(-np.mean(np.log(chosen)))


def rmse(values: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - values) ** 2)))


def mae(values: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(predicted - values)))


def r2(values: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((values - np.mean(values)) ** 2))
    return 1.0 - float(np.sum((values - predicted) ** 2)) / total if total else float("nan")


_METRIC_FUNCTIONS: Mapping[str, Mapping[str, Callable[[np.ndarray, np.ndarray], float]]] = {
    BINARY: {"auc": auc, "accuracy": accuracy, "f1": f1},
    MULTICLASS: {"accuracy": class_accuracy, "macro_f1": macro_f1, "log_loss": log_loss},
    REGRESSION: {"rmse": rmse, "mae": mae, "r2": r2},
}


def finite(value: object) -> TypeGuard[float]:
    """A real number that is neither NaN nor infinite (None, strings and booleans are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def task_metrics(task: str, labels: np.ndarray, predictions: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """Each metric of the task with a bootstrap standard deviation, in the model-metrics JSON shape."""
    rng = np.random.default_rng(seed)
    samples = [rng.integers(0, len(labels), len(labels)) for _ in range(BOOTSTRAP_SAMPLES)]
    result = {}
    for name, function in _METRIC_FUNCTIONS[task].items():
        resampled = [v for v in (function(labels[rows], predictions[rows]) for rows in samples) if finite(v)]
        result[name] = {
            "value": round(function(labels, predictions), 6),
            "standard_deviation": round(float(np.std(resampled)), 6) if resampled else 0.0,
        }
    return result


def binary_classification_metrics(labels: np.ndarray, scores: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    return task_metrics(BINARY, labels, scores, seed=seed)


def as_predictions(task: str, raw: Any, rows: int, role: str, class_count: int | None = None) -> np.ndarray:
    """What predict_fn returned, as the task's metrics read it: scores, class probabilities or classes, values."""
    try:
        values = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as error:
        # E.g. the example models' answer to a request they refuse (an HTTP status for the client).
        raise EvaluationInputError(f"The {role} model's predict_fn returned no predictions: {raw!r:.200}") from error
    if task == BINARY and values.ndim == 2 and values.shape[1] == 2:
        values = values[:, 1]  # class probabilities: the positive class's
    keep_columns = task == MULTICLASS and values.ndim == 2 and values.shape[1] > 1
    if values.ndim == 2 and 1 in values.shape and not keep_columns:
        values = values.reshape(-1)
    expected = f"one prediction per row ({rows})"
    if task == MULTICLASS and class_count:
        expected += f", or {class_count} class probabilities per row"
        if keep_columns and values.shape[1] != class_count:
            raise EvaluationInputError(
                f"The {role} model's predict_fn returned shape {values.shape}; expected {expected} for {task}."
            )
    if not (values.ndim == 1 or keep_columns) or len(values) != rows:
        raise EvaluationInputError(
            f"The {role} model's predict_fn returned shape {values.shape}; expected {expected} for {task}."
        )
    return values


def strict(node: Any) -> Any:
    """`node` with every NaN or infinite number replaced by None: JSON has no such numbers."""
    if isinstance(node, dict):
        return {key: strict(value) for key, value in node.items()}
    if isinstance(node, list):
        return [strict(item) for item in node]
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


# --- the gate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    """Whether a candidate may be registered, and why (names the failed condition and numbers)."""

    passed: bool
    reason: str
    # How much worse than the champion the candidate is, in the metric's direction; 0 without a
    # champion, None when either is not a finite number.
    regression: float | None


def _not_finite(what: str, value: object) -> str:
    return f"{what} is not a finite number ({'missing' if value is None else value})"


def _test_split_failure(class_counts: Mapping[int, int] | None) -> str | None:
    if class_counts is None:  # regression: any values will do
        return None
    present = {label: rows for label, rows in sorted(class_counts.items()) if rows > 0}
    if len(present) >= 2:
        return None
    rows = ", ".join(f"{label}: {count} rows" for label, count in present.items())
    return f"the test split has {len(present)} class ({rows}); need at least two classes"


def quality_gate(
    *,
    metric: str,
    candidate: float | None,
    champion: float | None,
    threshold: float,
    allowed_regression: float,
    class_counts: Mapping[int, int] | None,
    higher_is_better: bool = True,
    champion_failure: str | None = None,
) -> GateDecision:
    """candidate reaches `threshold` AND is at most `allowed_regression` worse than the champion.

    Both in the metric's direction (higher or lower is better); no champion: the first model.
    Fails closed: each check is written as the condition for passing, which a NaN never meets,
    and a number that is not finite, a classification test split of one class, or a champion
    that cannot be compared (`champion_failure`) is a failure of its own, named in the reason.
    """
    failures = [f for f in (_test_split_failure(class_counts), champion_failure) if f]
    numbers = {metric: candidate, "the threshold": threshold, "the allowed regression": allowed_regression}
    if champion is not None:
        numbers[f"the champion's {metric}"] = champion
    failures += [_not_finite(what, value) for what, value in numbers.items() if not finite(value)]
    bound = "minimum" if higher_is_better else "maximum"
    if finite(candidate) and finite(threshold):
        meets = candidate >= threshold if higher_is_better else candidate <= threshold
        if not meets:
            side = "below" if higher_is_better else "above"
            failures.append(f"{metric} {candidate:.4f} is {side} the {bound} {threshold:.4f}")
    regression = 0.0 if champion is None and champion_failure is None else None
    if finite(candidate) and finite(champion):
        regression = round(champion - candidate if higher_is_better else candidate - champion, 6)
        if finite(allowed_regression) and not regression <= allowed_regression:
            failures.append(
                f"{metric} {candidate:.4f} is {regression:.4f} worse than the champion's {champion:.4f} "
                f"(allowed regression {allowed_regression:.4f})"
            )
    if failures:
        return GateDecision(False, "; ".join(failures), regression)
    versus = (
        "no champion yet"
        if champion is None
        else f"champion {champion:.4f}, allowed regression {allowed_regression:.4f}"
    )
    relation = ">=" if higher_is_better else "<="
    return GateDecision(True, f"{metric} {candidate:.4f} {relation} {bound} {threshold:.4f}; {versus}", regression)


# --- inputs --------------------------------------------------------------------------------------


def load_test(test_dir: Path, task: str = BINARY) -> tuple[pd.DataFrame, np.ndarray]:
    """Label-first, header-less CSVs -> (features as the raw cells a request carries, labels).

    Class labels are whole numbers (the class's position in the data contract's classes).
    """
    files = sorted(test_dir.glob("*.csv")) if test_dir.is_dir() else []
    if not files:
        raise EvaluationInputError(f"Test data: no *.csv file in {test_dir}.")
    table = pd.concat(
        [pd.read_csv(path, header=None, dtype=str, keep_default_na=False) for path in files], ignore_index=True
    )
    labels = pd.to_numeric(table.iloc[:, 0], errors="coerce").to_numpy(dtype=float) if table.shape[1] else None
    if labels is None or table.shape[1] < 2 or not np.all(np.isfinite(labels)):
        raise EvaluationInputError(f"Test data in {test_dir}: expected rows of a numeric label, then the features.")
    if task != REGRESSION:
        if not np.all(labels == np.round(labels)):
            raise EvaluationInputError(f"Test data in {test_dir}: {task} needs whole-number class labels.")
        return table.iloc[:, 1:], labels.astype(int)
    return table.iloc[:, 1:], labels


def contract_classes(test_dir: Path) -> list[str] | None:
    """The classes the data contract beside the test split names, in its order (None: regression, or no contract)."""
    path = test_dir / CONTRACT_FILE
    if not path.is_file():
        return None
    try:
        classes = json.loads(path.read_text()).get("classes")
    except (json.JSONDecodeError, AttributeError) as error:
        raise EvaluationInputError(f"{path} is not a data contract: {error}") from error
    return [str(c) for c in classes] if isinstance(classes, list) and classes else None


def _fetch(uri: str, workdir: Path, name: str, region: str = "") -> Path:
    if not uri.startswith("s3://"):
        return Path(uri)
    import boto3  # only in SageMaker: the champion's files are S3 objects there

    bucket, _, key = uri[len("s3://") :].partition("/")
    target = workdir / name
    # The region explicitly: boto3 reads only AWS_DEFAULT_REGION, which a processing job need not have.
    boto3.client("s3", region_name=region or None).download_file(bucket, key, str(target))
    return target


def _archive(location: Path, role: str) -> Path:
    if location.is_dir():
        tarballs = sorted(location.glob("*.tar.gz"))
        if not tarballs:
            raise EvaluationInputError(f"The {role} model is missing: no model.tar.gz in {location}.")
        location = tarballs[0]
    if not location.is_file():
        raise EvaluationInputError(f"The {role} model is missing: {location} does not exist.")
    return location


def extract_model(archive: Path, target: Path, role: str) -> Path:
    """model.tar.gz into `target`, refusing links, devices and paths that leave it."""
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            path = PurePosixPath(member.name)
            if not (member.isfile() or member.isdir()) or path.is_absolute() or ".." in path.parts:
                raise EvaluationInputError(f"The {role} model archive {archive} holds an unsafe entry {member.name!r}.")
        tar.extractall(target, members=members)  # noqa: S202 - every member was checked above
    if not (target / INFERENCE_CODE).is_file():
        raise EvaluationInputError(
            f"The {role} model archive {archive} has no {INFERENCE_CODE}: the training script must copy its "
            "inference code into the model directory's code/ folder."
        )
    return target


@contextlib.contextmanager
def _inference_module(code_dir: Path, name: str) -> Iterator[Any]:
    """The model's inference.py, imported with its code/ folder first on the path, then forgotten.

    Candidate and champion may ship modules of the same names (inference, features, ...): each
    is imported on its own and its modules (those loaded from `code_dir`) are removed again, so
    one never runs the other's code; the image's packages (xgboost, sklearn) stay loaded.
    """
    sys.path.insert(0, str(code_dir))
    # What was loaded from code_dir, by its path as given, made absolute (as the import system makes a
    # relative sys.path entry) or resolved: a prefix test, since the process may hold thousands of modules.
    prefixes = tuple(os.path.join(str(path), "") for path in (code_dir, code_dir.absolute(), code_dir.resolve()))
    try:
        spec = importlib.util.spec_from_file_location(name, code_dir / INFERENCE_CODE.name)
        if spec is None or spec.loader is None:
            raise EvaluationInputError(f"Cannot import {code_dir / INFERENCE_CODE.name}.")
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs, as importlib's "importing a source file directly" recipe does:
        # a dataclass in it looks its own module up there.
        sys.modules[name] = module
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(code_dir))
        for loaded, module in list(sys.modules.items()):
            source = getattr(module, "__file__", None)
            if loaded == name or (isinstance(source, str) and source.startswith(prefixes)):
                del sys.modules[loaded]


def predict(archive: Path, features: pd.DataFrame, role: str, task: str, class_count: int | None = None) -> np.ndarray:
    """The model's predictions through its own serving contract: model_fn, input_fn (text/csv), predict_fn."""
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = extract_model(_archive(archive, role), Path(tmp), role)
        with _inference_module(model_dir / INFERENCE_CODE.parent, f"{role}_inference") as inference:
            missing = [fn for fn in ("model_fn", "input_fn", "predict_fn") if not hasattr(inference, fn)]
            if missing:
                raise EvaluationInputError(f"The {role} model's {INFERENCE_CODE} lacks {', '.join(missing)}.")
            model = inference.model_fn(str(model_dir))
            body = features.to_csv(header=False, index=False)
            try:
                raw = inference.predict_fn(inference.input_fn(body, CSV), model)
            except ValueError as error:
                raise EvaluationInputError(f"The {role} model cannot score the test data: {error}") from error
    return as_predictions(task, raw, len(features), role, class_count)


# --- the champion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChampionResult:
    """The champion's number for the gate metric and how it was obtained."""

    basis: str
    value: float | None
    metrics: dict[str, Any] | None  # all metrics when scored here
    inference_image: str | None
    note: str
    failure: str | None = None


def _stored_value(report: Mapping[str, Any], task: str, metric: str) -> float | None:
    value = ((report.get(METRICS_KEY[task]) or {}).get(metric) or {}).get("value")
    return float(value) if finite(value) else None


def champion_result(
    *,
    champion_model: str,
    champion_report: Mapping[str, Any] | None,
    task: str,
    metric: str,
    inference_image: str,
    features: pd.DataFrame,
    labels: np.ndarray,
    workdir: Path,
    classes: Sequence[str] | None = None,
    region: str = "",
) -> ChampionResult:
    """Scores the champion by its own code when it runs here, else takes its stored metric.

    Its own code answers by the class positions of the contract it was trained on: when that
    recorded the classes in another order (or others), its answers cannot be read against this
    split's labels, so its stored metric is compared instead.
    """
    recorded = (champion_report or {}).get("model") or {}
    image, champion_task = recorded.get("inference_image"), recorded.get("task_type")
    champion_classes = recorded.get("classes")
    other_classes = isinstance(champion_classes, list) and classes is not None and champion_classes != list(classes)
    scoring_failure = None
    if image == inference_image and champion_task == task and not other_classes:
        try:
            archive = _fetch(champion_model, workdir, "champion.tar.gz", region)
            predictions = predict(archive, features, "champion", task, len(classes) if classes else None)
        except EvaluationInputError as error:
            # E.g. the data gained a feature: the champion's own code cannot read the new split,
            # which must not stop retraining; its stored metric still compares.
            scoring_failure = str(error)
        else:
            metrics = task_metrics(task, labels, predictions)
            note = f"champion scored on this test split by its own inference code ({image})"
            return ChampionResult(SAME_TEST_SPLIT, metrics[metric]["value"], metrics, image, note)
    why = (
        f"its own code could not score this test split ({scoring_failure})"
        if scoring_failure
        else "its evaluation report is missing"
        if champion_report is None
        else "its inference image is not recorded"
        if image is None
        else f"it was built for {image} ({champion_task}), the candidate for {inference_image} ({task})"
        if image != inference_image or champion_task != task
        else "its data contract's classes differ from the candidate's, or their order does (its answers follow its own)"
    )
    stored = _stored_value(champion_report or {}, task, metric) if champion_task in (None, task) else None
    if stored is not None:
        note = f"champion compared on its stored {metric} (from its own test split): {why}"
        return ChampionResult(STORED_METRIC, stored, None, image, note)
    failure = f"the champion cannot be compared: {why}, and it has no stored {metric} for {task}"
    return ChampionResult(NOT_COMPARABLE, None, None, image, failure, failure)


def _read_report(uri: str, workdir: Path, region: str = "") -> dict[str, Any] | None:
    if not uri:
        return None
    path = _fetch(uri, workdir, "champion-evaluation.json", region)
    try:
        report = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise EvaluationInputError(f"The champion's evaluation report {uri} is not readable JSON: {error}") from error
    return report if isinstance(report, dict) else None


# --- the report ----------------------------------------------------------------------------------


def metadata_value(key: str, value: str) -> str:
    if not METADATA_VALUE.fullmatch(value):
        raise EvaluationInputError(
            f"Model package metadata {key}={value!r} breaks the registry's rule: "
            f"1-256 letters, digits, spaces or _.:/=+-@."
        )
    return value


def _number_text(value: float | None) -> str:
    return str(value) if finite(value) else NONE


def build_report(
    *,
    task: str,
    candidate: dict[str, Any],
    champion: ChampionResult | None,
    champion_arn: str,
    metric: str,
    higher_is_better: bool,
    inference_image: str,
    gate: GateDecision,
    test_rows: int,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The evaluation.json content, ready for strict JSON (no NaN or infinite number left)."""
    candidate_value = candidate[metric]["value"]
    champion_value = champion.value if champion else None
    delta = round(candidate_value - champion_value, 6) if finite(candidate_value) and finite(champion_value) else None
    basis = champion.basis if champion else NO_CHAMPION
    metadata = {
        "metric_name": metric,
        "metric_value": _number_text(candidate_value),
        "champion_model_package_arn": (champion_arn or NONE) if champion else NONE,
        "champion_metric_value": _number_text(champion_value),
        "metric_delta": _number_text(delta),
        "comparison_basis": basis,
        # The smoke test checks each answer against the number of classes.
        "class_count": str(len(classes)) if classes else NONE,
    }
    champion_section = None
    if champion is not None:
        champion_section = {
            "model_package_arn": champion_arn or None,
            "inference_image": champion.inference_image,
            "basis": champion.basis,
            **({METRICS_KEY[task]: champion.metrics} if champion.metrics else {}),
        }
    return strict(
        {
            METRICS_KEY[task]: candidate,
            # What the next run needs to know to compare with this version once it is champion.
            "model": {
                "task_type": task,
                "inference_image": inference_image,
                "metric": metric,
                "higher_is_better": higher_is_better,
                # The class order its answers follow (the data contract's), empty for regression.
                "classes": list(classes or []),
            },
            "champion": champion_section,
            "comparison": {
                "metric": metric,
                "higher_is_better": higher_is_better,
                "candidate": candidate_value,
                "champion": champion_value,
                "delta": delta,
                "regression": gate.regression,
                "test_rows": test_rows,
                "basis": basis,
                "note": champion.note if champion else "no champion yet: the first model",
            },
            "gate": asdict(gate),
            # String copies for the model package's CustomerMetadataProperties.
            "metadata": {key: metadata_value(key, value) for key, value in metadata.items()},
        }
    )


def evaluate(
    *,
    model: Path,
    test_dir: Path,
    champion_model: str,
    champion_arn: str,
    champion_evaluation: str = "",
    task: str = BINARY,
    metric: str,
    higher_is_better: bool = True,
    inference_image: str = "",
    threshold: float,
    allowed_regression: float,
    region: str = "",
) -> dict[str, Any]:
    if task not in TASK_METRICS:
        raise EvaluationInputError(f"Unknown task type {task!r}; allowed: {', '.join(TASK_METRICS)}.")
    if metric not in TASK_METRICS[task]:
        raise EvaluationInputError(f"Unknown metric {metric!r} for {task}; allowed: {', '.join(TASK_METRICS[task])}.")
    if higher_is_better is not TASK_METRICS[task][metric]:
        raise EvaluationInputError(
            f"{metric}: higher_is_better is {TASK_METRICS[task][metric]}, not {higher_is_better}."
        )
    features, labels = load_test(test_dir, task)
    classes = contract_classes(test_dir) if task != REGRESSION else None
    candidate = task_metrics(
        task, labels, predict(model, features, "candidate", task, len(classes) if classes else None)
    )
    champion = None
    with tempfile.TemporaryDirectory() as tmp:
        if champion_model:
            champion = champion_result(
                champion_model=champion_model,
                champion_report=_read_report(champion_evaluation, Path(tmp), region),
                task=task,
                metric=metric,
                inference_image=inference_image,
                features=features,
                labels=labels,
                workdir=Path(tmp),
                classes=classes,
                region=region,
            )
    counts = None if task == REGRESSION else {int(k): int(v) for k, v in pd.Series(labels).value_counts().items()}
    gate = quality_gate(
        metric=metric,
        candidate=candidate[metric]["value"],
        champion=champion.value if champion else None,
        threshold=threshold,
        allowed_regression=allowed_regression,
        class_counts=counts,
        higher_is_better=higher_is_better,
        champion_failure=champion.failure if champion else None,
    )
    if champion is not None and champion.basis == STORED_METRIC:
        # A reader of the fail step's message (or the report) must know the numbers come from two test splits.
        gate = replace(gate, reason=f"{gate.reason}; {champion.note}")
    return build_report(
        task=task,
        candidate=candidate,
        champion=champion,
        champion_arn=champion_arn,
        metric=metric,
        higher_is_better=higher_is_better,
        inference_image=inference_image,
        gate=gate,
        test_rows=len(labels),
        classes=classes,
    )


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--champion-model", default="")
    parser.add_argument("--champion-model-package-arn", default="")
    parser.add_argument("--champion-evaluation", default="")
    parser.add_argument("--task-type", default=BINARY, choices=sorted(TASK_METRICS))
    parser.add_argument("--metric", default="auc", choices=sorted({m for ms in TASK_METRICS.values() for m in ms}))
    parser.add_argument("--higher-is-better", type=_boolean, default=True)
    parser.add_argument(
        "--inference-image", default="", help="the candidate's inference image (framework:version or URI)"
    )
    parser.add_argument("--threshold", type=float, required=True)
    parser.add_argument("--allowed-regression", type=float, required=True)
    parser.add_argument("--region", default="", help="the AWS region of the job (the champion's S3 objects)")
    args = parser.parse_args(argv)
    report = evaluate(
        model=args.model_dir,
        test_dir=args.test_dir,
        champion_model=args.champion_model.strip(),
        champion_arn=args.champion_model_package_arn.strip(),
        champion_evaluation=args.champion_evaluation.strip(),
        task=args.task_type,
        metric=args.metric,
        higher_is_better=args.higher_is_better,
        inference_image=args.inference_image.strip(),
        threshold=args.threshold,
        allowed_regression=args.allowed_regression,
        region=args.region,
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    # Strict JSON: allow_nan=False refuses NaN/Infinity, which are not JSON (RFC 8259).
    (args.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    print(json.dumps({"comparison": report["comparison"], "gate": report["gate"]}))


if __name__ == "__main__":
    main()
