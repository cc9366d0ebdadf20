"""Long commands say what they are doing, and third-party noise stays out of their output."""

from __future__ import annotations

import json
import logging
import re
import warnings

import pytest

from pipeline_steps.sdk_session import _SdkNoise
from tests.conftest import AppPyRun


def record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


@pytest.mark.parametrize(
    ("name", "level", "message", "shown"),
    [
        ("sagemaker.config", logging.INFO, "Applied value from config key = SageMaker.PythonSDK...", False),
        ("sagemaker.core.utils.utils", logging.DEBUG, "Using default CPU instance type: ml.m5.large", False),
        ("sagemaker.core.image_uris", logging.INFO, "Defaulting to only available Python version: py3", False),
        (
            "sagemaker.core.workflow.utilities",
            logging.WARNING,
            "Popping out 'ProcessingJobName' from the pipeline definition by default since it will be overridden",
            False,
        ),
        ("sagemaker.core.workflow.utilities", logging.WARNING, "Parameter InstanceType is deprecated", True),
        ("sagemaker.core.image_uris", logging.ERROR, "Unsupported region", True),
        ("botocore.credentials", logging.WARNING, "Found credentials in environment variables.", True),
    ],
)
def test_the_sdks_informational_and_expected_records_are_dropped_and_the_rest_shown(
    name: str, level: int, message: str, shown: bool
) -> None:
    assert _SdkNoise().filter(record(name, level, message)) is shown


def test_only_the_expected_sdk_warning_is_silenced(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline_steps.sdk_session import report_for_people

    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    monkeypatch.setattr(logging.root, "level", logging.root.level)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report_for_people()
        sdk = "Running within a PipelineSession, there will be No Wait, No Logs, and No Job being started."
        warnings.warn(sdk, stacklevel=1)
        warnings.warn("Something the SDK has never said before", stacklevel=1)
    assert [str(w.message) for w in caught] == ["Something the SDK has never said before"]


def test_app_py_reports_each_phase_of_synth_with_its_time(app_py_without_releases: AppPyRun) -> None:
    lines = [line for line in app_py_without_releases.output.splitlines() if line.startswith("[")]
    phases = [re.sub(r"^\[\s*[\d.]+ s\] ", "", line) for line in lines]
    assert phases[0].startswith("settings from cdk.json: environments dev, staging, prod")
    assert "built Dev: Storage, ModelBuild, Retraining" in phases
    assert any(phase.startswith("checking 6 templates with the Control Tower rules") for phase in phases)
    assert phases[-1] == "wrote 6 templates"
    # Annotations carry no stack trace: in a Python app it points into the jsii runtime, and the CDK
    # CLI printed its first frame (program.js:1:5591) above every annotation.
    annotations = [
        entry
        for path in app_py_without_releases.outdir.rglob("*.metadata.json")
        for entries in json.loads(path.read_text()).values()
        for entry in entries
        if entry["type"] in ("aws:cdk:info", "aws:cdk:warning", "aws:cdk:error")
    ]
    assert annotations and not [entry for entry in annotations if entry.get("trace")]
