"""The toolchain section (the CI/CD pipeline's account and region) and the source it builds from."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import model_validator

from config.errors import invalid, missing
from config.fields import ACCOUNT, CODECOMMIT_REPOSITORY, CONNECTION_ARN, EMAIL, REGION, Choice, Listed, Text
from config.schema import AwsTarget, Schema


class SourceKind(StrEnum):
    CODECONNECTIONS = "codeconnections"
    CODECOMMIT = "codecommit"


class ToolchainConfig(Schema):
    """The account and region of the CI/CD pipeline, and who hears about its failures and approvals."""

    account: Annotated[str, Text(ACCOUNT, "a 12-digit AWS account id")]
    region: Annotated[str, Text(REGION, "an AWS region such as eu-west-1")]
    notification_emails: Annotated[tuple[str, ...], Listed(EMAIL, "a list of e-mail addresses")] = ()

    @property
    def target(self) -> AwsTarget:
        return AwsTarget(account=self.account, region=self.region)


class SourceConfig(Schema):
    kind: Annotated[SourceKind, Choice()] = SourceKind.CODECONNECTIONS
    repository: Annotated[str, Text(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$", "owner/name")]
    branch: Annotated[str, Text(r"^[A-Za-z0-9_./-]+$", "a branch name")] = "main"
    connection_arn: Annotated[
        str | None, Text(CONNECTION_ARN, "arn:aws:codeconnections:<region>:<account>:connection/<id>")
    ] = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind is SourceKind.CODECOMMIT and not re.match(CODECOMMIT_REPOSITORY, self.repository):
            raise invalid("repository", self.repository, "a CodeCommit repository name: 1-100 letters, digits, _ . -")
        if self.kind is SourceKind.CODECONNECTIONS:
            if self.connection_arn is None:
                raise missing("connection_arn")
            if "/" not in self.repository:
                raise invalid("repository", self.repository, "owner/name for a CodeConnections source")
        return self
