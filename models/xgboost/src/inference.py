"""Serving contract of the XGBoost model: the XGBoost image's model_fn/input_fn/predict_fn/output_fn.

The serving container imports this file from /opt/ml/model/code (SAGEMAKER_PROGRAM=inference.py,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code on the registered version); the evaluate step of
the model-building pipeline loads it the same way, so a champion is always scored by its own code.
Requests are CSV rows of the data contract's (numeric) features, an empty cell for a missing
value. Responses are CSV, one line per row: the probability of the positive class (binary), the
class probabilities (multiclass, multi:softprob), or the value (regression).

A request the model cannot answer gets a client error, not a server error: 415 for a content
type other than CSV, 400 for a body that is not CSV rows of the model's features, 406 for an
Accept other than CSV. The XGBoost 3.0-5 image serves script-mode models through
sagemaker-containers 2.8.6.post2 (sagemaker_xgboost_container/serving.py), whose Transformer
re-raises any exception of input_fn, predict_fn or output_fn as ClientError, answered with 500
by its Flask worker, and maps only its own default input_fn's UnsupportedFormatError to 415; a
response object that output_fn returns is sent with its own status. So a refused request travels
as a `Refusal` value from input_fn through predict_fn to output_fn.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from werkzeug.wrappers import Response

MODEL_FILE = "xgboost-model"
CSV = "text/csv"


@dataclass(frozen=True)
class Refusal:
    """A request the model does not answer, and the HTTP status that tells the client why."""

    status: int
    message: str


def _media_type(header: str) -> str:
    return header.split(";")[0].strip().lower()


def model_fn(model_dir: str) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(str(Path(model_dir) / MODEL_FILE))
    return booster


def input_fn(request_body: Any, content_type: str) -> np.ndarray | Refusal:
    if _media_type(content_type) != CSV:
        return Refusal(415, f"Unsupported content type {content_type!r}; send {CSV}.")
    try:
        text = request_body.decode("utf-8") if isinstance(request_body, bytes) else str(request_body)
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
        # An empty cell is a missing value (NaN), which XGBoost handles; rows of unequal length fail.
        values = np.array([[float(cell) if cell.strip() else np.nan for cell in row] for row in rows], dtype=float)
    except (UnicodeDecodeError, csv.Error, ValueError) as error:
        return Refusal(400, f"The body is not UTF-8 CSV rows of numbers: {error}")
    if values.ndim != 2 or not len(values):
        return Refusal(400, "The body must hold CSV rows of the same number of features.")
    # XGBoost raises on infinity (a 500); "nan" written out is not the empty cell that means missing.
    written = np.array([[bool(cell.strip()) for cell in row] for row in rows])
    if not np.isfinite(values[written]).all():
        return Refusal(400, "The body holds a value that is not a finite number (leave a missing value empty).")
    return values


def predict_fn(features: np.ndarray | Refusal, model: xgb.Booster) -> np.ndarray | Refusal:
    if isinstance(features, Refusal):
        return features
    if features.shape[1] != model.num_features():
        return Refusal(400, f"The model expects {model.num_features()} features; got {features.shape[1]}.")
    return np.asarray(model.predict(xgb.DMatrix(features)), dtype=float)


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
