"""Serving contract of the XGBoost model: the XGBoost image's model_fn/input_fn/predict_fn/output_fn.

The serving container imports this file from /opt/ml/model/code (SAGEMAKER_PROGRAM=inference.py,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code on the registered version); the evaluate step of
the model-building pipeline loads it the same way, so a champion is always scored by its own code.
Requests and responses are CSV: one row of features per line, one probability per line.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

MODEL_FILE = "xgboost-model"
CSV = "text/csv"


def model_fn(model_dir: str) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(str(Path(model_dir) / MODEL_FILE))
    return booster


def input_fn(request_body: Any, content_type: str) -> np.ndarray:
    if content_type.split(";")[0].strip() != CSV:
        raise ValueError(f"Unsupported content type {content_type!r}; send {CSV}.")
    text = request_body.decode() if isinstance(request_body, bytes) else str(request_body)
    return np.atleast_2d(np.loadtxt(io.StringIO(text), delimiter=",", dtype=float))


def predict_fn(features: np.ndarray, model: xgb.Booster) -> np.ndarray:
    if features.shape[1] != model.num_features():
        raise ValueError(f"The model expects {model.num_features()} features; got {features.shape[1]}.")
    return np.asarray(model.predict(xgb.DMatrix(features)), dtype=float)


def output_fn(prediction: np.ndarray, accept: str) -> tuple[str, str]:
    """The body and its content type: the serving toolkit labels a bare string text/html."""
    if accept.split(";")[0].strip() not in (CSV, "*/*"):
        raise ValueError(f"Unsupported accept type {accept!r}; accept {CSV}.")
    return "\n".join(repr(float(p)) for p in prediction), CSV
