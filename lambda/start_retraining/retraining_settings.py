"""The function's settings, parsed once from its environment variables into a typed object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

APPROVAL_MODES = ("manual", "auto")


class SettingsError(ValueError):
    """An environment variable is missing or invalid; the message names it and what is allowed."""


@dataclass(frozen=True)
class Settings:
    pipeline_name: str
    model_package_group: str
    data_bucket: str
    incoming_prefix: str
    raw_data_suffix: str
    manifest_bucket: str
    manifest_prefix: str
    quiet_period_minutes: int
    approval_mode: str
    production: bool
    manual_source: str
    manual_detail_type: str
    manual_reason_max_length: int
    manual_requested_by_max_length: int
    drift_alarm_prefixes: tuple[str, ...]

    @property
    def incoming_uri(self) -> str:
        """Where raw training data lands; each run reads a snapshot of it through a manifest."""
        return f"s3://{self.data_bucket}/{self.incoming_prefix}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(f"Environment variable {name} is missing or empty.")
            return value

        def length(name: str) -> int:
            value = required(name)
            if not re.fullmatch(r"\d+", value) or int(value) < 1:
                raise SettingsError(f"{name}={value!r}; allowed: a whole number of characters, at least 1.")
            return int(value)

        quiet = required("QUIET_PERIOD_MINUTES")
        if not re.fullmatch(r"\d+", quiet) or not 0 <= int(quiet) <= 1440:
            raise SettingsError(f"QUIET_PERIOD_MINUTES={quiet!r}; allowed: a whole number from 0 to 1440.")
        approval = required("APPROVAL_MODE")
        if approval not in APPROVAL_MODES:
            raise SettingsError(f"APPROVAL_MODE={approval!r}; allowed: {' | '.join(APPROVAL_MODES)}.")
        production = required("PRODUCTION").lower()
        if production not in ("true", "false"):
            raise SettingsError(f"PRODUCTION={production!r}; allowed: true | false.")
        prefix, manifest_prefix = required("INCOMING_PREFIX"), required("MANIFEST_PREFIX")
        for name, value in (("INCOMING_PREFIX", prefix), ("MANIFEST_PREFIX", manifest_prefix)):
            if not value.endswith("/"):
                raise SettingsError(f"{name}={value!r}; allowed: an S3 prefix ending in '/'.")
        return cls(
            pipeline_name=required("PIPELINE_NAME"),
            model_package_group=required("MODEL_PACKAGE_GROUP"),
            data_bucket=required("DATA_BUCKET"),
            incoming_prefix=prefix,
            raw_data_suffix=required("RAW_DATA_SUFFIX"),
            manifest_bucket=required("MANIFEST_BUCKET"),
            manifest_prefix=manifest_prefix,
            quiet_period_minutes=int(quiet),
            approval_mode=approval,
            production=production == "true",
            manual_source=required("MANUAL_SOURCE"),
            manual_detail_type=required("MANUAL_DETAIL_TYPE"),
            manual_reason_max_length=length("MANUAL_REASON_MAX_LENGTH"),
            manual_requested_by_max_length=length("MANUAL_REQUESTED_BY_MAX_LENGTH"),
            drift_alarm_prefixes=tuple(p for p in required("DRIFT_ALARM_PREFIXES").split(",") if p),
        )
