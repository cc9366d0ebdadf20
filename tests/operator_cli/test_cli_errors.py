"""The operator CLI never shows a traceback: every bad input is one line on stderr and exit 1 (or 2 for usage)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlopsctl.cli import app
from tests.operator_cli.support import Clients

runner = CliRunner()


def _one_line_error(result: object, *, code: int = 1) -> str:
    exit_code, stderr, exception = (getattr(result, k) for k in ("exit_code", "stderr", "exception"))
    assert exit_code == code, (stderr, exception)
    assert exception is None or isinstance(exception, SystemExit), exception
    assert "Traceback" not in stderr
    return str(stderr)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "Invalid settings file '.*bad.json': Expecting property name"),
        ('{"app": "python app.py"}', 'it has no "context" object'),
        ('{"context": {"mlops": {}, "mlops": {}}}', "the key 'mlops' appears twice in one object"),
    ],
)
def test_a_malformed_or_contextless_settings_file_is_one_line(
    clients: Clients, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    stderr = _one_line_error(runner.invoke(app, ["--cdk-json", str(path), "status"]))
    assert stderr.startswith("error: ") and stderr.count("\n") == 1
    assert re.search(expected, stderr), stderr


def test_a_missing_settings_file_is_one_line(clients: Clients, tmp_path: Path) -> None:
    stderr = _one_line_error(runner.invoke(app, ["--cdk-json", str(tmp_path / "none.json"), "status"]))
    assert "Cannot read settings file" in stderr and "No such file or directory" in stderr


def test_a_missing_sample_file_is_one_line(clients: Clients, tmp_path: Path) -> None:
    missing = tmp_path / "rows.csv"
    stderr = _one_line_error(runner.invoke(app, ["smoke-test", "--env", "dev", "--sample", str(missing)]))
    assert stderr == f"error: Cannot read the sample {missing}: No such file or directory.\n"


@pytest.mark.parametrize("version", ["²", "٣", "7.0", "0"])
def test_a_version_that_is_not_ascii_digits_is_refused(clients: Clients, version: str) -> None:
    stderr = _one_line_error(runner.invoke(app, ["approve", version]))
    assert stderr.startswith(f"error: Invalid version {version!r}: give a version number")


@pytest.mark.parametrize("minutes", ["0", "-5"])
def test_compare_online_refuses_minutes_below_one(clients: Clients, minutes: str) -> None:
    result = runner.invoke(app, ["compare", "--online", "--env", "dev", "--minutes", minutes])
    _one_line_error(result, code=2)
    assert "Invalid value for '--minutes'" in result.output
    assert clients.calls == []
