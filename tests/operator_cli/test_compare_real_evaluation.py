"""compare on what the model-build pipeline really writes: evaluate.py's evaluation.json and metadata.

The two versions come from the local run of the steps on the bundled sample data (preprocess,
train, evaluate); the second is evaluated against the first as its champion, with the champion's
ARN, as the pipeline does. They are registered as the Register step does and compared through
the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import config
from mlopsctl import registry
from mlopsctl.cli import app
from pipeline_steps import local_run
from pipeline_steps.scripts import evaluate
from tests.operator_cli.support import Clients, register_evaluation, version_arn

runner = CliRunner()


@pytest.fixture(scope="module")
def evaluations(xgboost_local_run: list[local_run.RunResult], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """evaluation.json of a first model and of a retrained one evaluated against it (as v1)."""
    model = config.load_model("models/xgboost")
    first, second = xgboost_local_run
    second_dir = tmp_path_factory.mktemp("second-with-champion-arn")
    evaluate.main(
        [
            *("--model-dir", str(second.model_archive), "--output-dir", str(second_dir)),
            *("--test-dir", str(second.model_archive.parent / "splits" / "test")),
            f"--champion-model={first.model_archive}",
            f"--champion-evaluation={first.evaluation}",
            f"--champion-model-package-arn={version_arn(1)}",
            f"--inference-image={model.images.inference.label}",
            *("--metric=auc", "--threshold=0.8", "--allowed-regression=0.01"),
        ]
    )
    return [first.evaluation, second_dir / "evaluation.json"]


def register_report(status: str, path: Path) -> dict[str, Any]:
    """Registers `path` as the Register step would: the file as statistics, its metadata strings."""
    report = json.loads(path.read_text())
    assert report["gate"]["passed"] is True, report["gate"]["reason"]
    register_evaluation(
        status=status,
        evaluation=path.read_bytes(),
        metadata={"trigger_reason": "schedule", **report["metadata"]},
    )
    return report


def test_compare_reads_the_evaluate_steps_real_output(clients: Clients, evaluations: list[Path]) -> None:
    first = register_report("Approved", evaluations[0])
    second = register_report("PendingManualApproval", evaluations[1])
    result = runner.invoke(app, ["--json", "compare"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["a"]["model_package_arn"], data["b"]["model_package_arn"]) == (version_arn(1), version_arn(2))
    rows = {row["metric"]: row for row in data["metrics"]}
    assert list(rows) == list(evaluate.TASK_METRICS[evaluate.BINARY])
    for metric, row in rows.items():
        assert row["a"] == first["binary_classification_metrics"][metric]["value"]
        assert row["b"] == second["binary_classification_metrics"][metric]["value"]
        assert row["delta"] == pytest.approx(row["b"] - row["a"])
    assert data["b"]["champion_model_package_arn"] == version_arn(1)
    # The first model had no champion: the "none" the pipeline writes is not an ARN.
    assert data["a"]["champion_model_package_arn"] is None


def test_compare_table_shows_no_champion_as_a_dash(clients: Clients, evaluations: list[Path]) -> None:
    register_report("Approved", evaluations[0])
    register_report("PendingManualApproval", evaluations[1])
    table = runner.invoke(app, ["compare"])
    assert table.exit_code == 0, table.output
    compared = next(line for line in table.output.splitlines() if "compared with" in line)
    assert compared.replace("│", " ").split()[2:] == ["-", "v1"]


def test_the_cli_reads_the_no_champion_marker_evaluate_writes() -> None:
    assert registry.NONE == evaluate.NONE
