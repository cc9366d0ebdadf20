#!/usr/bin/env python3
"""Composes the app: config -> one Stage per environment -> the pipeline that deploys them -> cdk-nag."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

import config
from constructs.control_tower import ControlTowerRules
from constructs.wildcard_resources import WildcardResourceRule
from stacks.cicd_stack import CicdStack
from stacks.environment_stage import EnvironmentStage

ROOT = Path(__file__).resolve().parent


def pinned_cdk_cli_version() -> str:
    """The CDK CLI version package.json pins; the pipeline's self-mutation uses the same one."""
    return str(json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"])


def build_app(app: cdk.App) -> cdk.App:
    settings = config.load(app.node.get_all_context())
    # Registered on the App, so they also check every stack inside the pipeline's stages:
    # cdk-nag's AwsSolutions rules and the AWS Control Tower proactive controls (cfn-guard).
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ControlTowerRules(), WildcardResourceRule())
    # cdk-nag's finding for `Resource: "*"` names no action; WildcardResourceRule checks each statement's actions.
    cdk.Validations.of(app).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="Each statement on '*' is checked action by action at synth (constructs/wildcard_resources.py): "
            "only actions the Service Authorization Reference lists without resource types pass.",
        )
    )
    stages = {
        environment.name: EnvironmentStage(
            app, environment.name.capitalize(), app_config=settings, environment=environment
        )
        for environment in settings.promotion_order
    }
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
    return app


def main() -> None:
    app = cdk.App()
    try:
        # The CDK CLI keeps the last of two equal keys in cdk.json; a setting written twice is refused.
        config.read_cdk_json(ROOT / "cdk.json")
        build_app(app)
    except config.ConfigError as error:
        sys.exit(f"cdk.json: {error}")
    app.synth()


if __name__ == "__main__":
    main()
