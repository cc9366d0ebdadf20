"""Runs the model-building steps locally on the sample data: no AWS, no Docker.

Twice, as the pipeline would: first on the original data set (no champion), then on a
drifted weekly batch with the first model as champion. Each run goes preprocess -> train ->
evaluate (+ the quality gate) -> baseline with the very scripts the pipeline ships, and
prints a metrics table and the gate's decision.

    python -m pipeline_steps.local_run [--output-dir .local-run] [--drift 0.8]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_steps import baseline, evaluate, preprocess, sample_data, train


@dataclass(frozen=True)
class RunResult:
    name: str
    report: dict[str, Any]
    model_archive: Path
    baseline_dir: Path


def run_once(
    name: str,
    raw_csv: Path,
    workdir: Path,
    *,
    champion: Path | None,
    min_metric: float,
    allowed_regression: float,
    metric: str = "auc",
    num_round: int = 50,
) -> RunResult:
    root = workdir / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "raw").mkdir(parents=True)
    shutil.copy(raw_csv, root / "raw" / raw_csv.name)
    preprocess.main(["--input-dir", str(root / "raw"), "--output-dir", str(root / "splits")])
    model_dir = root / "model"
    train.main(
        [
            f"--num_round={num_round}",
            "--train",
            str(root / "splits" / "train"),
            "--validation",
            str(root / "splits" / "validation"),
            "--model-dir",
            str(model_dir),
        ]
    )
    # SageMaker hands the evaluate step model.tar.gz; so does this run.
    archive = root / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / train.MODEL_FILE, arcname=train.MODEL_FILE)
    evaluation_dir = root / "evaluation"
    evaluate.main(
        [
            "--model-dir",
            str(archive),
            "--test-dir",
            str(root / "splits" / "test"),
            "--output-dir",
            str(evaluation_dir),
            f"--champion-model={champion or ''}",
            f"--metric={metric}",
            f"--min-metric={min_metric}",
            f"--allowed-regression={allowed_regression}",
        ]
    )
    baseline.main(["--train-dir", str(root / "splits" / "train"), "--output-dir", str(root / "baseline")])
    report = json.loads((evaluation_dir / "evaluation.json").read_text())
    return RunResult(name, report, archive, root / "baseline")


def metrics_table(result: RunResult) -> str:
    candidate = result.report["binary_classification_metrics"]
    champion = (result.report["champion"] or {}).get("binary_classification_metrics")

    def cell(value: float | None, width: int, sign: str = "") -> str:
        # evaluation.json holds null for a metric that is not a finite number (AUC of one class).
        return f"{'-':>{width}}" if value is None else f"{value:>{sign}{width}.4f}"

    lines = [f"{'metric':<10}{'candidate':>12}{'champion':>12}{'delta':>10}"]
    for metric in evaluate.METRICS:
        value = candidate[metric]["value"]
        other = champion[metric]["value"] if champion else None
        delta = None if value is None or other is None else value - other
        lines.append(f"{metric:<10}{cell(value, 12)}{cell(other, 12)}{cell(delta, 10, '+')}")
    gate = result.report["gate"]
    lines.append(f"gate: {'REGISTER' if gate['passed'] else 'FAIL'} - {gate['reason']}")
    return "\n".join(lines)


def run_local_pipeline(
    workdir: Path, *, drift: float, min_metric: float, allowed_regression: float, num_round: int = 50
) -> list[RunResult]:
    workdir.mkdir(parents=True, exist_ok=True)
    base = sample_data.initial_data()
    first_csv = sample_data.write_csv(base, workdir / "data" / "week-0.csv")
    drifted_csv = sample_data.write_csv(
        sample_data.weekly_batch(base, week=1, drift=drift), workdir / "data" / "week-1.csv"
    )
    first = run_once(
        "run-1-first-model",
        first_csv,
        workdir,
        champion=None,
        min_metric=min_metric,
        allowed_regression=allowed_regression,
        num_round=num_round,
    )
    second = run_once(
        "run-2-drifted-batch",
        drifted_csv,
        workdir,
        champion=first.model_archive,
        min_metric=min_metric,
        allowed_regression=allowed_regression,
        num_round=num_round,
    )
    return [first, second]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=Path(".local-run"))
    parser.add_argument("--drift", type=float, default=0.8, help="feature shift of the weekly batch, in std devs")
    parser.add_argument("--min-metric", type=float, default=0.8)
    parser.add_argument("--allowed-regression", type=float, default=0.01)
    args = parser.parse_args(argv)
    results = run_local_pipeline(
        args.output_dir, drift=args.drift, min_metric=args.min_metric, allowed_regression=args.allowed_regression
    )
    for result in results:
        print(f"\n== {result.name} ==\n{metrics_table(result)}")
    print(f"\noutputs under {args.output_dir}/")


if __name__ == "__main__":
    main()
