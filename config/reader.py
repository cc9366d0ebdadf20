"""The `_Reader` that walks a raw mapping and fails with the dotted key path (config/model_build.py's parser)."""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from config.errors import ConfigError, _fail


class _Reader:
    """Reads one mapping and reports errors with the dotted key path."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise _fail(path, data, "an object")
        self.data = data
        self.path = path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def only(self, *known: str) -> None:
        """Refuses a key this object does not have (a typo would otherwise be silently ignored)."""
        for name in self.data:
            if name not in known:
                # A cutoff below difflib's 0.6 still finds renamed keys (max_5xx_errors -> max_5xx_rate_percent).
                close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ConfigError(f"Unknown config '{self.key(name)}': {hint}allowed: {', '.join(known)}.")

    def raw(self, name: str, default: Any = ...) -> Any:
        if name in self.data:
            return self.data[name]
        if default is ...:
            raise ConfigError(f"Missing config '{self.key(name)}'.")
        return default

    def child(self, name: str) -> _Reader:
        return _Reader(self.raw(name, {}), self.key(name))

    def string(self, name: str, pattern: re.Pattern[str], allowed: str, default: Any = ...) -> str:
        value = self.raw(name, default)
        if not isinstance(value, str) or not pattern.match(value):
            raise _fail(self.key(name), value, allowed)
        return value

    def optional_string(self, name: str, pattern: re.Pattern[str], allowed: str) -> str | None:
        value = self.raw(name, None)
        if value in (None, ""):
            return None
        return self.string(name, pattern, allowed)

    def boolean(self, name: str, default: Any = ...) -> bool:
        value = self.raw(name, default)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _fail(self.key(name), value, "true or false")
        return value

    def integer(self, name: str, low: int, high: int, default: Any = ..., unit: str = "") -> int:
        value = self.raw(name, default)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(self.key(name), value, f"a whole number from {low} to {high}{unit}")
        return value

    def number(self, name: str, low: float, high: float, default: Any = ...) -> float:
        value = self.raw(name, default)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise _fail(self.key(name), value, f"a number from {low} to {high}")
        return float(value)

    def choice(self, name: str, enum: type[Enum], default: Any = ...) -> Any:
        value = self.raw(name, default)
        allowed = [m.value for m in enum]
        if value not in allowed:
            raise _fail(self.key(name), value, " | ".join(allowed))
        return enum(value)
