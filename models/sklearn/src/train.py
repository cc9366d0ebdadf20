"""scikit-learn gradient boosting in SageMaker script mode (the scikit-learn framework image's training toolkit).

One script for every task and data set a data contract describes: it reads the contract beside
the training split (data_contract.json, written by the preprocess step) and fits a pipeline
that encodes the features itself, so the endpoint takes the raw features the data capture and
the drift check see:

- numeric and integer features: missing values filled with the training median;
- categorical features: missing values as their own category, then one-hot encoded; a category
  the training data never had is encoded as none of them (the drift check counts it as unseen);
- the estimator: GradientBoostingClassifier for binary and multiclass classification (the label
  is the class's position in the contract's classes), GradientBoostingRegressor for regression.

The toolkit passes the job's hyperparameters as `--name value` arguments and the data and
model locations as SM_CHANNEL_<CHANNEL> and SM_MODEL_DIR; locally give them as arguments:
    python models/sklearn/src/train.py --train out/train --validation out/validation --model-dir model/

Writes `model.pkl` and the contract into the model directory and copies this source directory
(train.py, inference.py, features.py) to its `code/` folder, so model.tar.gz carries the
inference.py that serves it. Python 3.9 and the image's packages only (scikit-learn 1.2.1,
numpy, pandas).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from features import CONTRACT_FILE, labelled_rows, names, read_contract
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

MODEL_FILE = "model.pkl"
# Not shipped: bytecode, and what the training toolkit leaves when it installs this directory as
# a package before running it (sagemaker-training: build/ and *.egg-info beside the sources).
SHIP_IGNORES = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
SOURCE_DIR = Path(__file__).resolve().parent


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n_estimators", type=int, default=150)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train", type=Path, default=Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")))
    parser.add_argument(
        "--validation", type=Path, default=Path(env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"))
    )
    parser.add_argument("--model-dir", type=Path, default=Path(env.get("SM_MODEL_DIR", "/opt/ml/model")))
    args = parser.parse_args(argv)
    for name in ("n_estimators", "max_depth"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


def build_model(contract: Mapping[str, Any], args: argparse.Namespace) -> Pipeline:
    """Feature encoding and the task's estimator, as one pipeline that serving runs whole."""
    encoders: list[tuple[str, Any, list[str]]] = []
    if names(contract, categorical=False):
        encoders.append(("numbers", SimpleImputer(strategy="median"), names(contract, categorical=False)))
    if names(contract, categorical=True):
        categories = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        encoders.append(("categories", categories, names(contract, categorical=True)))
    settings = {
        "n_estimators": args.n_estimators,
        "max_depth": args.max_depth,
        "learning_rate": args.learning_rate,
        "random_state": args.seed,
    }
    estimator = (
        GradientBoostingClassifier(**settings) if contract.get("classes") else GradientBoostingRegressor(**settings)
    )
    return Pipeline([("encode", ColumnTransformer(encoders)), ("estimate", estimator)])


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    contract = read_contract(args.train)
    features, labels = labelled_rows(args.train, "train", contract)
    model = build_model(contract, args).fit(features, labels)
    validation_features, validation_labels = labelled_rows(args.validation, "validation", contract)
    args.model_dir.mkdir(parents=True, exist_ok=True)
    with open(args.model_dir / MODEL_FILE, "wb") as file:
        pickle.dump(model, file)
    (args.model_dir / CONTRACT_FILE).write_text(json.dumps(contract, indent=2))
    shutil.copytree(SOURCE_DIR, args.model_dir / "code", ignore=SHIP_IGNORES, dirs_exist_ok=True)
    score = float(model.score(validation_features, validation_labels))
    metric = "validation_accuracy" if contract.get("classes") else "validation_r2"
    print(json.dumps({metric: round(score, 4), "model": str(args.model_dir / MODEL_FILE)}))


if __name__ == "__main__":
    main()
