"""What every command acts with: the settings, and AWS clients built per scope on first use.

Each scope is acted in as its own role (`operator_role_arns`): an environment's operator role
there, and for the registry the model-build environment's. The commands' modules (operations,
verification, rollback, shadow, cleanup) all take a Context; none imports another to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config import AppConfig, EnvironmentConfig
from mlopsctl import registry
from mlopsctl.aws import CALLER, REGISTRY, ClientFactory
from mlopsctl.errors import OperatorError


@dataclass
class Context:
    """Config plus the client factory; clients are built on first use, never at import time."""

    cfg: AppConfig
    clients: ClientFactory

    def registry(self, service: str = "sagemaker") -> Any:
        return self.clients(service, self.cfg.build_environment.region, REGISTRY)

    def env(self, name: str) -> EnvironmentConfig:
        try:
            return self.cfg.environment(name)
        except ValueError as error:
            raise OperatorError(str(error)) from error

    def in_env(self, service: str, env: EnvironmentConfig) -> Any:
        return self.clients(service, env.region, env.name)

    def caller(self) -> str:
        """The operator's own identity (not the role assumed per account), recorded with every change."""
        return str(self.clients("sts", self.cfg.build_environment.region, CALLER).get_caller_identity()["Arn"])


def operator_role_arns(cfg: AppConfig) -> dict[str, str]:
    """scope -> the role mlopsctl assumes there: each environment's operator role; for the
    registry, the model-build environment's (the registry's resource policy only lets other
    accounts read)."""
    names = cfg.names
    roles = {
        env.name: f"arn:{registry.partition(env.region)}:iam::{env.account}:role/{names.operator_role(env.name)}"
        for env in cfg.environments
    }
    roles[REGISTRY] = roles[cfg.build_environment.name]
    return roles
