"""The known-good ledger: an SSM String parameter per environment whose version history is the ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mlopsctl.errors import OperatorError

FIELDS = ("model_package_arn", "model_version", "endpoint_config_name", "recorded_at", "source", "reason")
# Each entry is one version of a standard-tier String parameter, at most 4 KB (SSM User Guide,
# parameter tiers). A reason of at most 512 characters is at most 2 KB in UTF-8, so an entry
# always fits; rollback refuses a longer one before it changes anything.
REASON_MAX_LENGTH = 512


def _parse(name: str, value: str) -> dict[str, Any]:
    try:
        entry = json.loads(value)
    except json.JSONDecodeError as error:
        raise OperatorError(f"Ledger parameter {name} holds a value that is not JSON: {error}.") from error
    if not isinstance(entry, dict) or not entry.get("model_package_arn"):
        raise OperatorError(f"Ledger parameter {name} holds an entry without model_package_arn: {value[:200]!r}.")
    return entry


def current(ssm: Any, name: str) -> dict[str, Any] | None:
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    return _parse(name, value)


def history(ssm: Any, name: str) -> list[dict[str, Any]]:
    """Every recorded entry, oldest first (empty when nothing was ever recorded)."""
    request: dict[str, Any] = {"Name": name, "MaxResults": 50}
    versions: list[dict[str, Any]] = []
    try:
        while True:
            page = ssm.get_parameter_history(**request)
            versions.extend(page.get("Parameters", []))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return []
        raise
    versions.sort(key=lambda p: p.get("Version", 0))
    return [_parse(name, p["Value"]) for p in versions]


def entry(
    *, model_package_arn: str, model_version: int | None, endpoint_config_name: str, source: str, reason: str
) -> dict[str, Any]:
    return {
        "model_package_arn": model_package_arn,
        "model_version": model_version,
        "endpoint_config_name": endpoint_config_name,
        "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source,
        "reason": reason,
    }


def append(ssm: Any, name: str, record: dict[str, Any]) -> int:
    """Writes a new version of the parameter (created on first write); returns its version number."""
    response = ssm.put_parameter(
        Name=name,
        # Unescaped UTF-8: up to 4 bytes a character, where \u escapes would take up to 12.
        Value=json.dumps(record, sort_keys=True, ensure_ascii=False),
        Type="String",
        Overwrite=True,
        Description="Known-good model version served by this environment's endpoint (history = ledger)",
    )
    return int(response.get("Version", 0))


def last_known_good(entries: list[dict[str, Any]], live_arn: str | None) -> dict[str, Any] | None:
    """The newest recorded entry for a version other than the one now live."""
    for record in reversed(entries):
        if record["model_package_arn"] != live_arn:
            return record
    return None
