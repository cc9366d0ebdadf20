"""Drift check: captured endpoint inputs of the last window vs the live version's baseline.

Runs as the processing step of the drift-check pipeline and, unchanged, locally
(`make local-drift-check`). A thin `main()` over pure functions:

1. read SageMaker data-capture JSON Lines for the window (S3 or a local folder),
2. check each captured row against the baseline's schema (one value per feature, CSV, in the
   data contract's order; a number for a numeric feature, any text for a categorical one): rows
   that do not fit are rejected and counted by reason; empty cells (and NaN numbers) are
   missing values, never drift,
3. count each feature's present values into the buckets of statistics.json (the file
   registered with the live model version): a numeric feature into its histogram buckets (a
   feature that was constant there gets the buckets below, at and above its value), a
   categorical feature by category, with every category the baseline never saw counted in
   one more bucket; and compute the population stability index (PSI) over those buckets.
   Counts, not values, are kept, so the counts of two parts of a window add up,
4. write a report JSON (the processing output uploads it to drift-reports/<env>/),
5. publish, on every run, `RowsRead`, `RowsAccepted`, `RowsRejected` and
   `RejectedRowFraction` (dimension EndpointName) - the drift monitor's health alarms watch
   them - and, when the window had enough accepted rows and the schema matched, `PSI` per
   feature (dimensions EndpointName, Feature) and the maximum over all features as
   Feature="ALL", the metric the drift alarm watches.

A capture whose rows mostly do not match the baseline's schema (more rejected than
--max-rejected-fraction) is a failed check: status "failed" with the reason in the report, no
PSI (so it cannot start retraining), and a `RejectedRowFraction` the rejected-rows alarm sees.

Shipped to the job as this one file and run on the scikit-learn 1.2-1 image's Python 3.9
(pipeline_steps/images.py), so: the standard library and boto3 only, no sibling imports,
and nothing newer than Python 3.9 (tests/test_image_contracts.py checks all three).
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import logging
import math
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Union
from urllib.parse import urlparse

LOG = logging.getLogger("drift_check")

PSI_METRIC = "PSI"
ROWS_READ_METRIC = "RowsRead"
ROWS_ACCEPTED_METRIC = "RowsAccepted"
ROWS_REJECTED_METRIC = "RowsRejected"
REJECTED_FRACTION_METRIC = "RejectedRowFraction"
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

# PSI of an empty bucket would be infinite; this floor is the usual convention. An unseen
# category has an empty baseline bucket: its share of the window counts against the floor.
_EPSILON = 1e-4
_CONTAINER_OUTPUT = "/opt/ml/processing/output/report"


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

    @property
    def proportions(self) -> tuple[float, ...]:
        return _proportions(self.name, self.counts)

    def parse(self, text: str) -> float | None:
        """A cell's number; None when missing (empty or NaN)."""
        try:
            value = float(text)
        except ValueError:
            raise RowRejected(NON_NUMERIC, f"feature {self.name!r} has the non-numeric value {text[:40]!r}") from None
        return None if math.isnan(value) else value

    def empty_counts(self) -> FeatureCounts:
        return FeatureCounts(buckets=[0] * len(self.counts))

    def count(self, counts: FeatureCounts, value: Any) -> None:
        counts.buckets[bucket_index(value, self.edges)] += 1
        if value < self.low or value > self.high:
            counts.outside += 1


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

    def count(self, counts: FeatureCounts, value: Any) -> None:
        counts.categories[value] += 1
        if value not in self.categories:
            counts.outside += 1


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


def _numeric_baseline(name: str, feature: dict[str, Any]) -> FeatureBaseline:
    try:
        buckets = feature["numerical_statistics"]["distribution"]["kll"]["buckets"]
    except (KeyError, TypeError) as error:
        raise ValueError(f"baseline feature {name!r} has no numerical_statistics.distribution.kll.buckets") from error
    if not buckets:
        raise ValueError(f"baseline feature {name!r} has an empty bucket list")
    edges = [float(buckets[0]["lower_bound"])] + [float(b["upper_bound"]) for b in buckets]
    counts = tuple(float(b["count"]) for b in buckets)
    if len(buckets) == 1:
        return _single_bucket_baseline(name, edges[0], edges[1], counts[0])
    return FeatureBaseline(name, tuple(edges), counts, edges[0], edges[-1])


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


def bucket_index(value: float, edges: Sequence[float]) -> int:
    """Bucket of `value`; values outside the baseline range count in the first or last bucket."""
    last = len(edges) - 2
    for index in range(last + 1):
        if value < edges[index + 1]:
            return index
    return last


def population_stability_index(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI = sum((a - e) * ln(a / e)) over buckets, both given as proportions."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} expected proportions but {len(actual)} actual ones")
    total = 0.0
    for e, a in zip(expected, actual):
        e, a = max(e, _EPSILON), max(a, _EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def _categorical_drift(baseline: CategoricalBaseline, counts: FeatureCounts, threshold: float) -> FeatureDrift:
    """PSI over the baseline's categories plus one bucket for categories it never saw.

    Each category is a bucket, as PSI is applied to categorical characteristics in credit
    scoring (Siddiqi, Credit Risk Scorecards, 2006; Yurdakul, Statistical Properties of the
    Population Stability Index, 2018), so one threshold serves both kinds of feature. The report
    adds the L-infinity distance Model Monitor uses for categorical data.
    """
    present = counts.present
    seen = [counts.categories.get(category, 0) / present for category in baseline.categories]
    unseen = counts.outside / present
    psi = round(population_stability_index((*baseline.proportions, 0.0), (*seen, unseen)), 6)
    expected = dict(zip(baseline.categories, baseline.proportions))
    shares = {category: count / present for category, count in counts.categories.items()}
    distance = max(abs(shares.get(c, 0.0) - expected.get(c, 0.0)) for c in {*expected, *shares})
    return FeatureDrift(
        baseline.name, psi, psi > threshold, present, counts.outside, counts.missing, "categorical", round(distance, 6)
    )


def feature_drift(baseline: Baseline, counts: FeatureCounts, threshold: float) -> FeatureDrift:
    """PSI of the present values' counts (missing ones are not a distribution shift)."""
    kind = "categorical" if isinstance(baseline, CategoricalBaseline) else "numeric"
    if counts.present == 0:
        return FeatureDrift(baseline.name, None, False, 0, 0, counts.missing, kind)
    if isinstance(baseline, CategoricalBaseline):
        return _categorical_drift(baseline, counts, threshold)
    actual = [c / counts.present for c in counts.buckets]
    psi = round(population_stability_index(baseline.proportions, actual), 6)
    return FeatureDrift(baseline.name, psi, psi > threshold, counts.present, counts.outside, counts.missing)


def decode_capture_rows(record: dict[str, Any]) -> list[list[str]]:
    """The CSV rows a captured request carried (one request may hold several rows)."""
    endpoint_input = record["captureData"]["endpointInput"]
    content_type = str(endpoint_input.get("observedContentType", "text/csv"))
    if "csv" not in content_type.lower():
        raise RowRejected(NOT_CSV, f"captured content type {content_type!r} is not CSV, the baseline's format")
    data = endpoint_input["data"]
    if endpoint_input.get("encoding") == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    return [row for row in csv.reader(io.StringIO(data)) if row]


def parse_row(row: Sequence[str], baselines: Sequence[Baseline]) -> list[Any]:
    """One value per feature (None where missing); a number a numeric feature cannot read rejects the row."""
    if len(row) != len(baselines):
        raise RowRejected(COLUMN_COUNT, f"a row has {len(row)} values; the baseline has {len(baselines)} features")
    values = []
    for baseline, cell in zip(baselines, row):
        text = cell.strip()
        values.append(baseline.parse(text) if text else None)
    return values


def inference_time(record: dict[str, Any]) -> datetime:
    stamp = record["eventMetadata"]["inferenceTime"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass
class CapturedWindow:
    """What the window's captured rows held: counts per feature (by name), and the rejections."""

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

    def accept(self, baselines: Sequence[Baseline], values: Sequence[Any]) -> None:
        for baseline, value in zip(baselines, values):
            counts = self.counts[baseline.name]
            if value is None:
                counts.missing += 1
            else:
                baseline.count(counts, value)
        self.accepted += 1

    def reject(self, error: RowRejected) -> None:
        self.rejections[error.reason] += 1
        self.examples.setdefault(error.reason, str(error))


def collect_feature_values(
    lines: Iterable[str], baselines: Sequence[Baseline], start: datetime, end: datetime
) -> CapturedWindow:
    """The captured rows in [start, end), parsed against the baseline's features; rejections counted."""
    window = CapturedWindow.empty(baselines)
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not start <= inference_time(record) < end:
                continue
            rows = decode_capture_rows(record)
        except RowRejected as error:
            window.reject(error)
            continue
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            window.reject(RowRejected(MALFORMED_RECORD, f"malformed capture record ({type(error).__name__}: {error})"))
            continue
        for row in rows:
            try:
                window.accept(baselines, parse_row(row, baselines))
            except RowRejected as error:
                window.reject(error)
    return window


def schema_failure_reason(window: CapturedWindow, max_rejected_fraction: float) -> str:
    read = window.accepted + window.rejected
    details = "; ".join(
        f"{reason}: {count} (e.g. {window.examples[reason]})" for reason, count in sorted(window.rejections.items())
    )
    return (
        f"{window.rejected} of {read} captured rows do not match the baseline's schema "
        f"(more than {max_rejected_fraction:.0%} allowed): {details}"
    )


def check_drift(
    *,
    statistics: dict[str, Any],
    capture_lines: Iterable[str],
    endpoint_name: str,
    baseline_uri: str,
    start: datetime,
    end: datetime,
    threshold: float,
    min_records: int,
    max_rejected_fraction: float,
) -> DriftReport:
    """The whole comparison, free of I/O: baseline and captured lines in, report out."""
    baselines = parse_baseline(statistics)
    window = collect_feature_values(capture_lines, baselines, start, end)
    report = DriftReport(
        endpoint_name=endpoint_name,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        baseline_uri=baseline_uri,
        threshold=threshold,
        captured_records=window.accepted,
        rejected_records=window.rejected,
        status=STATUS_INSUFFICIENT_DATA,
        max_psi=None,
        rejections=dict(sorted(window.rejections.items())),
    )
    if report.rejected_fraction > max_rejected_fraction:
        report.status = STATUS_FAILED
        report.reason = schema_failure_reason(window, max_rejected_fraction)
        return report
    if window.accepted < min_records:
        report.reason = f"{window.accepted} rows accepted in the window; the check needs at least {min_records}"
        return report
    report.features = [feature_drift(b, window.counts[b.name], threshold) for b in baselines]
    checked = [f.psi for f in report.features if f.psi is not None]
    if not checked:
        report.reason = "every feature was missing in every accepted row"
        return report
    report.max_psi = max(checked)
    report.drifted_features = [f.feature for f in report.features if f.drifted]
    report.status = STATUS_DRIFT if report.drifted_features else STATUS_OK
    return report


def metric_data(report: DriftReport, timestamp: datetime) -> list[dict[str, Any]]:
    """CloudWatch datums of a run: row counts always (the check ran), PSI only from a valid window."""
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
    ]
    if report.max_psi is None:
        return data
    psi = [(f.feature, f.psi) for f in report.features if f.psi is not None] + [(ALL_FEATURES, report.max_psi)]
    for name, value in psi:
        data.append(datum(PSI_METRIC, value, "None", {"Name": FEATURE_DIMENSION, "Value": name}))
    return data


def publish(cloudwatch: Any, namespace: str, data: Sequence[dict[str, Any]]) -> None:
    for first in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=list(data[first : first + 500]))


def hour_prefixes(prefix: str, start: datetime, end: datetime) -> Iterator[str]:
    """The yyyy/mm/dd/hh/ folders SageMaker data capture writes for the window."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield f"{prefix.rstrip('/')}/{hour:%Y/%m/%d/%H}/"
        hour += timedelta(hours=1)


def read_capture_lines(location: str, start: datetime, end: datetime, s3: Any = None) -> Iterator[str]:
    """Lines of every capture file of the window: s3://bucket/<...>/<endpoint>/<variant>/ or a folder."""
    if location.startswith("s3://"):
        parsed = urlparse(location)
        for prefix in hour_prefixes(parsed.path.lstrip("/"), start, end):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=parsed.netloc, Prefix=prefix):
                for item in page.get("Contents", []):
                    body = s3.get_object(Bucket=parsed.netloc, Key=item["Key"])["Body"].read()
                    yield from body.decode("utf-8").splitlines()
        return
    for path in sorted(Path(location).rglob("*.jsonl")):
        yield from path.read_text().splitlines()


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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--capture", required=True, help="s3://.../<endpoint>/<variant>/ or a local folder")
    parser.add_argument("--baseline-statistics", default="", help="statistics.json (s3:// or path)")
    parser.add_argument("--model-package-arn", default="", help="used to find the baseline when none is given")
    parser.add_argument("--window-hours", type=int, default=1)
    parser.add_argument("--end-time", default="", help="ISO-8601 end of the window (default: now)")
    parser.add_argument("--threshold", type=float, default=0.2)
    parser.add_argument("--min-records", type=int, default=30)
    parser.add_argument(
        "--max-rejected-fraction",
        type=float,
        required=True,
        help="share of captured rows (0 to 1) that may fail the baseline's schema before the check fails",
    )
    parser.add_argument("--metric-namespace", default="")
    parser.add_argument("--output-dir", default=_CONTAINER_OUTPUT)
    parser.add_argument("--no-publish", action="store_true", help="write the report only (local runs)")
    args = parser.parse_args(argv)
    if not args.baseline_statistics and not args.model_package_arn:
        parser.error("give --baseline-statistics or --model-package-arn")
    if not args.no_publish and not args.metric_namespace:
        parser.error("--metric-namespace is required unless --no-publish")
    if args.window_hours < 1:
        parser.error("--window-hours must be at least 1")
    if not 0.0 <= args.max_rejected_fraction < 1.0:
        parser.error("--max-rejected-fraction must be at least 0 and below 1")
    return args


def main(argv: Sequence[str] | None = None) -> DriftReport:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    end = datetime.fromisoformat(args.end_time) if args.end_time else datetime.now(timezone.utc)
    end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
    start = end - timedelta(hours=args.window_hours)

    needs_aws = not args.no_publish or any(
        v.startswith("s3://") for v in (args.capture, args.baseline_statistics or "s3://")
    )
    s3: Any = None
    sagemaker: Any = None
    if needs_aws:
        import boto3

        s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
    baseline_uri = args.baseline_statistics
    if not baseline_uri:
        baseline_uri = baseline_uri_of(sagemaker.describe_model_package(ModelPackageName=args.model_package_arn))
    LOG.info("baseline %s, window %s .. %s", baseline_uri, start.isoformat(), end.isoformat())

    report = check_drift(
        statistics=json.loads(read_text(baseline_uri, s3)),
        capture_lines=read_capture_lines(args.capture, start, end, s3),
        endpoint_name=args.endpoint_name,
        baseline_uri=baseline_uri,
        start=start,
        end=end,
        threshold=args.threshold,
        min_records=args.min_records,
        max_rejected_fraction=args.max_rejected_fraction,
    )
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "drift-report.json").write_text(report.to_json())
    LOG.info(
        "status=%s max_psi=%s rows read=%d accepted=%d rejected=%d drifted=%s %s",
        report.status,
        report.max_psi,
        report.rows_read,
        report.captured_records,
        report.rejected_records,
        ",".join(report.drifted_features) or "-",
        report.reason,
    )
    if not args.no_publish:
        import boto3

        publish(boto3.client("cloudwatch"), args.metric_namespace, metric_data(report, end))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
