"""Runs the model-building steps locally on sample data or a CSV of your own: no AWS, no Docker.

Twice, as the pipeline would: first on the data set (no champion), then on a drifted weekly
batch of it with the first model as champion. The data is the bundled sample whose columns are
the model's data contract, or --data (a CSV written as the contract says). Each run goes preprocess -> train
(the model's entry point in script mode: hyperparameters as arguments, SM_CHANNEL_* and
SM_MODEL_DIR, from a copy of its source directory) -> model.tar.gz -> evaluate (+ the quality
gate) -> baseline with the very scripts the pipeline ships, and prints a metrics table and the
gate's decision. The model is cdk.json's `model_build.model` unless --model names another
(`make local-pipeline MODEL=sklearn`); --first-model trains the first run with a different one,
which shows the comparison after a framework change (`make local-pipeline MODEL=sklearn FROM=xgboost`);
both must have the same data contract.

    python -m pipeline_steps.local_run [--model models/sklearn] [--first-model models/xgboost] \\
        [--data my-data.csv] [--output-dir .local-run] [--drift 0.8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_steps import sample_data
from pipeline_steps.scripts import baseline, evaluate, preprocess

if TYPE_CHECKING:
    from config import ModelConfig


@dataclass(frozen=True)
class RunResult:
    name: str
    report: dict[str, Any]
    model_archive: Path
    baseline_dir: Path

    @property
    def evaluation(self) -> Path:
        return self.model_archive.parent / "evaluation" / "evaluation.json"


def train_in_script_mode(model: ModelConfig, root: Path, hyperparameters: Mapping[str, str]) -> Path:
    """What the training toolkit does: the entry point, from the source, with `--name value` and SM_* variables."""
    code = root / "code"
    shutil.copytree(model.source_dir, code, ignore=shutil.ignore_patterns("__pycache__"))
    model_dir = root / "model"
    environment = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(root / "splits" / "train"),
        "SM_CHANNEL_VALIDATION": str(root / "splits" / "validation"),
        "SM_MODEL_DIR": str(model_dir),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    arguments = [part for name, value in sorted(hyperparameters.items()) for part in (f"--{name}", value)]
    subprocess.run(  # noqa: S603 - the configured entry point of a checked-in model, run as SageMaker would
        [sys.executable, model.entry_point, *arguments], cwd=code, env=environment, check=True
    )
    # SageMaker tars the model directory into model.tar.gz; so does this run.
    archive = root / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    return archive


def run_once(
    name: str,
    raw_csv: Path,
    workdir: Path,
    *,
    model: ModelConfig,
    champion: RunResult | None,
    hyperparameters: Mapping[str, str] | None = None,
    threshold: float | None = None,
) -> RunResult:
    root = (workdir / name).resolve()  # the training script runs from its own folder
    shutil.rmtree(root, ignore_errors=True)
    (root / "raw").mkdir(parents=True)
    shutil.copy(raw_csv, root / "raw" / raw_csv.name)
    contract = root / "contract" / "data_contract.json"
    contract.parent.mkdir()
    contract.write_text(json.dumps(model.data.as_document(model.task_type.value)))
    preprocess.main(
        ["--contract", str(contract), "--input-dir", str(root / "raw"), "--output-dir", str(root / "splits")]
    )
    archive = train_in_script_mode(model, root, {**model.hyperparameter_map, **(hyperparameters or {})})
    evaluation_dir = root / "evaluation"
    metric = model.metric
    evaluate.main(
        [
            *("--model-dir", str(archive), "--test-dir", str(root / "splits" / "test")),
            *("--output-dir", str(evaluation_dir)),
            f"--champion-model={champion.model_archive if champion else ''}",
            f"--champion-evaluation={champion.evaluation if champion else ''}",
            f"--task-type={model.task_type.value}",
            f"--metric={metric.name}",
            f"--higher-is-better={str(metric.higher_is_better).lower()}",
            f"--inference-image={model.images.inference.label}",
            f"--threshold={metric.threshold if threshold is None else threshold}",
            f"--allowed-regression={metric.allowed_regression}",
        ]
    )
    baseline.main(["--train-dir", str(root / "splits" / "train"), "--output-dir", str(root / "baseline")])
    report = json.loads((evaluation_dir / "evaluation.json").read_text())
    return RunResult(name, report, archive, root / "baseline")


def metrics_table(result: RunResult) -> str:
    report = result.report
    key = next(k for k in evaluate.METRICS_KEY.values() if k in report)
    candidate = report[key]
    champion = (report["champion"] or {}).get(key)

    def cell(value: float | None, width: int, sign: str = "") -> str:
        # evaluation.json holds null for a metric that is not a finite number (AUC of one class).
        return f"{'-':>{width}}" if value is None else f"{value:>{sign}{width}.4f}"

    comparison = report["comparison"]
    lines = [f"{'metric':<10}{'candidate':>12}{'champion':>12}{'delta':>10}"]
    for metric in candidate:
        value = candidate[metric]["value"]
        other = champion[metric]["value"] if champion else None
        if other is None and metric == comparison["metric"]:
            other = comparison["champion"]  # the champion's stored number
        delta = None if value is None or other is None else value - other
        lines.append(f"{metric:<10}{cell(value, 12)}{cell(other, 12)}{cell(delta, 10, '+')}")
    lines.append(f"compared: {comparison['note']}")
    gate = report["gate"]
    lines.append(f"gate: {'REGISTER' if gate['passed'] else 'FAIL'} - {gate['reason']}")
    return "\n".join(lines)


def run_local_pipeline(
    workdir: Path,
    *,
    drift: float,
    model: ModelConfig,
    first_model: ModelConfig | None = None,
    hyperparameters: Mapping[str, Mapping[str, str]] | None = None,
    threshold: float | None = None,
    data: Path | None = None,
) -> list[RunResult]:
    """Run 1 with `first_model` (default `model`) and no champion; run 2 with `model` against run 1.

    `hyperparameters` overrides by model origin (tests train smaller models); `data` is a raw
    CSV to use instead of the bundled sample.
    """
    first_model = first_model or model
    contract = model.data
    if first_model.data != contract:
        raise ValueError(f"{first_model.origin} and {model.origin} have different data contracts; both runs need one.")
    workdir.mkdir(parents=True, exist_ok=True)
    if data:
        # The Preprocess step's own column check, before the drifted copy is made of the file.
        next(preprocess.read_chunks(data, contract.as_document(model.task_type.value), preprocess.CHUNK_ROWS))
    base = sample_data.read_csv(data, contract) if data else sample_data.sample_for(contract)
    first_csv = sample_data.write_csv(base, workdir / "data" / "week-0.csv", contract)
    drifted_csv = sample_data.write_csv(
        sample_data.weekly_batch(base, contract, week=1, drift=drift), workdir / "data" / "week-1.csv", contract
    )
    overrides = hyperparameters or {}
    first = run_once(
        "run-1-first-model",
        first_csv,
        workdir,
        model=first_model,
        champion=None,
        hyperparameters=overrides.get(first_model.origin),
        threshold=threshold,
    )
    second = run_once(
        "run-2-drifted-batch",
        drifted_csv,
        workdir,
        model=model,
        champion=first,
        hyperparameters=overrides.get(model.origin),
        threshold=threshold,
    )
    return [first, second]


def main(argv: Sequence[str] | None = None) -> None:
    import config

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="", help="a model directory such as models/sklearn (default: cdk.json's)")
    parser.add_argument("--first-model", default="", help="train the first run's model (the champion) with this one")
    parser.add_argument("--data", type=Path, default=None, help="a raw CSV of your own, as the model's contract says")
    parser.add_argument("--output-dir", type=Path, default=Path(".local-run"))
    parser.add_argument("--drift", type=float, default=0.8, help="feature shift of the weekly batch, in std devs")
    args = parser.parse_args(argv)
    try:
        model = config.load_model(args.model) if args.model else config.load_cdk_json().model_build.model
        first_model = config.load_model(args.first_model) if args.first_model else None
    except config.ConfigError as error:
        raise SystemExit(str(error)) from error
    try:
        results = run_local_pipeline(
            args.output_dir, drift=args.drift, model=model, first_model=first_model, data=args.data
        )
    except (ValueError, OSError) as error:
        raise SystemExit(str(error)) from error
    for result, used in zip(results, (first_model or model, model), strict=True):
        print(f"\n== {result.name} ({used.origin}: {used.images.training.label}) ==\n{metrics_table(result)}")
    print(f"\noutputs under {args.output_dir}/")


if __name__ == "__main__":
    main()
