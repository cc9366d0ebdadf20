"""Bundled sample data: scikit-learn's breast-cancer set, and drifted "weekly" batches of it.

The data ships inside scikit-learn (nothing is downloaded). `write_initial` writes the raw CSV
the pipeline expects (header, 30 features, `target`); `weekly_batch` resamples it and shifts
the features by `drift` standard deviations, so retraining, the champion comparison and the
drift check can be exercised offline. Runs locally only (the pipeline reads real data from S3).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_steps.preprocess import FEATURES, LABEL


def initial_data() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    names = [name.replace(" ", "_") for name in bunch.feature_names]
    if tuple(names) != FEATURES:
        raise RuntimeError("scikit-learn's breast-cancer columns no longer match the pipeline's schema.")
    table = pd.DataFrame(bunch.data, columns=names)
    table[LABEL] = bunch.target.astype(int)
    return table


def weekly_batch(base: pd.DataFrame, *, week: int, drift: float, rows: int | None = None) -> pd.DataFrame:
    """A resample of `base` with every feature shifted by `drift` x its standard deviation.

    `drift` 0 gives data like the original; around 0.5 and above the drift check notices and
    a model trained on the original starts to lose accuracy. Deterministic per `week`.
    """
    if drift < 0:
        raise ValueError(f"drift must be >= 0 (standard deviations), got {drift}")
    rng = np.random.default_rng(1000 + week)
    size = rows or len(base)
    sample = base.sample(n=size, replace=size > len(base), random_state=int(rng.integers(0, 2**31 - 1)))
    batch = sample.reset_index(drop=True).copy()
    features = list(FEATURES)
    spread = base[features].std().to_numpy()
    # Shift plus a little noise; features that are counts or sizes stay non-negative.
    noise = rng.normal(0.0, 0.05, size=(len(batch), len(features))) * spread
    batch[features] = np.clip(batch[features].to_numpy() + drift * spread + noise, 0.0, None)
    return batch


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table[[*FEATURES, LABEL]].to_csv(path, index=False)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--week", type=int, default=0, help="0 = the original data set; N > 0 = weekly batch N")
    parser.add_argument("--drift", type=float, default=0.0, help="feature shift in standard deviations")
    args = parser.parse_args(argv)
    base = initial_data()
    table = base if args.week == 0 else weekly_batch(base, week=args.week, drift=args.drift)
    print(write_csv(table, args.output))


if __name__ == "__main__":
    main()
