"""Rows per second and peak memory of the drift check and of preprocess at 10^5, 10^6 and 10^7 rows.

Data is generated once per size class (the breast cancer example's shape: 30 numeric features,
a binary label) and the largest sizes are made of links to one file, so the disk holds 10^6 rows
whatever the size. Each run is a fresh child process, so its peak resident memory (ru_maxrss) is
its own; CPU time (user + system) is printed beside wall time: on a shared machine the rows per
CPU second are the steadier figure. Nothing reaches AWS.

Usage: python -m bench.volume [--sizes 100000 1000000 10000000] [--steps drift preprocess] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

import config
from pipeline_steps.scripts import baseline

ROOT = Path(__file__).resolve().parent.parent
MODEL = config.load_model("models/xgboost")
FEATURES = list(MODEL.data.feature_names)
END = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FILE_ROWS = 1_000_000  # rows per generated file; larger sizes link to it


def generated(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.lognormal(2.0, 0.6, (rows, len(FEATURES))).round(5), columns=FEATURES)
    table.insert(0, MODEL.data.label, np.where(rng.random(rows) < 0.37, *MODEL.data.classes))
    return table


def capture_file(path: Path, rows: int) -> None:
    """`rows` captured requests in SageMaker's layout, written in blocks."""
    stamp = (END - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
    tail = (
        '","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",'
        f'"data":"0.5","encoding":"CSV"}}}},"eventMetadata":{{"eventId":"e","inferenceTime":"{stamp}"}},"eventVersion":"0"}}'
    )
    with path.open("w") as handle:
        for first in range(0, rows, 100_000):
            block = generated(min(100_000, rows - first), first).iloc[:, 1:]
            lines = block.to_csv(header=False, index=False).splitlines()
            handle.write("".join(f"{head}{line}{tail}\n" for line in lines))


def linked(folder: Path, source: Path, rows: int, suffix: str) -> None:
    """`rows` rows as links to `source` (FILE_ROWS each), or `source` itself when smaller."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(max(1, rows // FILE_ROWS)):
        os.link(source, folder / f"part-{index:03d}{suffix}")


def measure(command: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak resident MB) of one child process, as GNU time reports them (a child forked
    from this process would inherit its peak: Linux keeps ru_maxrss across fork)."""
    result = subprocess.run(  # noqa: S603 - this interpreter running a step script of this checkout
        ["/usr/bin/time", "-f", "%e %U %S %M", *command], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr[-2000:]}")
    wall, user, system, peak_kb = result.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(peak_kb) / 1024


def report(step: str, rows: int, wall: float, cpu: float, peak: float, *, fixed: float = 0.0) -> None:
    """One run's figures; `fixed` is the CPU time of the same run on no rows (starting Python, imports)."""
    print(
        f"{step:<11}{rows:>12,} rows  wall {wall:8.1f} s  CPU {cpu:8.1f} s  {rows / cpu:>9,.0f} rows/CPU s "
        f"({rows / max(cpu - fixed, 1e-9):>9,.0f} past the {fixed:.1f} s start)  peak {peak:6.0f} MB",
        flush=True,
    )


def drift(work: Path, sizes: list[int]) -> None:
    statistics = work / "statistics.json"
    document = MODEL.data.as_document(MODEL.task_type.value)
    statistics.write_text(json.dumps(baseline.statistics(generated(20_000, 99).iloc[:, 1:], document["features"])))

    def command(rows: int) -> list[str]:
        return [
            sys.executable,
            "pipeline_steps/scripts/drift_check.py",
            "--endpoint-name=bench",
            f"--capture={work / f'drift-{rows}'}",
            f"--baseline-statistics={statistics}",
            f"--end-time={END.isoformat()}",
            "--max-rejected-fraction=0",
            "--no-publish",
            f"--output-dir={work / f'drift-{rows}-report'}",
        ]

    (work / "drift-0").mkdir()
    _, fixed, _ = measure(command(0))
    sources = {}
    for rows in sizes:
        size = min(rows, FILE_ROWS)
        if size not in sources:
            sources[size] = work / f"capture-{size}.jsonl"
            capture_file(sources[size], size)
        folder = work / f"drift-{rows}" / f"{END - timedelta(hours=1):%Y/%m/%d/%H}"
        linked(folder, sources[size], rows, ".jsonl")
        report("drift", rows, *measure(command(rows)), fixed=fixed)
        accepted = json.loads((work / f"drift-{rows}-report" / "drift-report.json").read_text())["captured_records"]
        assert accepted == rows, f"{accepted} rows checked of {rows}"


def preprocess(work: Path, sizes: list[int], chunk_rows: int) -> None:
    contract = work / "contract.json"
    contract.write_text(json.dumps(MODEL.data.as_document(MODEL.task_type.value)))
    sources = {}
    for rows in sizes:
        size = min(rows, FILE_ROWS)
        if size not in sources:
            sources[size] = work / f"raw-{size}.csv"
            for first in range(0, size, 100_000):
                block = generated(min(100_000, size - first), first)
                block.to_csv(sources[size], mode="a", header=first == 0, index=False)
        linked(work / f"raw-{rows}", sources[size], rows, ".csv")
        command = [
            sys.executable,
            "pipeline_steps/scripts/preprocess.py",
            f"--contract={contract}",
            f"--input-dir={work / f'raw-{rows}'}",
            f"--output-dir={work / f'splits-{rows}'}",
            f"--chunk-rows={chunk_rows}",
        ]
        report("preprocess", rows, *measure(command))
        shutil.rmtree(work / f"splits-{rows}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--steps", nargs="+", default=["drift", "preprocess"], choices=["drift", "preprocess"])
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="preprocess's --chunk-rows")
    parser.add_argument(
        "--keep", type=Path, default=None, help="a folder for the generated data (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    if any(rows > FILE_ROWS and rows % FILE_ROWS for rows in args.sizes):
        parser.error(f"sizes above {FILE_ROWS:,} must be multiples of it")
    print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M}Z, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        if "drift" in args.steps:
            drift(work, sorted(args.sizes))
        if "preprocess" in args.steps:
            preprocess(work, sorted(args.sizes), args.chunk_rows)
    print(f"this process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (generation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
