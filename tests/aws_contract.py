"""Checks a value against the constraints in AWS's own service model, as botocore ships it.

botocore validates required members, types and minimum lengths before it sends a request; the
service also enforces maximum lengths, patterns, enums and numeric ranges, which botocore only
carries in its model. This module reads them from that model (the same JSON the SDKs are
generated from), so a value we build for AWS is checked against AWS, not against our reading
of the docs:

    check("sagemaker", "CreateModelPackage", "CustomerMetadataProperties.{value}", reason)
    check_request("sagemaker", "StartPipelineExecution", request)   # every member, recursively

Paths name members from the operation's input: `A.B` a structure member, `A[]` a list's
member, `A.{key}` / `A.{value}` a map's key / value. Patterns are Java regular expressions,
matched against the whole value; `java_pattern` translates the few constructs that mean
something else in Python (`\\w` is ASCII in Java, `.` excludes every line terminator, a
quantifier after `$` is accepted and means nothing); `\\p{L}` and friends need the `regex` module.

A few rules are documented but absent from the model (SSM parameter-name prefixes, CloudFormation
stack names); `DOCUMENTED` holds them with their source, checked by `check` like the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
import regex

# Java's ASCII-only classes and its line terminators (java.util.regex.Pattern, default flags).
_JAVA_CLASSES = {"w": "A-Za-z0-9_", "d": "0-9", "s": " \\t\\n\\x0B\\f\\r"}
_JAVA_LINE_TERMINATORS = "\\n\\r\\u0085\\u2028\\u2029"
_SURROGATE_PAIR = re.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", re.IGNORECASE)


def _code_point(pair: re.Match[str]) -> str:
    high, low = int(pair[1], 16), int(pair[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"


def java_pattern(pattern: str) -> str:
    """The Python `regex` (VERSION1) equivalent of a Java pattern from a service model."""
    # Java writes a supplementary character as its UTF-16 surrogate pair.
    pattern = _SURROGATE_PAIR.sub(_code_point, pattern)
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped in _JAVA_CLASSES and in_class:
                out.append(_JAVA_CLASSES[escaped])
                if pattern[i + 2 : i + 3] == "-":
                    # Java reads `[\w-x]` as \w, a hyphen and x, never as a range.
                    out.append("\\-")
                    i += 1
            elif escaped in _JAVA_CLASSES:
                out.append(f"[{_JAVA_CLASSES[escaped]}]")
            elif escaped.lower() in _JAVA_CLASSES:
                # A nested set (regex VERSION1) keeps the negation inside an enclosing class.
                out.append(f"[^{_JAVA_CLASSES[escaped.lower()]}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]" or out[-1] == "["
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == ".":
            out.append(f"[^{_JAVA_LINE_TERMINATORS}]")
        elif char == "$" and (quantifier := re.match(r"\{\d+(,\d*)?\}", pattern[i + 1 :])):
            out.append("$")
            i += quantifier.end()
        else:
            out.append(char)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Rule:
    """Constraints of one member; `where` names it as service:Operation.Path."""

    where: str
    type_name: str
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    forbidden_prefixes: tuple[str, ...] = ()
    max_utf8_bytes: int | None = None
    source: str = "botocore service model"


# Documented rules the service model does not carry: (service, operation, path) -> extra constraints.
DOCUMENTED: dict[tuple[str, str, str], dict[str, Any]] = {
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html
    # "a-zA-Z0-9_.-" plus "/" for hierarchies; not prefixed with aws or ssm (case-insensitive),
    # "/aws/testparam1" included; a name is at most 1011 characters.
    ("ssm", "PutParameter", "Name"): {
        "pattern": "[a-zA-Z0-9_.\\-/]+",
        "max_length": 1011,
        "forbidden_prefixes": ("aws", "ssm", "/aws", "/ssm"),
        "source": "SSM User Guide, parameter name requirements",
    },
    # https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
    # "Maximum size of a parameter value": 4 KB in the standard tier (the default, and ours).
    ("ssm", "PutParameter", "Value"): {
        "max_utf8_bytes": 4096,
        "source": "SSM User Guide, parameter tiers",
    },
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    # "can contain only alphanumeric characters (case sensitive) and hyphens. It must start with
    # an alphabetical character and can't be longer than 128 characters."
    ("cloudformation", "CreateStack", "StackName"): {
        "pattern": "[a-zA-Z][-a-zA-Z0-9]*",
        "max_length": 128,
        "source": "CloudFormation API Reference, CreateStack StackName",
    },
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
    # "can contain only alphanumerics, dash (-), and underscore (_)", at most 255 characters.
    ("cloudwatch", "PutDashboard", "DashboardName"): {
        "pattern": "[A-Za-z0-9_\\-]+",
        "max_length": 255,
        "source": "CloudWatch API Reference, PutDashboard DashboardName",
    },
    # https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html
    # Source: custom events may not use the "aws." prefix, which AWS services use.
    ("events", "PutEvents", "Entries[].Source"): {
        "forbidden_prefixes": ("aws.",),
        "source": "EventBridge API Reference, PutEventsRequestEntry Source",
    },
}


@cache
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def shape(service: str, operation: str, path: str) -> Any:
    """The botocore shape at `path` inside the operation's input."""
    node = _model(service).operation_model(operation).input_shape
    for part in path.split(".") if path else []:
        name, is_list = (part[:-2], True) if part.endswith("[]") else (part, False)
        if name in ("{key}", "{value}"):
            if node.type_name != "map":
                raise KeyError(f"{service}:{operation}.{path}: {part} of a {node.type_name}, not a map.")
            node = node.key if name == "{key}" else node.value
        else:
            if node.type_name != "structure" or name not in node.members:
                raise KeyError(f"{service}:{operation}.{path}: no member {name!r}.")
            node = node.members[name]
        if is_list:
            if node.type_name != "list":
                raise KeyError(f"{service}:{operation}.{path}: {name} is a {node.type_name}, not a list.")
            node = node.member
    return node


def _rule_of(node: Any, where: str, extra: Mapping[str, Any] | None = None) -> Rule:
    meta = node.metadata
    numeric = node.type_name in ("integer", "long", "float", "double")
    fields: dict[str, Any] = {
        "where": where,
        "type_name": node.type_name,
        "min_length": None if numeric else meta.get("min"),
        "max_length": None if numeric else meta.get("max"),
        "pattern": meta.get("pattern"),
        "enum": tuple(meta.get("enum", ())),
        "min_value": meta.get("min") if numeric else None,
        "max_value": meta.get("max") if numeric else None,
    }
    if extra:
        # The stricter of the model's and the documented limit wins.
        if extra.get("max_length") is not None and fields["max_length"] is not None:
            extra = {**extra, "max_length": min(extra["max_length"], fields["max_length"])}
        fields.update(extra)
    return Rule(**fields)


def rule(service: str, operation: str, path: str) -> Rule:
    """The constraints AWS states for one member (model plus `DOCUMENTED`)."""
    return _rule_of(
        shape(service, operation, path), f"{service}:{operation}.{path}", DOCUMENTED.get((service, operation, path))
    )


@cache
def _compiled(pattern: str) -> Any:
    return regex.compile(java_pattern(pattern), flags=regex.VERSION1)


def violations_of(r: Rule, value: Any) -> list[str]:
    """What is wrong with `value` under rule `r`, one message per broken constraint."""
    shown = repr(value) if not isinstance(value, str) or len(value) <= 120 else repr(value[:117] + "...")
    problems: list[str] = []

    def fail(what: str) -> None:
        problems.append(f"{r.where} = {shown}: {what} ({r.source})")

    if r.type_name == "string" and not isinstance(value, str):
        fail(f"expected a string, got {type(value).__name__}")
        return problems
    if isinstance(value, (str, list, dict)):
        if r.min_length is not None and len(value) < r.min_length:
            fail(f"length {len(value)} is below the minimum {r.min_length}")
        if r.max_length is not None and len(value) > r.max_length:
            fail(f"length {len(value)} is above the maximum {r.max_length}")
    if isinstance(value, str):
        if r.pattern is not None and not _compiled(r.pattern).fullmatch(value):
            fail(f"does not match the pattern {r.pattern}")
        if r.enum and value not in r.enum:
            fail(f"not one of {', '.join(r.enum)}")
        if r.max_utf8_bytes is not None and len(value.encode()) > r.max_utf8_bytes:
            fail(f"{len(value.encode())} bytes in UTF-8, above the maximum {r.max_utf8_bytes}")
        for prefix in r.forbidden_prefixes:
            if value.lower().startswith(prefix.lower()):
                fail(f"starts with the reserved prefix {prefix!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if r.min_value is not None and value < r.min_value:
            fail(f"below the minimum {r.min_value}")
        if r.max_value is not None and value > r.max_value:
            fail(f"above the maximum {r.max_value}")
    return problems


def violations(service: str, operation: str, path: str, value: Any) -> list[str]:
    return violations_of(rule(service, operation, path), value)


def check(service: str, operation: str, path: str, value: Any) -> None:
    """Fails (AssertionError naming operation.member, value and rule) unless AWS accepts `value`."""
    problems = violations(service, operation, path, value)
    assert not problems, "\n".join(problems)


def request_violations(service: str, operation: str, params: Mapping[str, Any]) -> list[str]:
    """Every broken constraint in a whole request, nested structures, lists and maps included."""
    problems: list[str] = []

    def walk(node: Any, path: str, value: Any) -> None:
        where = f"{service}:{operation}.{path}" if path else f"{service}:{operation}"
        extra = DOCUMENTED.get((service, operation, path))
        problems.extend(violations_of(_rule_of(node, where, extra), value))
        if node.type_name == "structure" and isinstance(value, Mapping):
            for name, item in value.items():
                if name not in node.members:
                    problems.append(f"{where}: unknown member {name!r}")
                    continue
                walk(node.members[name], f"{path}.{name}" if path else name, item)
        elif node.type_name == "list" and isinstance(value, list):
            for item in value:
                walk(node.member, f"{path}[]", item)
        elif node.type_name == "map" and isinstance(value, Mapping):
            for key, item in value.items():
                walk(node.key, f"{path}.{{key}}", key)
                walk(node.value, f"{path}.{{value}}", item)

    walk(_model(service).operation_model(operation).input_shape, "", params)
    return problems


def check_request(service: str, operation: str, params: Mapping[str, Any]) -> None:
    """Fails unless every member of the request meets its constraints."""
    problems = request_violations(service, operation, params)
    assert not problems, "\n".join(problems)
