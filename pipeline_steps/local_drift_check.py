"""Runs the drift check locally: bundled sample data vs an undrifted and a drifted batch.

The baseline is built from one half of scikit-learn's breast-cancer set in the
statistics.json format the model-build pipeline registers; the other half is written as
SageMaker data-capture JSON Lines twice: as is, and with a few features shifted. The
check must report no drift for the first batch and drift for the second; otherwise the
command exits non-zero. Nothing reaches AWS (`--no-publish`).

Usage: python -m pipeline_steps.local_drift_check [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline_steps import drift_check

BUCKETS = 10
# Features moved in the drifted batch, and by how many baseline standard deviations.
SHIFTED_FEATURES = ("mean_radius", "mean_texture", "worst_area")
SHIFT_STD = 1.5
WINDOW_END = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def load_sample() -> tuple[list[str], list[list[float]]]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = [str(n).replace(" ", "_") for n in data.feature_names]
    return names, [[float(v) for v in row] for row in data.data]


def statistics_json(names: Sequence[str], rows: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Model Monitor-format statistics with ten equal-width KLL buckets per feature."""
    features = []
    for index, name in enumerate(names):
        column = [row[index] for row in rows]
        low, high = min(column), max(column)
        width = (high - low) / BUCKETS or 1.0
        counts = [0] * BUCKETS
        for value in column:
            counts[min(int((value - low) / width), BUCKETS - 1)] += 1
        mean = sum(column) / len(column)
        std = math.sqrt(sum((v - mean) ** 2 for v in column) / len(column))
        features.append(
            {
                "name": name,
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "common": {"num_present": len(column), "num_missing": 0},
                    "mean": mean,
                    "sum": sum(column),
                    "std_dev": std,
                    "min": low,
                    "max": high,
                    "distribution": {
                        "kll": {
                            "buckets": [
                                {"lower_bound": low + i * width, "upper_bound": low + (i + 1) * width, "count": c}
                                for i, c in enumerate(counts)
                            ]
                        }
                    },
                },
            }
        )
    return {"version": 0.0, "dataset": {"item_count": len(rows)}, "features": features}


def capture_lines(rows: Sequence[Sequence[float]], end: datetime) -> list[str]:
    """One captured request per row, spread over the hour before `end`."""
    lines = []
    for i, row in enumerate(rows):
        at = end - timedelta(seconds=3500 - (i * 3400) // max(len(rows), 1))
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": ",".join(f"{v:.6g}" for v in row),
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
        lines.append(json.dumps(record))
    return lines


def shifted(names: Sequence[str], rows: Sequence[Sequence[float]], stats: dict[str, Any]) -> list[list[float]]:
    std = {f["name"]: f["numerical_statistics"]["std_dev"] for f in stats["features"]}
    moved = [names.index(n) for n in SHIFTED_FEATURES]
    return [[v + SHIFT_STD * std[names[i]] if i in moved else v for i, v in enumerate(row)] for row in rows]


def run(output_dir: Path) -> dict[str, drift_check.DriftReport]:
    names, rows = load_sample()
    baseline_rows, live_rows = rows[0::2], rows[1::2]
    stats = statistics_json(names, baseline_rows)
    baseline = output_dir / "baseline" / "statistics.json"
    baseline.parent.mkdir(parents=True, exist_ok=True)
    baseline.write_text(json.dumps(stats))

    reports = {}
    for batch, batch_rows in (("undrifted", live_rows), ("drifted", shifted(names, live_rows, stats))):
        capture = output_dir / batch / "capture" / "local" / "AllTraffic" / f"{WINDOW_END:%Y/%m/%d/%H}"
        capture.mkdir(parents=True, exist_ok=True)
        (capture / "capture.jsonl").write_text("\n".join(capture_lines(batch_rows, WINDOW_END)) + "\n")
        reports[batch] = drift_check.main(
            [
                "--endpoint-name=local",
                f"--capture={output_dir / batch / 'capture'}",
                f"--baseline-statistics={baseline}",
                f"--end-time={WINDOW_END.isoformat()}",
                f"--output-dir={output_dir / batch / 'report'}",
                # The sample capture is written from clean data: any rejected row is a bug.
                "--max-rejected-fraction=0",
                "--no-publish",
            ]
        )
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=Path(".local-run/drift-check"))
    args = parser.parse_args(argv)
    reports = run(args.output_dir)
    for batch, report in reports.items():
        print(
            f"{batch:10s} status={report.status:5s} max_psi={report.max_psi:.3f} "
            f"drifted={','.join(report.drifted_features) or '-'}  report: {args.output_dir / batch / 'report'}"
        )
    if reports["undrifted"].status != "ok" or reports["drifted"].status != "drift":
        print("unexpected result: the undrifted batch must show no drift and the drifted batch must", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
