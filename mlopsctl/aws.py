"""The one place AWS clients are created, so tests can replace it with moto or Stubber clients.

Every call says where it goes: `scope` is "registry" for the model package group (in the
model-build environment's account), an environment name for its endpoint, ledger and alarms,
or "caller" for the operator's own identity. The real factory acts in each scope with that
scope's role (the environment's operator role; for the registry, the model-build
environment's), assumed on first use and refreshed before it expires, because a rollback can
wait longer than the one hour a chained role session lasts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, CredentialProvider, DeferredRefreshableCredentials

REGISTRY = "registry"
CALLER = "caller"

ClientFactory = Callable[[str, str, str], Any]
"""(service, region, scope) -> boto3 client."""

_override: ClientFactory | None = None
# Standard retry mode backs off on throttling for every call before we ever see the error.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def set_client_factory(factory: ClientFactory | None) -> None:
    """Tests install a factory returning moto or Stubber-wrapped clients; None restores boto3."""
    global _override
    _override = factory


class _AssumedRole(CredentialProvider):
    """Credentials of `role_arn`, fetched when first needed and refreshed before they expire."""

    METHOD = "mlopsctl-assume-role"

    def __init__(self, fetcher: AssumeRoleCredentialFetcher) -> None:
        super().__init__()
        self._fetcher = fetcher

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(refresh_using=self._fetcher.fetch_credentials, method=self.METHOD)


def session_name(caller_arn: str) -> str:
    """RoleSessionName that keeps the operator's name in CloudTrail: 2-64 of [\\w+=,.@-]."""
    who = re.sub(r"[^\w+=,.@-]", "-", caller_arn.rsplit("/", 1)[-1])
    return f"mlopsctl-{who}"[:64]


def _assumed_session(base: botocore.session.Session, role_arn: str, name: str) -> boto3.Session:
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=base.create_client,
        source_credentials=base.get_credentials(),
        role_arn=role_arn,
        extra_args={"RoleSessionName": name},
    )
    chained = botocore.session.Session()
    chained.get_component("credential_provider").insert_before("env", _AssumedRole(fetcher))
    return boto3.Session(botocore_session=chained)


def session_factory(
    profile: str | None,
    region: str | None,
    role_arn: str | None,
    scope_roles: Mapping[str, str] | None = None,
) -> ClientFactory:
    """Clients for each scope: `role_arn` for every scope when given (the delivery pipeline's
    verifier), else the scope's role from `scope_roles`, else the profile's own credentials.
    `region` (when given) overrides the configured regions."""
    if _override is not None:
        return _override
    base = botocore.session.Session(profile=profile)
    sessions: dict[str, boto3.Session] = {}
    clients: dict[tuple[str, str, str], Any] = {}

    def role_for(scope: str) -> str:
        return role_arn or ("" if scope == CALLER else (scope_roles or {}).get(scope, ""))

    def session_for(role: str, target_region: str) -> boto3.Session:
        if role not in sessions:
            if not role:
                sessions[role] = boto3.Session(botocore_session=base)
            else:
                # The scope's region, so partitions other than aws (aws-cn, aws-us-gov) reach their STS.
                sts = base.create_client("sts", region_name=target_region)
                sessions[role] = _assumed_session(base, role, session_name(sts.get_caller_identity()["Arn"]))
        return sessions[role]

    def make(service: str, configured_region: str, scope: str) -> Any:
        target_region = region or configured_region
        key = (service, target_region, role_for(scope))
        if key not in clients:
            session = session_for(key[2], target_region)
            clients[key] = session.client(service, region_name=target_region, config=_CLIENT_CONFIG)
        return clients[key]

    return make
