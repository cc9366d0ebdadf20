"""The one error a bad setting raises, and its one-line message: key, value, allowed."""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

# The cdk.json context key that holds the settings; every key path in a message starts with it.
CONTEXT_KEY = "mlops"
# The context key naming another settings file, whose `context.mlops` replaces cdk.json's
# (`-c mlops-settings=cdk.sandbox.json`): one layout or another, through the same code.
SETTINGS_FILE_KEY = "mlops-settings"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and what is allowed."""


# A value is shown up to this many characters: a list of a thousand classes would bury the key.
_SHOWN = 120


def shown(value: Any) -> str:
    """`value`'s repr, cut short when long (with the item count of a list or object)."""
    text = repr(value)
    if len(text) <= _SHOWN:
        return text
    count = f" ({len(value)} items)" if isinstance(value, (list, tuple, dict)) else ""
    return f"{text[:_SHOWN]}...{count}"


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"Invalid config '{key}': got {shown(value)}; allowed: {allowed}.")


def invalid(key: str, value: Any, allowed: str, got: str | None = None) -> PydanticCustomError:
    """A cross-field check's failure inside a model validator.

    `key` is relative to the model being validated (loading.py prefixes the model's own path);
    `got` replaces the repr of `value` where the value alone does not explain the failure.
    """
    return PydanticCustomError("config", "{allowed}", {"allowed": allowed, "key": key, "value": value, "got": got})


def missing(key: str) -> PydanticCustomError:
    """A setting that another setting makes required."""
    return PydanticCustomError("missing", "Field required", {"key": key})
