"""The verdict of a shadow test: pure functions over captured records and per-variant metrics.

Captured records are SageMaker data capture JSON Lines, one object per request, with
`captureData.endpointInput` and `captureData.endpointOutput` (each `data` with its `encoding`;
SageMaker "Capture data from real-time endpoint"). Data capture writes each variant under its
own prefix, <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/, so the variant of a record is
known from where it was read.

Pairs rest on documented facts only: the shadow variant receives a copy of the production
variant's request ("Shadow tests": SageMaker "replicates" a share of the requests), so a shadow
record is paired with a production record of the same request body. No event id is needed (AWS
does not document that the shadow's copy keeps the production record's eventId). Each distinct
body counts once, however often it was sent: the served models are deterministic, so a repeated
or replayed request is no new evidence, and `min_compared_requests` counts distinct requests.

An answer disagrees by task (config.TaskType):
- binary classification: the label (a probability cut at 0.5) differs;
- multiclass classification: the class differs (a class index per row, or one row of class
  probabilities whose largest wins);
- regression: the value differs from the champion's by more than `max_relative_error_percent`.
An answer that is no number, not finite, outside its task's range (a probability outside [0, 1],
a negative or fractional class) or with another number of rows disagrees whatever the champion
said. A candidate that gives one answer to every request while the champion gives several fails
on its own (once enough distinct requests were compared): on a skewed stream a constant can agree
with most answers.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from config import ShadowConfig, TaskType
from mlopsctl.errors import OperatorError

# A binary classifier answers a probability; its label is the class at this cut-off.
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
class Captured:
    """One captured request: its body as sent, and the answer the variant gave."""

    request: str
    content_type: str
    answer: str


@dataclass(frozen=True)
class Comparison:
    """What the paired answers show: how many requests were compared and how they differed."""

    # Distinct request bodies answered by both variants (see pairs).
    compared: int
    disagreements: int
    # How many of the compared requests were replayed by the test itself (mlopsctl/shadow.py).
    replayed: int = 0
    # The one answer the candidate gave to every compared request, when the champion gave several.
    constant_answer: str | None = None
    champion_distinct_answers: int = 0


@dataclass(frozen=True)
class Verdict:
    production: VariantMetrics
    shadow: VariantMetrics
    comparison: Comparison
    failures: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def disagreement_percent(self) -> float:
        c = self.comparison
        return 100.0 * c.disagreements / c.compared if c.compared else 0.0

    def as_dict(self) -> dict[str, Any]:
        def variant(m: VariantMetrics) -> dict[str, Any]:
            return {
                "invocations": m.invocations,
                "errors_5xx": m.errors_5xx,
                "error_rate_percent": round(m.error_rate_percent, 3),
                "p99_latency_ms": None if m.p99_latency_ms is None else round(m.p99_latency_ms, 1),
            }

        c = self.comparison
        return {
            "passed": self.passed,
            "production": variant(self.production),
            "shadow": variant(self.shadow),
            "compared_requests": c.compared,
            "replayed_requests": c.replayed,
            "disagreements": c.disagreements,
            "disagreement_percent": round(self.disagreement_percent, 3),
            "constant_answer": c.constant_answer,
            "failures": list(self.failures),
        }


def _decode(part: Mapping[str, Any]) -> str:
    data = str(part.get("data", ""))
    if part.get("encoding") == "BASE64":
        return base64.b64decode(data).decode("utf-8", errors="replace")
    return data


def captured(lines: Iterable[str]) -> list[Captured]:
    """The requests and answers of captured JSON Lines, in order."""
    records: list[Captured] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)["captureData"]
            request, answer = data["endpointInput"], data["endpointOutput"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise OperatorError(f"Captured record {number} is not SageMaker data capture JSON: {error}") from error
        records.append(
            Captured(
                request=_decode(request).strip(),
                content_type=str(request.get("observedContentType") or "text/csv"),
                answer=_decode(answer),
            )
        )
    return records


def _first_of_each_body(records: Iterable[Captured]) -> dict[str, Captured]:
    first: dict[str, Captured] = {}
    for record in records:
        first.setdefault(record.request, record)
    return first


def pairs(production: Sequence[Captured], shadow: Sequence[Captured]) -> list[tuple[Captured, Captured]]:
    """One (production, shadow) pair per distinct request body both variants answered.

    A body seen again (a client repeating itself, or the test replaying it) is no new evidence:
    the served models are deterministic, so it counts once.
    """
    champion = _first_of_each_body(production)
    return [(champion[body], record) for body, record in _first_of_each_body(shadow).items() if body in champion]


def replay_plan(production: Sequence[Captured], shadow: Sequence[Captured], limits: ShadowConfig) -> list[Captured]:
    """Captured champion requests to send again when fewer distinct requests were compared than needed.

    Only bodies not compared yet, up to twice as many as are missing. The shadow receives
    `sampling_percent` of what the endpoint receives, so the plan sends them round after round,
    100 / sampling_percent rounds: each body reaches the shadow once on average.
    """
    compared = {champion.request for champion, _ in pairs(production, shadow)}
    missing = limits.min_compared_requests - len(compared)
    fresh = [r for body, r in _first_of_each_body(production).items() if body not in compared][: 2 * max(missing, 0)]
    return [record for _ in range(math.ceil(100 / limits.sampling_percent)) for record in fresh]


def _numbers(text: str) -> list[float] | None:
    try:
        values = [float(token) for token in text.split(",") if token.strip()]
    except ValueError:
        return None
    return values if values and all(math.isfinite(v) for v in values) else None


def predictions(answer: str, task: TaskType) -> list[float] | None:
    """One prediction per row of an answer (CSV, one row per line), or None if it is not a valid answer.

    Binary: one probability in [0, 1] per row (commas tolerated: some XGBoost containers answer
    a batch on one line). Multiclass: a class index per row, or class probabilities (the
    likeliest class). Regression: one finite number per row.
    """
    rows = [line.strip() for line in answer.splitlines() if line.strip()]
    if task is TaskType.BINARY_CLASSIFICATION:
        values = _numbers(",".join(rows))
        if values is None or not all(0.0 <= v <= 1.0 for v in values):
            return None
        return [float(v >= DECISION_THRESHOLD) for v in values]
    result = []
    for row in rows:
        values = _numbers(row)
        if values is None:
            return None
        if task is TaskType.MULTICLASS_CLASSIFICATION:
            if len(values) > 1:
                result.append(float(values.index(max(values))))
                continue
            if values[0] < 0 or not values[0].is_integer():
                return None
        elif len(values) != 1:
            return None
        result.append(values[0])
    return result or None


def _disagree(champion: list[float], candidate: list[float] | None, task: TaskType, tolerance: float) -> bool:
    if candidate is None or len(candidate) != len(champion):
        return True
    if task is TaskType.REGRESSION:
        return any(abs(b - a) > tolerance * abs(a) for a, b in zip(champion, candidate, strict=True))
    return candidate != champion


def compare(
    matched: Sequence[tuple[Captured, Captured]], task: TaskType, limits: ShadowConfig, *, replayed: int = 0
) -> Comparison:
    """Compares each pair whose champion answer is valid (an invalid champion answer judges nothing).

    One answer from the candidate to every request is judged only on as many distinct requests as
    the verdict needs (`min_compared_requests`): below that the verdict fails for too little
    evidence anyway, and a few similar requests may rightly share one answer (a tree ensemble maps
    nearby inputs to the same leaves).
    """
    tolerance = limits.max_relative_error_percent / 100
    compared = differing = 0
    champion_answers: set[str] = set()
    candidate_answers: set[str] = set()
    for champion_record, candidate_record in matched:
        champion = predictions(champion_record.answer, task)
        if champion is None:
            continue
        compared += 1
        differing += _disagree(champion, predictions(candidate_record.answer, task), task, tolerance)
        champion_answers.add(champion_record.answer.strip())
        candidate_answers.add(candidate_record.answer.strip())
    constant = (
        next(iter(candidate_answers))
        if compared >= limits.min_compared_requests and len(candidate_answers) == 1 and len(champion_answers) > 1
        else None
    )
    return Comparison(compared, differing, min(replayed, compared), constant, len(champion_answers))


def judge(production: VariantMetrics, shadow: VariantMetrics, comparison: Comparison, limits: ShadowConfig) -> Verdict:
    """Fails on each limit the shadow exceeds, with the numbers, or when there is too little evidence."""
    failures: list[str] = []
    verdict = Verdict(production, shadow, comparison)
    compared, differing = comparison.compared, comparison.disagreements
    if compared < limits.min_compared_requests:
        failures.append(
            f"only {compared} distinct requests compared ({comparison.replayed} of them replayed), at least "
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
    if compared and verdict.disagreement_percent > limits.max_disagreement_percent:
        failures.append(
            f"predictions differ on {differing} of {compared} requests "
            f"({verdict.disagreement_percent:.2f}%, limit {limits.max_disagreement_percent}%)"
        )
    if comparison.constant_answer is not None:
        failures.append(
            f"the candidate answered {comparison.constant_answer[:40]!r} to all {compared} requests, where the "
            f"champion gave {comparison.champion_distinct_answers} different answers"
        )
    return Verdict(production, shadow, comparison, tuple(failures))
