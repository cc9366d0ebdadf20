"""What the smoke test sends and how it reads the answers: pure functions, no AWS.

The rows come from the version itself: the model-building pipeline registers a sample of its
held-out rows (the Preprocess step's payload.tar.gz, CreateModelPackage's SamplePayloadUrl,
features only, as the endpoint takes them), so any data contract's model is smoke-tested with
its own data. An answer is read by the version's task type (its `task_type` metadata): one
probability in [0, 1] per row (binary), a class index or one probability per class per row
(multiclass, the class count from its `class_count` metadata), or one finite number per row
(regression).
"""

from __future__ import annotations

import csv
import io
import math
import tarfile
from pathlib import Path

from config import TaskType
from mlopsctl.errors import OperatorError

# InvokeEndpoint takes a body of up to 6 MB (SageMaker Runtime API reference): a sample is far below.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# A row's class probabilities must add up to 1 within this.
PROBABILITY_SUM_TOLERANCE = 1e-3


def rows_of(text: str, source: str) -> list[str]:
    """The non-empty lines of a CSV sample (one request row each), all of one width.

    A width counts cells as the csv module reads them: a quoted category may hold a comma.
    """
    rows = [line.strip() for line in text.splitlines() if line.strip()]
    if not rows:
        raise OperatorError(f"The sample {source} holds no rows.")
    widths = {len(cells) for cells in csv.reader(rows)}
    if len(widths) != 1:
        raise OperatorError(f"The sample {source} has rows of {sorted(widths)} values; expected one width.")
    return rows


def load_sample(path: Path) -> list[str]:
    try:
        return rows_of(path.read_text(), str(path))
    except OSError as error:
        raise OperatorError(f"Cannot read the sample {path}: {error.strerror or error}.") from error


def rows_of_archive(content: bytes, source: str) -> list[str]:
    """The first file of a sample payload archive (a tar.gz, as SamplePayloadUrl names it)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:gz") as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            if member is None or member.size > MAX_PAYLOAD_BYTES:
                raise OperatorError(f"The sample payload {source} holds no file of at most {MAX_PAYLOAD_BYTES} bytes.")
            handle = tar.extractfile(member)
            text = handle.read().decode("utf-8") if handle else ""
    except (tarfile.TarError, OSError, UnicodeDecodeError) as error:
        raise OperatorError(f"The sample payload {source} is not a tar.gz of CSV rows: {error}") from error
    return rows_of(text, source)


def _number(token: str) -> float:
    try:
        value = float(token)
    except ValueError as error:
        raise OperatorError(f"Response value {token[:40]!r} is not a number.") from error
    if not math.isfinite(value):
        raise OperatorError(f"Response value {value} is not a finite number.")
    return value


def _probability(token: str) -> float:
    value = _number(token)
    if not 0.0 <= value <= 1.0:
        raise OperatorError(f"Response value {value} is not a probability in [0, 1].")
    return value


def _class_answer(line: str, class_count: int | None) -> None:
    tokens = [t.strip() for t in line.split(",")]
    if len(tokens) == 1:
        value = _number(tokens[0])
        if value != int(value) or value < 0 or (class_count is not None and value >= class_count):
            classes = f"0 to {class_count - 1}" if class_count else "0 or more"
            raise OperatorError(f"Response value {value} is not a class index ({classes}).")
        return
    if class_count is not None and len(tokens) != class_count:
        raise OperatorError(
            f"A response row has {len(tokens)} class probabilities; the model has {class_count} classes."
        )
    total = sum(_probability(token) for token in tokens)
    if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
        raise OperatorError(f"A response row's class probabilities add up to {total:.4f}, not 1.")


def check_answer(body: str, rows: int, task: TaskType, class_count: int | None = None) -> None:
    """One answer per row, in the task's form; raises OperatorError saying what is wrong."""
    if task is TaskType.MULTICLASS_CLASSIFICATION:
        lines = [line for line in body.splitlines() if line.strip()]
        if len(lines) != rows:
            raise OperatorError(f"Response has {len(lines)} rows for {rows} rows: {body[:120]!r}.")
        for line in lines:
            _class_answer(line, class_count)
        return
    # Newline-separated per the contract; commas tolerated, as some XGBoost container versions
    # answer a batch on one line.
    tokens = [t.strip() for t in body.replace(",", "\n").splitlines() if t.strip()]
    if len(tokens) != rows:
        raise OperatorError(f"Response has {len(tokens)} values for {rows} rows: {body[:120]!r}.")
    read = _probability if task is TaskType.BINARY_CLASSIFICATION else _number
    for token in tokens:
        read(token)
