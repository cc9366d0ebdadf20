"""Evaluate step: score the candidate and the champion on the same test split, apply the gate.

Runs in a SageMaker processing container (defaults below) and locally:
    python pipeline_steps/evaluate.py --model-dir model/ --test-dir out/test --output-dir eval/ \\
        [--champion-model champion/model.tar.gz]

--champion-model is the model.tar.gz (or the `xgboost-model` file) of the latest approved
version: an s3:// URI in SageMaker, any path locally, empty on the first run.

Writes evaluation.json in the SageMaker model-metrics format (ModelQuality statistics) with
the candidate's metrics, the champion's, their comparison and the quality gate's decision.
The gate is decided here and fails closed: a NaN, infinite or missing number, or a test split
without both classes, never passes. The pipeline's condition step only tests `gate.passed`
(a JSON boolean) and the fail step reports `gate.reason`. The file is strict JSON: a metric
that is not a finite number is written as null, never as NaN or Infinity.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xgboost as xgb

if TYPE_CHECKING:  # typing.TypeGuard is Python 3.10+; annotations are never evaluated here
    from typing import TypeGuard

MODEL_FILE = "xgboost-model"
METRICS = ("auc", "accuracy", "f1")
BOOTSTRAP_SAMPLES = 200
# CustomerMetadataProperties values must be non-empty strings; this marks "no champion" / "no number".
NONE = "none"
# The ASCII part of the API's CustomerMetadataValue rule (1-256 of [\p{L}\p{Z}\p{N}_.:/=+\-@];
# botocore's sagemaker service model): a value matching it is accepted at registration.
METADATA_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+\-@]{1,256}")


class EvaluationInputError(ValueError):
    """A model or the test data is missing or malformed; the message names it."""


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


_METRIC_FUNCTIONS = {"auc": auc, "accuracy": accuracy, "f1": f1}


def finite(value: object) -> TypeGuard[float]:
    """A real number that is neither NaN nor infinite (None, strings and booleans are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def binary_classification_metrics(labels: np.ndarray, scores: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """Each metric with a bootstrap standard deviation, in the model-metrics JSON shape (NaN if undefined)."""
    rng = np.random.default_rng(seed)
    samples = [rng.integers(0, len(labels), len(labels)) for _ in range(BOOTSTRAP_SAMPLES)]
    result = {}
    for name, function in _METRIC_FUNCTIONS.items():
        resampled = [v for v in (function(labels[rows], scores[rows]) for rows in samples) if finite(v)]
        result[name] = {
            "value": round(function(labels, scores), 6),
            "standard_deviation": round(float(np.std(resampled)), 6) if resampled else 0.0,
        }
    return result


def strict(node: Any) -> Any:
    """`node` with every NaN or infinite number replaced by None: JSON has no such numbers."""
    if isinstance(node, dict):
        return {key: strict(value) for key, value in node.items()}
    if isinstance(node, list):
        return [strict(item) for item in node]
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


@dataclass(frozen=True)
class GateDecision:
    """Whether a candidate may be registered, and why (names the failed condition and numbers)."""

    passed: bool
    reason: str
    # champion - candidate; 0 without a champion, None when either is not a finite number.
    regression: float | None


def _not_finite(what: str, value: object) -> str:
    return f"{what} is not a finite number ({'missing' if value is None else value})"


def _test_split_failure(class_counts: Mapping[int, int]) -> str | None:
    present = {label: rows for label, rows in sorted(class_counts.items()) if rows > 0}
    if len(present) >= 2:
        return None
    rows = ", ".join(f"{label}: {count} rows" for label, count in present.items())
    return f"the test split has {len(present)} class ({rows}); need both classes"


def quality_gate(
    *,
    metric: str,
    candidate: float | None,
    champion: float | None,
    min_metric: float,
    allowed_regression: float,
    class_counts: Mapping[int, int],
) -> GateDecision:
    """candidate >= min_metric AND candidate >= champion - allowed_regression (no champion: first model).

    Fails closed: each check is written as the condition for passing, which a NaN never meets,
    and a number that is not finite (or a test split without both classes) is a failure of
    its own, named in the reason.
    """
    failures = [f for f in (_test_split_failure(class_counts),) if f]
    numbers = {metric: candidate, "the minimum": min_metric, "the allowed regression": allowed_regression}
    if champion is not None:
        numbers[f"the champion's {metric}"] = champion
    failures += [_not_finite(what, value) for what, value in numbers.items() if not finite(value)]
    if finite(candidate) and finite(min_metric) and not candidate >= min_metric:
        failures.append(f"{metric} {candidate:.4f} is below the minimum {min_metric:.4f}")
    regression = 0.0 if champion is None else None
    if finite(candidate) and finite(champion):
        regression = round(champion - candidate, 6)
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
    return GateDecision(True, f"{metric} {candidate:.4f} >= minimum {min_metric:.4f}; {versus}", regression)


def load_test(test_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    files = sorted(test_dir.glob("*.csv")) if test_dir.is_dir() else []
    if not files:
        raise EvaluationInputError(f"Test data: no *.csv file in {test_dir}.")
    table = pd.concat([pd.read_csv(path, header=None) for path in files], ignore_index=True)
    values = table.apply(pd.to_numeric, errors="coerce")
    if table.shape[1] < 2 or values.isna().any().any():
        raise EvaluationInputError(f"Test data in {test_dir}: expected numeric rows, label first, no header.")
    return values.iloc[:, 1:].to_numpy(dtype=float), values.iloc[:, 0].to_numpy(dtype=int)


def _fetch(uri: str, workdir: Path) -> Path:
    if not uri.startswith("s3://"):
        return Path(uri)
    import boto3  # only in SageMaker: the champion is an S3 object there

    bucket, _, key = uri[len("s3://") :].partition("/")
    target = workdir / "champion.tar.gz"
    boto3.client("s3").download_file(bucket, key, str(target))
    return target


def load_model(location: Path, role: str) -> xgb.Booster:
    """A booster from a model directory, a model.tar.gz or the `xgboost-model` file itself."""
    if location.is_dir():
        tarballs = sorted(location.glob("*.tar.gz"))
        location = tarballs[0] if tarballs else location / MODEL_FILE
    if not location.exists():
        raise EvaluationInputError(f"The {role} model is missing: {location} does not exist.")
    booster = xgb.Booster()
    if location.name.endswith(".tar.gz"):
        with tarfile.open(location) as archive:
            member = next((m for m in archive.getmembers() if m.isfile() and Path(m.name).name == MODEL_FILE), None)
            content = archive.extractfile(member) if member else None
            if content is None:
                raise EvaluationInputError(f"The {role} model archive {location} has no '{MODEL_FILE}' file.")
            # Read the one member in memory: nothing from the archive is written to disk.
            booster.load_model(bytearray(content.read()))
    else:
        booster.load_model(str(location))
    return booster


def score(booster: xgb.Booster, features: np.ndarray, role: str) -> np.ndarray:
    expected = booster.num_features()
    if features.shape[1] != expected:
        raise EvaluationInputError(
            f"The {role} model expects {expected} features; the test data has {features.shape[1]}."
        )
    return np.asarray(booster.predict(xgb.DMatrix(features)), dtype=float)


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
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    champion_arn: str,
    metric: str,
    gate: GateDecision,
    test_rows: int,
) -> dict[str, Any]:
    """The evaluation.json content, ready for strict JSON (no NaN or infinite number left)."""
    candidate_value = candidate[metric]["value"]
    champion_value = champion[metric]["value"] if champion else None
    delta = round(candidate_value - champion_value, 6) if finite(candidate_value) and finite(champion_value) else None
    metadata = {
        "metric_name": metric,
        "metric_value": _number_text(candidate_value),
        "champion_model_package_arn": (champion_arn or NONE) if champion else NONE,
        "champion_metric_value": _number_text(champion_value),
        "metric_delta": _number_text(delta),
    }
    return strict(
        {
            "binary_classification_metrics": candidate,
            "champion": None
            if champion is None
            else {"model_package_arn": champion_arn or None, "binary_classification_metrics": champion},
            "comparison": {
                "metric": metric,
                "candidate": candidate_value,
                "champion": champion_value,
                "delta": delta,
                "regression": gate.regression,
                "test_rows": test_rows,
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
    metric: str,
    min_metric: float,
    allowed_regression: float,
) -> dict[str, Any]:
    if metric not in METRICS:
        raise EvaluationInputError(f"Unknown metric {metric!r}; allowed: {', '.join(METRICS)}.")
    features, labels = load_test(test_dir)
    candidate = binary_classification_metrics(labels, score(load_model(model, "candidate"), features, "candidate"))
    champion = None
    if champion_model:
        with tempfile.TemporaryDirectory() as tmp:
            booster = load_model(_fetch(champion_model, Path(tmp)), "champion")
        champion = binary_classification_metrics(labels, score(booster, features, "champion"))
    gate = quality_gate(
        metric=metric,
        candidate=candidate[metric]["value"],
        champion=champion[metric]["value"] if champion else None,
        min_metric=min_metric,
        allowed_regression=allowed_regression,
        class_counts={int(label): int(rows) for label, rows in pd.Series(labels).value_counts().items()},
    )
    return build_report(
        candidate=candidate,
        champion=champion,
        champion_arn=champion_arn,
        metric=metric,
        gate=gate,
        test_rows=len(labels),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--champion-model", default="")
    parser.add_argument("--champion-model-package-arn", default="")
    parser.add_argument("--metric", default="auc", choices=METRICS)
    parser.add_argument("--min-metric", type=float, required=True)
    parser.add_argument("--allowed-regression", type=float, required=True)
    args = parser.parse_args(argv)
    report = evaluate(
        model=args.model_dir,
        test_dir=args.test_dir,
        champion_model=args.champion_model.strip(),
        champion_arn=args.champion_model_package_arn.strip(),
        metric=args.metric,
        min_metric=args.min_metric,
        allowed_regression=args.allowed_regression,
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    # Strict JSON: allow_nan=False refuses NaN/Infinity, which are not JSON (RFC 8259).
    (args.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    print(json.dumps({"comparison": report["comparison"], "gate": report["gate"]}))


if __name__ == "__main__":
    main()
