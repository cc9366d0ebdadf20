"""Shadow test: the comparison on bundled captured samples, the shadow EndpointConfig against
botocore's CreateEndpointConfig shape, and the whole test and `compare --online` via Stubber."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from botocore.validate import ParamValidator
from typer.testing import CliRunner

import config
from config import ShadowConfig, TaskType, load_cdk_json
from endpoint_deployment import deployment_config
from mlopsctl import shadow
from mlopsctl.cli import app
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from mlopsctl.shadow_compare import (
    Captured,
    Comparison,
    VariantMetrics,
    captured,
    compare,
    judge,
    pairs,
    replay_plan,
)
from tests.operator_cli.support import BUCKET, ENDPOINT, REGION, ROLE, Clients, guarded_by, rollback_alarms, version_arn

SAMPLES = Path(__file__).resolve().parent / "shadow_samples"
LIMITS = ShadowConfig(enabled=True, min_compared_requests=5)
LIVE_CONFIG = "mlops-delivery-dev-config-abc"
LIVE_MODEL = "mlops-delivery-dev-model-abc"
CAPTURE_URI = f"s3://{BUCKET}/data-capture/dev/"
TAGS = [{"Key": "mlops-delivery:endpoint", "Value": ENDPOINT}]
runner = CliRunner()
# The bundled captures (shadow_samples/) hold a binary classifier's answers: the tests that read them
# through the configured task type configure a binary model, whatever cdk.json trains.
BINARY_MODEL = {"mlops.model_build.model": "models/xgboost"}


@pytest.fixture
def binary_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's settings with BINARY_MODEL (the CLI reads cdk.json itself)."""
    load = config.load_cdk_json
    monkeypatch.setattr(
        config, "load_cdk_json", lambda path=None, overrides=None: load(path, {**(overrides or {}), **BINARY_MODEL})
    )


def _lines(name: str) -> list[str]:
    return (SAMPLES / name).read_text().splitlines()


def _metrics(p99_ms: float, errors: float = 0, invocations: float = 600) -> VariantMetrics:
    return VariantMetrics(invocations=invocations, errors_5xx=errors, p99_latency_ms=p99_ms)


def _compared(shadow_sample: str, task: TaskType = TaskType.BINARY_CLASSIFICATION) -> Comparison:
    production, candidate = captured(_lines("production.jsonl")), captured(_lines(shadow_sample))
    return compare(pairs(production, candidate), task, LIMITS)


def test_agreeing_shadow_passes() -> None:
    comparison = _compared("shadow_agreeing.jsonl")
    verdict = judge(_metrics(40), _metrics(45), comparison, LIMITS)
    assert (comparison.compared, comparison.disagreements) == (6, 0)
    assert verdict.passed, verdict.failures


def test_latency_regressed_shadow_fails_with_the_numbers() -> None:
    verdict = judge(_metrics(40), _metrics(140), _compared("shadow_agreeing.jsonl"), LIMITS)
    assert not verdict.passed
    assert verdict.failures == ("p99 model latency 140.0 ms vs 40.0 ms (+100.0 ms, limit +50 ms)",)


def test_prediction_shifted_shadow_fails_on_disagreement() -> None:
    comparison = _compared("shadow_shifted.jsonl")
    verdict = judge(_metrics(40), _metrics(41), comparison, LIMITS)
    assert (comparison.compared, comparison.disagreements) == (6, 4)
    assert verdict.failures == ("predictions differ on 4 of 6 requests (66.67%, limit 5.0%)",)


def test_error_rate_increase_and_too_little_evidence_fail() -> None:
    verdict = judge(_metrics(40), _metrics(40, errors=12), Comparison(3, 0, replayed=2), LIMITS)
    assert len(verdict.failures) == 2
    assert verdict.failures[0].startswith("only 3 distinct requests compared (2 of them replayed), at least 5 needed")
    assert "5XX rate 2.00% vs 0.00%" in verdict.failures[1]
    assert verdict.as_dict()["compared_requests"] == 3 and verdict.as_dict()["replayed_requests"] == 2


@pytest.mark.parametrize(("disagreements", "passes"), [(4, True), (5, True), (6, False)])
def test_the_disagreement_limit_holds_to_the_request(disagreements: int, passes: bool) -> None:
    """A limit of 2.5 % (not the default) on 200 compared requests is 5: one request more fails."""
    limits = ShadowConfig(enabled=True, max_disagreement_percent=2.5, min_compared_requests=200)
    verdict = judge(_metrics(40), _metrics(40), Comparison(200, disagreements), limits)
    assert verdict.passed is passes, verdict.failures


@pytest.mark.parametrize(("compared", "passes"), [(119, False), (120, True), (121, True)])
def test_the_least_evidence_holds_to_the_request(compared: int, passes: bool) -> None:
    """min_compared_requests of 120 (not the default): one distinct request fewer and the test cannot judge."""
    limits = ShadowConfig(enabled=True, min_compared_requests=120)
    verdict = judge(_metrics(40), _metrics(40), Comparison(compared, 0), limits)
    assert verdict.passed is passes, verdict.failures


def _record(body: str, answer: str, event_id: str) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": body, "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": answer},
            },
            "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-12-01T10:00:00Z"},
        }
    )


def test_pairs_need_no_shared_event_id() -> None:
    """AWS does not document that a shadow's copy keeps the eventId: the request body pairs them."""
    production = captured([_record("1,2", "0.9", "a"), _record("3,4", "0.1", "b"), _record("5,6", "0.2", "c")])
    candidate = captured([_record("3,4", "0.2", "x"), _record("1,2", "0.8", "y")])
    matched = pairs(production, candidate)
    assert [(p.request, c.answer) for p, c in matched] == [("3,4", "0.2"), ("1,2", "0.8")]
    assert compare(matched, TaskType.BINARY_CLASSIFICATION, LIMITS) == Comparison(2, 0, 0, None, 2)


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-0.2", "1.5", "yes", "", "0.4,0.6"])
def test_invalid_binary_answers_count_as_disagreements(bad: str) -> None:
    production = captured([_record("1,2", "0.9", "a"), _record("3,4", "0.1", "b")])
    candidate = captured([_record("1,2", bad, "x"), _record("3,4", "0.1", "y")])
    assert compare(pairs(production, candidate), TaskType.BINARY_CLASSIFICATION, LIMITS).disagreements == 1


def test_a_constant_candidate_fails_even_where_it_agrees() -> None:
    """On a stream that is mostly negatives, a candidate that always answers 0.3 agrees with 5 of 6."""
    answers = ["0.1", "0.2", "0.05", "0.3", "0.15", "0.9"]
    production = captured([_record(str(i), a, str(i)) for i, a in enumerate(answers)])
    candidate = captured([_record(str(i), "0.3", f"s{i}") for i in range(6)])
    comparison = compare(pairs(production, candidate), TaskType.BINARY_CLASSIFICATION, LIMITS)
    # Under a looser disagreement limit, the constant answer alone fails the candidate.
    limits = ShadowConfig(min_compared_requests=5, max_disagreement_percent=20)
    verdict = judge(_metrics(40), _metrics(40), comparison, limits)
    assert (comparison.compared, comparison.disagreements) == (6, 1)
    assert verdict.failures == (
        "the candidate answered '0.3' to all 6 requests, where the champion gave 6 different answers",
    )


def test_a_request_sent_again_is_no_new_evidence() -> None:
    """One captured request replayed a hundred times is one request compared, not a hundred."""
    production = captured([_record("1,2", "0.9", f"p{i}") for i in range(100)])
    candidate = captured([_record("1,2", "0.8", f"s{i}") for i in range(100)])
    comparison = compare(pairs(production, candidate), TaskType.BINARY_CLASSIFICATION, LIMITS)
    assert (comparison.compared, comparison.disagreements) == (1, 0)
    verdict = judge(_metrics(40), _metrics(40), comparison, LIMITS)
    assert verdict.failures == (
        "only 1 distinct requests compared (0 of them replayed), at least 5 needed to judge (more traffic, a "
        "higher sampling_percent or a longer duration_minutes)",
    )


def test_a_few_similar_requests_may_share_one_answer() -> None:
    """Below the evidence the verdict needs, one answer to two requests is no failure of its own."""
    production = captured([_record("1,2", "0.91", "a"), _record("1,3", "0.93", "b")])
    candidate = captured([_record("1,2", "0.95", "x"), _record("1,3", "0.95", "y")])
    comparison = compare(pairs(production, candidate), TaskType.BINARY_CLASSIFICATION, LIMITS)
    assert comparison.constant_answer is None
    (failure,) = judge(_metrics(40), _metrics(40), comparison, LIMITS).failures
    assert failure.startswith("only 2 distinct requests compared")


def test_replay_sends_requests_not_compared_yet_often_enough_to_reach_the_shadow() -> None:
    """Two requests missing, three not compared yet: each is sent 100 / 50 = 2 times, round after round."""
    production = captured([_record(f"{i},1", "0.5", f"p{i}") for i in range(4)] + [_record("0,1", "0.5", "again")])
    candidate = captured([_record("0,1", "0.5", "s0")])
    limits = ShadowConfig(enabled=True, min_compared_requests=3, sampling_percent=50)
    assert [r.request for r in replay_plan(production, candidate, limits)] == ["1,1", "2,1", "3,1"] * 2
    assert replay_plan(production, candidate, ShadowConfig(enabled=True, min_compared_requests=1)) == []


@pytest.mark.parametrize(
    ("champion", "candidate", "differs"),
    [
        ("2", "2", False),
        ("2", "1", True),
        ("0.1,0.7,0.2", "0.2,0.5,0.3", False),  # class probabilities: the likeliest class, 1, in both
        ("0.1,0.7,0.2", "1", False),
        ("1", "0.6,0.3,0.1", True),
        ("1", "1.5", True),
        ("1", "-1", True),
        ("1", "nan", True),
    ],
)
def test_multiclass_disagreement_is_a_different_class(champion: str, candidate: str, differs: bool) -> None:
    matched = pairs(captured([_record("r", champion, "a")]), captured([_record("r", candidate, "b")]))
    assert compare(matched, TaskType.MULTICLASS_CLASSIFICATION, LIMITS).disagreements == int(differs)


@pytest.mark.parametrize(
    ("champion", "candidate", "differs"),
    [("100", "109.9", False), ("100", "110.1", True), ("-50", "-45.5", False), ("0", "0", False), ("0", "0.01", True)],
)
def test_regression_disagreement_is_a_relative_error_above_the_tolerance(
    champion: str, candidate: str, differs: bool
) -> None:
    matched = pairs(captured([_record("r", champion, "a")]), captured([_record("r", candidate, "b")]))
    limits = ShadowConfig(max_relative_error_percent=10.0)
    assert compare(matched, TaskType.REGRESSION, limits).disagreements == int(differs)


def test_a_record_that_is_not_data_capture_is_refused() -> None:
    with pytest.raises(OperatorError, match="not SageMaker data capture JSON"):
        captured(['{"eventMetadata": {}}'])


def test_replay_sends_captured_requests_until_its_time_is_up() -> None:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    records = [Captured(request=f"{i},1", content_type="text/csv", answer="0.5") for i in range(5)]
    ticks = iter([0, 0, 1, 2, 99, 99])
    with Stubber(runtime) as stubber:
        for i in range(3):
            params = {
                "EndpointName": ENDPOINT,
                "ContentType": "text/csv",
                "Body": f"{i},1".encode(),
                "InferenceId": ANY,
            }
            stubber.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(b"0.5"), 3)}, params)
        sent = shadow.replay(runtime, ENDPOINT, records, seconds=10, clock=lambda: next(ticks))
        stubber.assert_no_pending_responses()
    assert [r.request for r in sent] == ["0,1", "1,1", "2,1"]


def _live_config() -> dict[str, Any]:
    return {
        "EndpointConfigName": LIVE_CONFIG,
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:222222222222:endpoint-config/{LIVE_CONFIG}",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": LIVE_MODEL,
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": CAPTURE_URI,
            "KmsKeyId": "arn:aws:kms:eu-west-1:222222222222:key/1234",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
        "KmsKeyId": "arn:aws:kms:eu-west-1:222222222222:key/1234",
        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
    }


def test_shadow_config_request_matches_create_endpoint_config_shape() -> None:
    request = shadow.shadow_config_request(
        _live_config(),
        name="mlops-delivery-dev-s261201100000",
        production_variant="AllTraffic",
        shadow_variant="Shadow",
        model_name="mlops-delivery-dev-s261201100000",
        sampling_percent=50,
        tags=TAGS,
    )
    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(request, model.operation_model("CreateEndpointConfig").input_shape)
    assert not report.has_errors(), report.generate_report()
    assert request["ProductionVariants"][0]["ModelName"] == LIVE_MODEL
    (shadow_variant,) = request["ShadowProductionVariants"]
    assert shadow_variant["VariantName"] == "Shadow" and shadow_variant["InitialVariantWeight"] == 0.5
    assert request["DataCaptureConfig"]["DestinationS3Uri"] == CAPTURE_URI
    # Every request is captured while the test runs, so each copied one can be paired.
    assert request["DataCaptureConfig"]["InitialSamplingPercentage"] == 100
    assert request["Tags"] == TAGS


def _endpoint(status: str, config: str) -> dict[str, Any]:
    return {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:222222222222:endpoint/{ENDPOINT}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
        "LastModifiedTime": datetime(2026, 12, 1, tzinfo=UTC),
    }


def _model(package: str) -> dict[str, Any]:
    return {
        "ModelName": LIVE_MODEL,
        "PrimaryContainer": {"ModelPackageName": package},
        "ExecutionRoleArn": ROLE,
        "EnableNetworkIsolation": True,
        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
        "ModelArn": f"arn:aws:sagemaker:{REGION}:222222222222:model/{LIVE_MODEL}",
    }


def _metric_data(invocations: float, errors: float, p99_us: float) -> dict[str, Any]:
    return {
        "MetricDataResults": [
            {"Id": "invocations", "Values": [invocations], "StatusCode": "Complete"},
            {"Id": "errors", "Values": [errors], "StatusCode": "Complete"},
            {"Id": "latency", "Values": [p99_us], "StatusCode": "Complete"},
        ]
    }


def _expect_comparison(sm: Stubber, cw: Stubber, config: str, shadow_p99_us: float) -> None:
    sm.add_response("describe_endpoint", _endpoint("InService", config), {"EndpointName": ENDPOINT})
    sm.add_response("describe_endpoint_config", _live_config(), {"EndpointConfigName": config})
    cw.add_response(
        "get_metric_data", _metric_data(600, 0, 40_000), {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY}
    )
    cw.add_response(
        "get_metric_data",
        _metric_data(600, 0, shadow_p99_us),
        {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY},
    )


def _put_capture(shadow_sample: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for variant, sample in (("AllTraffic", "production.jsonl"), ("Shadow", shadow_sample)):
        key = f"data-capture/dev/{ENDPOINT}/{variant}/2026/12/01/10/capture.jsonl"
        s3.put_object(Bucket=BUCKET, Key=key, Body=(SAMPLES / sample).read_bytes())


def _expect_restore(sm: Stubber, rollout: Any) -> None:
    """Back to the live config, guarded by the deployed alarms, whose new-fleet ones watch the live config."""
    whole = [f"mlops-delivery-dev-rollback-endpoint-{w}" for w in ("5xx-rate", "model-error-rate")]
    fleet = [f"mlops-delivery-dev-rollback-new-fleet-{w}" for w in ("5xx-rate", "p99-latency")]
    sm.add_response(
        "update_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:eu-west-1:222222222222:endpoint/x"},
        {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": LIVE_CONFIG,
            "DeploymentConfig": deployment_config(rollout, [*whole, *fleet]),
        },
    )
    sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})


def _run_shadow_test(clients: Clients, monkeypatch: pytest.MonkeyPatch, shadow_p99_ms: float | None) -> dict[str, Any]:
    overrides = {
        "release.dev": version_arn(4),
        "mlops.environments.dev.shadow.min_compared_requests": 5,
        **BINARY_MODEL,
    }
    ctx = Context(cfg=load_cdk_json(overrides=overrides), clients=clients)
    rollout = ctx.cfg.environment("dev").rollout
    _put_capture("shadow_agreeing.jsonl")
    # The serving stack's alarms; its new-fleet alarms watch the live config (the one restored to).
    rollback_alarms(fleet_config=LIVE_CONFIG)
    metrics = {"AllTraffic": _metrics(40), "Shadow": _metrics(shadow_p99_ms or 0)}
    monkeypatch.setattr(shadow, "variant_metrics", lambda cw, endpoint, variant, start, end: metrics[variant])
    sm_client = clients.stub("sagemaker", "dev")
    name = "mlops-delivery-dev-s261201100000"
    tags = [*TAGS, {"Key": "mlops-delivery:restores-to", "Value": LIVE_CONFIG}]
    with Stubber(sm_client) as sm:
        # No shadow left by an earlier run; then the live state.
        sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})
        sm.add_response("describe_endpoint_config", _live_config(), {"EndpointConfigName": LIVE_CONFIG})
        sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})
        sm.add_response("describe_endpoint_config", _live_config(), {"EndpointConfigName": LIVE_CONFIG})
        sm.add_response("describe_model", _model(version_arn(3)), {"ModelName": LIVE_MODEL})
        sm.add_response("describe_endpoint_config", _live_config(), {"EndpointConfigName": LIVE_CONFIG})
        sm.add_response("describe_model", _model(version_arn(3)), {"ModelName": LIVE_MODEL})
        sm.add_response(
            "create_model",
            {"ModelArn": f"arn:aws:sagemaker:{REGION}:222222222222:model/{name}"},
            {
                "ModelName": name,
                "PrimaryContainer": {"ModelPackageName": version_arn(4)},
                "ExecutionRoleArn": ROLE,
                "EnableNetworkIsolation": True,
                "Tags": TAGS,
            },
        )
        expected_config = shadow.shadow_config_request(
            _live_config(),
            name=name,
            production_variant="AllTraffic",
            shadow_variant="Shadow",
            model_name=name,
            sampling_percent=100,
            tags=tags,
            instance_count=None,
            shadow_instance_count=1,
        )
        sm.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:222222222222:endpoint-config/{name}"},
            expected_config,
        )
        # Adding the shadow is guarded by the whole-endpoint alarms and copies of the new-fleet ones.
        sm.add_response(
            "update_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:eu-west-1:222222222222:endpoint/x"},
            {
                "EndpointName": ENDPOINT,
                "EndpointConfigName": name,
                "DeploymentConfig": deployment_config(rollout, guarded_by(name)),
            },
        )
        if shadow_p99_ms is None:
            # SageMaker could not bring up the shadow config and rolled the update back.
            sm.add_response("describe_endpoint", _endpoint("Updating", name), {"EndpointName": ENDPOINT})
            sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})
            sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})
        else:
            sm.add_response("describe_endpoint", _endpoint("InService", name), {"EndpointName": ENDPOINT})
            sm.add_response("describe_endpoint", _endpoint("InService", name), {"EndpointName": ENDPOINT})
            sm.add_response("describe_endpoint_config", _live_config(), {"EndpointConfigName": name})
            sm.add_response("describe_endpoint", _endpoint("InService", name), {"EndpointName": ENDPOINT})
            _expect_restore(sm, rollout)
        try:
            return shadow.shadow_test(
                lambda: ctx, "dev", sleep=lambda seconds: None, now=lambda: datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
            )
        finally:
            sm.assert_no_pending_responses()
            # The guard copies are gone whatever happened.
            cw = boto3.client("cloudwatch", region_name=REGION)
            assert not cw.describe_alarms(AlarmNamePrefix="mlops-delivery-dev-rollback-for-")["MetricAlarms"]


def test_shadow_test_runs_the_candidate_as_shadow_compares_and_restores(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run_shadow_test(clients, monkeypatch, shadow_p99_ms=45)
    assert result["verdict"]["passed"] and result["verdict"]["compared_requests"] == 6
    assert result["restored_endpoint_config"] == LIVE_CONFIG and result["restored_leftover_to"] is None


def test_failed_shadow_test_still_restores_the_endpoint_and_reports_the_numbers(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        OperatorError, match=r"p99 model latency 240\.0 ms vs 40\.0 ms.*back on mlops-delivery-dev-config-abc"
    ):
        _run_shadow_test(clients, monkeypatch, shadow_p99_ms=240)


def test_a_shadow_left_by_an_earlier_run_is_removed_before_anything_else(clients: Clients) -> None:
    """The config names the one to return to; the same guarded update takes the endpoint back to it."""
    ctx = Context(cfg=load_cdk_json(overrides={}), clients=clients)
    rollback_alarms(fleet_config=LIVE_CONFIG)
    left = "mlops-delivery-dev-s261130100000"
    left_config = {
        **_live_config(),
        "EndpointConfigName": left,
        "ShadowProductionVariants": [{"VariantName": "Shadow"}],
    }
    left_config["EndpointConfigArn"] = f"arn:aws:sagemaker:{REGION}:222222222222:endpoint-config/{left}"
    rollout = ctx.cfg.environment("dev").rollout
    with Stubber(clients.stub("sagemaker", "dev")) as sm:
        sm.add_response("describe_endpoint", _endpoint("InService", left), {"EndpointName": ENDPOINT})
        sm.add_response("describe_endpoint_config", left_config, {"EndpointConfigName": left})
        sm.add_response(
            "list_tags",
            {"Tags": [*TAGS, {"Key": "mlops-delivery:restores-to", "Value": LIVE_CONFIG}]},
            {"ResourceArn": left_config["EndpointConfigArn"]},
        )
        _expect_restore(sm, rollout)
        result = shadow.shadow_test(lambda: ctx, "dev", sleep=lambda seconds: None)
        sm.assert_no_pending_responses()
    assert result == {"skipped": True, "message": "dev: no release, nothing to shadow-test."}


@pytest.mark.usefixtures("binary_model")
def test_compare_online_cli_prints_the_verdict_as_json(clients: Clients) -> None:
    _put_capture("shadow_shifted.jsonl")
    with Stubber(clients.stub("sagemaker", "dev")) as sm, Stubber(clients.stub("cloudwatch", "dev")) as cw:
        _expect_comparison(sm, cw, LIVE_CONFIG, 41_000)
        result = runner.invoke(app, ["--json", "compare", "--online", "--env", "dev", "--minutes", "100000"])
        sm.assert_no_pending_responses()
        cw.assert_no_pending_responses()
    verdict = json.loads(result.stdout)
    assert verdict["compared_requests"] == 6 and verdict["disagreements"] == 4
    assert not verdict["passed"]


def test_shadow_test_cli_skips_an_environment_without_release(clients: Clients) -> None:
    with Stubber(clients.stub("sagemaker", "dev")) as sm:
        # It first looks for a shadow an earlier run left: there is no endpoint at all.
        sm.add_client_error("describe_endpoint", "ValidationException", f"Could not find endpoint {ENDPOINT}.")
        result = runner.invoke(app, ["--json", "shadow-test", "--env", "dev"])
        sm.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"skipped": True, "message": "dev: no release, nothing to shadow-test."}


@pytest.mark.usefixtures("binary_model")
def test_compare_online_cli_prints_a_table_and_the_failures(clients: Clients) -> None:
    _put_capture("shadow_shifted.jsonl")
    with Stubber(clients.stub("sagemaker", "dev")) as sm, Stubber(clients.stub("cloudwatch", "dev")) as cw:
        _expect_comparison(sm, cw, LIVE_CONFIG, 41_000)
        result = runner.invoke(app, ["compare", "--online", "--env", "dev", "--minutes", "100000"])
        sm.assert_no_pending_responses()
        cw.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert "Shadow vs production on the same live requests" in result.stdout
    assert "FAIL: only 6 distinct requests compared (0 of them replayed)" in result.stdout
    assert "predictions differ on 4 of 6 requests (66.67%, limit 5.0%)" in result.stdout


def test_shadow_update_that_sagemaker_rolls_back_fails_without_a_second_update(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(OperatorError, match=r"is InService on mlops-delivery-dev-config-abc, not on .*-s261201100000"):
        _run_shadow_test(clients, monkeypatch, shadow_p99_ms=None)


def test_the_shadow_phase_keeps_the_instance_count_autoscaling_reached() -> None:
    """The live config says 2; autoscaling runs 5: the shadow config must not shrink production."""
    request = shadow.shadow_config_request(
        _live_config(),
        name="n",
        production_variant="AllTraffic",
        shadow_variant="Shadow",
        model_name="m",
        sampling_percent=50,
        tags=TAGS,
        instance_count=5,
    )
    assert request["ProductionVariants"][0]["InitialInstanceCount"] == 5
    assert request["ShadowProductionVariants"][0]["InitialInstanceCount"] == 5


def test_the_shadow_fleet_is_sized_for_the_largest_production_fleet_autoscaling_allows() -> None:
    cfg = load_cdk_json(overrides={"mlops.environments.prod.shadow.sampling_percent": 50})
    prod = cfg.environment("prod")
    assert prod.endpoint.autoscaling.enabled
    peak = prod.endpoint.autoscaling.max_instances
    assert shadow.shadow_instances(prod, 2) == -(-peak * 50 // 100)
    dev = cfg.environment("dev")
    assert not dev.endpoint.autoscaling.enabled and shadow.shadow_instances(dev, 2) == 2
