"""The drift check's decision at every volume, its blind spots as alarms, and its shards.

- No false alarms on small windows: a window below the minimum the test needs is "insufficient
  data", never drift; at the minimum, undrifted windows are rarely flagged and a shift of one
  standard deviation almost always is (the seeded trials here; `bench/drift_decision.py` measures
  the rates on the examples' data and on generated data).
- Drift that can no longer be seen is published (UncheckedFeatures), infinity is a data error.
- The window's counts, split over shards and merged, equal one run's; the local run's results
  are pinned (tests/fixtures/local_drift_run.json).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

import config
from pipeline_steps import local_drift_check, sample_data
from pipeline_steps.scripts import baseline, drift_check
from tests.conftest import ROOT

END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=1)
RULE = drift_check.DecisionRule()
PYTHON_39 = Path.home() / ".pyenv" / "versions" / "3.9.18" / "bin" / "python"


def capture(table: pd.DataFrame) -> str:
    """One captured request per row, in SageMaker's compact layout, within the window."""
    return "\n".join(local_drift_check.capture_lines(table, list(table.columns), END))


def run(statistics: dict[str, Any], table: pd.DataFrame) -> drift_check.DriftReport:
    return drift_check.check_drift(
        statistics=statistics,
        capture_blocks=[capture(table)],
        endpoint_name="ep",
        baseline_uri="s3://b/statistics.json",
        start=START,
        end=END,
        rule=RULE,
        max_rejected_fraction=0.0,
    )


NUMERIC = [{"name": f"f{i}", "kind": "numeric"} for i in range(10)]


def normal_table(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    return pd.DataFrame({f["name"]: rng.normal(50.0, 10.0, rows) for f in NUMERIC})


def test_small_undrifted_windows_are_never_drift() -> None:
    """The breast cancer sample's held-out rows against its training rows: 30-row windows were all
    flagged (PSI's small-sample bias); now they lack the rows for a verdict, and 100-row ones get a sound one."""
    model = config.load_model("models/xgboost")
    table = local_drift_check.statistics_table(sample_data.sample_for(model.data), model)
    order = np.random.default_rng(3).permutation(len(table))
    train, held_out = table.iloc[order[:398]], table.iloc[order[398:]]
    statistics = baseline.statistics(train, model.data.as_document(model.task_type.value)["features"])
    rng = np.random.default_rng(4)
    for rows, verdict in ((30, drift_check.STATUS_INSUFFICIENT_DATA), (100, drift_check.STATUS_OK)):
        statuses = {
            run(statistics, held_out.sample(n=rows, random_state=int(rng.integers(2**31)))).status for _ in range(50)
        }
        assert statuses == {verdict}, rows


def test_at_the_minimum_window_false_alarms_are_rare_and_a_one_sd_shift_is_caught() -> None:
    rng = np.random.default_rng(11)
    flagged = detected = 0
    trials = 100
    for _ in range(trials):
        base = normal_table(rng, 400)
        statistics = baseline.statistics(base, NUMERIC)
        minimum, _, _ = drift_check.window_minimum(drift_check.parse_baseline(statistics), RULE)
        window = normal_table(rng, minimum)
        flagged += run(statistics, window).status == drift_check.STATUS_DRIFT
        window[f"f{rng.integers(10)}"] += 10.0
        detected += run(statistics, window).status == drift_check.STATUS_DRIFT
    assert flagged <= 2, f"{flagged} of {trials} undrifted windows flagged"
    assert detected >= 95, f"{detected} of {trials} shifted windows flagged"


def test_the_minimum_window_follows_from_the_baseline_size_and_the_feature_count() -> None:
    rng = np.random.default_rng(5)

    def minimum(rows: int, features: int) -> int:
        statistics = baseline.statistics(normal_table(rng, rows).iloc[:, :features], NUMERIC[:features])
        return drift_check.window_minimum(drift_check.parse_baseline(statistics), RULE)[0]

    assert minimum(300, 10) > minimum(3000, 10), "a small baseline's own noise needs a larger window"
    assert minimum(3000, 10) > minimum(3000, 1), "each feature's share of the false-alarm rate is smaller"
    strict = drift_check.DecisionRule(detection_power=0.99)
    statistics = baseline.statistics(normal_table(rng, 1000), NUMERIC)
    baselines = drift_check.parse_baseline(statistics)
    assert drift_check.window_minimum(baselines, strict)[0] > drift_check.window_minimum(baselines, RULE)[0]


def test_a_significant_but_small_change_is_not_drift() -> None:
    """The PSI threshold is the smallest change worth retraining for, however large the window."""
    rng = np.random.default_rng(8)
    statistics = baseline.statistics(normal_table(rng, 20_000), NUMERIC)
    window = normal_table(rng, 20_000)
    window["f0"] += 1.5  # 0.15 standard deviations: significant on 20,000 rows, PSI ~0.02
    (f0, *_) = run(statistics, window).features
    assert f0.p_value is not None and f0.p_value < RULE.alpha(10) and f0.psi is not None and f0.psi < RULE.threshold
    assert not f0.drifted


def test_infinity_is_a_data_error_never_drift() -> None:
    statistics = baseline.statistics(
        pd.DataFrame({"f0": np.arange(400) % 10 + 0.5, "f1": np.arange(400) % 7 + 0.5}), NUMERIC[:2]
    )
    rows = pd.DataFrame(
        {"f0": [float(i % 10) + 0.5 for i in range(300)], "f1": [float(i % 7) + 0.5 for i in range(300)]}
    )
    rows.loc[:29, "f0"] = math.inf
    rows.loc[30:39, "f1"] = -math.inf
    report = run(statistics, rows)
    assert report.rejections == {drift_check.NON_FINITE: 40} and report.captured_records == 260
    assert drift_check.NON_FINITE in report.reason and "infinite value 'inf'" in report.reason
    quoted = capture(pd.DataFrame({"f0": ["inf"], "f1": ["a,b"]})).replace("a,b", "0.5")  # quoted: row by row
    window = drift_check.collect([quoted], drift_check.parse_baseline(statistics), START, END)
    assert window.rejections == {drift_check.NON_FINITE: 1}


def test_a_feature_missing_in_every_row_is_published_as_unchecked() -> None:
    statistics = baseline.statistics(normal_table(np.random.default_rng(2), 400), NUMERIC)
    window = normal_table(np.random.default_rng(3), 1000)
    window["f3"] = math.nan
    report = run(statistics, window)
    assert report.status == drift_check.STATUS_OK and report.unchecked_features == ["f3"]
    assert "f3 (0 of" in report.reason
    datums = {d["MetricName"]: d["Value"] for d in drift_check.metric_data(report, END) if len(d["Dimensions"]) == 1}
    assert datums[drift_check.UNCHECKED_FEATURES_METRIC] == 1
    blank = run(statistics, window.assign(**{f["name"]: math.nan for f in NUMERIC}))
    assert (blank.status, blank.captured_records, blank.max_psi) == (drift_check.STATUS_INSUFFICIENT_DATA, 1000, None)
    assert "each was missing" in blank.reason and len(blank.unchecked_features) == len(NUMERIC)


def test_the_local_run_gives_its_pinned_results(tmp_path: Path) -> None:
    """Pinned when the check began to read captures column-wise, and again when the baseline's buckets became
    deciles (each row read one by one, every cell quoted, gave the same counts)."""
    pinned = json.loads((ROOT / "tests" / "fixtures" / "local_drift_run.json").read_text())
    for model, batches in pinned.items():
        reports = local_drift_check.run(tmp_path / model.replace("/", "-"), config.load_model(model))
        for batch, expected in batches.items():
            report = reports[batch]
            assert (report.status, sorted(report.drifted_features)) == (expected["status"], expected["drifted"])
            assert (report.captured_records, report.rejected_records) == (expected["accepted"], expected["rejected"])
            got = {
                f.feature: [f.psi, f.captured_count, f.out_of_range_count, f.missing_count, f.l_infinity]
                for f in report.features
            }
            assert got == expected["features"], (model, batch)


def write_capture(folder: Path, table: pd.DataFrame, files: int) -> None:
    hour = folder / f"{START:%Y/%m/%d/%H}"
    hour.mkdir(parents=True)
    for index, part in enumerate(np.array_split(np.arange(len(table)), files)):
        (hour / f"part-{index}.jsonl").write_text(capture(table.iloc[part]) + "\n")


def test_two_shards_merged_equal_one_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    statistics_file = tmp_path / "statistics.json"
    statistics_file.write_text(json.dumps(baseline.statistics(normal_table(rng, 400), NUMERIC)))
    window = normal_table(rng, 3000)
    window["f2"] += 10.0
    write_capture(tmp_path / "capture", window, files=7)
    common = [
        "--endpoint-name=ep",
        f"--capture={tmp_path / 'capture'}",
        f"--baseline-statistics={statistics_file}",
        f"--end-time={END.isoformat()}",
        "--max-rejected-fraction=0.05",
        "--no-publish",
    ]
    whole = drift_check.main([*common, f"--output-dir={tmp_path / 'whole'}"])
    for shard in ("0/2", "1/2"):
        assert (
            drift_check.main([*common, "--counts-only", f"--shard={shard}", f"--output-dir={tmp_path / 'counts'}"])
            is None
        )
    counts = sorted(p.name for p in (tmp_path / "counts").iterdir())
    assert counts == ["counts-0000-of-0002.json", "counts-0001-of-0002.json"]
    shares = [json.loads((tmp_path / "counts" / name).read_text())["accepted"] for name in counts]
    assert sum(shares) == 3000 and min(shares) > 0, "each shard read a part of the window's objects"
    merged = drift_check.main([*common, f"--merge-counts={tmp_path / 'counts'}", f"--output-dir={tmp_path / 'merged'}"])
    assert whole is not None and merged is not None and whole.drifted_features == ["f2"]
    assert (tmp_path / "merged" / "drift-report.json").read_text() == (
        tmp_path / "whole" / "drift-report.json"
    ).read_text()
    (tmp_path / "counts" / counts[1]).unlink()
    with pytest.raises(ValueError, match="one counts file of every shard"):
        drift_check.main([*common, f"--merge-counts={tmp_path / 'counts'}", f"--output-dir={tmp_path / 'lost'}"])


def test_this_instance_reads_sagemakers_resource_config(tmp_path: Path) -> None:
    config_file = tmp_path / "resourceconfig.json"
    config_file.write_text(json.dumps({"current_host": "algo-2", "hosts": ["algo-3", "algo-1", "algo-2"]}))
    assert drift_check.this_instance(config_file) == (1, 3)
    assert drift_check.this_instance(tmp_path / "absent.json") == (0, 1)


@mock_aws
def test_the_job_needs_no_default_region_in_its_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 reads only AWS_DEFAULT_REGION, which the job's definition does not set: the region is an argument,
    and the registry's comes from the version's ARN."""
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    stats = baseline.statistics(normal_table(np.random.default_rng(1), 400), NUMERIC)
    s3.put_object(Bucket="artifacts", Key="baseline/statistics.json", Body=json.dumps(stats))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    regions: dict[str, str | None] = {}
    real_client = boto3.client

    class Registry:
        def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
            statistics = {"Statistics": {"S3Uri": "s3://artifacts/baseline/statistics.json"}}
            return {"ModelPackageArn": ModelPackageName, "DriftCheckBaselines": {"ModelDataQuality": statistics}}

    def client(name: str, region_name: str | None = None, **kwargs: Any) -> Any:
        regions[name] = region_name
        return Registry() if name == "sagemaker" else real_client(name, region_name=region_name, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    report = drift_check.main(
        [
            "--endpoint-name=ep",
            "--capture=s3://artifacts/data-capture/dev/ep/AllTraffic/",
            "--model-package-arn=arn:aws:sagemaker:us-east-1:222222222222:model-package/g/3",
            "--baseline-statistics=",
            "--end-time=2026-03-01T12:00:00Z",
            "--region=eu-west-1",
            "--metric-namespace=mlops-delivery/Drift",
            "--max-rejected-fraction=0.05",
            f"--output-dir={tmp_path}",
        ]
    )
    assert report is not None and (tmp_path / "drift-report.json").is_file()
    assert regions == {"s3": "eu-west-1", "sagemaker": "us-east-1", "cloudwatch": "eu-west-1"}


@pytest.mark.skipif(not PYTHON_39.is_file(), reason="pyenv's Python 3.9 (the drift-check image's) is not installed")
def test_end_and_start_times_in_utc_parse_on_the_images_python() -> None:
    """'Z', a fraction of any length and an offset without its colon (AWS does not document how it writes a
    pipeline execution's start), on the image's Python 3.9, whose fromisoformat takes none of them."""
    source = (ROOT / "pipeline_steps" / "scripts" / "drift_check.py").read_text()
    module = ast.parse(source)
    (function,) = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "parse_time"]
    (pattern,) = [n for n in module.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "_ISO_TIME"]
    given = [
        "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00.1Z",
        "2026-03-01T12:00:00.123Z",
        "2026-03-01T12:00:00.123456789Z",
        "2026-03-01T14:00:00.5+0200",
        "2026-03-01 12:00:00",
    ]
    program = "\n".join(
        [
            "from __future__ import annotations",
            "import re",
            "from datetime import datetime, timezone",
            str(ast.get_source_segment(source, pattern)),
            str(ast.get_source_segment(source, function)),
            f"for text in {given!r}: print(parse_time(text).astimezone(timezone.utc).isoformat())",
        ]
    )
    result = subprocess.run([str(PYTHON_39), "-c", program], capture_output=True, text=True, check=False)
    assert result.stdout.split() == [
        "2026-03-01T12:00:00+00:00",
        "2026-03-01T12:00:00.100000+00:00",
        "2026-03-01T12:00:00.123000+00:00",
        "2026-03-01T12:00:00.123456+00:00",
        "2026-03-01T12:00:00.500000+00:00",
        "2026-03-01T12:00:00+00:00",
    ], result.stderr


def test_each_feature_gets_its_share_of_the_false_alarm_rate() -> None:
    """p = 0.004 with PSI 0.28: drift when the feature is the only one, not when it is one of ten
    (Bonferroni: 0.01 / 10 per feature), however large the PSI reads."""
    uniform = drift_check.FeatureBaseline("a", tuple(float(i) for i in range(11)), (100.0,) * 10, 0.0, 10.0, 2.87)
    counts = drift_check.FeatureCounts(buckets=[16, 19, 17, 9, 10, 7, 8, 5, 6, 3])
    alone, among_ten = (drift_check.decide(uniform, counts, RULE, features, 50) for features in (1, 10))
    assert alone.psi == among_ten.psi and alone.psi is not None and alone.psi > RULE.threshold
    assert among_ten.p_value is not None and RULE.alpha(10) < among_ten.p_value < RULE.alpha(1)
    assert (alone.drifted, among_ten.drifted) == (True, False)


def test_drift_needs_a_psi_above_the_threshold_a_p_value_below_alpha_and_the_minimum_window() -> None:
    """Each of the three conditions at its boundary: PSI exactly at the threshold is no drift (the threshold
    is the change a feature must exceed), p exactly at alpha is not significant, one row short of the
    minimum is unchecked."""
    uniform = drift_check.FeatureBaseline("a", tuple(float(i) for i in range(11)), (100.0,) * 10, 0.0, 10.0, 2.87)
    counts = drift_check.FeatureCounts(buckets=[16, 19, 17, 9, 10, 7, 8, 5, 6, 3])
    rows = counts.present
    drifted = drift_check.decide(uniform, counts, RULE, 1, rows)
    assert drifted.drifted and drifted.psi is not None and drifted.p_value is not None
    at_psi = dataclasses.replace(RULE, threshold=drifted.psi)
    just_under_psi = dataclasses.replace(RULE, threshold=drifted.psi - 1e-6)
    assert not drift_check.decide(uniform, counts, at_psi, 1, rows).drifted
    assert drift_check.decide(uniform, counts, just_under_psi, 1, rows).drifted
    # alpha(1) = false_alarm_rate / DESIGN_MARGIN: the rate that puts alpha exactly at this p-value.
    at_p = dataclasses.replace(RULE, false_alarm_rate=drifted.p_value * drift_check.DESIGN_MARGIN)
    assert at_p.alpha(1) == pytest.approx(drifted.p_value)
    assert not drift_check.decide(uniform, counts, at_p, 1, rows).drifted
    above_p = dataclasses.replace(RULE, false_alarm_rate=drifted.p_value * drift_check.DESIGN_MARGIN * 1.001)
    assert drift_check.decide(uniform, counts, above_p, 1, rows).drifted
    one_short = drift_check.decide(uniform, counts, RULE, 1, rows + 1)
    assert (one_short.checked, one_short.drifted) == (False, False)
    assert drifted.checked


def test_the_check_designs_for_half_of_each_configured_error_rate() -> None:
    """At the full rates Bonferroni spends almost all of its 1 % and the measured rate sits at the limit (the wine
    sample: 5 of 500 undrifted windows flagged): the test runs at half the false alarms, the minimum window is
    sized for half the misses. p = 0.0095 with PSI 0.24 on the only feature: under 1 %, yet no drift."""
    assert (RULE.alpha(1), RULE.alpha(10)) == (pytest.approx(0.005), pytest.approx(0.0005))
    assert RULE.design_power == pytest.approx(0.975)
    uniform = drift_check.FeatureBaseline("a", tuple(float(i) for i in range(11)), (100.0,) * 10, 0.0, 10.0, 2.87)
    verdict = drift_check.decide(
        uniform, drift_check.FeatureCounts(buckets=[15, 19, 17, 9, 10, 7, 8, 5, 6, 4]), RULE, 1, 50
    )
    assert verdict.psi is not None and verdict.psi > RULE.threshold
    assert verdict.p_value is not None and RULE.alpha(1) < verdict.p_value < RULE.false_alarm_rate
    assert not verdict.drifted
    sized = drift_check.required_rows(uniform, RULE, 1)
    shifted = drift_check.shifted_proportions(uniform, uniform.std)
    assert sized is not None and shifted is not None
    power = [drift_check._power(uniform, shifted, rows, RULE.alpha(1)) for rows in (sized - 1, sized)]
    assert power[0] < RULE.design_power <= power[1]


def test_a_skewed_features_buckets_hold_a_tenth_each_and_a_one_sd_shift_either_way_is_caught() -> None:
    """Ten equal-width buckets put nine tenths of a log-normal feature in the first: a shift down by one
    standard deviation moved nothing between buckets, so no window was sized for it (and 6 % were flagged).
    Decile buckets size it, and the shift is flagged at the minimum."""
    rng = np.random.default_rng(5)
    features = [{"name": "x", "kind": "numeric"}]
    training = pd.DataFrame({"x": rng.lognormal(0.0, 1.5, 398)})
    statistics = baseline.statistics(training, features)
    (buckets,) = [f["numerical_statistics"]["distribution"]["kll"]["buckets"] for f in statistics["features"]]
    assert len(buckets) == 10 and all(30 <= b["count"] <= 50 for b in buckets)
    (feature,) = drift_check.parse_baseline(statistics)
    minimum, setter, _ = drift_check.window_minimum([feature], RULE)
    assert setter == "x" and minimum < 100
    spread = float(training["x"].std())
    for direction in (1.0, -1.0):
        flagged = [
            run(statistics, pd.DataFrame({"x": rng.lognormal(0.0, 1.5, minimum) + direction * spread})).status
            for _ in range(20)
        ]
        assert flagged.count(drift_check.STATUS_DRIFT) >= 19, direction


def test_no_bucket_edge_sits_beside_a_value_many_rows_hold() -> None:
    """A number recorded in whole steps with a few values between: each edge keeps a tenth of a standard
    deviation from every value held by a twentieth of the rows, so a little jitter is not drift."""
    rng = np.random.default_rng(6)
    steps = rng.choice([2.0, 3.0, 4.0, 5.0, 6.0], 400, p=[0.1, 0.3, 0.25, 0.2, 0.15])
    values = np.where(rng.random(400) < 0.05, steps + 0.05, steps)
    features = [{"name": "x", "kind": "numeric"}]
    statistics = baseline.statistics(pd.DataFrame({"x": values}), features)
    (feature,) = drift_check.parse_baseline(statistics)
    held = [v for v in (2.0, 3.0, 4.0, 5.0, 6.0) if (values == v).mean() > 0.05]
    gap = min(abs(edge - v) for edge in feature.edges[1:-1] for v in held)
    assert gap >= 0.1 * float(values.std())
    jittered = pd.DataFrame({"x": rng.choice(values, 400) + rng.normal(0.0, 0.05 * values.std(), 400)})
    assert run(statistics, jittered).status == drift_check.STATUS_OK
