"""Evaluates identity policies the way IAM does for the statements the deploy policies use.

Enough of IAM's policy evaluation logic to answer "does this policy allow this request":
an Allow statement matches when one of its actions matches the action (case-insensitive, `*`
and `?` wildcards), one of its resources matches the resource ARN (case-sensitive wildcards),
and every condition holds. A request for an action that supports no resource-level
permissions has the resource `*`, which only the resource `*` matches (IAM User Guide, "IAM
JSON policy elements: Resource"; Service Authorization Reference: "If there is no value for
this column, you must specify all resources ("*")"). A condition key the request does not
carry fails the condition (no ...IfExists operators are used). Deny statements, NotAction,
NotResource, policy variables and operators other than those below are refused, so a policy that
starts using them fails loudly here instead of being evaluated wrongly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any


@cache
def _glob(pattern: str, *, case_sensitive: bool) -> re.Pattern[str]:
    # IAM's wildcards are * and ? only (fnmatch would also read [...] as a character set).
    translated = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(translated, 0 if case_sensitive else re.IGNORECASE)


# Condition operators and how each compares a request value with a policy value.
_OPERATORS = {
    "StringEquals": lambda value, pattern: value == pattern,
    "StringLike": lambda value, pattern: _glob(pattern, case_sensitive=True).fullmatch(value) is not None,
    "ArnLike": lambda value, pattern: _glob(pattern, case_sensitive=True).fullmatch(value) is not None,
    "ArnEquals": lambda value, pattern: value == pattern,
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes: an action on one resource, with the request's condition keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        keys = ", ".join(f"{key}={value}" for key, value in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" ({keys})" if keys else "")


@dataclass(frozen=True)
class Statement:
    policy: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]]

    def action_patterns(self, action: str) -> list[str]:
        """The patterns of this statement that match `action`."""
        return [pattern for pattern in self.actions if _glob(pattern, case_sensitive=False).fullmatch(action)]

    def allows(self, request: Request) -> bool:
        if not self.action_patterns(request.action):
            return False
        if request.resource == "*":
            if "*" not in self.resources:
                return False
        elif not any(_glob(pattern, case_sensitive=True).fullmatch(request.resource) for pattern in self.resources):
            return False
        return all(self._holds(operator, keys, request) for operator, keys in self.conditions.items())

    @staticmethod
    def _holds(operator: str, keys: Mapping[str, Any], request: Request) -> bool:
        compare = _OPERATORS[operator]
        for key, allowed in keys.items():
            value = request.context.get(key)
            if value is None or not any(compare(value, pattern) for pattern in _as_list(allowed)):
                return False
        return True


# The statement elements evaluated here; any other (NotAction, NotResource, Principal) is refused.
_ELEMENTS = {"Sid", "Effect", "Action", "Resource", "Condition"}


def _refusal(raw: Mapping[str, Any]) -> str | None:
    """What in the statement `raw` this evaluator would get wrong, if anything."""
    if raw.get("Effect") != "Allow":
        return f"Effect {raw.get('Effect')!r}"
    unknown = (set(raw) - _ELEMENTS) | (set(raw.get("Condition", {})) - set(_OPERATORS))
    if unknown:
        return f"{sorted(unknown)}"
    if any("${" in resource for resource in _as_list(raw["Resource"])):
        return "policy variables"
    return None


def read_statements(paths: Iterable[Path]) -> list[Statement]:
    """Every statement of the managed policy documents at `paths`, checked to be evaluable here."""
    statements = []
    for path in paths:
        for raw in json.loads(path.read_text())["Statement"]:
            refused = _refusal(raw)
            if refused:
                raise ValueError(f"{path.name} {raw.get('Sid')}: {refused} not evaluated here")
            statements.append(
                Statement(
                    policy=path.name,
                    sid=raw["Sid"],
                    actions=tuple(_as_list(raw["Action"])),
                    resources=tuple(_as_list(raw["Resource"])),
                    conditions=raw.get("Condition", {}),
                )
            )
    return statements


def allowing(statements: Iterable[Statement], request: Request) -> list[Statement]:
    """The statements that allow `request` (none: IAM denies it implicitly)."""
    return [statement for statement in statements if statement.allows(request)]
