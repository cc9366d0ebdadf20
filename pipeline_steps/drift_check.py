"""Drift check: captured endpoint inputs of the last window vs the live version's baseline.

Runs as the processing step of the drift-check pipeline and, unchanged, locally
(`make local-drift-check`). A thin `main()` over pure functions:

1. read SageMaker data-capture JSON Lines for the window (S3 or a local folder),
2. bin each feature's captured values into the ten baseline buckets of statistics.json
   (the file registered with the live model version) and compute the population
   stability index (PSI) per feature,
3. write a report JSON (the processing output uploads it to drift-reports/<env>/),
4. publish `PSI` per feature (dimensions EndpointName, Feature) and the maximum over all
   features as Feature="ALL" - the metric the drift alarm watches - plus `CapturedRecords`.

Only the standard library and boto3, so the script runs in the stock scikit-learn
processing container and locally without extra packages.
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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

LOG = logging.getLogger("drift_check")

PSI_METRIC = "PSI"
RECORDS_METRIC = "CapturedRecords"
ALL_FEATURES = "ALL"
# PSI of an empty bucket would be infinite; this floor is the usual convention.
_EPSILON = 1e-4
_CONTAINER_OUTPUT = "/opt/ml/processing/output/report"


@dataclass(frozen=True)
class FeatureBaseline:
    name: str
    edges: tuple[float, ...]  # bucket boundaries, len(counts) + 1 values, ascending
    counts: tuple[float, ...]

    @property
    def proportions(self) -> tuple[float, ...]:
        total = sum(self.counts)
        if total <= 0:
            raise ValueError(f"baseline feature {self.name!r} has no counts in its buckets")
        return tuple(c / total for c in self.counts)


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    drifted: bool
    captured_count: int
    out_of_range_count: int


@dataclass
class DriftReport:
    endpoint_name: str
    window_start: str
    window_end: str
    baseline_uri: str
    threshold: float
    captured_records: int
    rejected_records: int
    status: str  # "ok" | "drift" | "insufficient-data"
    max_psi: float | None
    drifted_features: list[str] = field(default_factory=list)
    features: list[FeatureDrift] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def parse_baseline(statistics: dict[str, Any]) -> list[FeatureBaseline]:
    """Reads the per-feature KLL buckets of a Model Monitor-format statistics.json."""
    features = statistics.get("features")
    if not isinstance(features, list) or not features:
        raise ValueError("baseline statistics has no 'features' list")
    baselines = []
    for feature in features:
        name = feature.get("name")
        try:
            buckets = feature["numerical_statistics"]["distribution"]["kll"]["buckets"]
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"baseline feature {name!r} has no numerical_statistics.distribution.kll.buckets"
            ) from error
        if not buckets:
            raise ValueError(f"baseline feature {name!r} has an empty bucket list")
        edges = [float(buckets[0]["lower_bound"])] + [float(b["upper_bound"]) for b in buckets]
        baselines.append(FeatureBaseline(name, tuple(edges), tuple(float(b["count"]) for b in buckets)))
    return baselines


def bucket_index(value: float, edges: Sequence[float]) -> int:
    """Bucket of `value`; values outside the baseline range count in the first or last bucket."""
    last = len(edges) - 2
    for index in range(last + 1):
        if value < edges[index + 1]:
            return index
    return last


def population_stability_index(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI = sum((a - e) * ln(a / e)) over buckets, both given as proportions."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _EPSILON), max(a, _EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def feature_drift(baseline: FeatureBaseline, values: Sequence[float], threshold: float) -> FeatureDrift:
    counts = [0] * len(baseline.counts)
    outside = 0
    for value in values:
        counts[bucket_index(value, baseline.edges)] += 1
        if value < baseline.edges[0] or value > baseline.edges[-1]:
            outside += 1
    actual = [c / len(values) for c in counts]
    psi = round(population_stability_index(baseline.proportions, actual), 6)
    return FeatureDrift(baseline.name, psi, psi > threshold, len(values), outside)


def decode_capture_rows(record: dict[str, Any]) -> list[list[str]]:
    """The CSV rows a captured request carried (one request may hold several rows)."""
    endpoint_input = record["captureData"]["endpointInput"]
    data = endpoint_input["data"]
    if endpoint_input.get("encoding") == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    content_type = endpoint_input.get("observedContentType", "text/csv")
    if "csv" not in content_type:
        raise ValueError(f"captured content type {content_type!r} is not CSV")
    return [row for row in csv.reader(io.StringIO(data)) if row]


def inference_time(record: dict[str, Any]) -> datetime:
    stamp = record["eventMetadata"]["inferenceTime"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def collect_feature_values(
    lines: Iterable[str], feature_names: Sequence[str], start: datetime, end: datetime
) -> tuple[dict[str, list[float]], int, int]:
    """Per-feature values of the captured rows in [start, end); also counts of kept and rejected rows."""
    values: dict[str, list[float]] = {name: [] for name in feature_names}
    kept = rejected = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not start <= inference_time(record) < end:
                continue
            rows = decode_capture_rows(record)
        except (ValueError, KeyError, TypeError) as error:
            LOG.warning("skipping a malformed capture record: %s", error)
            rejected += 1
            continue
        for row in rows:
            if len(row) != len(feature_names):
                rejected += 1
                continue
            try:
                parsed = [float(cell) for cell in row]
            except ValueError:
                rejected += 1
                continue
            for name, value in zip(feature_names, parsed, strict=True):
                values[name].append(value)
            kept += 1
    return values, kept, rejected


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
) -> DriftReport:
    """The whole comparison, free of I/O: baseline and captured lines in, report out."""
    baselines = parse_baseline(statistics)
    names = [b.name for b in baselines]
    values, kept, rejected = collect_feature_values(capture_lines, names, start, end)
    report = DriftReport(
        endpoint_name=endpoint_name,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        baseline_uri=baseline_uri,
        threshold=threshold,
        captured_records=kept,
        rejected_records=rejected,
        status="insufficient-data",
        max_psi=None,
    )
    if kept < min_records:
        return report
    report.features = [feature_drift(b, values[b.name], threshold) for b in baselines]
    report.max_psi = max(f.psi for f in report.features)
    report.drifted_features = [f.feature for f in report.features if f.drifted]
    report.status = "drift" if report.drifted_features else "ok"
    return report


def metric_data(report: DriftReport, timestamp: datetime) -> list[dict[str, Any]]:
    """CloudWatch datums for a report; no PSI at all when the window had too little data."""
    endpoint = {"Name": "EndpointName", "Value": report.endpoint_name}
    data: list[dict[str, Any]] = [
        {
            "MetricName": RECORDS_METRIC,
            "Dimensions": [endpoint],
            "Timestamp": timestamp,
            "Value": report.captured_records,
            "Unit": "Count",
        }
    ]
    if report.max_psi is None:
        return data
    for name, psi in [(f.feature, f.psi) for f in report.features] + [(ALL_FEATURES, report.max_psi)]:
        data.append(
            {
                "MetricName": PSI_METRIC,
                "Dimensions": [endpoint, {"Name": "Feature", "Value": name}],
                "Timestamp": timestamp,
                "Value": psi,
                "Unit": "None",
            }
        )
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
    return args


def main(argv: Sequence[str] | None = None) -> DriftReport:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    end = datetime.fromisoformat(args.end_time) if args.end_time else datetime.now(UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    start = end - timedelta(hours=args.window_hours)

    needs_aws = not args.no_publish or any(
        v.startswith("s3://") for v in (args.capture, args.baseline_statistics or "s3://")
    )
    s3 = sagemaker = None
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
    )
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "drift-report.json").write_text(report.to_json())
    LOG.info(
        "status=%s max_psi=%s records=%d drifted=%s",
        report.status,
        report.max_psi,
        report.captured_records,
        ",".join(report.drifted_features) or "-",
    )
    if not args.no_publish:
        import boto3

        publish(boto3.client("cloudwatch"), args.metric_namespace, metric_data(report, end))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
