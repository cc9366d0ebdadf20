"""The function's settings, parsed once from its environment variables into a typed object.

Only what differs by project or environment arrives here; names shared with the pipeline and
the CLI (manifest prefix, event detail types, request limits) come from contracts.py, which the
construct bundles beside these modules.
"""

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
    manifest_bucket: str
    quiet_period_minutes: int
    approval_mode: str
    production: bool
    manual_source: str
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

        quiet = required("QUIET_PERIOD_MINUTES")
        if not re.fullmatch(r"\d+", quiet) or not 0 <= int(quiet) <= 1440:
            raise SettingsError(f"QUIET_PERIOD_MINUTES={quiet!r}; allowed: a whole number from 0 to 1440.")
        approval = required("APPROVAL_MODE")
        if approval not in APPROVAL_MODES:
            raise SettingsError(f"APPROVAL_MODE={approval!r}; allowed: {' | '.join(APPROVAL_MODES)}.")
        production = required("PRODUCTION").lower()
        if production not in ("true", "false"):
            raise SettingsError(f"PRODUCTION={production!r}; allowed: true | false.")
        prefix = required("INCOMING_PREFIX")
        if not prefix.endswith("/"):
            raise SettingsError(f"INCOMING_PREFIX={prefix!r}; allowed: an S3 prefix ending in '/'.")
        return cls(
            pipeline_name=required("PIPELINE_NAME"),
            model_package_group=required("MODEL_PACKAGE_GROUP"),
            data_bucket=required("DATA_BUCKET"),
            incoming_prefix=prefix,
            manifest_bucket=required("MANIFEST_BUCKET"),
            quiet_period_minutes=int(quiet),
            approval_mode=approval,
            production=production == "true",
            manual_source=required("MANUAL_SOURCE"),
            drift_alarm_prefixes=tuple(p for p in required("DRIFT_ALARM_PREFIXES").split(",") if p),
        )
