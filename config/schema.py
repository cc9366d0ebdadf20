"""The base of every section's model: frozen, refusing unknown keys, defaults that follow other settings.

One module per cdk.json section holds its model, with AWS's limits: toolchain.py (toolchain,
source), endpoint.py, rollout.py, alarms.py, drift.py, shadow.py, network.py, release.py,
environment.py (one environment and the checks across its sections) and app_config.py (the whole
config and the checks across environments). Each model refuses a key it does not have, naming
the closest known key; each field's rule (config/fields.py) names what it allows. Checks across
fields sit in the model that holds them all (`_check`), and defaults that follow another setting
are filled in before validation (`with_defaults`). config/loading.py turns the first failure
into one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError


def unknown_key(data: Mapping[str, Any], known: Sequence[str]) -> PydanticCustomError | None:
    """The error for the first key of `data` that is not in `known`, naming the closest known key."""
    for name in data:
        if name not in known:
            # A cutoff below difflib's 0.6 still finds renamed keys (max_5xx_errors -> max_5xx_rate_percent).
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
            return PydanticCustomError(
                "unknown_key",
                "unknown key {key}",
                {"key": str(name), "close": close[0] if close else None, "known": ", ".join(known)},
            )
    return None


class Schema(BaseModel):
    """A section of the config: frozen, and refusing keys it does not have (a typo would otherwise be ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Fields that loading fills from elsewhere (the validation context) rather than from cdk.json.
    derived_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def input_keys(cls) -> tuple[str, ...]:
        return tuple(name for name in cls.model_fields if name not in cls.derived_keys)

    @classmethod
    def with_defaults(cls, data: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with the defaults that follow other settings; the default: none."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            return data
        context = info.context or {}
        error = unknown_key(data, cls.input_keys() if context else tuple(cls.model_fields))
        if error:
            raise error
        return cls.with_defaults(dict(data), context)


class AwsTarget(Schema):
    account: str
    region: str
