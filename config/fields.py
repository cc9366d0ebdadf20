"""The kinds of setting, each a pydantic annotation that validates and names what is allowed.

`Annotated[int, Whole(1, 50, " percent")]` is an integer from 1 to 50; whatever is wrong with a
value, the error carries the one phrase the config error shows ("a whole number from 1 to 50
percent"), never pydantic's own wording. `-c mlops.<key>=<value>` overrides arrive as strings,
so each kind also reads its value from a string, as cdk.json's JSON would have spelled it.
"""

from __future__ import annotations

import contextlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, get_args

from pydantic import GetCoreSchemaHandler, ValidationError
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

ACCOUNT = r"^\d{12}$"
REGION = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"
PROJECT = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"
ENV_NAME = r"^[a-z][a-z0-9]{0,15}$"
INSTANCE = r"^ml\.[a-z0-9]+\.[a-z0-9]+$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SCHEDULE = r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$"
PACKAGE_ARN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]+/\d+$"
CONNECTION_ARN = r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[A-Za-z0-9-]+$"
S3_URI = r"^s3://[a-z0-9.-]{3,63}/.+$"
# CodeCommit RepositoryName: [\w.-]+, 1-100 characters (botocore service model).
CODECOMMIT_REPOSITORY = r"^[A-Za-z0-9_.-]{1,100}$"
FEATURE = r"^[A-Za-z0-9_.-]{1,200}$"
# IAM role ARN: name up to 64 characters of [\w+=,.@-], path segments allowed (IAM CreateRole).
ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$"
# EC2 resource IDs: a prefix and 8 or 17 hex digits (EC2 "Resource IDs").
VPC_ID = r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$"
SUBNET_ID = r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$"
SECURITY_GROUP_ID = r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$"
ROUTE_TABLE_ID = r"^rtb-([0-9a-f]{8}|[0-9a-f]{17})$"
# An IPv4 CIDR block, as a security group rule's CidrIp takes it (EC2 IpRange).
IPV4_CIDR = r"^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)/(3[0-2]|[12]?\d)$"


def text_schema(pattern: str) -> CoreSchema:
    # Python's re, the engine these patterns were written (and are documented) for.
    return core_schema.str_schema(pattern=pattern, strict=True, regex_engine="python-re")


def as_bool(value: Any) -> Any:
    """ "true" / "false" (any case) as a bool; anything else unchanged."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def as_int(value: Any) -> Any:
    """A string of digits as an int; anything else unchanged."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def as_float(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return value


class Rule(ABC):
    """An annotation that validates one setting and reports any failure as the phrase `describe` gives.

    A field typed `X | None` also takes null (or an empty string) as "not set".
    """

    @abstractmethod
    def inner(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """The pydantic schema that validates the value."""

    @abstractmethod
    def describe(self, source: Any) -> str:
        """What is allowed, as the error message says it."""

    def coerce(self, value: Any) -> Any:
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        nullable = type(None) in get_args(source)
        allowed = self.describe(source)
        inner = self.inner(source, handler)

        def check(value: Any, validate: Callable[[Any], Any]) -> Any:
            if nullable and (value is None or value == ""):
                return None
            value = self.coerce(value)
            try:
                return validate(value)
            except ValidationError:
                # The value as read ("-c ...=3" is 3), as the message shows it.
                raise PydanticCustomError("config", "{allowed}", {"allowed": allowed, "value": value}) from None

        return core_schema.no_info_wrap_validator_function(check, inner)


@dataclass(frozen=True)
class Whole(Rule):
    """A whole number from `low` to `high` (never a bool); `phrase` replaces the usual description."""

    low: int
    high: int
    unit: str = ""
    phrase: str | None = None

    def describe(self, source: Any) -> str:
        return self.phrase or f"a whole number from {self.low} to {self.high}{self.unit}"

    def inner(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.int_schema(ge=self.low, le=self.high, strict=True)

    def coerce(self, value: Any) -> Any:
        return as_int(value)


@dataclass(frozen=True)
class Number(Rule):
    """A number from `low` to `high` (never a bool); stored as a float."""

    low: float
    high: float

    def describe(self, source: Any) -> str:
        return f"a number from {self.low} to {self.high}"

    def inner(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.float_schema(ge=self.low, le=self.high, strict=True)

    def coerce(self, value: Any) -> Any:
        return as_float(value)


@dataclass(frozen=True)
class Flag(Rule):
    def describe(self, source: Any) -> str:
        return "true or false"

    def inner(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.bool_schema(strict=True)

    def coerce(self, value: Any) -> Any:
        return as_bool(value)


@dataclass(frozen=True)
class Text(Rule):
    """A string matching `pattern`."""

    pattern: str
    allowed: str

    def describe(self, source: Any) -> str:
        return self.allowed

    def inner(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return text_schema(self.pattern)


@dataclass(frozen=True)
class Choice(Rule):
    """One of an enum's values, spelled as in cdk.json."""

    def describe(self, source: Any) -> str:
        enum: type[Enum] = source
        return " | ".join(member.value for member in enum)

    def inner(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler(source)


@dataclass(frozen=True)
class Listed(Rule):
    """A list of `low` to `high` strings matching `pattern`, read into a tuple."""

    pattern: str
    allowed: str
    low: int = 0
    high: int | None = None
    distinct: bool = False
    # null (or an empty string) reads as an empty list
    null_is_empty: bool = False

    def describe(self, source: Any) -> str:
        return self.allowed

    def inner(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        items = core_schema.tuple_schema(
            [text_schema(self.pattern)], variadic_item_index=0, min_length=self.low, max_length=self.high
        )
        return core_schema.no_info_after_validator_function(self._distinct, items)

    def _distinct(self, value: tuple[str, ...]) -> tuple[str, ...]:
        if self.distinct and len(set(value)) != len(value):
            raise PydanticCustomError("config", "repeated items")
        return value

    def coerce(self, value: Any) -> Any:
        if self.null_is_empty and (value is None or value == ""):
            return ()
        return value
