"""The function's settings, parsed once from its environment variables into a typed, frozen model.

pydantic v2 comes with the Powertools layer the function runs with (constructs/triggers/start_retraining_function.py):
AWS builds the V3 layers with every Powertools extra, the parser's pydantic v2 among them.
Only what differs by project or environment arrives here; names shared with the pipeline and
the CLI (manifest prefix, event detail types, request limits) come from contracts.py, which the
construct bundles beside these modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError


class SettingsError(ValueError):
    """An environment variable is missing or invalid; the message names it and what is allowed."""


def _allowed(allowed: str) -> WrapValidator:
    """Whatever pydantic finds wrong with a value, the error names `allowed`."""

    def check(value: Any, validate: Callable[[Any], Any]) -> Any:
        try:
            return validate(value)
        except ValidationError:
            raise PydanticCustomError("setting", "{allowed}", {"allowed": allowed}) from None

    return WrapValidator(check)


def _digits(value: Any) -> Any:
    return int(value) if isinstance(value, str) and re.fullmatch(r"\d+", value) else value


def _true_or_false(value: Any) -> Any:
    return value.lower() == "true" if isinstance(value, str) and value.lower() in ("true", "false") else value


def _comma_separated(value: Any) -> Any:
    return tuple(part for part in value.split(",") if part) if isinstance(value, str) else value


_Prefix = Annotated[str, Field(pattern=r"/$"), _allowed("an S3 prefix ending in '/'")]


class Settings(BaseModel):
    """One field per environment variable, named as the variable in lower case."""

    # The environment holds the runtime's own variables too: those are ignored, not refused.
    model_config = ConfigDict(frozen=True, alias_generator=str.upper, extra="ignore")

    pipeline_name: str
    model_package_group: str
    data_bucket: str
    incoming_prefix: _Prefix
    manifest_bucket: str
    quiet_period_minutes: Annotated[
        int, Field(strict=True, ge=0, le=1440), BeforeValidator(_digits), _allowed("a whole number from 0 to 1440")
    ]
    approval_mode: Annotated[Literal["manual", "auto"], _allowed("manual | auto")]
    production: Annotated[bool, Field(strict=True), BeforeValidator(_true_or_false), _allowed("true | false")]
    manual_source: str
    drift_alarm_prefixes: Annotated[tuple[str, ...], BeforeValidator(_comma_separated)]

    @property
    def incoming_uri(self) -> str:
        """Where raw training data lands; each run reads a snapshot of it through a manifest."""
        return f"s3://{self.data_bucket}/{self.incoming_prefix}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The settings from `env`, or a SettingsError whose one line names the variable and what is allowed."""
        names = [field.alias or name.upper() for name, field in cls.model_fields.items()]
        # A blank variable counts as missing.
        values = {name: env[name].strip() for name in names if env.get(name, "").strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            name = first["loc"][0]
            if first["type"] == "missing":
                raise SettingsError(f"Environment variable {name} is missing or empty.") from None
            allowed = (first.get("ctx") or {}).get("allowed", first["msg"])
            raise SettingsError(f"{name}={first['input']!r}; allowed: {allowed}.") from None
