"""Serving contract of the scikit-learn model: the scikit-learn image's model_fn/input_fn/predict_fn/output_fn.

The serving container imports this file from /opt/ml/model/code (SAGEMAKER_PROGRAM=inference.py,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code on the registered version); the evaluate step of
the model-building pipeline loads it the same way, so a champion is always scored by its own code.
Requests and responses are CSV: one row of features per line, one probability per line.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
from features import feature_rows

MODEL_FILE = "model.pkl"
CSV = "text/csv"


def model_fn(model_dir: str) -> Any:
    with open(Path(model_dir) / MODEL_FILE, "rb") as file:
        # The model's own artifact, written by train.py into this very model.tar.gz.
        return pickle.load(file)  # noqa: S301


def input_fn(request_body: Any, content_type: str) -> np.ndarray:
    if content_type.split(";")[0].strip() != CSV:
        raise ValueError(f"Unsupported content type {content_type!r}; send {CSV}.")
    return feature_rows(request_body.decode() if isinstance(request_body, bytes) else str(request_body))


def predict_fn(features: np.ndarray, model: Any) -> np.ndarray:
    if features.shape[1] != model.n_features_in_:
        raise ValueError(f"The model expects {model.n_features_in_} features; got {features.shape[1]}.")
    # The probability of class 1, as the XGBoost example serves it.
    return np.asarray(model.predict_proba(features)[:, 1], dtype=float)


def output_fn(prediction: np.ndarray, accept: str) -> tuple[str, str]:
    """The body and its content type: the serving toolkit labels a bare string text/html."""
    if accept.split(";")[0].strip() not in (CSV, "*/*"):
        raise ValueError(f"Unsupported accept type {accept!r}; accept {CSV}.")
    return "\n".join(repr(float(p)) for p in prediction), CSV
