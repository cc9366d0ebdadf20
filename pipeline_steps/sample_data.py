"""Bundled sample data, and drifted "weekly" batches of any data set that follows a data contract.

The one module that knows the examples' data sets, all three shipped inside scikit-learn
(nothing is downloaded); their contracts are models/data/*.json:

| data set | task | label | features |
|---|---|---|---|
| breast_cancer | binary classification | `diagnosis`: malignant, benign | 30 numeric |
| wine | multiclass classification | `cultivar`: class_0, class_1, class_2 | 13 numeric and integer; `;`-delimited |
| diabetes | regression | `progression` | age (integer), sex (categorical 1/2), bmi ... s6, and `bmi_band` |

`bmi_band` is derived, deterministically, from `bmi` with the WHO adult bands (below 18.5
underweight, below 25 normal, below 30 overweight, else obese); `patient_id` (the row number) is
a column the diabetes contract ignores. A model's sample is the data set whose columns are its
contract's. `weekly_batch` resamples any table and shifts it by the contract: each numeric
feature by `drift` standard deviations, each categorical feature by moving `drift / 2` of its
rows (at most 90 %) to its least frequent category, so retraining, the champion comparison and
the drift check can be exercised offline. Runs locally only (the pipeline reads real data from S3).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from config import DataContract, FeatureKind, load_model


def _names(raw: Sequence[str]) -> list[str]:
    return [str(name).replace(" ", "_").replace("/", "_") for name in raw]


def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    table = pd.DataFrame(bunch.data, columns=_names(bunch.feature_names))
    table["diagnosis"] = bunch.target_names[bunch.target]
    return table


def wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    bunch = load_wine()
    table = pd.DataFrame(bunch.data, columns=_names(bunch.feature_names))
    table[["magnesium", "proline"]] = table[["magnesium", "proline"]].astype(int)
    table["cultivar"] = bunch.target_names[bunch.target]
    return table


def bmi_band(bmi: pd.Series) -> pd.Series:
    """WHO adult body-mass-index bands."""
    bands = np.select([bmi < 18.5, bmi < 25, bmi < 30], ["underweight", "normal", "overweight"], "obese")
    return pd.Series(bands, index=bmi.index)


def diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    table = pd.DataFrame(bunch.data, columns=_names(bunch.feature_names))
    table.insert(0, "patient_id", np.arange(1, len(table) + 1))
    table["age"] = table["age"].astype(int)
    table["sex"] = table["sex"].astype(int).astype(str)
    table["bmi_band"] = bmi_band(table["bmi"])
    table["progression"] = bunch.target
    return table


SAMPLES: dict[str, Callable[[], pd.DataFrame]] = {"breast_cancer": breast_cancer, "wine": wine, "diabetes": diabetes}


def contract_columns(contract: DataContract) -> list[str]:
    """The raw files' columns: the stated order without a header, else label, features, ignored ones."""
    return list(contract.csv.columns) or [contract.label, *contract.feature_names, *contract.ignore]


def sample_for(contract: DataContract) -> pd.DataFrame:
    """The bundled data set whose columns are the contract's; a team's own contract has none (give a CSV)."""
    for load in SAMPLES.values():
        table = load()
        if set(table.columns) == set(contract_columns(contract)):
            return table[contract_columns(contract)]
    raise ValueError(
        f"No bundled sample has the columns of this data contract (label {contract.label!r}): "
        "give your own CSV (make local-pipeline DATA=<file.csv>)."
    )


def read_csv(path: Path, contract: DataContract) -> pd.DataFrame:
    """A raw CSV written the contract's way, with numeric and integer features as numbers."""
    header = 0 if contract.csv.header else None
    table = pd.read_csv(path, sep=contract.csv.delimiter, header=header, dtype=str, keep_default_na=False)
    if not contract.csv.header:
        table.columns = list(contract.csv.columns)
    for feature in contract.features:
        if feature.kind is not FeatureKind.CATEGORICAL and feature.name in table:
            table[feature.name] = pd.to_numeric(table[feature.name].str.strip().replace("", np.nan))
    return table


def _shift_categories(column: pd.Series, fraction: float, rng: np.random.Generator) -> pd.Series:
    counts = column[column != ""].value_counts()
    if counts.empty:
        return column
    rarest = counts.sort_values(kind="stable").index[0]
    moved = rng.random(len(column)) < fraction
    return column.where(~moved, rarest)


def weekly_batch(
    base: pd.DataFrame, contract: DataContract, *, week: int, drift: float, rows: int | None = None
) -> pd.DataFrame:
    """A resample of `base` with every feature shifted as the module says; deterministic per `week`.

    `drift` 0 gives data like the original; around 0.5 and above the drift check notices and
    a model trained on the original starts to lose accuracy.
    """
    if drift < 0:
        raise ValueError(f"drift must be >= 0 (standard deviations), got {drift}")
    rng = np.random.default_rng(1000 + week)
    size = rows or len(base)
    sample = base.sample(n=size, replace=size > len(base), random_state=int(rng.integers(0, 2**31 - 1)))
    return shifted(sample.reset_index(drop=True), base, contract, contract.feature_names, drift, rng)


# Keyword-only once its caller, local_drift_check.py, is rewritten with the drift check (issue 24, part two).
def shifted(  # noqa: PLR0917
    table: pd.DataFrame,
    base: pd.DataFrame,
    contract: DataContract,
    names: Sequence[str],
    drift: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """`table` with the features `names` shifted by `drift` (spreads and categories taken from `base`)."""
    batch = table.copy()
    for feature in (f for f in contract.features if f.name in names):
        column = batch[feature.name]
        if feature.kind is FeatureKind.CATEGORICAL:
            batch[feature.name] = _shift_categories(column.astype(str), min(drift / 2, 0.9), rng)
            continue
        spread = float(base[feature.name].std()) or 1.0
        # Shift plus a little noise; a feature that was never negative stays so.
        moved = column.to_numpy(dtype=float) + drift * spread + rng.normal(0.0, 0.05, len(batch)) * spread
        if base[feature.name].min() >= 0:
            moved = np.clip(moved, 0.0, None)
        batch[feature.name] = pd.Series(moved).round().astype("Int64") if feature.kind is FeatureKind.INTEGER else moved
    return batch


def write_csv(table: pd.DataFrame, path: Path, contract: DataContract) -> Path:
    """The table as a raw CSV written the contract's way (its delimiter, header or column order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table[contract_columns(contract)].to_csv(path, index=False, sep=contract.csv.delimiter, header=contract.csv.header)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="models/xgboost", help="the model whose data contract picks the sample")
    parser.add_argument("--output", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--week", type=int, default=0, help="0 = the original data set; N > 0 = weekly batch N")
    parser.add_argument("--drift", type=float, default=0.0, help="shift in standard deviations")
    args = parser.parse_args(argv)
    contract = load_model(args.model).data
    base = sample_for(contract)
    table = base if args.week == 0 else weekly_batch(base, contract, week=args.week, drift=args.drift)
    print(write_csv(table, args.output, contract))


if __name__ == "__main__":
    main()
