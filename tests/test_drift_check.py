"""The drift check: PSI against the registered baseline, capture parsing, window, metrics, local run."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipeline_steps import drift_check, local_drift_check

END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=1)


def statistics(*features: tuple[str, list[float]]) -> dict[str, Any]:
    """A statistics.json with ten unit-wide buckets over [0, 10) and the given counts."""
    return {
        "version": 0.0,
        "dataset": {"item_count": 100},
        "features": [
            {
                "name": name,
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "distribution": {
                        "kll": {
                            "buckets": [
                                {"lower_bound": float(i), "upper_bound": float(i + 1), "count": c}
                                for i, c in enumerate(counts)
                            ]
                        }
                    }
                },
            }
            for name, counts in features
        ],
    }


UNIFORM = [10.0] * 10


def record(rows: list[list[float]], at: datetime, *, base64_encoded: bool = False) -> str:
    data = "\n".join(",".join(str(v) for v in row) for row in rows)
    encoding = "CSV"
    if base64_encoded:
        data, encoding = base64.b64encode(data.encode()).decode(), "BASE64"
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": "0.5",
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
    )


def check(lines: list[str], stats: dict[str, Any] | None = None, min_records: int = 1) -> drift_check.DriftReport:
    return drift_check.check_drift(
        statistics=stats or statistics(("a", UNIFORM), ("b", UNIFORM)),
        capture_lines=lines,
        endpoint_name="ep",
        baseline_uri="s3://b/statistics.json",
        start=START,
        end=END,
        threshold=0.2,
        min_records=min_records,
    )


def uniform_rows(shift: float = 0.0) -> list[list[float]]:
    return [[i % 10 + 0.5 + shift, (i * 3) % 10 + 0.5] for i in range(200)]


def test_identical_distribution_has_zero_psi() -> None:
    assert drift_check.population_stability_index([0.1] * 10, [0.1] * 10) == 0.0


def test_empty_bucket_does_not_make_psi_infinite() -> None:
    assert drift_check.population_stability_index([0.5, 0.5], [1.0, 0.0]) < 10


def test_values_outside_the_baseline_range_land_in_the_edge_buckets() -> None:
    edges = [0.0, 1.0, 2.0, 3.0]
    assert drift_check.bucket_index(-5.0, edges) == 0
    assert drift_check.bucket_index(1.5, edges) == 1
    assert drift_check.bucket_index(3.0, edges) == 2
    assert drift_check.bucket_index(99.0, edges) == 2


def test_captured_data_like_the_baseline_is_not_drift() -> None:
    report = check([record(uniform_rows(), END - timedelta(minutes=5))])
    assert report.status == "ok" and report.captured_records == 200
    assert report.max_psi is not None and report.max_psi < 0.01


def test_shifted_feature_is_reported_as_drift_alone() -> None:
    report = check([record(uniform_rows(shift=4.0), END - timedelta(minutes=5))])
    assert report.status == "drift"
    assert report.drifted_features == ["a"]
    (a, b) = report.features
    assert a.out_of_range_count > 0 and b.psi < 0.01


def test_records_outside_the_window_are_ignored() -> None:
    lines = [
        record(uniform_rows(shift=4.0), START - timedelta(seconds=1)),
        record(uniform_rows(shift=4.0), END),  # the window is [start, end)
        record(uniform_rows(), START),
    ]
    report = check(lines)
    assert report.status == "ok" and report.captured_records == 200


def test_base64_capture_is_decoded() -> None:
    report = check([record(uniform_rows(), END - timedelta(minutes=1), base64_encoded=True)])
    assert report.captured_records == 200


def test_malformed_records_and_rows_are_counted_not_silently_dropped() -> None:
    lines = [
        "{not json",
        json.dumps({"captureData": {}}),
        record([[1.0, 2.0, 3.0]], END - timedelta(minutes=1)),  # wrong column count
        record([[1.0, 2.0]], END - timedelta(minutes=1)),
        "",
    ]
    report = check(lines)
    assert (report.captured_records, report.rejected_records) == (1, 3)


def test_too_little_data_publishes_no_psi_so_the_alarm_cannot_fire_on_noise() -> None:
    report = check([record([[1.0, 2.0]], END - timedelta(minutes=1))], min_records=30)
    assert report.status == "insufficient-data" and report.max_psi is None
    data = drift_check.metric_data(report, END)
    assert [d["MetricName"] for d in data] == [drift_check.RECORDS_METRIC]


def test_metrics_carry_endpoint_and_feature_dimensions_and_an_all_features_maximum() -> None:
    report = check([record(uniform_rows(shift=4.0), END - timedelta(minutes=5))])
    psi = {
        {d["Name"]: d["Value"] for d in datum["Dimensions"]}["Feature"]: datum["Value"]
        for datum in drift_check.metric_data(report, END)
        if datum["MetricName"] == drift_check.PSI_METRIC
    }
    assert set(psi) == {"a", "b", drift_check.ALL_FEATURES}
    assert psi[drift_check.ALL_FEATURES] == max(psi["a"], psi["b"])


def test_baseline_without_buckets_is_rejected_with_the_feature_name() -> None:
    broken = {"features": [{"name": "mean_radius", "numerical_statistics": {}}]}
    with pytest.raises(ValueError, match=r"mean_radius.*kll\.buckets"):
        drift_check.parse_baseline(broken)


def test_baseline_uri_comes_from_the_registered_version() -> None:
    package = {
        "ModelPackageArn": "arn:aws:sagemaker:eu-west-1:1:model-package/g/3",
        "DriftCheckBaselines": {"ModelDataQuality": {"Statistics": {"S3Uri": "s3://b/stats.json"}}},
    }
    assert drift_check.baseline_uri_of(package) == "s3://b/stats.json"
    with pytest.raises(ValueError, match="no data-quality statistics"):
        drift_check.baseline_uri_of({"ModelPackageArn": "x"})


def test_hour_prefixes_follow_the_capture_layout() -> None:
    prefixes = list(drift_check.hour_prefixes("data-capture/dev/ep/AllTraffic/", END - timedelta(hours=2), END))
    assert prefixes == [
        "data-capture/dev/ep/AllTraffic/2026/03/01/10/",
        "data-capture/dev/ep/AllTraffic/2026/03/01/11/",
    ]


def test_arguments_need_a_baseline_source_and_a_namespace_when_publishing() -> None:
    with pytest.raises(SystemExit):
        drift_check.parse_args(["--endpoint-name=ep", "--capture=/tmp/x", "--no-publish"])
    with pytest.raises(SystemExit):
        drift_check.parse_args(["--endpoint-name=ep", "--capture=/tmp/x", "--baseline-statistics=/tmp/s.json"])


@mock_aws
def test_main_reads_s3_resolves_the_registered_baseline_and_publishes(tmp_path: Path, monkeypatch: Any) -> None:
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(
        Bucket="artifacts",
        Key="models/baseline/statistics.json",
        Body=json.dumps(statistics(("a", UNIFORM), ("b", UNIFORM))),
    )
    hour = END - timedelta(hours=1)
    s3.put_object(
        Bucket="artifacts",
        Key=f"data-capture/dev/ep/AllTraffic/{hour:%Y/%m/%d/%H}/part.jsonl",
        Body=record(uniform_rows(shift=4.0), END - timedelta(minutes=10)) + "\n",
    )

    class FakeSageMaker:
        def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
            assert ModelPackageName.endswith("/3")
            return {
                "ModelPackageArn": ModelPackageName,
                "DriftCheckBaselines": {
                    "ModelDataQuality": {"Statistics": {"S3Uri": "s3://artifacts/models/baseline/statistics.json"}}
                },
            }

    real_client = boto3.client

    def client(name: str, **kwargs: Any) -> Any:
        return FakeSageMaker() if name == "sagemaker" else real_client(name, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    report = drift_check.main(
        [
            "--endpoint-name=ep",
            "--capture=s3://artifacts/data-capture/dev/ep/AllTraffic/",
            "--model-package-arn=arn:aws:sagemaker:eu-west-1:222222222222:model-package/g/3",
            "--baseline-statistics=",
            f"--end-time={END.isoformat()}",
            "--metric-namespace=mlops-delivery/Drift",
            f"--output-dir={tmp_path}",
        ]
    )
    assert report.status == "drift" and report.baseline_uri == "s3://artifacts/models/baseline/statistics.json"
    assert json.loads((tmp_path / "drift-report.json").read_text())["drifted_features"] == ["a"]
    cloudwatch = real_client("cloudwatch", region_name="eu-west-1")
    metrics = cloudwatch.list_metrics(Namespace="mlops-delivery/Drift", MetricName="PSI")["Metrics"]
    features = sorted({d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Feature"})
    assert features == ["ALL", "a", "b"]


def test_local_run_shows_no_drift_on_sample_data_and_drift_on_the_shifted_batch(tmp_path: Path) -> None:
    reports = local_drift_check.run(tmp_path)
    assert reports["undrifted"].status == "ok"
    assert reports["drifted"].status == "drift"
    assert set(local_drift_check.SHIFTED_FEATURES) <= set(reports["drifted"].drifted_features)
    assert (tmp_path / "drifted" / "report" / "drift-report.json").exists()
