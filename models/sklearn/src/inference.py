"""Serving contract of the scikit-learn model: the scikit-learn image's model_fn/input_fn/predict_fn/output_fn.

The serving container imports this file from /opt/ml/model/code (SAGEMAKER_PROGRAM=inference.py,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code on the registered version); the evaluate step of
the model-building pipeline loads it the same way, so a champion is always scored by its own code.
Requests are CSV rows of the data contract's features, as the raw data holds them (a categorical
feature as its text, a missing value as an empty cell). Responses are CSV, one line per row: the
positive class's probability (binary), the class probabilities in the contract's class order
(multiclass), or the value (regression).

A request the model cannot answer gets a client error, not a server error: 415 for a content
type other than CSV, 400 for a body that is not CSV rows of the contract's features, 406 for an
Accept other than CSV. The toolkit turns any exception these functions raise into HTTP 500,
which the endpoint's 5XX rollback alarms count: the scikit-learn 1.2-1 image serves through
sagemaker-containers 2.8.6.post2, whose Transformer wraps input_fn, predict_fn and output_fn in
_functions.error_wrapper (every exception re-raised as ClientError, which the Flask worker
answers with 500) and maps only its own default input_fn's UnsupportedFormatError to 415
(_transformer._default_transform_fn). What output_fn returns, though, is the response:
a tuple gets status 200, a response object its own status. So a refused request travels as a
`Refusal` value from input_fn through predict_fn to output_fn, which answers with its status.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from features import CONTRACT_FILE, feature_table
from werkzeug.wrappers import Response

MODEL_FILE = "model.pkl"
CSV = "text/csv"


@dataclass(frozen=True)
class Refusal:
    """A request the model does not answer, and the HTTP status that tells the client why."""

    status: int
    message: str


@dataclass(frozen=True)
class Model:
    pipeline: Any
    contract: dict[str, Any]


def _media_type(header: str) -> str:
    return header.split(";")[0].strip().lower()


def model_fn(model_dir: str) -> Model:
    directory = Path(model_dir)
    with open(directory / MODEL_FILE, "rb") as file:
        # The model's own artifact, written by train.py into this very model.tar.gz.
        pipeline = pickle.load(file)  # noqa: S301
    return Model(pipeline, json.loads((directory / CONTRACT_FILE).read_text()))


def input_fn(request_body: Any, content_type: str) -> pd.DataFrame | Refusal:
    """The request's CSV rows as text cells (the model's contract types them in predict_fn)."""
    if _media_type(content_type) != CSV:
        return Refusal(415, f"Unsupported content type {content_type!r}; send {CSV}.")
    try:
        text = request_body.decode("utf-8") if isinstance(request_body, bytes) else str(request_body)
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    except (UnicodeDecodeError, csv.Error) as error:
        return Refusal(400, f"The body is not UTF-8 CSV: {error}")
    if not rows or len({len(row) for row in rows}) != 1:
        return Refusal(400, "The body must hold CSV rows of the same number of features.")
    return pd.DataFrame(rows, dtype=str)


def predict_fn(data: pd.DataFrame | Refusal, model: Model) -> np.ndarray | Refusal:
    if isinstance(data, Refusal):
        return data
    try:
        features = feature_table(data, model.contract)
    except ValueError as error:
        return Refusal(400, str(error))
    if not model.contract.get("classes"):
        return np.asarray(model.pipeline.predict(features), dtype=float)
    probabilities = np.asarray(model.pipeline.predict_proba(features), dtype=float)
    # Binary: the positive (second) class's probability, as the XGBoost example serves it.
    return probabilities[:, 1] if len(model.contract["classes"]) == 2 else probabilities


def output_fn(prediction: np.ndarray | Refusal, accept: str) -> tuple[str, str] | Response:
    """The body and its content type (the serving toolkit labels a bare string text/html), or a refusal."""
    if isinstance(prediction, Refusal):
        return refusal_response(prediction)
    if _media_type(accept) not in (CSV, "*/*"):
        return refusal_response(Refusal(406, f"Unsupported accept type {accept!r}; accept {CSV}."))
    lines = (",".join(repr(float(p)) for p in np.atleast_1d(row)) for row in prediction)
    return "\n".join(lines), CSV


def refusal_response(refusal: Refusal) -> Response:
    body = json.dumps({"error": refusal.message})
    return Response(response=body, status=refusal.status, mimetype="application/json")
