"""Runs the drift check locally: a model's data vs an undrifted and a drifted batch of it.

The data is the bundled sample whose columns are the model's data contract (or --data, a CSV
written as the contract says). Its baseline is made by the pipeline's own baseline step code,
in the statistics.json format the model-build pipeline registers; a resample of the data is
written as SageMaker data-capture JSON Lines twice: as is, and with every other feature of each
kind shifted (the 1st, 3rd, ... numeric and the 1st, 3rd, ... categorical feature; numbers by
1.5 standard deviations, categories by moving 75 % of the rows to the rarest one). The check
must report no drift for the first batch and, for the second, drift in exactly the shifted
features (a shifted categorical flagged, an unshifted one not); otherwise the command exits
non-zero. Nothing reaches AWS (`--no-publish`).

Usage: python -m pipeline_steps.local_drift_check [--model models/diabetes] [--data my.csv] [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from config import DataContract, FeatureKind, ModelConfig
from pipeline_steps import sample_data
from pipeline_steps.scripts import baseline, drift_check

SHIFT_STD = 1.5
WINDOW_END = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def shifted_features(contract: DataContract) -> list[str]:
    """Every other feature of each kind, starting with the first."""
    numeric = [f.name for f in contract.features if f.kind is not FeatureKind.CATEGORICAL]
    categorical = [f.name for f in contract.features if f.kind is FeatureKind.CATEGORICAL]
    return numeric[0::2] + categorical[0::2]


def statistics_table(table: pd.DataFrame, model: ModelConfig) -> pd.DataFrame:
    """`table`'s features as the training split holds them: numbers as floats, categories as text."""
    features = table[list(model.data.feature_names)].copy()
    for feature in model.data.features:
        if feature.kind is FeatureKind.CATEGORICAL:
            features[feature.name] = features[feature.name].astype(str).where(features[feature.name].notna())
        else:
            features[feature.name] = features[feature.name].astype(float)
    return features


def statistics_json(table: pd.DataFrame, model: ModelConfig) -> dict[str, Any]:
    """The baseline step's statistics of `table` (its features as the training split would hold them)."""
    document = model.data.as_document(model.task_type.value)
    return baseline.statistics(statistics_table(table, model), document["features"])


def capture_lines(table: pd.DataFrame, names: Sequence[str], end: datetime) -> list[str]:
    """One captured request per row (the features as the endpoint receives them), over the hour before `end`."""
    lines = []
    for i, row in enumerate(table[list(names)].itertuples(index=False)):
        cells = io.StringIO()
        csv.writer(cells, lineterminator="").writerow("" if pd.isna(v) else v for v in row)
        at = end - timedelta(seconds=3500 - (i * 3400) // max(len(table), 1))
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": cells.getvalue(),
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv; charset=utf-8",
                    "mode": "OUTPUT",
                    "data": "0.5",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": f"local-{i}", "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
        lines.append(json.dumps(record, separators=(",", ":")))  # compact, as SageMaker writes it
    return lines


def run(output_dir: Path, model: ModelConfig, data: Path | None = None) -> dict[str, drift_check.DriftReport]:
    contract = model.data
    base = sample_data.read_csv(data, contract) if data else sample_data.sample_for(contract)
    baseline_file = output_dir / "baseline" / "statistics.json"
    baseline_file.parent.mkdir(parents=True, exist_ok=True)
    baseline_file.write_text(json.dumps(statistics_json(base, model)))
    undrifted = sample_data.weekly_batch(base, contract, week=1, drift=0.0)
    rng = np.random.default_rng(7)
    drifted = sample_data.shifted(undrifted, base, contract, shifted_features(contract), SHIFT_STD, rng)

    reports = {}
    for batch, table in (("undrifted", undrifted), ("drifted", drifted)):
        capture = output_dir / batch / "capture" / "local" / "AllTraffic" / f"{WINDOW_END:%Y/%m/%d/%H}"
        capture.mkdir(parents=True, exist_ok=True)
        lines = capture_lines(table, contract.feature_names, WINDOW_END)
        (capture / "capture.jsonl").write_text("\n".join(lines) + "\n")
        report = drift_check.main(
            [
                "--endpoint-name=local",
                f"--capture={output_dir / batch / 'capture'}",
                f"--baseline-statistics={baseline_file}",
                f"--end-time={WINDOW_END.isoformat()}",
                f"--output-dir={output_dir / batch / 'report'}",
                # The sample capture is written from clean data: any rejected row is a bug.
                "--max-rejected-fraction=0",
                "--no-publish",
            ]
        )
        if report is None:
            raise ValueError("the drift check wrote counts only; a local run needs its report")
        reports[batch] = report
    return reports


def feature_table(report: drift_check.DriftReport, shifted: Sequence[str]) -> str:
    lines = [f"  {'feature':<30}{'kind':<13}{'shifted':<9}{'psi':>8}  drifted"]
    for feature in report.features:
        psi = "-" if feature.psi is None else f"{feature.psi:.3f}"
        mark = "yes" if feature.feature in shifted else "no"
        lines.append(
            f"  {feature.feature:<30}{feature.kind:<13}{mark:<9}{psi:>8}  {'DRIFT' if feature.drifted else 'ok'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import config

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="", help="a model directory such as models/diabetes (default: cdk.json's)")
    parser.add_argument("--data", type=Path, default=None, help="a raw CSV of your own, as the model's contract says")
    parser.add_argument("--output-dir", type=Path, default=Path(".local-run/drift-check"))
    args = parser.parse_args(argv)
    try:
        model = config.load_model(args.model) if args.model else config.load_cdk_json().model_build.model
        reports = run(args.output_dir, model, args.data)
    except (config.ConfigError, ValueError, OSError) as error:
        raise SystemExit(str(error)) from error
    shifted = shifted_features(model.data)
    for batch, report in reports.items():
        max_psi = "-" if report.max_psi is None else f"{report.max_psi:.3f}"
        print(
            f"{batch:10s} status={report.status:5s} max_psi={max_psi} "
            f"drifted={','.join(report.drifted_features) or '-'}  report: {args.output_dir / batch / 'report'}"
        )
    print(f"drifted batch, by feature ({model.origin}):\n{feature_table(reports['drifted'], shifted)}")
    if reports["undrifted"].status != "ok" or sorted(reports["drifted"].drifted_features) != sorted(shifted):
        print(
            "unexpected result: the undrifted batch must show no drift and the drifted batch drift in exactly "
            "the shifted features",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
