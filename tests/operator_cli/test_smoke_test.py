"""smoke-test against a stubbed endpoint: the served version's own sample rows, answers by its task, 5XX, latency."""

from __future__ import annotations

import io
import itertools
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from typer.testing import CliRunner

import contracts
from mlopsctl import operations
from mlopsctl.aws import REGISTRY
from mlopsctl.cli import app
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from tests.operator_cli.support import BUCKET, ENDPOINT, REGION, Clients, expect_live, package_description, version_arn

runner = CliRunner()
PACKAGE = version_arn(4)
ROWS = ["1.5,2.5,red", "3.5,,blue"]
PAYLOAD_KEY = "pipelines/model-build/exec-4/preprocess/sample/payload.tar.gz"


def archive(rows: list[str]) -> bytes:
    body = ("\n".join(rows) + "\n").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("payload.csv")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def served(
    clients: Clients, task: str = "binary_classification", class_count: str = "2", *, sample: bool = True
) -> list[Stubber]:
    """The endpoint serves v4, registered with `task` and (when `sample`) a sample payload in the build bucket."""
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=PAYLOAD_KEY, Body=archive(ROWS))
    endpoint = Stubber(clients.stub("sagemaker", "dev"))
    expect_live(endpoint, status="InService", config="cfg-v4", model="model-v4", package_arn=PACKAGE)
    description: dict[str, Any] = {
        **package_description(PACKAGE),
        "CustomerMetadataProperties": {
            contracts.METADATA_TASK_TYPE: task,
            contracts.METADATA_CLASS_COUNT: class_count,
        },
    }
    if sample:
        description["SamplePayloadUrl"] = f"s3://{BUCKET}/{PAYLOAD_KEY}"
    registry = Stubber(clients.stub("sagemaker", REGISTRY))
    registry.add_response("describe_model_package", description, {"ModelPackageName": PACKAGE})
    return [endpoint, registry]


def _body(text: str) -> StreamingBody:
    data = text.encode()
    return StreamingBody(io.BytesIO(data), len(data))


def _expect(stubber: Stubber, rows: list[str], answer: str) -> None:
    stubber.add_response(
        "invoke_endpoint",
        {"Body": _body(answer), "ContentType": "text/csv"},
        {"EndpointName": ENDPOINT, "ContentType": "text/csv", "Accept": "text/csv", "Body": "\n".join(rows)},
    )


def _clock(step_seconds: float) -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: next(ticks) * step_seconds


def activate(stubbers: list[Stubber]) -> None:
    for stubber in stubbers:
        stubber.activate()


def done(stubbers: list[Stubber]) -> None:
    for stubber in stubbers:
        stubber.assert_no_pending_responses()
        stubber.deactivate()


@pytest.mark.parametrize(
    ("task", "classes", "answers"),
    [
        ("binary_classification", "2", ["0.93\n", "0.12\n", "0.93\n0.12\n"]),
        ("multiclass_classification", "3", ["0.1,0.2,0.7\n", "1.0,0.0,0.0\n", "0.1,0.2,0.7\n1.0,0.0,0.0\n"]),
        ("regression", "none", ["151.5\n", "-3\n", "151.5\n-3\n"]),
    ],
    ids=["binary", "multiclass", "regression"],
)
def test_smoke_test_sends_the_served_versions_sample_rows_singly_and_as_a_batch(
    ctx: Context, clients: Clients, task: str, classes: str, answers: list[str]
) -> None:
    stubbers = served(clients, task, classes)
    runtime = Stubber(clients.stub("sagemaker-runtime", "dev"))
    for rows, answer in zip([ROWS[:1], ROWS[1:], ROWS], answers, strict=True):
        _expect(runtime, rows, answer)
    activate([*stubbers, runtime])
    result = operations.smoke_test(ctx, "dev", 500, clock=_clock(0.01))
    done([*stubbers, runtime])
    assert result["requests"] == 3 and result["rows"] == 2 and result["max_latency_ms"] == 10.0
    assert result["model_package_arn"] == PACKAGE


def test_a_given_sample_replaces_the_registered_one(ctx: Context, clients: Clients, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("9,9,green\n")
    stubbers = served(clients, sample=False)
    runtime = Stubber(clients.stub("sagemaker-runtime", "dev"))
    _expect(runtime, ["9,9,green"], "0.5\n")
    _expect(runtime, ["9,9,green"], "0.5\n")
    activate([*stubbers, runtime])
    operations.smoke_test(ctx, "dev", 500, sample=path, clock=_clock(0.01))
    done([*stubbers, runtime])


def test_a_version_without_a_registered_sample_asks_for_one(ctx: Context, clients: Clients) -> None:
    stubbers = served(clients, sample=False)
    activate(stubbers)
    with pytest.raises(OperatorError, match=r"v4 has no sample payload registered \(SamplePayloadUrl\).*--sample"):
        operations.smoke_test(ctx, "dev", 500, clock=_clock(0.01))
    done(stubbers)


def test_smoke_test_fails_on_5xx_with_the_status(clients: Clients) -> None:
    stubbers = served(clients)
    runtime = Stubber(clients.stub("sagemaker-runtime", "dev"))
    runtime.add_client_error(
        "invoke_endpoint", service_error_code="ModelError", service_message="boom", http_status_code=500
    )
    activate([*stubbers, runtime])
    result = runner.invoke(app, ["smoke-test", "--env", "dev"])
    done([*stubbers, runtime])
    assert result.exit_code == 1
    assert result.stderr == f"error: Smoke test of {ENDPOINT} failed: HTTP 500 ModelError: boom\n"


def test_smoke_test_fails_when_slower_than_the_limit(ctx: Context, clients: Clients) -> None:
    stubbers = served(clients)
    runtime = Stubber(clients.stub("sagemaker-runtime", "dev"))
    _expect(runtime, ROWS[:1], "0.93\n")
    activate([*stubbers, runtime])
    with pytest.raises(OperatorError, match=r"a 1-row request took 3000 ms, limit 500 ms"):
        operations.smoke_test(ctx, "dev", 500, clock=_clock(3.0))
    done([*stubbers, runtime])


@pytest.mark.parametrize(
    ("task", "answer", "reason"),
    [
        ("binary_classification", '{"predictions": [0.9]}', "is not a number"),
        ("binary_classification", "0.9\n0.1\n", "2 values for 1 rows"),
        ("binary_classification", "1.7\n", "not a probability in \\[0, 1\\]"),
        ("binary_classification", "", "0 values for 1 rows"),
        ("multiclass_classification", "0.5,0.5\n", "has 2 class probabilities; the model has 3"),
        ("regression", "inf\n", "not a finite number"),
    ],
)
def test_smoke_test_rejects_an_answer_the_versions_task_does_not_give(
    ctx: Context, clients: Clients, task: str, answer: str, reason: str
) -> None:
    stubbers = served(clients, task, "3")
    runtime = Stubber(clients.stub("sagemaker-runtime", "dev"))
    _expect(runtime, ROWS[:1], answer)
    activate([*stubbers, runtime])
    with pytest.raises(OperatorError, match=reason):
        operations.smoke_test(ctx, "dev", 500, clock=_clock(0.01))
    done([*stubbers, runtime])


def test_smoke_test_cli_json_reports_success(clients: Clients) -> None:
    stubbers = served(clients)
    runtime = Stubber(clients.stub("sagemaker-runtime", "dev"))
    _expect(runtime, ROWS[:1], "0.93\n")
    _expect(runtime, ROWS[1:], "0.12\n")
    _expect(runtime, ROWS, "0.93,0.12")
    activate([*stubbers, runtime])
    result = runner.invoke(app, ["--json", "smoke-test", "--env", "dev"])
    done([*stubbers, runtime])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["endpoint_name"] == ENDPOINT


def test_a_sample_of_rows_of_unequal_width_is_refused(tmp_path: Path) -> None:
    from mlopsctl import payload

    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n4,5\n")
    with pytest.raises(OperatorError, match=r"has rows of \[2, 3\] values; expected one width"):
        payload.load_sample(path)
    with pytest.raises(OperatorError, match=r"is not a tar\.gz of CSV rows"):
        payload.rows_of_archive(b"not a tar", "s3://b/k")


def test_a_category_holding_the_delimiter_is_one_cell_not_two(tmp_path: Path) -> None:
    """Preprocess writes the payload with the csv module's quoting (a category may hold a comma)."""
    from mlopsctl import payload

    rows = ['1.5,"Paris, 75001",red', "3.5,Lyon,blue"]
    assert payload.rows_of_archive(archive(rows), "s3://b/k") == rows
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(rows) + "\n")
    assert payload.load_sample(path) == rows


def test_checks_without_the_skip_flag_still_refuse_a_missing_release() -> None:
    result = CliRunner().invoke(app, ["record-deployment", "--env", "prod"])
    assert result.exit_code == 1
    assert "No release for prod" in result.stderr
