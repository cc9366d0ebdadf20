"""The drift check's decision at its minimum window: false alarms on undrifted windows and the
detection of a one-standard-deviation shift, on the examples' sample data and on generated data.

Each trial draws a baseline and a window independently from one population (the sample data
set itself, resampled with replacement, or a generator), summarises the baseline with the
pipeline's baseline step, writes the window as SageMaker data-capture lines and runs the drift
check on them, as the pipeline does. Undrifted: the window as drawn. Shifted: one numeric
feature of the window (a random one, or the one that sets the minimum) moved by one standard
deviation of the baseline. A window is flagged when any feature drifts. Printed per data set:
the minimum window, the share of undrifted windows flagged (target: at most 1 %), the share of
shifted windows flagged (target: at least 95 %), each with its exact 95 % confidence interval, and what
smaller windows get.

Usage: python -m bench.drift_decision [--trials 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import config
from pipeline_steps import local_drift_check, sample_data
from pipeline_steps.scripts import baseline, drift_check

END = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=1)


def run_check(statistics: dict[str, Any], window: pd.DataFrame) -> drift_check.DriftReport:
    return drift_check.check_drift(
        statistics=statistics,
        capture_blocks=["\n".join(local_drift_check.capture_lines(window, list(window.columns), END))],
        endpoint_name="bench",
        baseline_uri="bench",
        start=START,
        end=END,
        rule=drift_check.DecisionRule(),
        max_rejected_fraction=0.0,
    )


def generated(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """30 features of the shapes teams send: normal, skewed, heavy-tailed, bounded, counts, bimodal, categories
    (one with a category so rare, 0.5 %, that a baseline may miss it)."""
    columns: dict[str, Any] = {}
    for i in range(5):
        columns[f"normal_{i}"] = rng.normal(50, 10, rows)
        columns[f"lognormal_{i}"] = rng.lognormal(3, 0.8 if i < 4 else 1.5, rows)
        columns[f"exponential_{i}"] = rng.exponential(2.0, rows) if i < 4 else rng.standard_t(1.5, rows)
        columns[f"uniform_{i}"] = rng.uniform(0, 1, rows)
        columns[f"bimodal_{i}"] = np.where(rng.random(rows) < 0.3, rng.normal(0, 1, rows), rng.normal(6, 1, rows))
    for i in range(2):
        columns[f"count_{i}"] = rng.poisson(4, rows)
    for i in range(2):
        columns[f"category_{i}"] = rng.choice(["a", "b", "c", "d"], rows, p=[0.5, 0.3, 0.15, 0.05])
    columns["category_rare"] = rng.choice(["a", "b", "c", "d", "e"], rows, p=[0.6, 0.3, 0.08, 0.015, 0.005])
    return pd.DataFrame(columns)


def interval(flags: list[bool]) -> str:
    """The rate's exact (Clopper-Pearson) 95 % confidence interval: a few hundred windows measure 1 % to about
    +-0.5 %, so a rate is shown as under a bound only when the interval's upper end is."""
    hits, trials = int(sum(flags)), len(flags)
    low = stats.beta.ppf(0.025, hits, trials - hits + 1) if hits else 0.0
    high = stats.beta.ppf(0.975, hits + 1, trials - hits) if hits < trials else 1.0
    return f"[{low:.1%}, {high:.1%}]"


def trial_rates(
    name: str,
    draw: Callable[[np.random.Generator, int], pd.DataFrame],
    features: list[dict[str, Any]],
    trials: int,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    numeric = [f["name"] for f in features if f["kind"] != "categorical"]
    results: dict[str, list[bool]] = {"undrifted": [], "shift random": [], "shift setter": []}
    small: dict[int, list[str]] = {30: [], 100: []}
    minimums = []
    for _ in range(trials):
        base = draw(rng, BASELINE_ROWS)
        statistics = baseline.statistics(base, features)
        baselines = drift_check.parse_baseline(statistics)
        minimum, setter, _ = drift_check.window_minimum(baselines, drift_check.DecisionRule())
        minimums.append(minimum)
        window = draw(rng, minimum)
        results["undrifted"].append(run_check(statistics, window).status == drift_check.STATUS_DRIFT)
        hardest = setter if setter in numeric else str(rng.choice(numeric))
        for label, feature in (("shift random", str(rng.choice(numeric))), ("shift setter", hardest)):
            moved = window.copy()
            moved[feature] = moved[feature] + float(base[feature].std())
            results[label].append(run_check(statistics, moved).status == drift_check.STATUS_DRIFT)
        for rows in small:
            small[rows].append(run_check(statistics, draw(rng, rows)).status)
    rates = "  ".join(f"{label} {np.mean(flags):6.1%} {interval(flags)}" for label, flags in results.items())
    print(f"{name:<22} minimum window {int(np.median(minimums)):>5} rows (median)  flagged: {rates}")
    for rows, statuses in small.items():
        counts = pd.Series(statuses).value_counts().to_dict()
        print(f"{'':<22} undrifted windows of {rows} rows: {counts}")


BASELINE_ROWS = 398  # the training split of the breast cancer sample (70 % of 569 rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"{args.trials} trials per data set, baseline {BASELINE_ROWS} rows, rule {drift_check.DecisionRule()}")
    for model_dir in ("models/xgboost", "models/wine", "models/diabetes"):
        model = config.load_model(model_dir)
        population = sample_data.sample_for(model.data)
        table = local_drift_check.statistics_table(population, model)
        features = model.data.as_document(model.task_type.value)["features"]

        def resample(rng: np.random.Generator, rows: int, table: pd.DataFrame = table) -> pd.DataFrame:
            return table.sample(n=rows, replace=True, random_state=int(rng.integers(2**31))).reset_index(drop=True)

        trial_rates(f"{model_dir.split('/')[1]} sample", resample, features, args.trials, args.seed)
    kinds = generated(np.random.default_rng(0), 1)
    features = [
        {
            "name": c,
            "kind": "categorical" if c.startswith("category") else "integer" if c.startswith("count") else "numeric",
        }
        for c in kinds.columns
    ]
    trial_rates("generated (30)", generated, features, args.trials, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
