"""Shadow test: the comparison on bundled captured samples, the shadow EndpointConfig against
botocore's CreateEndpointConfig shape, and the whole test and `compare --online` via Stubber."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import ANY, Stubber
from botocore.validate import ParamValidator
from typer.testing import CliRunner

from config import ShadowConfig, load_cdk_json
from mlopsctl import shadow
from mlopsctl.cli import app
from mlopsctl.errors import OperatorError
from mlopsctl.operations import Context
from mlopsctl.shadow_compare import VariantMetrics, disagreement, judge, predictions
from tests.operator_cli.support import BUCKET, ENDPOINT, REGION, ROLE, Clients, version_arn

SAMPLES = Path(__file__).resolve().parent / "shadow_samples"
LIMITS = ShadowConfig(enabled=True, min_compared_requests=5)
LIVE_CONFIG = "mlops-delivery-dev-config-abc"
LIVE_MODEL = "mlops-delivery-dev-model-abc"
CAPTURE_URI = f"s3://{BUCKET}/data-capture/dev/"
TAGS = [{"Key": "mlops-delivery:endpoint", "Value": ENDPOINT}]
runner = CliRunner()


def _lines(name: str) -> list[str]:
    return (SAMPLES / name).read_text().splitlines()


def _metrics(p99_ms: float, errors: float = 0, invocations: float = 600) -> VariantMetrics:
    return VariantMetrics(invocations=invocations, errors_5xx=errors, p99_latency_ms=p99_ms)


def test_agreeing_shadow_passes() -> None:
    compared, differing = disagreement(
        predictions(_lines("production.jsonl")), predictions(_lines("shadow_agreeing.jsonl"))
    )
    verdict = judge(_metrics(40), _metrics(45), compared, differing, LIMITS)
    assert (compared, differing) == (6, 0)
    assert verdict.passed, verdict.failures


def test_latency_regressed_shadow_fails_with_the_numbers() -> None:
    compared, differing = disagreement(
        predictions(_lines("production.jsonl")), predictions(_lines("shadow_agreeing.jsonl"))
    )
    verdict = judge(_metrics(40), _metrics(140), compared, differing, LIMITS)
    assert not verdict.passed
    assert verdict.failures == ("p99 model latency 140.0 ms vs 40.0 ms (+100.0 ms, limit +50 ms)",)


def test_prediction_shifted_shadow_fails_on_disagreement() -> None:
    compared, differing = disagreement(
        predictions(_lines("production.jsonl")), predictions(_lines("shadow_shifted.jsonl"))
    )
    verdict = judge(_metrics(40), _metrics(41), compared, differing, LIMITS)
    assert (compared, differing) == (6, 4)
    assert verdict.failures == ("predictions differ on 4 of 6 requests (66.67%, limit 5.0%)",)


def test_error_rate_increase_and_too_little_evidence_fail() -> None:
    verdict = judge(_metrics(40), _metrics(40, errors=12), 3, 0, LIMITS)
    assert len(verdict.failures) == 2
    assert "only 3 requests answered by both variants" in verdict.failures[0]
    assert "5XX rate 2.00% vs 0.00%" in verdict.failures[1]


def test_records_are_paired_by_inference_id_when_the_caller_set_one() -> None:
    record = json.loads(_lines("production.jsonl")[0])
    record["eventMetadata"]["inferenceId"] = "order-17"
    assert list(predictions([json.dumps(record)])) == ["order-17"]


def test_a_record_that_is_not_data_capture_is_refused() -> None:
    with pytest.raises(OperatorError, match="not SageMaker data capture JSON"):
        predictions(['{"eventMetadata": {}}'])


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
        name="mlops-delivery-dev-shadow-v4-20261201100000",
        production_variant="AllTraffic",
        shadow_variant="Shadow",
        model_name="mlops-delivery-dev-shadow-v4-20261201100000",
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


def _run_shadow_test(clients: Clients, shadow_p99_us: float | None) -> dict[str, Any]:
    overrides = {"release.dev": version_arn(4), "mlops.environments.dev.shadow.min_compared_requests": 5}
    ctx = Context(cfg=load_cdk_json(overrides=overrides), clients=clients)
    _put_capture("shadow_agreeing.jsonl")
    sm_client, cw_client = clients.stub("sagemaker", "dev"), clients.stub("cloudwatch", "dev")
    with Stubber(sm_client) as sm, Stubber(cw_client) as cw:
        sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})
        sm.add_response("describe_endpoint_config", _live_config(), {"EndpointConfigName": LIVE_CONFIG})
        sm.add_response("describe_model", _model(version_arn(3)), {"ModelName": LIVE_MODEL})
        sm.add_response("describe_endpoint_config", _live_config(), {"EndpointConfigName": LIVE_CONFIG})
        sm.add_response("describe_model", _model(version_arn(3)), {"ModelName": LIVE_MODEL})
        name = "mlops-delivery-dev-shadow-v4-20261201100000"
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
            tags=TAGS,
        )
        sm.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:222222222222:endpoint-config/{name}"},
            expected_config,
        )
        sm.add_response(
            "update_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:eu-west-1:222222222222:endpoint/x"},
            {"EndpointName": ENDPOINT, "EndpointConfigName": name},
        )
        if shadow_p99_us is None:
            # SageMaker could not bring up the shadow config and rolled the update back.
            sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})
            sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})
        else:
            sm.add_response("describe_endpoint", _endpoint("InService", name), {"EndpointName": ENDPOINT})
            _expect_comparison(sm, cw, name, shadow_p99_us)
            sm.add_response("describe_endpoint", _endpoint("InService", name), {"EndpointName": ENDPOINT})
            sm.add_response(
                "update_endpoint",
                {"EndpointArn": "arn:aws:sagemaker:eu-west-1:222222222222:endpoint/x"},
                {"EndpointName": ENDPOINT, "EndpointConfigName": LIVE_CONFIG},
            )
            sm.add_response("describe_endpoint", _endpoint("InService", LIVE_CONFIG), {"EndpointName": ENDPOINT})
        try:
            return shadow.shadow_test(
                lambda: ctx, "dev", sleep=lambda seconds: None, now=lambda: datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
            )
        finally:
            sm.assert_no_pending_responses()
            cw.assert_no_pending_responses()


def test_shadow_test_runs_the_candidate_as_shadow_compares_and_restores(clients: Clients) -> None:
    result = _run_shadow_test(clients, shadow_p99_us=45_000)
    assert result["verdict"]["passed"] and result["verdict"]["compared_requests"] == 6
    assert result["restored_endpoint_config"] == LIVE_CONFIG


def test_failed_shadow_test_still_restores_the_endpoint_and_reports_the_numbers(clients: Clients) -> None:
    with pytest.raises(
        OperatorError, match=r"p99 model latency 240\.0 ms vs 40\.0 ms.*back on mlops-delivery-dev-config-abc"
    ):
        _run_shadow_test(clients, shadow_p99_us=240_000)


def test_compare_online_cli_prints_the_verdict_as_json(clients: Clients) -> None:
    _put_capture("shadow_shifted.jsonl")
    with Stubber(clients.stub("sagemaker", "dev")) as sm, Stubber(clients.stub("cloudwatch", "dev")) as cw:
        _expect_comparison(sm, cw, LIVE_CONFIG, 41_000)
        result = runner.invoke(app, ["compare", "--online", "--env", "dev", "--minutes", "100000", "--json"])
        sm.assert_no_pending_responses()
        cw.assert_no_pending_responses()
    verdict = json.loads(result.stdout)
    assert verdict["compared_requests"] == 6 and verdict["disagreements"] == 4
    assert not verdict["passed"]


def test_shadow_test_cli_skips_an_environment_without_release(clients: Clients) -> None:
    with Stubber(clients.stub("sagemaker", "dev")) as sm:
        result = runner.invoke(app, ["shadow-test", "--env", "dev", "--json"])
        sm.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"skipped": True, "message": "dev: no release, nothing to shadow-test."}


def test_compare_online_cli_prints_a_table_and_the_failures(clients: Clients) -> None:
    _put_capture("shadow_shifted.jsonl")
    with Stubber(clients.stub("sagemaker", "dev")) as sm, Stubber(clients.stub("cloudwatch", "dev")) as cw:
        _expect_comparison(sm, cw, LIVE_CONFIG, 41_000)
        result = runner.invoke(app, ["compare", "--online", "--env", "dev", "--minutes", "100000"])
        sm.assert_no_pending_responses()
        cw.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert "Shadow vs production on the same live requests" in result.stdout
    assert "FAIL: only 6 requests answered by both variants" in result.stdout
    assert "predictions differ on 4 of 6 requests (66.67%, limit 5.0%)" in result.stdout


def test_shadow_update_that_sagemaker_rolls_back_fails_without_a_second_update(clients: Clients) -> None:
    with pytest.raises(OperatorError, match=r"is InService on mlops-delivery-dev-config-abc, not on .*-shadow-v4-"):
        _run_shadow_test(clients, shadow_p99_us=None)


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
