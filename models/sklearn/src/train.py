"""scikit-learn gradient boosting in SageMaker script mode (the scikit-learn framework image's training toolkit).

The toolkit passes the job's hyperparameters as `--name value` arguments and the data and
model locations as SM_CHANNEL_<CHANNEL> and SM_MODEL_DIR; locally give them as arguments:
    python models/sklearn/src/train.py --train out/train --validation out/validation --model-dir model/

Writes `model.pkl` into the model directory and copies this source directory (train.py,
inference.py, features.py) to its `code/` folder, so model.tar.gz carries the inference.py that
serves it. Python 3.9 and the image's packages only (scikit-learn 1.2.1, numpy, pandas).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
from collections.abc import Sequence
from pathlib import Path

from features import labelled_rows
from sklearn.ensemble import GradientBoostingClassifier

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


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    features, labels = labelled_rows(args.train, "train")
    model = GradientBoostingClassifier(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        learning_rate=args.learning_rate,
        random_state=args.seed,
    ).fit(features, labels)
    validation_features, validation_labels = labelled_rows(args.validation, "validation")
    args.model_dir.mkdir(parents=True, exist_ok=True)
    with open(args.model_dir / MODEL_FILE, "wb") as file:
        pickle.dump(model, file)
    shutil.copytree(SOURCE_DIR, args.model_dir / "code", ignore=SHIP_IGNORES, dirs_exist_ok=True)
    accuracy = float(model.score(validation_features, validation_labels))
    print(json.dumps({"validation_accuracy": round(accuracy, 4), "model": str(args.model_dir / MODEL_FILE)}))


if __name__ == "__main__":
    main()
