"""The drift check: PSI against the registered baseline, capture parsing, window, metrics, local run;
its health alarms (not running, rejected rows), which notify but never retrain; its role's reads."""

from __future__ import annotations

import base64
import fnmatch
import gzip
import importlib
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

import config
import contracts
from constructs.monitoring import drift_check_health_alarms
from pipeline_steps import checked_in, local_drift_check
from pipeline_steps.scripts import baseline, drift_check
from tests.conftest import ROOT, Assembly, raw_config
from tests.support import alarm_state_change_event, as_list

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


def check(
    lines: list[str], stats: dict[str, Any] | None = None, max_rejected_fraction: float = 0.9
) -> drift_check.DriftReport:
    return drift_check.check_drift(
        statistics=stats or statistics(("a", UNIFORM), ("b", UNIFORM)),
        capture_blocks=["\n".join(lines)],
        endpoint_name="ep",
        baseline_uri="s3://b/statistics.json",
        start=START,
        end=END,
        rule=drift_check.DecisionRule(),
        max_rejected_fraction=max_rejected_fraction,
    )


def uniform_rows(shift: float = 0.0) -> list[list[float]]:
    return [[i % 10 + 0.5 + shift, (i * 3) % 10 + 0.5] for i in range(200)]


def test_identical_distribution_has_zero_psi() -> None:
    assert drift_check.population_stability_index([0.1] * 10, [0.1] * 10) == 0.0


def test_empty_bucket_does_not_make_psi_infinite() -> None:
    assert drift_check.population_stability_index([0.5, 0.5], [1.0, 0.0]) < 10


def test_values_outside_the_baseline_range_land_in_the_edge_buckets() -> None:
    edges = [0.0, 1.0, 2.0, 3.0]
    values = np.array([-5.0, 1.0, 1.5, 3.0, 99.0])
    assert drift_check.bucket_indices(values, edges).tolist() == [0, 1, 1, 2, 2]


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


ROW_METRICS = [
    drift_check.ROWS_READ_METRIC,
    drift_check.ROWS_ACCEPTED_METRIC,
    drift_check.ROWS_REJECTED_METRIC,
    drift_check.REJECTED_FRACTION_METRIC,
]


def published(report: drift_check.DriftReport) -> dict[str, float]:
    """The per-run (EndpointName-only) datums of a report, by metric name."""
    return {d["MetricName"]: d["Value"] for d in drift_check.metric_data(report, END) if len(d["Dimensions"]) == 1}


def test_too_little_data_publishes_no_verdict_so_the_alarm_cannot_fire_on_noise() -> None:
    report = check([record([[1.0, 2.0]], END - timedelta(minutes=1))])
    assert report.status == "insufficient-data" and report.max_psi is None
    assert f"needs at least {report.min_rows}" in report.reason and report.min_rows > 30
    data = drift_check.metric_data(report, END)
    assert [d["MetricName"] for d in data] == [*ROW_METRICS, drift_check.UNCHECKED_FEATURES_METRIC], (
        "row counts, the proof the check ran, and the blind features; no verdict"
    )


def test_every_run_publishes_rows_read_accepted_and_rejected_even_with_no_traffic() -> None:
    empty = published(check([]))
    assert empty == {**dict.fromkeys(ROW_METRICS, 0), drift_check.UNCHECKED_FEATURES_METRIC: 2}
    lines = [record(uniform_rows(), END - timedelta(minutes=5)), record([[1.0, 2.0, 3.0]], END - timedelta(minutes=5))]
    counts = published(check(lines))
    assert counts == {
        drift_check.ROWS_READ_METRIC: 201,
        drift_check.ROWS_ACCEPTED_METRIC: 200,
        drift_check.ROWS_REJECTED_METRIC: 1,
        drift_check.REJECTED_FRACTION_METRIC: round(1 / 201, 6),
        drift_check.UNCHECKED_FEATURES_METRIC: 0,
        drift_check.DRIFTED_FEATURES_METRIC: 0,
    }


def capture_with(content_type: str, data: str) -> str:
    line = json.loads(record([[1.0, 2.0]], END - timedelta(minutes=1)))
    line["captureData"]["endpointInput"].update(observedContentType=content_type, data=data)
    return json.dumps(line)


@pytest.mark.parametrize(
    ("lines", "reason", "message"),
    [
        ([record([[1.0, 2.0, 3.0]] * 50, END - timedelta(minutes=1))], drift_check.COLUMN_COUNT, "has 3 values"),
        ([capture_with("application/json", '{"instances": [[1, 2]]}')] * 40, drift_check.NOT_CSV, "application/json"),
        ([capture_with("text/csv", "1.0,abc")] * 40, drift_check.NON_NUMERIC, "'b' has the non-numeric value 'abc'"),
    ],
    ids=["other-column-count", "json-content-type", "non-numeric-values"],
)
def test_capture_whose_schema_differs_from_the_baseline_is_a_failed_check(
    lines: list[str], reason: str, message: str
) -> None:
    report = check(lines, max_rejected_fraction=0.05)
    assert report.status == drift_check.STATUS_FAILED, "not insufficient-data: the data is there but unusable"
    assert report.rejections == {reason: report.rejected_records} and report.captured_records == 0
    assert reason in report.reason and message in report.reason
    assert json.loads(report.to_json())["reason"] == report.reason
    assert report.max_psi is None, "a failed check publishes no PSI, so it cannot start retraining"
    assert published(report)[drift_check.REJECTED_FRACTION_METRIC] == 1.0


def test_a_few_rejected_rows_within_the_allowed_fraction_still_give_a_verdict() -> None:
    lines = [record(uniform_rows(), END - timedelta(minutes=5)), record([[1.0, 2.0, 3.0]], END - timedelta(minutes=5))]
    assert check(lines, max_rejected_fraction=0.05).status == drift_check.STATUS_OK
    assert check(lines, max_rejected_fraction=0.0).status == drift_check.STATUS_FAILED


def test_nan_and_empty_cells_are_missing_values_never_drift() -> None:
    clean = uniform_rows()
    gaps = [f"{('nan', '', 'NaN')[i % 3]},{i % 10 + 0.5}" for i in range(120)]
    with_gaps = "\n".join([*(f"{a},{b}" for a, b in clean), *gaps])
    report = check([capture_with("text/csv", with_gaps)])
    assert report.status == drift_check.STATUS_OK and report.rejected_records == 0
    (a, b) = report.features
    assert a.psi is not None and a.psi < 0.01, "NaN used to land in the top bucket (PSI > 10 on clean data)"
    assert (a.missing_count, a.captured_count, b.missing_count) == (120, 200, 0)


def test_a_feature_missing_from_every_row_has_no_psi_and_does_not_drift() -> None:
    rows = "\n".join(f",{b}" for _, b in uniform_rows())
    report = check([capture_with("text/csv", rows)])
    (a, b) = report.features
    assert (a.psi, a.drifted, a.missing_count) == (None, False, 200)
    assert report.status == drift_check.STATUS_OK and report.max_psi == b.psi


def test_feature_constant_in_the_baseline_is_still_checked() -> None:
    import pandas as pd

    from pipeline_steps.scripts import baseline

    features = [{"name": "a", "kind": "numeric"}, {"name": "b", "kind": "numeric"}]
    table = pd.DataFrame({"a": [3.0] * 100, "b": [i % 10 + 0.5 for i in range(100)]})
    stats = baseline.statistics(table, features)
    assert len(stats["features"][0]["numerical_statistics"]["distribution"]["kll"]["buckets"]) == 1
    same = check([record([[3.0, i % 10 + 0.5] for i in range(100)], END - timedelta(minutes=1))], stats)
    moved = check([record([[5.0, i % 10 + 0.5] for i in range(100)], END - timedelta(minutes=1))], stats)
    assert same.status == drift_check.STATUS_OK and same.features[0].psi == 0.0
    assert moved.drifted_features == ["a"] and moved.features[0].out_of_range_count == 100


def test_metrics_carry_endpoint_and_feature_dimensions_and_an_all_features_maximum() -> None:
    report = check([record(uniform_rows(shift=4.0), END - timedelta(minutes=5))])
    psi = {
        {d["Name"]: d["Value"] for d in datum["Dimensions"]}["Feature"]: datum["Value"]
        for datum in drift_check.metric_data(report, END)
        if datum["MetricName"] == drift_check.PSI_METRIC
    }
    assert set(psi) == {"a", "b", drift_check.ALL_FEATURES}
    assert psi[drift_check.ALL_FEATURES] == max(psi["a"], psi["b"])


def categorical_statistics(name: str, counts: dict[str, int]) -> dict[str, Any]:
    """A categorical feature of statistics.json in Model Monitor's string_statistics shape."""
    buckets = [{"value": value, "count": count} for value, count in counts.items()]
    return {
        "name": name,
        "inferred_type": "String",
        "string_statistics": {
            "common": {"num_present": sum(counts.values()), "num_missing": 0},
            "distinct_count": len(counts),
            "distribution": {"categorical": {"buckets": buckets}},
        },
    }


def with_category(stats: dict[str, Any], name: str, counts: dict[str, int]) -> dict[str, Any]:
    return {**stats, "features": [*stats["features"], categorical_statistics(name, counts)]}


COLOURS = {"red": 50, "green": 30, "blue": 20}


def coloured_rows(colours: list[str]) -> list[list[Any]]:
    return [[i % 10 + 0.5, (i * 3) % 10 + 0.5, colours[i % len(colours)]] for i in range(200)]


def test_a_categorical_feature_with_the_baselines_mix_does_not_drift() -> None:
    stats = with_category(statistics(("a", UNIFORM), ("b", UNIFORM)), "colour", COLOURS)
    mix = ["red"] * 5 + ["green"] * 3 + ["blue"] * 2
    report = check([record(coloured_rows(mix), END - timedelta(minutes=5))], stats)
    colour = report.features[2]
    assert (colour.kind, colour.psi, colour.drifted, colour.l_infinity, colour.out_of_range_count) == (
        "categorical",
        0.0,
        False,
        0.0,
        0,
    )
    assert report.status == drift_check.STATUS_OK


def test_a_shifted_category_mix_drifts_with_its_l_infinity_distance_reported() -> None:
    stats = with_category(statistics(("a", UNIFORM), ("b", UNIFORM)), "colour", COLOURS)
    mix = ["red"] * 2 + ["green"] * 2 + ["blue"] * 6  # blue 20 % -> 60 %
    report = check([record(coloured_rows(mix), END - timedelta(minutes=5))], stats)
    colour = report.features[2]
    expected = drift_check.population_stability_index([0.5, 0.3, 0.2, 0.0], [0.2, 0.2, 0.6, 0.0])
    assert colour.psi == pytest.approx(expected, abs=1e-6) and colour.drifted
    assert colour.l_infinity == pytest.approx(0.4)
    assert report.drifted_features == ["colour"]


def test_categories_the_baseline_never_saw_count_as_drift_not_as_rejected_rows() -> None:
    # 20 unseen of 200 is significant against a baseline of 400 that never saw one.
    stats = with_category(statistics(("a", UNIFORM), ("b", UNIFORM)), "colour", {k: 4 * v for k, v in COLOURS.items()})
    mix = ["red"] * 4 + ["green"] * 3 + ["blue"] * 2 + ["purple"]  # 10 % unseen
    report = check([record(coloured_rows(mix), END - timedelta(minutes=5))], stats)
    colour = report.features[2]
    assert report.rejected_records == 0 and colour.out_of_range_count == 20
    assert colour.drifted and colour.psi > 0.2 and colour.l_infinity == pytest.approx(0.1)


def test_a_category_the_contract_allows_but_training_never_saw_is_known_not_unseen() -> None:
    """The baseline writes it with count 0: in a window it is a rare known category, not one never heard of."""
    features = [{"name": "a", "kind": "numeric"}, {"name": "colour", "kind": "categorical", "values": ["red", "teal"]}]
    training = pd.DataFrame({"a": np.arange(400) % 10 + 0.5, "colour": ["red"] * 400})
    stats = baseline.statistics(training, features)
    (colour,) = [f for f in stats["features"] if f["name"] == "colour"]
    section = colour["string_statistics"]
    assert section["distribution"]["categorical"]["buckets"] == [
        {"value": "red", "count": 400},
        {"value": "teal", "count": 0},
    ]
    assert section["distinct_count"] == 1
    rows: list[list[Any]] = [[i % 10 + 0.5, "teal" if i % 50 == 0 else "red"] for i in range(200)]
    report = check([record(rows, END - timedelta(minutes=5))], stats)
    assert report.features[1].out_of_range_count == 0 and report.features[1].captured_count == 200


def test_window_counts_of_two_parts_add_up_to_the_whole() -> None:
    """Counts, not values: a window split into parts (shards) merges by adding their counts."""
    stats = with_category(statistics(("a", UNIFORM), ("b", UNIFORM)), "colour", COLOURS)
    baselines = drift_check.parse_baseline(stats)
    lines = [record([row], END - timedelta(minutes=5)) for row in coloured_rows(["red", "blue", "teal"])]
    lines += [record([[1.0, 2.0]], END - timedelta(minutes=5)), "{not json"]
    whole = drift_check.collect(["\n".join(lines)], baselines, START, END)
    first = drift_check.collect(["\n".join(lines[:77])], baselines, START, END)
    second = drift_check.collect(["\n".join(lines[77:])], baselines, START, END)
    first.add(drift_check.CapturedWindow.from_document(json.loads(json.dumps(second.to_document()))))
    assert first == whole and whole.accepted == 200 and whole.rejected == 2


def test_a_categorical_baseline_without_categories_is_rejected_with_the_feature_name() -> None:
    broken = {"features": [{"name": "colour", "string_statistics": {"distinct_count": 0}}]}
    with pytest.raises(ValueError, match=r"colour.*string_statistics\.distribution\.categorical\.buckets"):
        drift_check.parse_baseline(broken)


def test_baseline_without_buckets_is_rejected_with_the_feature_name() -> None:
    broken = {"features": [{"name": "width", "numerical_statistics": {}}]}
    with pytest.raises(ValueError, match=r"width.*kll\.buckets"):
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
    base = ["--endpoint-name=ep", "--capture=/tmp/x", "--max-rejected-fraction=0.05"]
    with pytest.raises(SystemExit):
        drift_check.parse_args([*base, "--no-publish"])
    with pytest.raises(SystemExit):
        drift_check.parse_args([*base, "--baseline-statistics=/tmp/s.json"])


@pytest.mark.parametrize("fraction", ["-0.1", "1", "2"])
def test_rejected_fraction_argument_is_a_share_below_one(fraction: str, capsys: Any) -> None:
    with pytest.raises(SystemExit):
        drift_check.parse_args(
            [
                "--endpoint-name=ep",
                "--capture=/x",
                "--baseline-statistics=/s",
                "--no-publish",
                f"--max-rejected-fraction={fraction}",
            ]
        )
    assert "--max-rejected-fraction must be at least 0 and below 1" in capsys.readouterr().err


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
            "--max-rejected-fraction=0.05",
            f"--output-dir={tmp_path}",
        ]
    )
    assert report.status == "drift" and report.baseline_uri == "s3://artifacts/models/baseline/statistics.json"
    assert json.loads((tmp_path / "drift-report.json").read_text())["drifted_features"] == ["a"]
    cloudwatch = real_client("cloudwatch", region_name="eu-west-1")
    metrics = cloudwatch.list_metrics(Namespace="mlops-delivery/Drift", MetricName="PSI")["Metrics"]
    features = sorted({d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Feature"})
    assert features == ["ALL", "a", "b"]
    rows = cloudwatch.get_metric_statistics(
        Namespace="mlops-delivery/Drift",
        MetricName=drift_check.ROWS_READ_METRIC,
        Dimensions=[{"Name": "EndpointName", "Value": "ep"}],
        StartTime=END - timedelta(minutes=5),
        EndTime=END + timedelta(minutes=5),
        Period=600,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    assert [(p["Sum"], p["SampleCount"]) for p in rows] == [(200.0, 1.0)]


@pytest.mark.parametrize("model", ["models/xgboost", "models/wine", "models/diabetes"])
def test_local_run_flags_exactly_the_shifted_features(model: str, tmp_path: Path) -> None:
    loaded = config.load_model(model)
    reports = local_drift_check.run(tmp_path, loaded)
    assert reports["undrifted"].status == "ok"
    assert reports["drifted"].status == "drift"
    assert sorted(reports["drifted"].drifted_features) == sorted(local_drift_check.shifted_features(loaded.data))
    assert (tmp_path / "drifted" / "report" / "drift-report.json").exists()


def test_the_local_run_shows_a_shifted_categorical_feature_flagged_and_an_unshifted_one_not(tmp_path: Path) -> None:
    assert local_drift_check.main(["--model=models/diabetes", f"--output-dir={tmp_path}"]) == 0
    report = json.loads((tmp_path / "drifted" / "report" / "drift-report.json").read_text())
    features = {f["feature"]: f for f in report["features"]}
    data = config.load_model("models/diabetes").data
    shifted = set(local_drift_check.shifted_features(data))
    categorical = [f.name for f in data.features if f.kind is config.FeatureKind.CATEGORICAL]
    assert len(categorical) == 2 and len(shifted & set(categorical)) == 1
    for name in categorical:
        assert (features[name]["kind"], features[name]["drifted"]) == ("categorical", name in shifted), name


# --- health alarms, role and config (synthesized app) ---

SETTINGS = config.load_cdk_json()
NAMES = SETTINGS.names
ENVIRONMENTS = [e.name for e in SETTINGS.environments]


def serving(assembly: Assembly, env: str) -> Any:
    return assembly.template(NAMES.stack(env, "serving"))


def alarms(assembly: Assembly, env: str) -> dict[str, dict[str, Any]]:
    found = serving(assembly, env).find_resources("AWS::CloudWatch::Alarm")
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in found.values()}


def health_alarms(assembly: Assembly, env: str) -> dict[str, dict[str, Any]]:
    prefix = NAMES.health_alarm_prefix(env)
    return {name: alarm for name, alarm in alarms(assembly, env).items() if name.startswith(prefix)}


def watched(alarm: dict[str, Any], env: str) -> list[dict[str, Any]]:
    """The drift check's own datums (from a sample report) that an alarm reads."""
    report = check([record(uniform_rows(), END - timedelta(minutes=5))])
    report.endpoint_name = NAMES.endpoint(env)
    return [
        d
        for d in drift_check.metric_data(report, END)
        if d["MetricName"] == alarm["MetricName"] and d["Dimensions"] == alarm["Dimensions"]
    ]


def test_health_alarm_names_never_match_a_drift_alarm_prefix() -> None:
    drift_prefixes = tuple(NAMES.drift_alarm_prefix(env) for env in ENVIRONMENTS)
    for env in ENVIRONMENTS:
        assert not NAMES.health_alarm_prefix(env).startswith(drift_prefixes)
        assert not f"{NAMES.health_alarm_prefix(env)}drift-check-not-running".startswith(drift_prefixes)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_health_alarms_notify_the_alerts_topic_like_the_drift_alarm(assembly: Assembly, env: str) -> None:
    prefix = NAMES.health_alarm_prefix(env)
    found = health_alarms(assembly, env)
    assert set(found) == {
        f"{prefix}drift-check-not-running",
        f"{prefix}drift-check-rejected-rows",
        f"{prefix}drift-check-unchecked-features",
    }
    drift_alarm = alarms(assembly, env)[f"{NAMES.drift_alarm_prefix(env)}data-drift"]
    for alarm in found.values():
        assert alarm["AlarmActions"] == drift_alarm["AlarmActions"] and len(alarm["AlarmActions"]) == 1


def test_health_alarm_state_changes_are_not_retraining_triggers(assembly: Assembly) -> None:
    """Neither the retraining rule's alarm-name pattern nor the function accepts them."""
    build = SETTINGS.build_environment.name
    retraining = assembly.templates[NAMES.stack(build, "retraining")]["Resources"]
    rules = [r["Properties"] for r in retraining.values() if r["Type"] == "AWS::Events::Rule"]
    patterns = [r["EventPattern"] for r in rules if "aws.cloudwatch" in r.get("EventPattern", {}).get("source", [])]
    (pattern,) = patterns
    rule_prefixes = tuple(item["prefix"] for item in pattern["detail"]["alarmName"])
    (function,) = [r for r in retraining.values() if r["Type"] == "AWS::Lambda::Function"]
    # Values that are CloudFormation references (bucket names) do not matter here.
    variables = {
        k: v if isinstance(v, str) else k.lower() for k, v in function["Properties"]["Environment"]["Variables"].items()
    }
    sys.path.insert(0, str(ROOT / "lambda" / "start_retraining"))
    triggers = importlib.import_module("trigger_events")
    settings = importlib.import_module("retraining_settings").Settings.from_env(variables)
    assert rule_prefixes and set(rule_prefixes) == set(settings.drift_alarm_prefixes)
    for env in ENVIRONMENTS:
        for name in health_alarms(assembly, env):
            assert not name.startswith(rule_prefixes), f"{name} would reach the retraining function"
            event = alarm_state_change_event(name, "ALARM", account=SETTINGS.environment(env).account)
            with pytest.raises(triggers.UnknownTriggerError, match="not a drift alarm"):
                triggers.parse_trigger(event, settings)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_not_running_alarm_fires_when_no_check_completes_for_longer_than_the_schedule(
    assembly: Assembly, env: str
) -> None:
    alarm = health_alarms(assembly, env)[f"{NAMES.health_alarm_prefix(env)}drift-check-not-running"]
    interval = SETTINGS.environment(env).drift.check_interval_minutes * 60
    assert alarm["TreatMissingData"] == "breaching", "a check that stopped publishes nothing at all"
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "SampleCount",
        "LessThanThreshold",
        1,
    )
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"], "every period of the window without a check"
    assert interval < alarm["Period"] * alarm["EvaluationPeriods"] <= 2 * interval
    assert [d["Value"] for d in watched(alarm, env)] == [200], "it must watch the count every run publishes"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rejected_rows_alarm_uses_the_configured_share(assembly: Assembly, env: str) -> None:
    alarm = health_alarms(assembly, env)[f"{NAMES.health_alarm_prefix(env)}drift-check-rejected-rows"]
    assert alarm["Threshold"] == SETTINGS.environment(env).drift.max_rejected_fraction
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Maximum", "GreaterThanThreshold")
    assert alarm["TreatMissingData"] == "notBreaching", "a missing check is the other alarm's job"
    assert [d["Value"] for d in watched(alarm, env)] == [0.0]
    (pipeline,) = serving(assembly, env).find_resources("AWS::SageMaker::Pipeline").values()
    _, variables = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    assert float(variables["MaxRejectedFraction"]) == alarm["Threshold"], "the check fails where the alarm fires"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_drift_alarm_watches_the_verdict_not_psi_which_reads_high_on_small_windows(
    assembly: Assembly, env: str
) -> None:
    alarm = alarms(assembly, env)[f"{NAMES.drift_alarm_prefix(env)}data-drift"]
    assert (alarm["MetricName"], alarm["Statistic"]) == (drift_check.DRIFTED_FEATURES_METRIC, "Maximum")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    drifted = check([record(uniform_rows(shift=4.0), END - timedelta(minutes=5))])
    drifted.endpoint_name = NAMES.endpoint(env)
    seen = [d["Value"] for d in drift_check.metric_data(drifted, END) if d["MetricName"] == alarm["MetricName"]]
    assert seen == [1] and [d["Value"] for d in watched(alarm, env)] == [0]
    small = check([record(uniform_rows(shift=4.0)[:20], END - timedelta(minutes=5))])
    assert small.status == drift_check.STATUS_INSUFFICIENT_DATA and small.features == []
    assert not [d for d in drift_check.metric_data(small, END) if d["MetricName"] == alarm["MetricName"]]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_unchecked_features_alarm_fires_when_drift_cannot_be_seen(assembly: Assembly, env: str) -> None:
    alarm = health_alarms(assembly, env)[f"{NAMES.health_alarm_prefix(env)}drift-check-unchecked-features"]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Maximum",
        "GreaterThanThreshold",
        0,
    )
    assert alarm["TreatMissingData"] == "notBreaching", "a missing check is the not-running alarm's job"
    assert [d["Value"] for d in watched(alarm, env)] == [0]
    empty = check([])
    empty.endpoint_name = NAMES.endpoint(env)
    seen = [d["Value"] for d in drift_check.metric_data(empty, END) if d["MetricName"] == alarm["MetricName"]]
    assert seen == [2], "an empty capture (RowsRead=0) is a check that saw nothing: it alarms"


def cloudwatch_alarm_limits() -> str:
    """PutMetricAlarm's documentation of Period in botocore's copy of the CloudWatch service model."""
    models = Path(botocore.__file__).parent / "data" / "cloudwatch"
    (path,) = sorted(models.glob("*/service-2.json*"))
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        model = json.load(handle)
    shape = model["shapes"]["PutMetricAlarmInput"]["members"]["Period"]["documentation"]
    return str(shape)


def test_cloudwatch_still_documents_the_alarm_span_limits_the_window_respects() -> None:
    text = cloudwatch_alarm_limits()
    assert "can't be more than 604,800 seconds" in text
    assert "less than one hour (3,600 seconds), the total evaluation period can't be longer than one day" in text
    assert drift_check_health_alarms.ALARM_SPAN_LIMIT_MINUTES * 60 == 604_800
    assert drift_check_health_alarms.SHORT_PERIOD_SPAN_LIMIT_MINUTES * 60 == 86_400


@pytest.mark.parametrize("interval", [1, 15, 60, 180, 360, 720, 1440, 2880, 96 * 60])
def test_not_running_window_covers_the_interval_within_cloudwatch_limits(interval: int) -> None:
    period, periods = drift_check_health_alarms.health_alarm_window(interval)
    span = period * periods
    assert span >= interval + 30 and span >= 1.5 * interval, "room for a job to start and finish"
    assert span <= 2 * interval + 36, "but not much more than one missed check"
    limit = 24 * 60 if period < 60 else 7 * 24 * 60
    assert span <= limit and period >= 1


def test_not_running_window_refuses_a_span_cloudwatch_would_reject() -> None:
    with pytest.raises(ValueError, match="CloudWatch allows 10080"):
        drift_check_health_alarms.health_alarm_window(120 * 60)


@pytest.mark.parametrize(
    ("drift", "key", "allowed"),
    [
        ({"max_rejected_fraction": 1.0}, "max_rejected_fraction", "a number from 0.0 to 0.99"),
        ({"max_rejected_fraction": "lots"}, "max_rejected_fraction", "a number from 0.0 to 0.99"),
        ({"schedule": "cron(0 6 ? * MON-FRI *)"}, "max_hours_between_checks", "needed with a cron() schedule"),
        ({"schedule": "cron(0 6 * * ? *)", "max_hours_between_checks": 0}, "max_hours_between_checks", "1 to 96"),
        ({"schedule": "rate(5 days)"}, "schedule", "at least every 96 hours"),
    ],
)
def test_drift_health_settings_are_validated(drift: dict[str, Any], key: str, allowed: str) -> None:
    raw = raw_config()
    raw["environments"]["staging"]["drift"].update(drift)
    with pytest.raises(
        config.ConfigError, match=rf"'mlops\.environments\.staging\.drift\.{key}'.*{re.escape(allowed)}"
    ):
        config.load({config.CONTEXT_KEY: raw}, releases_dir=ROOT / "releases")


@pytest.mark.parametrize(
    ("drift", "minutes"),
    [
        ({"schedule": "rate(30 minutes)"}, 30),
        ({"schedule": "rate(1 day)"}, 1440),
        ({"schedule": "cron(0 6 ? * MON-FRI *)", "max_hours_between_checks": 72}, 72 * 60),
    ],
)
def test_check_interval_comes_from_the_schedule_or_the_config(drift: dict[str, Any], minutes: int) -> None:
    raw = raw_config()
    raw["environments"]["staging"]["drift"].update(drift)
    settings = config.load({config.CONTEXT_KEY: raw}, releases_dir=ROOT / "releases")
    assert settings.environment("staging").drift.check_interval_minutes == minutes


def read_statements(assembly: Assembly, env: str) -> list[dict[str, Any]]:
    policies = serving(assembly, env).find_resources("AWS::IAM::Policy")
    found = [
        s
        for logical_id, p in policies.items()
        if "DriftMonitorRole" in logical_id
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    return [s for s in found if any(a.startswith("s3:Get") for a in as_list(s["Action"]))]


def object_patterns(statement: dict[str, Any]) -> list[str]:
    """Object-key patterns of a statement's resources (bucket ARNs themselves left out)."""
    patterns = []
    for resource in as_list(statement["Resource"]):
        text = resource if isinstance(resource, str) else resource.get("Fn::Join", ["", [""]])[1][-1]
        if "/" in text:
            patterns.append(text.split("/", 1)[1] if isinstance(resource, str) else text.lstrip("/"))
    return patterns


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_drift_role_reads_captured_data_and_registered_baselines_not_training_splits(
    assembly: Assembly, env: str
) -> None:
    reads = read_statements(assembly, env)
    (script,) = [p for s in reads if s.get("Sid") == "ReadDriftCheckScript" for p in object_patterns(s)]
    assert script.endswith(".py") and "*" not in script, "the job's own script: one object"
    patterns = {p for s in reads if s.get("Sid") != "ReadDriftCheckScript" for p in object_patterns(s)}
    reports = f"{contracts.drift_reports_prefix(env)}*"
    assert patterns == {f"{contracts.data_capture_prefix(env)}*", contracts.REGISTERED_BASELINES_PATTERN, reports}
    # Where the model-building pipeline writes what: statistics.json is readable, the splits are not.
    build = json.loads(checked_in.MODEL_BUILD_DEFINITION.read_text())
    outputs = {
        step["Name"]: [
            "/".join(["pipelines/model-build", "exec-1", *o["S3Output"]["S3Uri"]["Std:Join"]["Values"][2:]])
            for o in step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        ]
        for step in build["Steps"]
        if "ProcessingOutputConfig" in step["Arguments"]
    }
    baseline = contracts.REGISTERED_BASELINES_PATTERN
    assert all(fnmatch.fnmatchcase(f"{uri}/statistics.json", baseline) for uri in outputs["Baseline"])
    assert not any(fnmatch.fnmatchcase(f"{uri}/train.csv", baseline) for uri in outputs["Preprocess"])
