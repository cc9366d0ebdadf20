"""Shared fixtures: fake AWS credentials, the real cdk.json context, one synth per session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Tests never reach AWS: fake credentials and a fixed region before any client is built.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
os.environ.pop("AWS_PROFILE", None)

# A version ARN in the shape the registry returns, so serving stacks synthesize offline.
EXAMPLE_RELEASE_ARN = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/3"


# Modules whose every test synthesizes stacks of its own; elsewhere a test that asks for the
# session assembly is marked `template` by the hook below.
_TEMPLATE_MODULES = {
    "test_app_gates",
    "test_cicd_stack",
    "test_model_build_stack",
    "test_nag_acknowledgments",
    "test_retraining_stack",
    "test_serving_stack",
    "test_storage_stack",
    "test_release_verification_template",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_assembly = "assembly" in getattr(item, "fixturenames", ())
        if (uses_assembly or item.path.stem in _TEMPLATE_MODULES) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.template)


def cdk_json_context() -> dict[str, Any]:
    """The context block of the real cdk.json, so tests see what `cdk synth` sees."""
    return dict(json.loads((ROOT / "cdk.json").read_text())["context"])


def raw_config() -> dict[str, Any]:
    """A deep copy of the `mlops` settings from cdk.json, for tests that edit them."""
    return json.loads(json.dumps(cdk_json_context()["mlops"]))


class Assembly:
    """A synthesized cloud assembly with templates looked up by stack name."""

    def __init__(self, directory: Path) -> None:
        from scripts.list_templates import stacks

        self.directory = directory
        self.templates: dict[str, dict[str, Any]] = {
            name: json.loads(path.read_text()) for name, _, path in stacks(directory)
        }

    def template(self, stack_name: str) -> Any:
        from aws_cdk.assertions import Template

        if stack_name not in self.templates:
            raise KeyError(f"No stack {stack_name!r}; synthesized: {sorted(self.templates)}")
        return Template.from_json(self.templates[stack_name])


def synth(context: dict[str, Any], outdir: Path) -> Assembly:
    import aws_cdk as cdk

    import app

    application = cdk.App(context=context, outdir=str(outdir))
    app.build_app(application)
    application.synth()
    return Assembly(outdir)


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assembly]:
    """The whole app, synthesized once with cdk.json's context and cdk-nag on."""
    context = cdk_json_context()
    context["release.dev"] = EXAMPLE_RELEASE_ARN
    context["release.staging"] = EXAMPLE_RELEASE_ARN
    context["release.prod"] = EXAMPLE_RELEASE_ARN
    yield synth(context, tmp_path_factory.mktemp("cdk.out"))
