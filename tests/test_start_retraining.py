"""The start-retraining function: every trigger kind, dedup, idempotency, quiet period, bad events.

moto holds the registry and the pipeline's executions; botocore's Stubber checks the exact
StartPipelineExecution request where moto cannot (it ignores ClientRequestToken).
Events follow the formats AWS documents for EventBridge (S3 'Object Created', 'CloudWatch
Alarm State Change', 'Scheduled Event') and the project's manual-retraining contract.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from pipeline_steps import checked_in
from tests import support
from tests.conftest import ROOT
from tests.support import eventbridge_event

# Powertools reads its settings when the handler module is imported, as it does in Lambda.
os.environ.update(
    {
        "POWERTOOLS_SERVICE_NAME": "start-retraining",
        "POWERTOOLS_METRICS_NAMESPACE": "mlops-delivery/Retraining",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
sys.path.insert(0, str(ROOT / "lambda" / "start_retraining"))
handler = importlib.import_module("start_retraining")
runs = importlib.import_module("retraining_runs")
triggers = importlib.import_module("trigger_events")
settings_module = importlib.import_module("retraining_settings")
training_data = importlib.import_module("training_data")

REGION = "eu-west-1"
PIPELINE = "mlops-delivery-model-build"
GROUP = "mlops-delivery"
DATA_BUCKET = "mlops-delivery-dev-data"
ARTIFACTS_BUCKET = "mlops-delivery-dev-artifacts"
MANIFEST_URI = re.compile(rf"^s3://{ARTIFACTS_BUCKET}/input-manifests/[0-9a-f]{{64}}\.manifest$")
ENV = {
    "PIPELINE_NAME": PIPELINE,
    "MODEL_PACKAGE_GROUP": GROUP,
    "DATA_BUCKET": DATA_BUCKET,
    "INCOMING_PREFIX": "incoming/",
    "MANIFEST_BUCKET": ARTIFACTS_BUCKET,
    "QUIET_PERIOD_MINUTES": "60",
    "APPROVAL_MODE": "manual",
    "PRODUCTION": "false",
    "MANUAL_SOURCE": "mlops-delivery.retraining",
    "DRIFT_ALARM_PREFIXES": "mlops-delivery-dev-drift-,mlops-delivery-staging-drift-,mlops-delivery-prod-drift-",
}


@dataclass
class FakeContext:
    function_name: str = "start-retraining"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:start-retraining"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


envelope = partial(eventbridge_event, account=DEFAULT_ACCOUNT_ID)


def scheduled_event(event_id: str = "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa") -> dict:
    rule = f"arn:aws:events:{REGION}:{DEFAULT_ACCOUNT_ID}:rule/retraining-schedule"
    return envelope("aws.events", "Scheduled Event", {}, event_id=event_id, resources=[rule])


def object_created_event(key: str = "incoming/2026-11-27/part-0001.csv", event_id: str = "17793124-05d4") -> dict:
    return support.object_created_event(DATA_BUCKET, key, account=DEFAULT_ACCOUNT_ID, event_id=event_id)


def alarm_event(
    name: str = "mlops-delivery-prod-drift-summary", state: str = "ALARM", event_id: str = "c4c1c1c9"
) -> dict:
    """Prod's drift alarm, forwarded to the build account's bus."""
    return support.alarm_state_change_event(name, state, account="444444444444", event_id=event_id)


def manual_event(detail: dict[str, Any] | None = None, event_id: str = "6a7e8feb-b491") -> dict:
    detail = {"reason": "label fix in October data", "requested_by": "alice"} if detail is None else detail
    return envelope("mlops-delivery.retraining", "Retraining Requested", detail, event_id=event_id, resources=[])


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    handler.reset()
    yield ENV
    handler.reset()


def create_buckets(s3: Any) -> None:
    """The data bucket (versioned, as SecureBucket makes it) with one training file, and the artifacts bucket."""
    for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/week-0.csv", Body=b"feature,label\n1.0,0\n")


@pytest.fixture
def sagemaker(env: dict[str, str]) -> Iterator[Any]:
    with mock_aws():
        create_buckets(boto3.client("s3", region_name=REGION))
        client = boto3.client("sagemaker", region_name=REGION)
        client.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/model-build",
        )
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        handler.reset()
        yield client


@pytest.fixture
def s3(sagemaker: Any) -> Any:
    """The S3 client of the same moto backend the function sees."""
    return boto3.client("s3", region_name=REGION)


def register(client: Any, status: str, model_uri: str) -> str:
    return client.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": "123.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1", "ModelDataUrl": model_uri}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        # The Register step stores the evaluation report as the version's model-quality statistics.
        ModelMetrics={
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": evaluation_uri(model_uri)}}
        },
    )["ModelPackageArn"]


def evaluation_uri(model_uri: str) -> str:
    return model_uri.rsplit("/", 1)[0] + "/evaluation.json"


def executions(client: Any) -> list[dict[str, Any]]:
    return client.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def parameters(client: Any, execution_arn: str) -> dict[str, str]:
    listed = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution_arn)
    return {p["Name"]: p["Value"] for p in listed["PipelineParameters"]}


def mark_executing(execution_arn: str, status: str = "Executing") -> None:
    """moto finishes executions at once; a real one stays Executing for its whole run."""
    from moto.sagemaker.models import sagemaker_backends

    pipeline = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].pipelines[PIPELINE]
    pipeline.pipeline_executions[execution_arn].pipeline_execution_status = status


def invoke(event: Any) -> dict[str, Any]:
    return handler.lambda_handler(event, FakeContext())


# --- each trigger kind -------------------------------------------------------------------------


def test_schedule_starts_a_run_with_the_contract_parameters(sagemaker: Any) -> None:
    champion = register(sagemaker, "Approved", "s3://artifacts/models/v1/model.tar.gz")
    result = invoke(scheduled_event())
    assert result["status"] == "started"
    assert [e["PipelineExecutionArn"] for e in executions(sagemaker)] == [result["pipeline_execution_arn"]]
    sent = parameters(sagemaker, result["pipeline_execution_arn"])
    assert MANIFEST_URI.match(sent["InputManifestUri"])
    assert sent["InputManifestUri"] == result["input_manifest_uri"]
    assert sent == {
        "InputManifestUri": result["input_manifest_uri"],
        "TriggerReason": "schedule",
        "ChampionModelUri": "s3://artifacts/models/v1/model.tar.gz",
        "ChampionModelPackageArn": champion,
        # What the evaluate step compares on when the champion's code cannot run in the candidate's image.
        "ChampionEvaluationUri": "s3://artifacts/models/v1/evaluation.json",
        "ModelApprovalStatus": "PendingManualApproval",
    }


def test_new_data_starts_a_run_naming_the_object(sagemaker: Any) -> None:
    result = invoke(object_created_event("incoming/batch-7.csv"))
    assert result["status"] == "started"
    assert result["source_ids"] == [f"s3://{DATA_BUCKET}/incoming/batch-7.csv"]
    reason = parameters(sagemaker, result["pipeline_execution_arn"])["TriggerReason"]
    assert reason == f"new-data: s3://{DATA_BUCKET}/incoming/batch-7.csv"


def test_drift_starts_a_run_naming_the_alarm(sagemaker: Any) -> None:
    result = invoke(alarm_event("mlops-delivery-prod-drift-summary"))
    assert result["status"] == "started"
    assert result["source_ids"] == [f"arn:aws:cloudwatch:{REGION}:444444444444:alarm:mlops-delivery-prod-drift-summary"]
    assert parameters(sagemaker, result["pipeline_execution_arn"])["TriggerReason"] == (
        "drift: mlops-delivery-prod-drift-summary"
    )


def test_manual_request_starts_a_run_with_its_reason_and_requester(sagemaker: Any) -> None:
    result = invoke(manual_event())
    assert result["status"] == "started"
    # The model package's metadata allows no parentheses; the description keeps the reason as written.
    assert parameters(sagemaker, result["pipeline_execution_arn"])["TriggerReason"] == (
        "manual: label fix in October data requested by alice"
    )
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=result["pipeline_execution_arn"])
    assert described["PipelineExecutionDescription"] == "manual: label fix in October data (requested by alice)"


def test_first_run_has_no_champion(sagemaker: Any) -> None:
    register(sagemaker, "PendingManualApproval", "s3://artifacts/models/pending/model.tar.gz")
    result = invoke(scheduled_event())
    params = parameters(sagemaker, result["pipeline_execution_arn"])
    assert params["ChampionModelUri"] == ""
    assert params["ChampionModelPackageArn"] == ""
    assert result["champion_model_package_arn"] is None


def test_champion_is_the_latest_approved_version_not_the_latest_version(sagemaker: Any) -> None:
    register(sagemaker, "Approved", "s3://artifacts/models/v1/model.tar.gz")
    latest_approved = register(sagemaker, "Approved", "s3://artifacts/models/v2/model.tar.gz")
    register(sagemaker, "PendingManualApproval", "s3://artifacts/models/v3/model.tar.gz")
    register(sagemaker, "Rejected", "s3://artifacts/models/v4/model.tar.gz")
    result = invoke(scheduled_event())
    params = parameters(sagemaker, result["pipeline_execution_arn"])
    assert params["ChampionModelPackageArn"] == latest_approved
    assert params["ChampionModelUri"] == "s3://artifacts/models/v2/model.tar.gz"


# --- never promote without the gate ------------------------------------------------------------


def test_drift_does_not_promote(sagemaker: Any) -> None:
    result = invoke(alarm_event())
    assert result["model_approval_status"] == "PendingManualApproval"
    assert parameters(sagemaker, result["pipeline_execution_arn"])["ModelApprovalStatus"] == "PendingManualApproval"


def test_new_data_does_not_promote(sagemaker: Any) -> None:
    result = invoke(object_created_event())
    assert parameters(sagemaker, result["pipeline_execution_arn"])["ModelApprovalStatus"] == "PendingManualApproval"


def test_auto_approval_applies_only_where_configured_outside_production(
    sagemaker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPROVAL_MODE", "auto")
    handler.reset()
    result = invoke(alarm_event())
    assert parameters(sagemaker, result["pipeline_execution_arn"])["ModelApprovalStatus"] == "Approved"


def test_production_never_auto_approves_even_if_misconfigured(sagemaker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVAL_MODE", "auto")
    monkeypatch.setenv("PRODUCTION", "true")
    handler.reset()
    result = invoke(alarm_event())
    assert parameters(sagemaker, result["pipeline_execution_arn"])["ModelApprovalStatus"] == "PendingManualApproval"


# --- one run at a time, once per event ---------------------------------------------------------


def test_running_execution_skips_the_trigger_and_names_the_run(sagemaker: Any) -> None:
    first = invoke(scheduled_event("event-1"))
    mark_executing(first["pipeline_execution_arn"])
    second = invoke(alarm_event(event_id="event-2"))
    assert second["status"] == "skipped"
    assert second["pipeline_execution_arn"] == first["pipeline_execution_arn"]
    assert "already running" in second["skip_reason"]
    assert len(executions(sagemaker)) == 1


def test_stopping_execution_still_counts_as_running(sagemaker: Any) -> None:
    first = invoke(scheduled_event("event-1"))
    mark_executing(first["pipeline_execution_arn"], "Stopping")
    second = invoke(manual_event(event_id="event-2"))
    assert second["status"] == "skipped"
    assert second["pipeline_execution_arn"] == first["pipeline_execution_arn"]
    assert len(executions(sagemaker)) == 1


def test_running_statuses_are_sagemaker_execution_statuses() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    statuses = model.shape_for("PipelineExecutionStatus").enum
    assert set(runs.RUNNING) <= set(statuses)
    # Every other status is final: nothing else may block a new run.
    assert set(statuses) - set(runs.RUNNING) == {"Stopped", "Failed", "Succeeded", "CompletedWithFailures"}


def test_folder_marker_starts_nothing_and_says_why(sagemaker: Any, caplog: pytest.LogCaptureFixture) -> None:
    for key in ("incoming/2026-12-01/", "incoming/"):
        outcome = invoke(object_created_event(key, event_id=f"folder-{key}"))
        assert outcome["status"] == "skipped"
        assert "folder marker" in outcome["skip_reason"]
    skipped = [r for r in caplog.records if r.getMessage() == "Retraining trigger skipped"]
    assert len(skipped) == 2 and all(r.levelname == "WARNING" for r in skipped)
    assert executions(sagemaker) == []
    # A real object afterwards is not held back by the folder marker.
    assert invoke(object_created_event())["status"] == "started"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("incoming/README.txt", "not a '*.csv' file"),
        ("incoming/2026/week-1.CSV", "suffix other than '.csv' in lower case"),
        ("incoming/2026/week-1.csv.gz", "compressed or archived"),
    ],
)
def test_an_upload_that_is_not_training_data_starts_nothing_and_says_why(
    sagemaker: Any, caplog: pytest.LogCaptureFixture, key: str, why: str
) -> None:
    outcome = invoke(object_created_event(key))
    assert outcome["status"] == "skipped" and why in outcome["skip_reason"] and key in outcome["skip_reason"]
    assert executions(sagemaker) == []


def test_a_started_run_names_what_it_left_out_and_why(sagemaker: Any, s3: Any) -> None:
    for key in ("incoming/README.txt", "incoming/week-2.CSV", "incoming/week-3.csv.gz"):
        s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=b"feature,label\n1.0,0\n")
    outcome = invoke(object_created_event())
    assert outcome["status"] == "started"
    skipped = dict(item.split(": ", 1) for item in outcome["skipped_objects"])
    assert set(skipped) == {"incoming/README.txt", "incoming/week-2.CSV", "incoming/week-3.csv.gz"}
    assert "rename it" in skipped["incoming/week-2.CSV"] and "compressed" in skipped["incoming/week-3.csv.gz"]


def test_skipped_trigger_is_logged_with_the_running_execution(sagemaker: Any, caplog: pytest.LogCaptureFixture) -> None:
    first = invoke(manual_event(event_id="event-1"))
    mark_executing(first["pipeline_execution_arn"])
    caplog.clear()
    invoke(scheduled_event("event-2"))
    skipped = [r for r in caplog.records if r.getMessage() == "Retraining trigger skipped"]
    assert skipped and skipped[0].levelname == "WARNING"
    assert skipped[0].pipeline_execution_arn == first["pipeline_execution_arn"]


def test_duplicate_delivery_starts_at_most_one_execution(sagemaker: Any) -> None:
    event = scheduled_event("same-event-id")
    first = invoke(event)
    mark_executing(first["pipeline_execution_arn"])
    second = invoke(event)
    assert second["status"] == "skipped"
    assert len(executions(sagemaker)) == 1


def test_redelivered_event_reuses_the_same_client_request_token(sagemaker: Any, s3: Any) -> None:
    """Even when nothing is running any more, SageMaker sees the same token and starts nothing new."""
    client = boto3.client("sagemaker", region_name=REGION)
    config = settings_module.Settings.from_env(ENV)
    trigger = triggers.parse_trigger(scheduled_event("redelivered-id"), config)
    token = runs.client_request_token(PIPELINE, "redelivered-id")
    execution = f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:pipeline/{PIPELINE}/execution/abc123"
    fingerprint = training_data.take_snapshot(s3, config).fingerprint
    manifest_uri = f"s3://{ARTIFACTS_BUCKET}/input-manifests/{fingerprint}.manifest"
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_response(
                "list_pipeline_executions",
                {"PipelineExecutionSummaries": []},
                {"PipelineName": PIPELINE, "SortBy": "CreationTime", "SortOrder": "Descending"},
            )
            stub.add_response(
                "list_model_packages",
                {"ModelPackageSummaryList": []},
                {
                    "ModelPackageGroupName": GROUP,
                    "ModelApprovalStatus": "Approved",
                    "SortBy": "CreationTime",
                    "SortOrder": "Descending",
                    "MaxResults": 1,
                },
            )
            stub.add_response(
                "start_pipeline_execution",
                {"PipelineExecutionArn": execution},
                {
                    "PipelineName": PIPELINE,
                    "PipelineExecutionDisplayName": f"schedule-{token[:16]}",
                    "PipelineExecutionDescription": "schedule",
                    "PipelineParameters": runs.pipeline_parameters(
                        trigger, None, manifest_uri, "PendingManualApproval"
                    ),
                    "ClientRequestToken": token,
                },
            )
        now = datetime.now(UTC)
        assert runs.run(client, s3, config, trigger, now=now)["pipeline_execution_arn"] == execution
        assert runs.run(client, s3, config, trigger, now=now)["pipeline_execution_arn"] == execution
        stub.assert_no_pending_responses()


def test_client_request_token_is_per_event_and_valid_for_sagemaker() -> None:
    first = runs.client_request_token(PIPELINE, "event-a")
    assert first == runs.client_request_token(PIPELINE, "event-a")
    assert first != runs.client_request_token(PIPELINE, "event-b")
    assert 32 <= len(first) <= 128


def test_upload_burst_starts_one_run(sagemaker: Any) -> None:
    results = [invoke(object_created_event(f"incoming/part-{i:04}.csv", event_id=f"upload-{i}")) for i in range(20)]
    assert [r["status"] for r in results].count("started") == 1
    assert all("quiet period" in r["skip_reason"] for r in results[1:])
    assert len(executions(sagemaker)) == 1


def test_new_data_after_the_quiet_period_starts_again(env: dict[str, str]) -> None:
    config = settings_module.Settings.from_env(env)
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    old = runs.Execution("arn:old", "Succeeded", now - timedelta(minutes=61))
    trigger = triggers.parse_trigger(object_created_event(), config)
    assert runs.decide(trigger, [old], now=now, quiet_period_minutes=60).start
    recent = runs.Execution("arn:recent", "Succeeded", now - timedelta(minutes=59))
    decision = runs.decide(trigger, [old, recent], now=now, quiet_period_minutes=60)
    assert not decision.start
    assert decision.blocking_execution_arn == "arn:recent"


def test_quiet_period_does_not_hold_back_schedule_drift_or_manual(sagemaker: Any) -> None:
    invoke(object_created_event())
    for event in (scheduled_event("s"), alarm_event(event_id="d"), manual_event(event_id="m")):
        assert invoke(event)["status"] == "started"


# --- not a trigger: fail loudly ----------------------------------------------------------------


def test_code_push_does_not_retrain(sagemaker: Any) -> None:
    code_pipeline = envelope(
        "aws.codepipeline",
        "CodePipeline Pipeline Execution State Change",
        {"pipeline": "mlops-delivery", "execution-id": "0971", "state": "STARTED", "version": 2},
        event_id="code-1",
        resources=[f"arn:aws:codepipeline:{REGION}:{DEFAULT_ACCOUNT_ID}:mlops-delivery"],
    )
    code_commit = envelope(
        "aws.codecommit",
        "CodeCommit Repository State Change",
        {"event": "referenceUpdated", "referenceName": "main", "referenceType": "branch"},
        event_id="code-2",
        resources=[f"arn:aws:codecommit:{REGION}:{DEFAULT_ACCOUNT_ID}:mlops-delivery"],
    )
    for event in (code_pipeline, code_commit):
        with pytest.raises(triggers.UnknownTriggerError, match="Not a retraining trigger"):
            invoke(event)
    assert executions(sagemaker) == []


def test_object_outside_the_incoming_prefix_does_not_retrain(sagemaker: Any) -> None:
    with pytest.raises(triggers.UnknownTriggerError, match="not new training data"):
        invoke(object_created_event("reports/summary.csv"))
    assert executions(sagemaker) == []


def test_rollback_alarm_does_not_retrain(sagemaker: Any) -> None:
    with pytest.raises(triggers.UnknownTriggerError, match="not a drift alarm"):
        invoke(alarm_event("mlops-delivery-prod-rollback-5xx"))
    assert executions(sagemaker) == []


def test_drift_alarm_returning_to_ok_does_not_retrain(sagemaker: Any) -> None:
    with pytest.raises(triggers.MalformedTriggerError, match="only a change to 'ALARM'"):
        invoke(alarm_event(state="OK"))
    assert executions(sagemaker) == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (["not", "an", "object"], "must be a JSON object"),
        ({"detail": {}}, "no 'source' or 'detail-type'"),
        (manual_event({"requested_by": "alice"}), "detail.reason"),
        (manual_event({"reason": "x", "reasons": "typo"}), "detail.reasons"),
        (manual_event({"reason": ""}), "detail.reason"),
        (manual_event({"reason": " \t\n "}), "detail.reason: Value error, must not be blank"),
        (manual_event({"reason": "x" * 513}), "detail.reason has 513 characters; at most 512"),
        (manual_event({"reason": "x", "requested_by": "a" * 129}), "detail.requested_by has 129 characters"),
        ({**object_created_event(), "detail": {"bucket": {"name": DATA_BUCKET}}}, "detail.object"),
        ({**alarm_event(), "detail": {"state": {"value": "ALARM"}}}, "detail.alarmName"),
    ],
)
def test_malformed_event_fails_with_a_logged_reason(
    sagemaker: Any, caplog: pytest.LogCaptureFixture, event: Any, message: str
) -> None:
    with pytest.raises(triggers.MalformedTriggerError, match=message):
        invoke(event)
    rejected = [r for r in caplog.records if r.levelname == "ERROR" and hasattr(r, "rejection_reason")]
    assert rejected and message in rejected[0].rejection_reason
    assert executions(sagemaker) == []


def test_missing_setting_names_the_variable(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_NAME")
    handler.reset()
    with pytest.raises(settings_module.SettingsError, match="PIPELINE_NAME"):
        invoke(scheduled_event())


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("INCOMING_PREFIX", "incoming", "ending in '/'"), ("MANIFEST_BUCKET", " ", "missing or empty")],
)
def test_invalid_data_location_names_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(settings_module.SettingsError, match=f"{name}.*{message}"):
        settings_module.Settings.from_env(dict(ENV, **{name: value}))


def test_invalid_approval_mode_names_the_allowed_values() -> None:
    with pytest.raises(settings_module.SettingsError, match=re.escape("manual | auto")):
        settings_module.Settings.from_env(dict(ENV, APPROVAL_MODE="yes"))


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("PRODUCTION", "yes", "true | false"),
        ("QUIET_PERIOD_MINUTES", "1441", "a whole number from 0 to 1440"),
        ("QUIET_PERIOD_MINUTES", "-5", "a whole number from 0 to 1440"),
        ("INCOMING_PREFIX", "incoming", "an S3 prefix ending in '/'"),
    ],
)
def test_invalid_setting_is_one_line_naming_the_variable_its_value_and_what_is_allowed(
    name: str, value: str, allowed: str
) -> None:
    with pytest.raises(settings_module.SettingsError) as error:
        settings_module.Settings.from_env(dict(ENV, **{name: value}))
    assert str(error.value) == f"{name}={value!r}; allowed: {allowed}."


def test_settings_ignore_the_runtimes_own_variables_and_read_their_types() -> None:
    settings = settings_module.Settings.from_env(dict(ENV, AWS_REGION=REGION, PRODUCTION="TRUE"))
    assert settings.production is True and isinstance(settings.quiet_period_minutes, int)
    assert settings.drift_alarm_prefixes == tuple(ENV["DRIFT_ALARM_PREFIXES"].split(","))


# --- each run reads the data as it is when it starts -------------------------------------------

# SageMaker reuses a processing step when these arguments, as the run resolves them, equal those
# of an earlier successful run (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html).
PROCESSING_CACHE_KEY = ("AppSpecification", "Environment", "ProcessingInputs")


def manifest(s3: Any, uri: str) -> list[Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def manifest_keys(s3: Any) -> list[str]:
    listed = s3.list_objects_v2(Bucket=ARTIFACTS_BUCKET, Prefix="input-manifests/")
    return [o["Key"] for o in listed.get("Contents", [])]


def resolve(node: Any, values: dict[str, Any]) -> Any:
    """The node with every {"Get": "Parameters.X"} replaced by the run's value of X."""
    if isinstance(node, dict):
        if set(node) == {"Get"} and node["Get"].startswith("Parameters."):
            return values[node["Get"].removeprefix("Parameters.")]
        return {key: resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    return node


def preprocess_cache_key(sent: dict[str, str]) -> str:
    """The Preprocess step's cache key attributes in the checked-in definition, resolved for one run."""
    definition = json.loads(checked_in.MODEL_BUILD_DEFINITION.read_text())
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert set(sent) <= set(defaults), f"the function sends parameters the pipeline lacks: {set(sent) - set(defaults)}"
    (step,) = [s for s in definition["Steps"] if s["Name"] == "Preprocess"]
    arguments = resolve(step["Arguments"], {**defaults, **sent})
    return json.dumps({name: arguments.get(name) for name in PROCESSING_CACHE_KEY}, sort_keys=True)


def test_runs_on_new_data_miss_the_cache_and_runs_on_the_same_data_hit_it(sagemaker: Any, s3: Any) -> None:
    events = iter(scheduled_event(f"run-{i}") if i % 2 else manual_event(event_id=f"run-{i}") for i in range(99))

    def cache_key_of_next_run() -> str:
        result = invoke(next(events))
        assert result["status"] == "started"
        return preprocess_cache_key(parameters(sagemaker, result["pipeline_execution_arn"]))

    first = cache_key_of_next_run()
    assert cache_key_of_next_run() == first, "same data, other trigger: the cached steps may be reused"

    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/week-1.csv", Body=b"feature,label\n2.0,1\n")
    new_file = cache_key_of_next_run()
    assert new_file != first

    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/week-0.csv", Body=b"feature,label\n1.5,0\n")
    rewritten = cache_key_of_next_run()
    assert rewritten not in (first, new_file)

    # Nothing Preprocess reads: a folder marker and a note are not training data.
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/2026/", Body=b"")
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/README.txt", Body=b"weekly exports")
    assert cache_key_of_next_run() == rewritten

    s3.delete_object(Bucket=DATA_BUCKET, Key="incoming/week-1.csv")
    assert cache_key_of_next_run() not in (first, new_file, rewritten)


def test_manifest_lists_exactly_the_current_training_files(sagemaker: Any, s3: Any) -> None:
    for key in ("incoming/week-0.csv", "incoming/2026/week-1.csv", "incoming/2026/week-2.csv", "reports/x.csv"):
        s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=b"feature,label\n1.0,0\n")
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming-archive/old.csv", Body=b"outside the prefix")
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/2026/", Body=b"")
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/_SUCCESS", Body=b"")
    s3.delete_object(Bucket=DATA_BUCKET, Key="incoming/2026/week-2.csv")

    result = invoke(scheduled_event())

    assert result["input_objects"] == 2
    # SageMaker's manifest format: the prefix, then keys relative to it (S3DataSource, ManifestFile).
    assert manifest(s3, result["input_manifest_uri"]) == [
        {"prefix": f"s3://{DATA_BUCKET}/incoming/"},
        "2026/week-1.csv",
        "week-0.csv",
    ]
    assert manifest_keys(s3) == [result["input_manifest_uri"].removeprefix(f"s3://{ARTIFACTS_BUCKET}/")]


@pytest.mark.parametrize(
    "changed",
    [
        {"key": "incoming/b.csv"},
        {"version_id": "v2"},
        {"etag": '"other-etag"'},
        {"size": 11},
    ],
    ids=["key", "version-id", "etag", "size"],
)
def test_the_fingerprint_changes_with_each_part_of_an_object_alone(changed: dict[str, Any]) -> None:
    """Key, version id, ETag and size each decide the cache key by themselves; nothing else does."""
    base = training_data.DataObject("incoming/a.csv", "v1", '"etag"', 10)
    other = training_data.DataObject(**{**vars(base), **changed})
    prefix = "s3://data/incoming/"
    fingerprint = training_data.Snapshot(prefix_uri=prefix, objects=(base,)).fingerprint
    assert training_data.Snapshot(prefix_uri=prefix, objects=(other,)).fingerprint != fingerprint
    skipped = training_data.Snapshot(prefix_uri=prefix, objects=(base,), skipped=("incoming/x.CSV: a reason",))
    assert skipped.fingerprint == fingerprint, "what the run does not read is no part of its cache key"


def test_manifest_uri_is_a_valid_s3_input_and_parameter_value_for_sagemaker(env: dict[str, str]) -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    s3_uri = model.shape_for("ProcessingS3Input").members["S3Uri"].metadata
    value = model.shape_for("Parameter").members["Value"].metadata
    longest_bucket = "b" * 63  # S3 bucket names have at most 63 characters
    config = settings_module.Settings.from_env(dict(ENV, MANIFEST_BUCKET=longest_bucket))
    objects = (training_data.DataObject("incoming/a.csv", "v1", '"etag"', 10),)
    snapshot = training_data.Snapshot(prefix_uri=config.incoming_uri, objects=objects)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=longest_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        uri = training_data.write_manifest(client, config, snapshot)
    assert re.fullmatch(s3_uri["pattern"], uri)
    assert len(uri) <= min(s3_uri["max"], value["max"])


def test_run_without_training_data_is_refused_with_a_logged_reason(
    sagemaker: Any, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    s3.delete_object(Bucket=DATA_BUCKET, Key="incoming/week-0.csv")
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/2026/", Body=b"")
    s3.put_object(Bucket=DATA_BUCKET, Key="incoming/notes.txt", Body=b"no data yet")

    with pytest.raises(training_data.NoTrainingDataError, match=r"No \*\.csv object under s3://.*/incoming/"):
        invoke(scheduled_event())

    refused = [r for r in caplog.records if r.getMessage() == "Retraining refused: no training data"]
    assert refused and refused[0].levelname == "ERROR"
    assert "incoming/notes.txt" in refused[0].refusal_reason
    assert executions(sagemaker) == []
    assert manifest_keys(s3) == []


def test_the_function_selects_exactly_the_files_preprocess_reads(tmp_path: Any) -> None:
    """The function selects by contracts.RAW_DATA_SUFFIX; preprocess.py has its own glob: they must agree."""
    from config import load_model
    from pipeline_steps.scripts import preprocess

    config = settings_module.Settings.from_env(ENV)
    model = load_model("models/diabetes")
    contract = model.data.as_document(model.task_type.value)
    header = ",".join(preprocess.raw_columns(contract))
    # A category the contract allows, a number anywhere else (the label, numeric and ignored columns).
    allowed = {f["name"]: f["values"][0] for f in contract["features"] if f["values"]}
    row = ",".join(allowed.get(column, "1") for column in preprocess.raw_columns(contract))
    rows_per_file = {"a.csv": 1, "b.CSV": 2, "2026/c.csv": 4, "notes.txt": 8, "d.csv.gz": 16, "2026/.csv": 32}
    for name, rows in rows_per_file.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([header, *[row] * rows]) + "\n")
    selected = [n for n in rows_per_file if training_data.is_training_object(f"incoming/{n}", config)]
    assert sum(preprocess.count_groups(tmp_path, contract).values()) == sum(rows_per_file[n] for n in selected)
    assert not training_data.is_training_object("incoming/2026.csv/", config)
