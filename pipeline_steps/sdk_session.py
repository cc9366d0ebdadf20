"""A SageMaker SDK session that builds pipeline definitions without ever calling AWS.

The SDK probes AWS in several places while it assembles a definition: the default bucket
(S3 HeadBucket / STS), the execution role (IAM), SDK defaults and telemetry. Pipeline
definitions are generated offline (`make pipeline-definitions`) and checked in, so each of
those probes is switched off here, once, for every pipeline builder.

How the generated files are checked in (`write_files`, `stale_files`) is shared here too, so
every builder writes and checks them the same way; their text form (`canonical_json`) is
checked_in.py's, which synth reads too.

The SDK is imported inside the functions: importing this module stays cheap, and the
environment variables below are in place before the SDK reads them at import time.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# In-process SDK defaults: telemetry off. (The YAML-file opt-out would also work but makes
# the SDK read config files on every run, which is both slower and machine-dependent.)
SDK_DEFAULTS: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}

# Placeholder credentials for the boto3 session the SDK insists on: no call is ever signed
# with them, and they keep botocore from searching the machine for real ones.
_OFFLINE_CREDENTIALS = {"aws_access_key_id": "offline", "aws_secret_access_key": "offline"}


# What the SDK says on every offline generation, as designed: it never waits for, logs or starts a
# job, and it leaves out the names SageMaker gives each execution's jobs and model package. Any
# other warning or error of the SDK is shown.
_EXPECTED_SDK_WARNINGS = (
    re.compile(r"^Running within a PipelineSession, there will be No Wait, No Logs, and No Job being started"),
    re.compile(r"^Popping out '\w+' from the pipeline definition"),
)


class _SdkNoise(logging.Filter):
    """Drops the SDK's informational records and its expected warnings; passes everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("sagemaker"):
            return True
        if record.levelno < logging.WARNING:
            return False
        return not any(pattern.match(record.getMessage()) for pattern in _EXPECTED_SDK_WARNINGS)


def report_for_people() -> Callable[[str], None]:
    """Output for `make pipeline-definitions`: progress lines, the SDK's real warnings and errors, no noise.

    Call it before the SDK is imported: one of its modules configures the root logger at INFO
    when it is imported (logging.basicConfig), and several set their own loggers to INFO or
    DEBUG, so the SDK alone prints dozens of lines per run. Returns `progress(message)`, which
    prints a line with the seconds since this call.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_SdkNoise())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    for pattern in _EXPECTED_SDK_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern.pattern.lstrip("^"), category=UserWarning)
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:5.1f} s] {message}", flush=True)

    return progress


def _prepare_environment(region: str) -> None:
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    # Some SDK modules build a boto3 client at import: keep it from probing instance metadata.
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def offline_pipeline_session(*, region: str, bucket: str) -> Any:
    """A `PipelineSession` for `region` whose default bucket is pinned to `bucket`.

    Use it for every processor, trainer and model of a pipeline definition, and give every
    code, input and output location as an explicit S3 URI: the session then has nothing
    left to look up in AWS.
    """
    _prepare_environment(region)
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    boto_session = boto3.Session(region_name=region, **_OFFLINE_CREDENTIALS)
    session = PipelineSession(boto_session=boto_session, default_bucket=bucket, sagemaker_config=SDK_DEFAULTS)
    # Without this the SDK checks (and may try to create) the bucket on first use.
    session._default_bucket = bucket
    # Roles are given as ARNs or as Fn::Sub placeholders; never look a role name up in IAM.
    session.expand_role = lambda role: role
    return session


def image_uris_by_region(framework: str, version: str, *, image_scope: str) -> dict[str, str]:
    """The SDK's container image URI of `framework` `version` in every region it knows.

    Computed offline from the SDK's bundled image config, at definition-generation time, so
    the CDK app can pick the image of a stage's region without importing the SDK.
    """
    from sagemaker.core import image_uris
    from sagemaker.core.image_uris import config_for_framework

    config = config_for_framework(framework)
    scoped = config.get(image_scope, config)
    versions = scoped["versions"]
    resolved = version if version in versions else scoped.get("version_aliases", {}).get(version, version)
    regions = sorted(versions[resolved]["registries"])
    return {
        region: image_uris.retrieve(framework, region, version=version, image_scope=image_scope) for region in regions
    }


def placeholder(name: str) -> str:
    """An `Fn::Sub` variable the CDK construct fills in (role ARN, buckets, image URI...)."""
    return "${" + name + "}"


def role_arn_placeholder(role_name_variable: str) -> str:
    """An execution-role ARN the SDK accepts offline, filled in by `Fn::Sub`.

    The SDK looks up any role that does not look like an IAM role ARN, so the placeholder
    keeps the ARN's shape and leaves only the role name (and partition/account) to `Fn::Sub`.
    """
    return "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + placeholder(role_name_variable)


def stale_files(files: Mapping[Path, str]) -> list[Path]:
    """The checked-in files that are missing or differ from the text just generated for them."""
    return [path for path, text in files.items() if not path.exists() or path.read_text() != text]


def write_files(files: Mapping[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
