"""smoke-test against a stubbed endpoint: success, 5XX, slow, malformed responses."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from typer.testing import CliRunner

from mlopsctl import operations
from mlopsctl.cli import app
from mlopsctl.errors import OperatorError
from tests.operator_cli.support import ENDPOINT, Clients

runner = CliRunner()


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, list[str]]:
    rows = operations.load_sample()[:2]
    path = tmp_path / "sample.csv"
    path.write_text("\n".join(rows) + "\n")
    return path, rows


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


def test_checked_in_sample_is_breast_cancer_rows_in_contract_order() -> None:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer().data.tolist()
    rows = operations.load_sample()
    assert len(rows) >= 5
    for row in rows:
        values = [float(v) for v in row.split(",")]
        assert len(values) == 30 and values in data


def test_smoke_test_passes_single_rows_and_a_batch(ctx: operations.Context, clients: Clients, sample: tuple) -> None:
    path, rows = sample
    with Stubber(clients.stub("sagemaker-runtime", "dev")) as stubber:
        _expect(stubber, rows[:1], "0.93\n")
        _expect(stubber, rows[1:2], "0.12\n")
        _expect(stubber, rows, "0.93\n0.12\n")
        result = operations.smoke_test(ctx, "dev", 500, sample=path, clock=_clock(0.01))
        stubber.assert_no_pending_responses()
    assert result["requests"] == 3 and result["max_latency_ms"] == 10.0


def test_smoke_test_fails_on_5xx_with_the_status(clients: Clients, sample: tuple) -> None:
    path, _ = sample
    with Stubber(clients.stub("sagemaker-runtime", "dev")) as stubber:
        stubber.add_client_error(
            "invoke_endpoint", service_error_code="ModelError", service_message="boom", http_status_code=500
        )
        result = runner.invoke(app, ["smoke-test", "--env", "dev", "--sample", str(path)])
        stubber.assert_no_pending_responses()
    assert result.exit_code == 1
    assert result.stderr == f"error: Smoke test of {ENDPOINT} failed: HTTP 500 ModelError: boom\n"


def test_smoke_test_fails_when_slower_than_the_limit(ctx: operations.Context, clients: Clients, sample: tuple) -> None:
    path, rows = sample
    with Stubber(clients.stub("sagemaker-runtime", "dev")) as stubber:
        _expect(stubber, rows[:1], "0.93\n")
        with pytest.raises(OperatorError, match=r"a 1-row request took 3000 ms, limit 500 ms"):
            operations.smoke_test(ctx, "dev", 500, sample=path, clock=_clock(3.0))
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('{"predictions": [0.9]}', "is not a number"),
        ("0.9\n0.1\n", "2 values for 1 rows"),
        ("1.7\n", "not a probability in \\[0, 1\\]"),
        ("", "0 values for 1 rows"),
    ],
)
def test_smoke_test_rejects_a_malformed_response(
    ctx: operations.Context, clients: Clients, sample: tuple, answer: str, reason: str
) -> None:
    path, rows = sample
    with Stubber(clients.stub("sagemaker-runtime", "dev")) as stubber:
        _expect(stubber, rows[:1], answer)
        with pytest.raises(OperatorError, match=reason):
            operations.smoke_test(ctx, "dev", 500, sample=path, clock=_clock(0.01))
        stubber.assert_no_pending_responses()


def test_smoke_test_cli_json_reports_success(clients: Clients, sample: tuple) -> None:
    path, rows = sample
    with Stubber(clients.stub("sagemaker-runtime", "dev")) as stubber:
        _expect(stubber, rows[:1], "0.93\n")
        _expect(stubber, rows[1:2], "0.12\n")
        _expect(stubber, rows, "0.93,0.12")
        result = runner.invoke(app, ["smoke-test", "--env", "dev", "--sample", str(path), "--json"])
        stubber.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["endpoint_name"] == ENDPOINT


def test_sample_with_wrong_width_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n")
    with pytest.raises(OperatorError, match="has 3 values, expected 30"):
        operations.load_sample(path)


def test_checks_without_the_skip_flag_still_refuse_a_missing_release() -> None:
    result = CliRunner().invoke(app, ["record-deployment", "--env", "prod"])
    assert result.exit_code == 1
    assert "No release for prod" in result.stderr
