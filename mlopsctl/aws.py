"""The one place AWS clients are created, so tests can replace it with moto or Stubber clients.

Every call says where it goes: `scope` is "registry" for the model package group (in the
model-build environment's account) or an environment name for its endpoint, ledger and alarms.
The real factory uses one session (profile, optionally an assumed role) for every scope; the
registry is read cross-account through the group's resource policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

REGISTRY = "registry"

ClientFactory = Callable[[str, str, str], Any]
"""(service, region, scope) -> boto3 client."""

_override: ClientFactory | None = None


def set_client_factory(factory: ClientFactory | None) -> None:
    """Tests install a factory returning moto or Stubber-wrapped clients; None restores boto3."""
    global _override
    _override = factory


def session_factory(profile: str | None, region: str | None, role_arn: str | None) -> ClientFactory:
    """Clients from one boto3 session; `region` (when given) overrides the configured regions."""
    if _override is not None:
        return _override
    cache: dict[tuple[str, str], Any] = {}
    session = boto3.Session(profile_name=profile, region_name=region)
    if role_arn:
        credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="mlopsctl")["Credentials"]
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )

    def make(service: str, configured_region: str, scope: str) -> Any:
        target_region = region or configured_region
        key = (service, target_region)
        if key not in cache:
            cache[key] = session.client(service, region_name=target_region)
        return cache[key]

    return make
