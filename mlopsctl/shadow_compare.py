"""The verdict of a shadow test: pure functions over captured records and per-variant metrics.

Captured records are SageMaker data capture JSON Lines, one object per request
(`captureData.endpointInput/endpointOutput` with `data` and `encoding`, and `eventMetadata`
with `eventId`, `inferenceTime` and, when the caller set InvokeEndpoint's InferenceId,
`inferenceId`; SageMaker "Capture data from real-time endpoint"). Data capture writes each
variant under its own prefix, <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/, so the
variant of a record is known from where it was read, not from its content.

The production and shadow copies of one request are paired by `inferenceId` when the caller
sets one, else by `eventId`. AWS does not document that the shadow's copy keeps the
production request's eventId; when no pairs are found the test cannot judge, and it fails
(`min_compared_requests`) rather than passing on no evidence.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config import ShadowConfig
from mlopsctl.errors import OperatorError

# The served model answers with a probability; a prediction is its label at this cut-off.
DECISION_THRESHOLD = 0.5


@dataclass(frozen=True)
class VariantMetrics:
    """One variant's invocation metrics over the test window (CloudWatch AWS/SageMaker)."""

    invocations: float
    errors_5xx: float
    # ModelLatency p99, converted from CloudWatch's microseconds; None without requests.
    p99_latency_ms: float | None

    @property
    def error_rate_percent(self) -> float:
        return 100.0 * self.errors_5xx / self.invocations if self.invocations else 0.0


@dataclass(frozen=True)
class Verdict:
    production: VariantMetrics
    shadow: VariantMetrics
    compared_requests: int
    disagreements: int
    failures: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def disagreement_percent(self) -> float:
        return 100.0 * self.disagreements / self.compared_requests if self.compared_requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        def variant(m: VariantMetrics) -> dict[str, Any]:
            return {
                "invocations": m.invocations,
                "errors_5xx": m.errors_5xx,
                "error_rate_percent": round(m.error_rate_percent, 3),
                "p99_latency_ms": None if m.p99_latency_ms is None else round(m.p99_latency_ms, 1),
            }

        return {
            "passed": self.passed,
            "production": variant(self.production),
            "shadow": variant(self.shadow),
            "compared_requests": self.compared_requests,
            "disagreements": self.disagreements,
            "disagreement_percent": round(self.disagreement_percent, 3),
            "failures": list(self.failures),
        }


def _decode(part: Mapping[str, Any]) -> str:
    data = str(part.get("data", ""))
    if part.get("encoding") == "BASE64":
        return base64.b64decode(data).decode("utf-8", errors="replace")
    return data


def _labels(body: str) -> tuple[int, ...] | None:
    """Labels of a response body of probabilities (one per row); None if it is not one."""
    tokens = [t.strip() for t in body.replace(",", "\n").splitlines() if t.strip()]
    try:
        return tuple(int(float(t) >= DECISION_THRESHOLD) for t in tokens) or None
    except ValueError:
        return None


def predictions(lines: Iterable[str]) -> dict[str, tuple[int, ...] | None]:
    """Request id -> predicted labels, from captured JSON Lines (None for an unreadable answer)."""
    result: dict[str, tuple[int, ...] | None] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            metadata = record["eventMetadata"]
            key = metadata.get("inferenceId") or metadata["eventId"]
            output = record["captureData"]["endpointOutput"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise OperatorError(f"Captured record {number} is not SageMaker data capture JSON: {error}") from error
        result[str(key)] = _labels(_decode(output))
    return result


def disagreement(
    production: Mapping[str, tuple[int, ...] | None], shadow: Mapping[str, tuple[int, ...] | None]
) -> tuple[int, int]:
    """(requests both variants answered, how many of those got different labels).

    A shadow answer that is not a set of probabilities counts as a disagreement.
    """
    common = production.keys() & shadow.keys()
    differing = sum(1 for key in common if production[key] is not None and production[key] != shadow[key])
    compared = sum(1 for key in common if production[key] is not None)
    return compared, differing


def judge(
    production: VariantMetrics,
    shadow: VariantMetrics,
    compared_requests: int,
    disagreements: int,
    limits: ShadowConfig,
) -> Verdict:
    """Fails on each limit the shadow exceeds, with the numbers, or when there is too little evidence."""
    failures: list[str] = []
    verdict = Verdict(production, shadow, compared_requests, disagreements)
    if compared_requests < limits.min_compared_requests:
        failures.append(
            f"only {compared_requests} requests answered by both variants, at least "
            f"{limits.min_compared_requests} needed to judge (more traffic, a higher sampling_percent or a longer "
            "duration_minutes)"
        )
    error_increase = shadow.error_rate_percent - production.error_rate_percent
    if error_increase > limits.max_error_rate_increase_percent:
        failures.append(
            f"5XX rate {shadow.error_rate_percent:.2f}% vs {production.error_rate_percent:.2f}% "
            f"(+{error_increase:.2f} points, limit +{limits.max_error_rate_increase_percent})"
        )
    if shadow.p99_latency_ms is None and shadow.invocations == 0:
        failures.append("the shadow variant reported no invocations")
    elif production.p99_latency_ms is not None and shadow.p99_latency_ms is not None:
        latency_increase = shadow.p99_latency_ms - production.p99_latency_ms
        if latency_increase > limits.max_p99_latency_increase_ms:
            failures.append(
                f"p99 model latency {shadow.p99_latency_ms:.1f} ms vs {production.p99_latency_ms:.1f} ms "
                f"(+{latency_increase:.1f} ms, limit +{limits.max_p99_latency_increase_ms} ms)"
            )
    if compared_requests and verdict.disagreement_percent > limits.max_disagreement_percent:
        failures.append(
            f"predictions differ on {disagreements} of {compared_requests} requests "
            f"({verdict.disagreement_percent:.2f}%, limit {limits.max_disagreement_percent}%)"
        )
    return Verdict(production, shadow, compared_requests, disagreements, tuple(failures))
