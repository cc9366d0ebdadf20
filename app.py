#!/usr/bin/env python3
"""Composes the app: config -> one Stage per environment -> cdk-nag on everything."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

import config
from stacks.environment_stage import EnvironmentStage


def build_app(app: cdk.App) -> cdk.App:
    settings = config.load(app.node.get_all_context())
    for environment in settings.environments:
        EnvironmentStage(app, environment.name.capitalize(), app_config=settings, environment=environment)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    try:
        application = build_app(cdk.App())
    except config.ConfigError as error:
        sys.exit(f"cdk.json: {error}")
    application.synth()
