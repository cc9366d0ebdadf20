#!/usr/bin/env python3
"""Composes the app: config -> one Stage per environment -> the pipeline that deploys them -> cdk-nag."""

from __future__ import annotations

import atexit
import importlib
import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

ROOT = Path(__file__).resolve().parent
# What build_app imports. `python app.py` imports them on a second thread while the jsii runtime
# starts the CDK's template validator (see main), so none of them may call into jsii at import
# time: module-level constants are plain values (tests/test_app_startup.py checks both).
APP_MODULES = ("config", "stacks.cicd_stack", "stacks.environment_stage")


def pinned_cdk_cli_version() -> str:
    """The CDK CLI version package.json pins; the pipeline's self-mutation uses the same one."""
    return str(json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"])


def build_app(app: cdk.App) -> cdk.App:
    import config
    from stacks.cicd_stack import CicdStack
    from stacks.environment_stage import EnvironmentStage

    settings = config.load(app.node.get_all_context())
    # Registered on the App, so it also checks every stack inside the pipeline's stages.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stages = {
        environment.name: EnvironmentStage(
            app, environment.name.capitalize(), app_config=settings, environment=environment
        )
        for environment in settings.promotion_order
    }
    registry = stages[settings.model_build.environment].storage.registry
    assert registry is not None, "the model-build environment always holds the registry"
    toolchain = settings.toolchain
    CicdStack(
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
    return app


def start_template_validation(app: cdk.App, environ: Mapping[str, str]) -> None:
    """Registers the CDK's built-in template validator now instead of at synth.

    Same plugin, same default rules: an explicitly registered CloudFormationValidatePlugin
    replaces the one the CDK would add during synth. `cdk synth --no-validation` passes
    CDK_VALIDATION=false to the app, and that still turns it off.
    """
    if environ.get("CDK_VALIDATION", "").lower() != "false":
        cdk.Validations.of(app).add_plugins(cdk.CloudFormationValidatePlugin())


def _import_app_modules() -> None:
    for module in APP_MODULES:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: S112 - build_app imports it again and reports the error there
            continue


def main() -> None:
    app = cdk.App()
    # The validator's rules engine takes about 1.5 s to start, all of it in the jsii runtime's
    # Node process, while this process waits. Starting it first lets a second thread import the
    # app's modules (about 0.3 s of pure Python) meanwhile; bench/synth.sh shows the difference.
    importer = threading.Thread(target=_import_app_modules, name="import-app-modules", daemon=True)
    importer.start()
    try:
        start_template_validation(app, os.environ)
    finally:
        importer.join()
    import config

    try:
        build_app(app)
    except config.ConfigError as error:
        sys.exit(f"cdk.json: {error}")
    app.synth()
    # Everything is written. Run the exit handlers (one stops the jsii runtime and waits for it),
    # then leave without the interpreter's own teardown: freeing the CDK's Python modules object
    # by object takes ~0.2 s, and the operating system reclaims that memory anyway.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
