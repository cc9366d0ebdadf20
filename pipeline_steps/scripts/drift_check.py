"""Drift check: captured endpoint inputs of the last window vs the live version's baseline.

Runs as the processing steps of the drift-check pipeline and, unchanged, locally
(`make local-drift-check`). A thin `main()` over pure functions:

1. read SageMaker data-capture JSON Lines for the window (S3 or a local folder) as a stream of
   blocks, parsed in vectorized chunks: memory depends on the block size, never on the window's,
2. check each captured row against the baseline's schema (one value per feature, CSV, in the
   data contract's order; a finite number for a numeric feature, any text for a categorical one):
   rows that do not fit are rejected and counted by reason; empty cells (and NaN numbers) are
   missing values, never drift; an infinite number is a data error (rejected), never drift,
3. count each feature's present values into the buckets of statistics.json (the file
   registered with the live model version): a numeric feature into its histogram buckets (a
   feature that was constant there gets the buckets below, at and above its value), a
   categorical feature by category, with every category the baseline never saw counted in
   one more bucket. Counts, not values, are kept, so the counts of two parts of a window add
   up exactly: with `--counts-only` each processing instance writes the counts of its share of
   the window's capture objects, and `--merge-counts` adds them up and decides,
4. decide per feature (see `decide`): drift only when the change is both large (population
   stability index, PSI, above --threshold) and significant for the window's size (Pearson's
   chi-square test of homogeneity of the window's and the baseline's counts, at
   --false-alarm-rate divided by the number of features), and only on a window of at least the
   rows the test needs to see a --detectable-shift with --detection-power; a smaller window
   gets "insufficient data", never a drift verdict,
5. write a report JSON (the processing output uploads it to drift-reports/<env>/),
6. publish, on every run, `RowsRead`, `RowsAccepted`, `RowsRejected`, `RejectedRowFraction`
   and `UncheckedFeatures` (dimension EndpointName) - the drift monitor's health alarms watch
   them - and, with a verdict, `DriftedFeatures` (the drift alarm's metric), `PSI` per feature
   (dimensions EndpointName, Feature) and the maximum over all features as Feature="ALL".

A capture whose rows mostly do not match the baseline's schema (more rejected than
--max-rejected-fraction) is a failed check: status "failed" with the reason in the report, no
verdict (so it cannot start retraining), and a `RejectedRowFraction` the rejected-rows alarm sees.

Shipped to the job as this one file and run on the scikit-learn 1.2-1 image's Python 3.9
(pipeline_steps/images.py), so: the standard library and the image's boto3, numpy, pyarrow
and scipy only, no sibling imports, and nothing newer than Python 3.9
(tests/test_image_contracts.py checks all three).
"""

from __future__ import annotations

import argparse
import base64
import csv
import functools
import io
import json
import logging
import math
import re
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Union
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from scipy import stats

LOG = logging.getLogger("drift_check")

PSI_METRIC = "PSI"
ROWS_READ_METRIC = "RowsRead"
ROWS_ACCEPTED_METRIC = "RowsAccepted"
ROWS_REJECTED_METRIC = "RowsRejected"
REJECTED_FRACTION_METRIC = "RejectedRowFraction"
DRIFTED_FEATURES_METRIC = "DriftedFeatures"
UNCHECKED_FEATURES_METRIC = "UncheckedFeatures"
ENDPOINT_DIMENSION = "EndpointName"
FEATURE_DIMENSION = "Feature"
ALL_FEATURES = "ALL"

STATUS_OK = "ok"
STATUS_DRIFT = "drift"
STATUS_INSUFFICIENT_DATA = "insufficient-data"
STATUS_FAILED = "failed"

# Why a captured row was not checked (the report counts rows by reason).
MALFORMED_RECORD = "malformed-record"
NOT_CSV = "content-type-not-csv"
COLUMN_COUNT = "column-count"
NON_NUMERIC = "non-numeric"
NON_FINITE = "non-finite"

# PSI of an empty bucket would be infinite; this floor is the usual convention. An unseen
# category has an empty baseline bucket: its share of the window counts against the floor.
_EPSILON = 1e-4
_CONTAINER_OUTPUT = "/opt/ml/processing/output/report"
# Where SageMaker describes a processing job's instances (current_host, hosts).
_RESOURCE_CONFIG = Path("/opt/ml/config/resourceconfig.json")
COUNTS_FILE_PREFIX = "counts-"
# Capture is read in blocks of whole lines of about this size: the memory the check needs.
BLOCK_BYTES = 8 << 20
# Cochran's rule for the chi-square approximation (Cochran, "Some methods for strengthening the
# common chi-square tests", Biometrics 10, 1954): every cell expects at least 5. Buckets are
# pooled until the window expects that many rows in each; the benchmark checks the rates.
MIN_EXPECTED_ROWS = 5
# The smallest window the test can use at all: two pooled buckets of MIN_EXPECTED_ROWS.
MIN_WINDOW_ROWS = 2 * MIN_EXPECTED_ROWS
_MAX_WINDOW_ROWS = 10**9
# Each configured error rate is a bound the check keeps with room to spare: it designs for half the
# false alarms `false_alarm_rate` allows and half the misses `detection_power` allows. Bonferroni over
# nearly independent features spends almost all of its rate, the chi-square approximation at 5 expected
# rows and the power model's even spread of a bucket's share are approximations, and a benchmark of a
# few hundred windows reads a rate of 1 % to about +-0.5 %: at the full rates both would sit at the limit.
DESIGN_MARGIN = 2.0


class RowRejected(Exception):
    """A captured record or row that does not fit the baseline's schema; `reason` says how."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class FeatureBaseline:
    """A numeric feature: the baseline's histogram buckets."""

    name: str
    edges: tuple[float, ...]  # bucket boundaries, len(counts) + 1 values, ascending
    counts: tuple[float, ...]
    low: float  # the baseline's range: values outside it are counted as out of range
    high: float
    std: float = 0.0  # the baseline's standard deviation (the detectable shift's unit)

    @property
    def proportions(self) -> tuple[float, ...]:
        return _proportions(self.name, self.counts)

    @property
    def constant(self) -> bool:
        return self.low == self.high

    def parse(self, text: str) -> float | None:
        """A cell's number; None when missing (empty or NaN); an infinite number is a data error."""
        try:
            value = float(text)
        except ValueError:
            raise RowRejected(NON_NUMERIC, f"feature {self.name!r} has the non-numeric value {text[:40]!r}") from None
        if math.isinf(value):
            raise RowRejected(NON_FINITE, f"feature {self.name!r} has the infinite value {text[:40]!r}")
        return None if math.isnan(value) else value

    def empty_counts(self) -> FeatureCounts:
        return FeatureCounts(buckets=[0] * len(self.counts))

    def count(self, counts: FeatureCounts, values: np.ndarray) -> None:
        """Add present (finite) values to `counts`; values outside the range land in the edge buckets."""
        added = np.bincount(bucket_indices(values, self.edges), minlength=len(self.counts))
        counts.buckets = [a + int(b) for a, b in zip(counts.buckets, added)]
        counts.outside += int(np.count_nonzero((values < self.low) | (values > self.high)))

    def bucket_vectors(self, counts: FeatureCounts) -> tuple[np.ndarray, np.ndarray]:
        """(window, baseline) counts over the buckets."""
        return np.asarray(counts.buckets, dtype=float), np.asarray(self.counts, dtype=float)


@dataclass(frozen=True)
class CategoricalBaseline:
    """A categorical feature: how often the baseline saw each category (string_statistics)."""

    name: str
    categories: tuple[str, ...]
    counts: tuple[float, ...]

    @property
    def proportions(self) -> tuple[float, ...]:
        return _proportions(self.name, self.counts)

    def parse(self, text: str) -> str | None:
        return text

    def empty_counts(self) -> FeatureCounts:
        return FeatureCounts(buckets=[0] * len(self.counts))

    def count(self, counts: FeatureCounts, values: Sequence[str]) -> None:
        added = Counter(values)
        counts.categories.update(added)
        known = set(self.categories)
        counts.outside += sum(n for value, n in added.items() if value not in known)

    def bucket_vectors(self, counts: FeatureCounts) -> tuple[np.ndarray, np.ndarray]:
        """(window, baseline) counts over the categories and a last bucket for those the baseline never saw."""
        window = [counts.categories.get(c, 0) for c in self.categories] + [counts.outside]
        return np.asarray(window, dtype=float), np.asarray((*self.counts, 0.0))


Baseline = Union[FeatureBaseline, CategoricalBaseline]


@dataclass
class FeatureCounts:
    """What a window held of one feature, as counts that two windows' add up: histogram buckets
    (numeric) or categories (categorical), values outside the baseline's range or categories,
    and missing values."""

    buckets: list[int]
    categories: Counter[str] = field(default_factory=Counter)
    outside: int = 0
    missing: int = 0

    @property
    def present(self) -> int:
        return sum(self.buckets) + sum(self.categories.values())

    def add(self, other: FeatureCounts) -> None:
        if len(other.buckets) != len(self.buckets):
            raise ValueError(f"counts of {len(other.buckets)} buckets cannot be added to counts of {len(self.buckets)}")
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets)]
        self.categories.update(other.categories)
        self.outside += other.outside
        self.missing += other.missing


@dataclass(frozen=True)
class DecisionRule:
    """When a feature counts as drifted (see `decide`)."""

    threshold: float = 0.2  # the PSI a change must exceed: the smallest change worth retraining for
    false_alarm_rate: float = 0.01  # share of undrifted windows flagged (any feature)
    detection_power: float = 0.95  # share of windows in which a shift of `detectable_shift` is flagged
    detectable_shift: float = 1.0  # in standard deviations of a numeric feature

    def alpha(self, features: int) -> float:
        """The per-feature significance level: Bonferroni over the features checked, at the design rate."""
        return self.false_alarm_rate / DESIGN_MARGIN / max(features, 1)

    @property
    def design_power(self) -> float:
        """The power the minimum window is sized for: half the misses `detection_power` allows."""
        return 1.0 - (1.0 - self.detection_power) / DESIGN_MARGIN


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float | None  # None when the window had no present value of the feature
    drifted: bool
    captured_count: int  # present (non-missing) values
    out_of_range_count: int  # numeric: outside the baseline's range; categorical: categories it never saw
    missing_count: int = 0
    kind: str = "numeric"
    # Categorical only: the largest difference between a category's share in the window and in
    # the baseline (Model Monitor's LInfinity categorical_drift_method), reported beside the PSI.
    l_infinity: float | None = None
    # The test: Pearson's chi-square of homogeneity over the pooled buckets, its p-value, and
    # whether the feature had the present values it needs (min_rows; None: no shift to size it by).
    chi_square: float | None = None
    degrees_of_freedom: int = 0
    p_value: float | None = None
    min_rows: int | None = None
    checked: bool = False


@dataclass
class DriftReport:
    endpoint_name: str
    window_start: str
    window_end: str
    baseline_uri: str
    threshold: float
    captured_records: int  # rows accepted and checked
    rejected_records: int
    status: str  # STATUS_OK | STATUS_DRIFT | STATUS_INSUFFICIENT_DATA | STATUS_FAILED
    max_psi: float | None
    drifted_features: list[str] = field(default_factory=list)
    features: list[FeatureDrift] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    min_rows: int = 0  # the window the decision needs (see `window_minimum`)
    unchecked_features: list[str] = field(default_factory=list)
    decision: dict[str, float] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return self.captured_records + self.rejected_records

    @property
    def rejected_fraction(self) -> float:
        return self.rejected_records / self.rows_read if self.rows_read else 0.0

    def to_json(self) -> str:
        document = asdict(self)
        document["rows_read"] = self.rows_read
        document["rejected_fraction"] = round(self.rejected_fraction, 6)
        return json.dumps(document, indent=2, sort_keys=True)


def _proportions(name: str, counts: Sequence[float]) -> tuple[float, ...]:
    total = sum(counts)
    if total <= 0:
        raise ValueError(f"baseline feature {name!r} has no counts in its buckets")
    return tuple(c / total for c in counts)


def _single_bucket_baseline(name: str, low: float, high: float, count: float) -> FeatureBaseline:
    """A feature the baseline saw in one bucket (a constant one: low == high).

    One bucket alone would give every window a PSI of 0; with a bucket below and one above
    it, values away from the baseline's value show up as drift.
    """
    upper_edge = math.nextafter(high, math.inf)
    return FeatureBaseline(name, (-math.inf, low, upper_edge, math.inf), (0.0, count, 0.0), low, high)


def _histogram_std(edges: Sequence[float], counts: Sequence[float]) -> float:
    middles = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
    weights = np.asarray(counts, dtype=float)
    mean = float(np.average(middles, weights=weights))
    return float(math.sqrt(np.average((middles - mean) ** 2, weights=weights)))


def _numeric_baseline(name: str, feature: dict[str, Any]) -> FeatureBaseline:
    try:
        buckets = feature["numerical_statistics"]["distribution"]["kll"]["buckets"]
    except (KeyError, TypeError) as error:
        raise ValueError(f"baseline feature {name!r} has no numerical_statistics.distribution.kll.buckets") from error
    if not buckets:
        raise ValueError(f"baseline feature {name!r} has an empty bucket list")
    edges = [float(buckets[0]["lower_bound"])] + [float(b["upper_bound"]) for b in buckets]
    counts = tuple(float(b["count"]) for b in buckets)
    if len(buckets) == 1 or edges[0] == edges[-1]:
        return _single_bucket_baseline(name, edges[0], edges[-1], sum(counts))
    recorded = feature["numerical_statistics"].get("std_dev")
    std = float(recorded) if isinstance(recorded, (int, float)) and recorded > 0 else _histogram_std(edges, counts)
    return FeatureBaseline(name, tuple(edges), counts, edges[0], edges[-1], std)


def _categorical_baseline(name: str, feature: dict[str, Any]) -> CategoricalBaseline:
    try:
        buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"baseline feature {name!r} has no string_statistics.distribution.categorical.buckets"
        ) from error
    if not buckets:
        raise ValueError(f"baseline feature {name!r} has an empty category list")
    categories = tuple(str(b["value"]) for b in buckets)
    return CategoricalBaseline(name, categories, tuple(float(b["count"]) for b in buckets))


def parse_baseline(statistics: dict[str, Any]) -> list[Baseline]:
    """Each feature of a Model Monitor-format statistics.json: KLL buckets, or categories (string_statistics)."""
    features = statistics.get("features")
    if not isinstance(features, list) or not features:
        raise ValueError("baseline statistics has no 'features' list")
    return [
        _categorical_baseline(f.get("name"), f) if "string_statistics" in f else _numeric_baseline(f.get("name"), f)
        for f in features
    ]


def bucket_indices(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bucket of each value (lower edge included); values outside the baseline range count in the first or last."""
    return np.searchsorted(np.asarray(edges[1:-1]), values, side="right")


def population_stability_index(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    """PSI = sum((a - e) * ln(a / e)) over buckets, both given as proportions."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} expected proportions but {len(actual)} actual ones")
    total = 0.0
    for e, a in zip(expected, actual):
        e, a = max(e, _EPSILON), max(a, _EPSILON)
        total += (a - e) * math.log(a / e)
    return total


# --- the decision -------------------------------------------------------------------------------
#
# PSI alone cannot decide on a small window: over ten buckets it is biased upward by roughly
# (1/n + 1/m) * (buckets - 1) for a window of n rows and a baseline of m (PSI is a symmetrised
# Kullback-Leibler divergence, whose sampling distribution under no change is about that factor
# times a chi-square; Yurdakul, "Statistical Properties of the Population Stability Index", 2018),
# so on 30 rows every window looks drifted. The check therefore asks two things of a feature:
# - the change is significant for the window's size and the baseline's: Pearson's chi-square
#   test of homogeneity of the two count vectors (the 2 x k contingency table of window and
#   baseline counts), at `false_alarm_rate / features` (Bonferroni: a window is flagged if any
#   feature is, so each feature gets its share of the rate). Buckets are pooled until the window
#   expects MIN_EXPECTED_ROWS in each (neighbouring buckets of a number; the rarest categories
#   together; categories the baseline never saw stay a bucket of their own), which keeps the
#   chi-square approximation sound on small windows (Cochran, 1954);
# - the change is large: PSI above `threshold`, the smallest change worth retraining for.
# And the window must hold enough rows for the test to see the shift it is sized for
# (`required_rows`): below that, "insufficient data", never a verdict.


def _pooled_groups(counts: np.ndarray, order: Sequence[int], rows: int) -> list[list[int]]:
    """Buckets in `order`, neighbours merged until each expects MIN_EXPECTED_ROWS of `rows`."""
    total = float(counts.sum())
    groups: list[list[int]] = []
    current: list[int] = []
    mass = 0.0
    for index in order:
        current.append(index)
        mass += counts[index]
        if rows * mass / total >= MIN_EXPECTED_ROWS:
            groups.append(current)
            current, mass = [], 0.0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def pooled_buckets(baseline: Baseline, rows: int) -> list[list[int]]:
    """The buckets the test compares for a window of `rows` present values (indices of `bucket_vectors`)."""
    counts = np.asarray(baseline.counts, dtype=float)
    if isinstance(baseline, CategoricalBaseline):
        order = sorted(range(len(counts)), key=lambda i: (counts[i], i))
        return [*_pooled_groups(counts, order, rows), [len(counts)]]
    if baseline.constant:
        return [[0], [1], [2]]  # below, at and above the baseline's one value
    return _pooled_groups(counts, range(len(counts)), rows)


def _grouped(vector: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    return np.asarray([vector[list(group)].sum() for group in groups], dtype=float)


def chi_square_homogeneity(window: np.ndarray, baseline: np.ndarray) -> tuple[float, int]:
    """Pearson's statistic and degrees of freedom for two count vectors over the same buckets."""
    total = window + baseline
    keep = total > 0
    window, baseline, total = window[keep], baseline[keep], total[keep]
    n, m = window.sum(), baseline.sum()
    expected_window = total * n / (n + m)
    expected_baseline = total * m / (n + m)
    statistic = float(
        ((window - expected_window) ** 2 / expected_window).sum()
        + ((baseline - expected_baseline) ** 2 / expected_baseline).sum()
    )
    return statistic, int(keep.sum()) - 1


def shifted_proportions(baseline: Baseline, shift: float) -> np.ndarray | None:
    """The baseline's bucket shares after the shift the minimum window is sized for (None: none to size by).

    A number moves by `shift` standard deviations (each bucket's share spread evenly over it,
    what leaves the range counted in the edge bucket, as captured values are). A category mix
    loses the share a shift of `shift` standard deviations moves of a normal distribution (its
    total variation, 2 * Phi(shift / 2) - 1: 38 % for one) from its most frequent category to
    the next (the shift of that size the test sees least), or to an unseen one when it has one.
    """
    if isinstance(baseline, CategoricalBaseline):
        shares = np.asarray((*baseline.proportions, 0.0))
        moved = min(math.erf(shift / 2 / math.sqrt(2)), float(shares.max()))
        order = np.argsort(-shares[:-1], kind="stable").tolist()
        first, second = order[0], order[1] if len(order) > 1 else len(shares) - 1
        shares[first] -= moved
        shares[second] += moved
        return shares
    if baseline.constant or baseline.std <= 0:
        return None
    edges = np.asarray(baseline.edges)
    inner = edges[1:-1]
    shares = np.zeros(len(baseline.counts))
    for share, low, high in zip(baseline.proportions, edges[:-1], edges[1:]):
        below = np.clip((inner - (low + shift)) / (high - low), 0.0, 1.0)
        shares += share * np.diff(np.concatenate(([0.0], below, [1.0])))
    return shares


def _power(baseline: Baseline, shifted: np.ndarray, rows: int, alpha: float) -> float:
    """Power of the test against `shifted` on a window of `rows` (noncentral chi-square approximation)."""
    _, base = baseline.bucket_vectors(baseline.empty_counts())
    groups = pooled_buckets(baseline, rows)
    expected = _grouped(base / base.sum(), groups)
    moved = _grouped(shifted, groups)
    m = float(base.sum())
    pooled = (rows * moved + m * expected) / (rows + m)
    keep = pooled > 0
    df = int(keep.sum()) - 1
    if df < 1:
        return 0.0
    noncentrality = rows * m / (rows + m) * float(((moved - expected)[keep] ** 2 / pooled[keep]).sum())
    return float(stats.ncx2.sf(_critical_value(alpha, df), df, noncentrality))


@functools.lru_cache(maxsize=256)
def _critical_value(alpha: float, df: int) -> Any:
    """The statistic the test rejects at: the same for every window sized with these degrees of freedom."""
    return stats.chi2.isf(alpha, df)


def required_rows(baseline: Baseline, rule: DecisionRule, features: int) -> int | None:
    """The fewest present values with which a `rule.detectable_shift` of the feature is flagged with
    `rule.design_power`; None when no shift sizes it (a constant feature) or no window suffices
    (the shift's PSI is below the threshold, or the baseline is too small to tell it from noise)."""
    directions = [rule.detectable_shift] if isinstance(baseline, CategoricalBaseline) else [1.0, -1.0]
    needed = MIN_WINDOW_ROWS
    for direction in directions:
        shift = direction * rule.detectable_shift * (1.0 if isinstance(baseline, CategoricalBaseline) else baseline.std)
        shifted = shifted_proportions(baseline, shift)
        if shifted is None:
            return None
        expected = np.asarray(baseline.bucket_vectors(baseline.empty_counts())[1])
        if population_stability_index(expected / expected.sum(), shifted) <= rule.threshold:
            return None
        rows = _first_powerful(baseline, shifted, rule, rule.alpha(features))
        if rows is None:
            return None
        needed = max(needed, rows)
    return needed


def _first_powerful(baseline: Baseline, shifted: np.ndarray, rule: DecisionRule, alpha: float) -> int | None:
    """The smallest window with enough power: a geometric search, then bisection."""
    low, high = MIN_WINDOW_ROWS - 1, MIN_WINDOW_ROWS
    while _power(baseline, shifted, high, alpha) < rule.design_power:
        if high >= _MAX_WINDOW_ROWS:
            return None
        low, high = high, min(high * 2, _MAX_WINDOW_ROWS)
    while high - low > 1:
        middle = (low + high) // 2
        if _power(baseline, shifted, middle, alpha) >= rule.design_power:
            high = middle
        else:
            low = middle
    return high


@functools.lru_cache(maxsize=16)
def _window_minimum(baselines: tuple[Baseline, ...], rule: DecisionRule) -> tuple[int, str, dict[str, int | None]]:
    return window_minimum(baselines, rule, cached=False)


def window_minimum(
    baselines: Sequence[Baseline], rule: DecisionRule, *, cached: bool = True
) -> tuple[int, str, dict[str, int | None]]:
    """(the window's minimum, the feature that sets it, each feature's own minimum)."""
    if cached:
        return _window_minimum(tuple(baselines), rule)
    each = {b.name: required_rows(b, rule, len(baselines)) for b in baselines}
    sized = {name: rows for name, rows in each.items() if rows is not None}
    if not sized:
        return MIN_WINDOW_ROWS, "", each
    name = max(sized, key=lambda n: sized[n])
    return max(sized[name], MIN_WINDOW_ROWS), name, each


def _l_infinity(baseline: CategoricalBaseline, counts: FeatureCounts) -> float:
    present = counts.present
    expected = dict(zip(baseline.categories, baseline.proportions))
    shares = {category: count / present for category, count in counts.categories.items()}
    return round(max(abs(shares.get(c, 0.0) - expected.get(c, 0.0)) for c in {*expected, *shares}), 6)


def decide(
    baseline: Baseline, counts: FeatureCounts, rule: DecisionRule, features: int, min_rows: int | None
) -> FeatureDrift:
    """PSI, the test, and the verdict for one feature's counts (missing values are not a shift).

    Checked when the feature had at least `min_rows` present values (or, with no shift to size
    it by, any); drifted when checked, significant at `rule.alpha(features)` and PSI above the threshold.
    """
    kind = "categorical" if isinstance(baseline, CategoricalBaseline) else "numeric"
    present = counts.present
    if present == 0:
        return FeatureDrift(baseline.name, None, False, 0, 0, counts.missing, kind, min_rows=min_rows)
    window, base = baseline.bucket_vectors(counts)
    expected = base / base.sum()
    psi = round(float(population_stability_index(expected, window / present)), 6)
    groups = pooled_buckets(baseline, present)
    statistic, df = chi_square_homogeneity(_grouped(window, groups), _grouped(base, groups))
    p_value = float(stats.chi2.sf(statistic, df)) if df > 0 else 1.0
    checked = bool(present >= (min_rows or MIN_WINDOW_ROWS))
    drifted = bool(checked and psi > rule.threshold and p_value < rule.alpha(features))
    return FeatureDrift(
        baseline.name,
        psi,
        drifted,
        present,
        counts.outside,
        counts.missing,
        kind,
        _l_infinity(baseline, counts) if isinstance(baseline, CategoricalBaseline) else None,
        round(statistic, 6),
        df,
        p_value,
        min_rows,
        checked,
    )


# --- reading the capture, in blocks --------------------------------------------------------------

_STRING = r'"([^"\\]*(?:\\.[^"\\]*)*)"'


# SageMaker writes one record per line, compact, the endpoint's input first and its keys in this
# order (developer guide, "Capture data": observedContentType, mode, data, encoding). A block whose
# every line has that shape is read by two regular-expression passes; any other block goes through
# the JSON parser line by line, as JSON allows any layout and key order.
_INPUT = re.compile(
    r'(?m)^(?:\{"captureData":\{"endpointInput":\{"observedContentType":' + _STRING + ',"mode":"INPUT","data":'
    + _STRING + r',"encoding":"(\w+)"\}|([^\n]*))[^\n]*\n'
)  # fmt: skip
# Groups: content type, data, encoding (never empty: it marks a line of that shape), any other line.
# inferenceTime as SageMaker writes it, UTC to the second (a fraction is ignored, see `collect`).
_TIME = re.compile(r'"inferenceTime":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z"')
_SECOND = "%Y-%m-%dT%H:%M:%S"


# A date and time to the second, a fraction of any length, and 'Z' or an offset with or without its colon.
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?")


def parse_time(text: str) -> datetime:
    """An ISO-8601 time; UTC if naive. Python 3.9's fromisoformat takes neither 'Z' nor a fraction of other than
    3 or 6 digits, and AWS does not document how it writes the pipeline execution's start (Execution.StartDateTime)."""
    found = _ISO_TIME.fullmatch(text.strip())
    if found:
        second, fraction, zone = found.groups()
        zone = "+00:00" if zone in (None, "Z") else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
        return datetime.fromisoformat(f"{second}.{(fraction or '').ljust(6, '0')[:6]}{zone}")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def inference_time(record: dict[str, Any]) -> datetime:
    return parse_time(record["eventMetadata"]["inferenceTime"])


def _payload(content_type: str, data: Any, encoding: Any, *, escaped: bool) -> str:
    """The CSV text a captured request carried (one request may hold several rows)."""
    if "csv" not in content_type.lower():
        raise RowRejected(NOT_CSV, f"captured content type {content_type!r} is not CSV, the baseline's format")
    if not isinstance(data, str):
        raise TypeError(f"captured data is a {type(data).__name__}, not text")
    if escaped and "\\" in data:
        data = json.loads(f'"{data}"')
    if encoding == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    return str(data)


@dataclass
class CapturedWindow:
    """What the window's captured rows held: counts per feature (by name), and the rejections.

    Counts only, so the windows of two shards add up to the window of both (`add`).
    """

    counts: dict[str, FeatureCounts]
    accepted: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # the first message of each rejection reason

    @classmethod
    def empty(cls, baselines: Sequence[Baseline]) -> CapturedWindow:
        return cls({b.name: b.empty_counts() for b in baselines})

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())

    def reject(self, error: RowRejected, rows: int = 1) -> None:
        self.rejections[error.reason] += rows
        self.examples.setdefault(error.reason, str(error))

    def add(self, other: CapturedWindow) -> None:
        if set(other.counts) != set(self.counts):
            raise ValueError(f"counts of features {sorted(other.counts)} cannot be added to {sorted(self.counts)}")
        for name, counts in other.counts.items():
            self.counts[name].add(counts)
        self.accepted += other.accepted
        self.rejections.update(other.rejections)
        for reason, example in other.examples.items():
            self.examples.setdefault(reason, example)

    def to_document(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejections": dict(self.rejections),
            "examples": self.examples,
            "features": {name: {**asdict(c), "categories": dict(c.categories)} for name, c in self.counts.items()},
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CapturedWindow:
        counts = {
            name: FeatureCounts(
                [int(b) for b in c["buckets"]], Counter(c["categories"]), int(c["outside"]), int(c["missing"])
            )
            for name, c in document["features"].items()
        }
        return cls(counts, int(document["accepted"]), Counter(document["rejections"]), dict(document["examples"]))

    # -- counting ---------------------------------------------------------------------------------

    def count_block(self, block: str, baselines: Sequence[Baseline], start: datetime, end: datetime) -> None:
        """Count the rows of the block's records in [start, end)."""
        self._count_payloads(self._payloads(block, start, end), baselines)

    def _payloads(self, block: str, start: datetime, end: datetime) -> list[str]:
        block = block if block.endswith("\n") else block + "\n"  # _INPUT reads each line with its end
        lines = [match for match in _INPUT.findall(block) if match[2] or match[3].strip()]
        times = _TIME.findall(block)
        payloads: list[str] = []
        if len(times) != len(lines) or not all(match[2] for match in lines):
            for line in block.splitlines():
                if line.strip():
                    self._json_record(line, start, end, payloads)
            return payloads
        first, last = start.strftime(_SECOND), end.strftime(_SECOND)
        chosen = [match for match, stamp in zip(lines, times) if first <= stamp < last]
        types, datas, encodings = ([match[i] for match in chosen] for i in (0, 1, 2))
        # Column-wise when every record is CSV text without JSON escapes (what SageMaker writes).
        plain = all("csv" in t.lower() for t in set(types)) and set(encodings) <= {"CSV"}
        if plain and not any("\\" in data for data in datas):
            return datas
        for content_type, data, encoding in zip(types, datas, encodings):
            self._add_payload(payloads, content_type, data, encoding, escaped=True)
        return payloads

    def _json_record(self, line: str, start: datetime, end: datetime, payloads: list[str]) -> None:
        try:
            record = json.loads(line)
            if not start <= inference_time(record) < end:
                return
            endpoint_input = record["captureData"]["endpointInput"]
            content_type = str(endpoint_input.get("observedContentType", "text/csv"))
            data, encoding = endpoint_input["data"], endpoint_input.get("encoding")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            self.reject(RowRejected(MALFORMED_RECORD, f"malformed capture record ({type(error).__name__}: {error})"))
            return
        self._add_payload(payloads, content_type, data, encoding, escaped=False)

    def _add_payload(self, payloads: list[str], content_type: str, data: Any, encoding: Any, *, escaped: bool) -> None:
        try:
            payloads.append(_payload(content_type, data, encoding, escaped=escaped))
        except RowRejected as error:
            self.reject(error)
        except (ValueError, TypeError) as error:
            self.reject(RowRejected(MALFORMED_RECORD, f"malformed capture record ({type(error).__name__}: {error})"))

    def _count_payloads(self, payloads: list[str], baselines: Sequence[Baseline]) -> None:
        """Rows read column-wise when every cell fits its column; else split: unquoted rows of the right
        width column-wise, the others one by one (which names what does not fit)."""
        text = "\n".join(payloads)
        if not _needs_csv_reader(text):
            columns = _read_columns(text, baselines)
            if columns is not None:
                self._count_columns(columns, baselines)
                return
        plain, quoted = _split_plain_and_quoted(payloads, text)
        fitting = self._rows_of_width(plain, len(baselines))
        columns = _read_columns("\n".join(fitting), baselines)
        if columns is None:
            quoted.extend(row.split(",") for row in fitting)
        else:
            self._count_columns(columns, baselines)
        if quoted:
            self._count_rows(quoted, baselines)

    def _rows_of_width(self, rows: list[str], width: int) -> list[str]:
        """The unquoted rows of `width` cells; each other row is rejected, naming its count."""
        fitting = [row for row in rows if row.count(",") == width - 1]
        if len(fitting) != len(rows):
            for row in rows:
                if row.count(",") != width - 1:
                    self.reject(_column_count_error(row.count(",") + 1, width))
        return fitting

    def _count_rows(self, rows: Sequence[Sequence[str]], baselines: Sequence[Baseline]) -> None:
        """Rows parsed one by one (quoted cells, or a block the column reader refused)."""
        parsed = []
        for row in rows:
            try:
                parsed.append(parse_row(row, baselines))
            except RowRejected as error:
                self.reject(error)
        columns: list[Any] = []
        for index, baseline in enumerate(baselines):
            values = [row[index] for row in parsed]
            if isinstance(baseline, FeatureBaseline):
                columns.append(np.asarray([math.nan if v is None else v for v in values], dtype=float))
            else:
                columns.append(np.asarray(["" if v is None else v for v in values], dtype=object))
        self._count_columns(columns, baselines)

    def _count_columns(self, columns: Sequence[np.ndarray], baselines: Sequence[Baseline]) -> None:
        """Count rows given column-wise: numbers as floats (NaN missing), categories as text ("" missing)."""
        rows = len(columns[0]) if columns else 0
        infinite = np.zeros(rows, dtype=bool)
        for baseline, column in zip(baselines, columns):
            if isinstance(baseline, FeatureBaseline):
                bad = np.isinf(column)
                if bad.any() and not infinite.any():
                    value = "inf" if column[np.argmax(bad)] > 0 else "-inf"
                    self.examples.setdefault(NON_FINITE, f"feature {baseline.name!r} has the infinite value {value!r}")
                infinite |= bad
        if infinite.any():
            self.rejections[NON_FINITE] += int(infinite.sum())
        keep = ~infinite
        for baseline, column in zip(baselines, columns):
            counts = self.counts[baseline.name]
            if isinstance(baseline, FeatureBaseline):
                values = column[keep]
                missing = np.isnan(values)
                counts.missing += int(missing.sum())
                baseline.count(counts, values[~missing])
            else:
                cells = [str(cell).strip() for cell in column[keep]]
                present = [cell for cell in cells if cell]
                counts.missing += len(cells) - len(present)
                baseline.count(counts, present)
        self.accepted += int(keep.sum())


def _needs_csv_reader(text: str) -> bool:
    """A quote or a carriage return: the text is not plain comma-separated lines."""
    return '"' in text or "\r" in text


def _split_plain_and_quoted(payloads: Sequence[str], text: str) -> tuple[list[str], list[list[str]]]:
    """Unquoted rows as lines, and the rows of payloads that need the csv reader, parsed."""
    if not _needs_csv_reader(text):
        return [row for row in text.split("\n") if row], []
    plain: list[str] = []
    quoted: list[list[str]] = []
    for payload in payloads:
        if _needs_csv_reader(payload):
            quoted.extend(row for row in csv.reader(io.StringIO(payload)) if row)
        else:
            plain.extend(row for row in payload.split("\n") if row)
    return plain, quoted


def _column_count_error(values: int, features: int) -> RowRejected:
    return RowRejected(COLUMN_COUNT, f"a row has {values} values; the baseline has {features} features")


def _read_columns(text: str, baselines: Sequence[Baseline]) -> list[np.ndarray] | None:
    """Unquoted CSV rows column-wise (Arrow's CSV reader, empty lines skipped); None when a row is not
    of the baseline's width or a cell is not what its column reads."""
    if not text.strip("\n"):
        return [np.zeros(0) if isinstance(b, FeatureBaseline) else np.zeros(0, dtype=object) for b in baselines]
    names = [f"c{index}" for index in range(len(baselines))]
    types = {
        name: pa.float64() if isinstance(baseline, FeatureBaseline) else pa.string()
        for name, baseline in zip(names, baselines)
    }
    try:
        table = pa_csv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pa_csv.ParseOptions(quote_char=False),
            convert_options=pa_csv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return [column.to_numpy(zero_copy_only=False) for column in table.columns]


def parse_row(row: Sequence[str], baselines: Sequence[Baseline]) -> list[Any]:
    """One value per feature (None where missing); a number a numeric feature cannot read rejects the row."""
    if len(row) != len(baselines):
        raise _column_count_error(len(row), len(baselines))
    values = []
    for baseline, cell in zip(baselines, row):
        text = cell.strip()
        values.append(baseline.parse(text) if text else None)
    return values


def collect(blocks: Iterable[str], baselines: Sequence[Baseline], start: datetime, end: datetime) -> CapturedWindow:
    """The captured rows in [start, end), counted against the baseline's features; rejections counted.

    The window's bounds are whole seconds (`main` rounds the end down), so comparing inferenceTime
    to the second is exact.
    """
    if start.microsecond or end.microsecond:
        raise ValueError("the window's start and end must be whole seconds")
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    window = CapturedWindow.empty(baselines)
    for block in blocks:
        window.count_block(block, baselines, start, end)
    return window


# --- the report ----------------------------------------------------------------------------------


def schema_failure_reason(window: CapturedWindow, max_rejected_fraction: float) -> str:
    read = window.accepted + window.rejected
    details = "; ".join(
        f"{reason}: {count} (e.g. {window.examples[reason]})" for reason, count in sorted(window.rejections.items())
    )
    return (
        f"{window.rejected} of {read} captured rows do not match the baseline's schema "
        f"(more than {max_rejected_fraction:.0%} allowed): {details}"
    )


def judge(
    window: CapturedWindow,
    baselines: Sequence[Baseline],
    *,
    endpoint_name: str,
    baseline_uri: str,
    start: datetime,
    end: datetime,
    rule: DecisionRule,
    max_rejected_fraction: float,
) -> DriftReport:
    """The report of a window's counts: failed, insufficient data, or a verdict per feature."""
    minimum, setter, each = window_minimum(baselines, rule)
    report = DriftReport(
        endpoint_name=endpoint_name,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        baseline_uri=baseline_uri,
        threshold=rule.threshold,
        captured_records=window.accepted,
        rejected_records=window.rejected,
        status=STATUS_INSUFFICIENT_DATA,
        max_psi=None,
        rejections=dict(sorted(window.rejections.items())),
        min_rows=minimum,
        unchecked_features=[b.name for b in baselines],
        decision={
            **asdict(rule),
            "alpha_per_feature": rule.alpha(len(baselines)),
            "design_power": rule.design_power,
        },
    )
    if report.rejected_fraction > max_rejected_fraction:
        report.status = STATUS_FAILED
        report.reason = schema_failure_reason(window, max_rejected_fraction)
        return report
    if window.accepted < minimum:
        sized = f" of {setter!r}" if setter else ""
        report.reason = (
            f"{window.accepted} rows accepted in the window; the check needs at least {minimum} to see a "
            f"{rule.detectable_shift:g}-standard-deviation shift{sized} in {rule.detection_power:.0%} of windows "
            f"while flagging at most {rule.false_alarm_rate:.0%} of undrifted ones"
        )
        return report
    report.features = [
        decide(b, window.counts[b.name], rule, len(baselines), each[b.name] or minimum) for b in baselines
    ]
    report.unchecked_features = [f.feature for f in report.features if not f.checked]
    checked = [f for f in report.features if f.checked]
    if not checked:
        report.reason = "no feature had the present values the check needs: each was missing in (nearly) every row"
        return report
    report.max_psi = max(f.psi for f in checked if f.psi is not None)
    report.drifted_features = [f.feature for f in checked if f.drifted]
    report.status = STATUS_DRIFT if report.drifted_features else STATUS_OK
    if report.unchecked_features:
        report.reason = "too few present (non-missing) values to check: " + ", ".join(
            f"{f.feature} ({f.captured_count} of {f.min_rows})" for f in report.features if not f.checked
        )
    return report


def check_drift(
    *,
    statistics: dict[str, Any],
    capture_blocks: Iterable[str],
    endpoint_name: str,
    baseline_uri: str,
    start: datetime,
    end: datetime,
    rule: DecisionRule,
    max_rejected_fraction: float,
) -> DriftReport:
    """The whole comparison, free of I/O: baseline and captured blocks of lines in, report out."""
    baselines = parse_baseline(statistics)
    return judge(
        collect(capture_blocks, baselines, start, end),
        baselines,
        endpoint_name=endpoint_name,
        baseline_uri=baseline_uri,
        start=start,
        end=end,
        rule=rule,
        max_rejected_fraction=max_rejected_fraction,
    )


def metric_data(report: DriftReport, timestamp: datetime) -> list[dict[str, Any]]:
    """CloudWatch datums of a run: row counts and unchecked features always (the check ran), the verdict
    (drifted features, PSI) only from a window that gave one."""
    endpoint = {"Name": ENDPOINT_DIMENSION, "Value": report.endpoint_name}

    def datum(name: str, value: float, unit: str, *dimensions: dict[str, str]) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Dimensions": [endpoint, *dimensions],
            "Timestamp": timestamp,
            "Value": value,
            "Unit": unit,
        }

    data = [
        datum(ROWS_READ_METRIC, report.rows_read, "Count"),
        datum(ROWS_ACCEPTED_METRIC, report.captured_records, "Count"),
        datum(ROWS_REJECTED_METRIC, report.rejected_records, "Count"),
        datum(REJECTED_FRACTION_METRIC, round(report.rejected_fraction, 6), "None"),
        datum(UNCHECKED_FEATURES_METRIC, len(report.unchecked_features), "Count"),
    ]
    if report.max_psi is None:
        return data
    data.append(datum(DRIFTED_FEATURES_METRIC, len(report.drifted_features), "Count"))
    psi = [(f.feature, f.psi) for f in report.features if f.checked and f.psi is not None]
    for name, value in [*psi, (ALL_FEATURES, report.max_psi)]:
        data.append(datum(PSI_METRIC, value, "None", {"Name": FEATURE_DIMENSION, "Value": name}))
    return data


def publish(cloudwatch: Any, namespace: str, data: Sequence[dict[str, Any]]) -> None:
    for first in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=list(data[first : first + 500]))


# --- where the window's capture lives -------------------------------------------------------------


def hour_prefixes(prefix: str, start: datetime, end: datetime) -> Iterator[str]:
    """The yyyy/mm/dd/hh/ folders SageMaker data capture writes for the window."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield f"{prefix.rstrip('/')}/{hour:%Y/%m/%d/%H}/"
        hour += timedelta(hours=1)


def shard_of(key: str, shards: int) -> int:
    """The shard an object belongs to: by a stable hash of its key, so instances that list the
    window at different moments still read each object exactly once between them."""
    return zlib.crc32(key.encode("utf-8")) % shards


def line_blocks(chunks: Iterable[bytes]) -> Iterator[str]:
    """Blocks of whole lines from byte chunks of any size."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        cut = rest.rfind(b"\n") + 1
        if cut:
            yield rest[:cut].decode("utf-8", errors="replace")
            rest = rest[cut:]
    if rest:
        yield rest.decode("utf-8", errors="replace")


def read_capture_blocks(
    location: str, start: datetime, end: datetime, s3: Any = None, shard: tuple[int, int] = (0, 1)
) -> Iterator[str]:
    """Blocks of lines of the window's capture files that belong to `shard` (index, count):
    s3://bucket/<...>/<endpoint>/<variant>/ (its hourly folders) or a local folder."""
    index, count = shard
    if location.startswith("s3://"):
        parsed = urlparse(location)
        for prefix in hour_prefixes(parsed.path.lstrip("/"), start, end):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=parsed.netloc, Prefix=prefix):
                for item in page.get("Contents", []):
                    if shard_of(item["Key"], count) == index:
                        body = s3.get_object(Bucket=parsed.netloc, Key=item["Key"])["Body"]
                        yield from line_blocks(body.iter_chunks(BLOCK_BYTES))
        return
    root = Path(location)
    for path in sorted(root.rglob("*.jsonl")):
        if shard_of(path.relative_to(root).as_posix(), count) == index:
            with path.open("rb") as handle:
                yield from line_blocks(iter(lambda: handle.read(BLOCK_BYTES), b""))


def this_instance(resource_config: Path = _RESOURCE_CONFIG) -> tuple[int, int]:
    """(index, count) of this processing instance among the job's (SageMaker writes
    /opt/ml/config/resourceconfig.json with current_host and hosts); (0, 1) elsewhere."""
    if not resource_config.is_file():
        return 0, 1
    config = json.loads(resource_config.read_text())
    hosts = sorted(config["hosts"])
    return hosts.index(config["current_host"]), len(hosts)


def counts_file(index: int, count: int) -> str:
    return f"{COUNTS_FILE_PREFIX}{index:04d}-of-{count:04d}.json"


def merge_counts(directory: Path, baselines: Sequence[Baseline]) -> CapturedWindow:
    """The counts every shard wrote, added up; refuses an incomplete set (a lost shard loses rows)."""
    files = sorted(directory.rglob(f"{COUNTS_FILE_PREFIX}*.json"))
    counts = {int(path.stem.rsplit("-of-", 1)[1]) for path in files}
    if not files or len(counts) != 1 or len(files) != counts.pop():
        raise ValueError(f"{directory}: expected one counts file of every shard, found {[p.name for p in files]}")
    window = CapturedWindow.empty(baselines)
    for path in files:
        window.add(CapturedWindow.from_document(json.loads(path.read_text())))
    return window


def read_text(location: str, s3: Any = None) -> str:
    if location.startswith("s3://"):
        parsed = urlparse(location)
        return s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read().decode("utf-8")
    return Path(location).read_text()


def baseline_uri_of(model_package: dict[str, Any]) -> str:
    """The data-quality statistics registered with a model version (DescribeModelPackage)."""
    for path in (("DriftCheckBaselines", "ModelDataQuality"), ("ModelMetrics", "ModelDataQuality")):
        node: Any = model_package
        for key in path:
            node = node.get(key) or {}
        uri = (node.get("Statistics") or {}).get("S3Uri")
        if uri:
            return str(uri)
    raise ValueError(f"model package {model_package.get('ModelPackageArn')!r} has no data-quality statistics")


# --- the command ---------------------------------------------------------------------------------


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text}: expected a share above 0 and below 1")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--capture", default="", help="s3://.../<endpoint>/<variant>/ or a local folder")
    parser.add_argument("--baseline-statistics", default="", help="statistics.json (s3:// or path)")
    parser.add_argument("--model-package-arn", default="", help="used to find the baseline when none is given")
    parser.add_argument("--window-hours", type=int, default=1)
    parser.add_argument("--end-time", default="", help="ISO-8601 end of the window, e.g. 2026-03-01T12:00:00Z")
    parser.add_argument("--started-at", default="", help="the pipeline execution's start: the end when none is given")
    parser.add_argument("--threshold", type=float, default=DecisionRule.threshold, help="PSI a change must exceed")
    parser.add_argument("--false-alarm-rate", type=_share, default=DecisionRule.false_alarm_rate)
    parser.add_argument("--detection-power", type=_share, default=DecisionRule.detection_power)
    parser.add_argument("--detectable-shift", type=float, default=DecisionRule.detectable_shift, help="in std devs")
    parser.add_argument(
        "--max-rejected-fraction",
        type=float,
        required=True,
        help="share of captured rows (0 to 1) that may fail the baseline's schema before the check fails",
    )
    parser.add_argument("--region", default="", help="the AWS region of the job (CloudWatch, S3)")
    parser.add_argument("--metric-namespace", default="")
    parser.add_argument("--output-dir", default=_CONTAINER_OUTPUT)
    parser.add_argument("--no-publish", action="store_true", help="write the report only (local runs)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--counts-only", action="store_true", help="write this instance's share of the counts only")
    mode.add_argument("--merge-counts", default="", help="a folder of the shards' counts: add them up and decide")
    parser.add_argument("--shard", default="", help="INDEX/COUNT of a local shard (default: this instance's)")
    args = parser.parse_args(argv)
    problem = _argument_problem(args)
    if problem:
        parser.error(problem)
    return args


def _argument_problem(args: argparse.Namespace) -> str:
    """What is wrong with a combination of arguments, or "" when nothing is."""
    problems = [
        (
            not args.baseline_statistics and not args.model_package_arn,
            "give --baseline-statistics or --model-package-arn",
        ),
        (not args.capture and not args.merge_counts, "give --capture (or --merge-counts)"),
        (
            not args.no_publish and not args.counts_only and not args.metric_namespace,
            "--metric-namespace is required unless --no-publish",
        ),
        (args.window_hours < 1, "--window-hours must be at least 1"),
        (args.detectable_shift <= 0, "--detectable-shift must be above 0"),
        (not 0.0 <= args.max_rejected_fraction < 1.0, "--max-rejected-fraction must be at least 0 and below 1"),
        (bool(args.shard) and not re.fullmatch(r"\d+/[1-9]\d*", args.shard), "--shard must be INDEX/COUNT, e.g. 0/2"),
    ]
    return next((message for wrong, message in problems if wrong), "")


def window_of(args: argparse.Namespace) -> tuple[datetime, datetime]:
    """[start, end) in UTC, whole seconds: the end given, else the execution's start (so that every
    step and shard of a run reads one window), else now."""
    given = args.end_time or args.started_at
    end = parse_time(given) if given else datetime.now(timezone.utc)
    end = end.astimezone(timezone.utc).replace(microsecond=0)
    return end - timedelta(hours=args.window_hours), end


class _Clients:
    """boto3 clients, made on first use in an explicit region: boto3 reads only AWS_DEFAULT_REGION,
    which a processing job need not have."""

    def __init__(self, region: str) -> None:
        self.region = region or None
        self._made: dict[tuple[str, str | None], Any] = {}

    def get(self, service: str, region: str | None = None) -> Any:
        import boto3

        key = (service, region or self.region)
        if key not in self._made:
            self._made[key] = boto3.client(service, region_name=key[1])
        return self._made[key]


def main(argv: Sequence[str] | None = None) -> DriftReport | None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    start, end = window_of(args)
    clients = _Clients(args.region)
    uses_s3 = any(v.startswith("s3://") for v in (args.capture, args.baseline_statistics or "s3://"))
    s3 = clients.get("s3") if uses_s3 else None
    baseline_uri = args.baseline_statistics
    if not baseline_uri:
        # The registry may be in another region than the job: the version's ARN names it.
        registry_region = args.model_package_arn.split(":")[3] if args.model_package_arn.count(":") >= 5 else None
        sagemaker = clients.get("sagemaker", registry_region)
        baseline_uri = baseline_uri_of(sagemaker.describe_model_package(ModelPackageName=args.model_package_arn))
    LOG.info("baseline %s, window %s .. %s", baseline_uri, start.isoformat(), end.isoformat())
    baselines = parse_baseline(json.loads(read_text(baseline_uri, s3)))
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if args.merge_counts:
        window = merge_counts(Path(args.merge_counts), baselines)
    else:
        shard = tuple(int(part) for part in args.shard.split("/")) if args.shard else this_instance()
        window = collect(read_capture_blocks(args.capture, start, end, s3, (shard[0], shard[1])), baselines, start, end)
        if args.counts_only:
            (output / counts_file(*shard)).write_text(json.dumps(window.to_document()))
            LOG.info(
                "shard %d of %d: %d rows accepted, %d rejected", shard[0], shard[1], window.accepted, window.rejected
            )
            return None
    report = judge(
        window,
        baselines,
        endpoint_name=args.endpoint_name,
        baseline_uri=baseline_uri,
        start=start,
        end=end,
        rule=DecisionRule(args.threshold, args.false_alarm_rate, args.detection_power, args.detectable_shift),
        max_rejected_fraction=args.max_rejected_fraction,
    )
    (output / "drift-report.json").write_text(report.to_json())
    LOG.info(
        "status=%s max_psi=%s rows read=%d accepted=%d rejected=%d minimum=%d drifted=%s %s",
        report.status,
        report.max_psi,
        report.rows_read,
        report.captured_records,
        report.rejected_records,
        report.min_rows,
        ",".join(report.drifted_features) or "-",
        report.reason,
    )
    if not args.no_publish:
        publish(clients.get("cloudwatch"), args.metric_namespace, metric_data(report, end))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
