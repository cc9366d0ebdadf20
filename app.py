#!/usr/bin/env python3
"""Composes the app: config -> one Stage per environment -> the pipeline that deploys them -> cdk-nag."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

import config
from constructs.security.control_tower import ControlTowerRules
from constructs.security.wildcard_resources import WildcardResourceRule
from pipeline_steps import checked_in
from stacks.cicd_stack import CicdStack
from stacks.environment_stage import EnvironmentStage

ROOT = Path(__file__).resolve().parent


def pinned_cdk_cli_version() -> str:
    """The CDK CLI version package.json pins; the pipeline's self-mutation uses the same one."""
    return str(json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"])


def _silent(_message: str) -> None:
    """The default progress report: none (tests build the app many times)."""


def build_app(app: cdk.App, progress: Callable[[str], None] = _silent) -> cdk.App:
    context = app.node.get_all_context()
    settings = config.load(context)
    # Before anything is built: the images the settings name exist in the regions they run in.
    checked_in.check_images(settings)
    progress(
        f"settings from {config.settings_source(context)}: environments {', '.join(settings.environment_names)}, "
        f"toolchain {settings.toolchain.account} in {settings.toolchain.region}"
    )
    # Registered on the App, so they also check every stack inside the pipeline's stages:
    # cdk-nag's AwsSolutions rules and the AWS Control Tower proactive controls (cfn-guard).
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ControlTowerRules(progress=progress), WildcardResourceRule()
    )
    # cdk-nag's finding for `Resource: "*"` names no action; WildcardResourceRule checks each statement's actions.
    cdk.Validations.of(app).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="Each statement on '*' is checked action by action at synth "
            "(constructs/security/wildcard_resources.py): only actions the Service Authorization Reference lists "
            "without resource types pass.",
        )
    )
    stages = {}
    for environment in settings.promotion_order:
        stage = EnvironmentStage(app, environment.name.capitalize(), app_config=settings, environment=environment)
        stages[environment.name] = stage
        progress(f"built {stage.node.id}: {', '.join(child.node.id for child in stage.node.children)}")
    registry = stages[settings.model_build.environment].storage.registry
    assert registry is not None, "the model-build environment always holds the registry"
    toolchain = settings.toolchain
    cicd = CicdStack(
        app,
        "Cicd",
        stack_name=settings.names.stack("toolchain", "cicd"),
        description=f"{settings.project_name}: delivery pipeline, its triggers and notifications",
        env=cdk.Environment(account=toolchain.account, region=toolchain.region),
        app_config=settings,
        stages=stages,
        registry=registry,
        cdk_cli_version=pinned_cdk_cli_version(),
    )
    # Shown by `cdk synth` (and kept in the assembly) on the stack that promotes every environment.
    for message in settings.warnings:
        cdk.Annotations.of(cicd).add_warning_v2("mlops:config", message)
    progress("built Cicd: the delivery pipeline")
    return app


def main() -> None:
    started = time.monotonic()

    def progress(message: str) -> None:
        """One line per phase on stderr, which `cdk synth` shows as it comes (the time is for people only)."""
        print(f"[{time.monotonic() - started:5.1f} s] {message}", file=sys.stderr, flush=True)

    # Creation stack traces of a Python app point into the jsii runtime (program.js), not at our
    # code: without them the CLI prints each annotation without a meaningless source line.
    app = cdk.App(stack_traces=False)
    try:
        # The CDK CLI keeps the last of two equal keys in cdk.json; a setting written twice is refused.
        config.read_cdk_json(ROOT / "cdk.json")
        build_app(app, progress)
    except (config.ConfigError, checked_in.CheckedInError) as error:
        sys.exit(f"{config.settings_source(app.node.get_all_context())}: {error}")
    progress("writing the templates; CloudFormation's and cdk-nag's AwsSolutions checks run on them")
    assembly = app.synth()
    progress(f"wrote {len(assembly.stacks_recursively)} templates")


if __name__ == "__main__":
    main()
