"""XGBoost in SageMaker script mode (the XGBoost framework image's training toolkit), for numeric features.

The task comes from the data contract beside the training split (data_contract.json, written by
the preprocess step): binary:logistic, multi:softprob over the contract's classes, or
reg:squarederror. Every feature must be numeric or integer (an empty cell is a missing value,
which XGBoost handles); a categorical feature is refused: models/sklearn encodes those.

The toolkit passes the job's hyperparameters as `--name value` arguments and the data and
model locations as SM_CHANNEL_<CHANNEL> and SM_MODEL_DIR; locally give them as arguments:
    python models/xgboost/src/train.py --train out/train --validation out/validation --model-dir model/

Writes `xgboost-model` into the model directory and copies this source directory to its
`code/` folder, so model.tar.gz carries the inference.py that serves it (SAGEMAKER_PROGRAM,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code on the registered version). With managed spot
training the job can be interrupted and restarted: every few rounds a checkpoint is written to
/opt/ml/checkpoints, and a restart resumes from it, but only when the checkpoint was made from
the same data and hyperparameters (the checkpoint prefix outlives one job).

On several instances (`model_build.training_instance_count`, the train channel sharded by S3 key,
so that each instance reads a share of the train split's files) the instances train one model
together through XGBoost's collective communicator: the first host (SM_HOSTS, sorted) runs the
tracker, every host joins it, and xgb.train sums the gradient histograms of all shares each round
(XGBoost's documented distributed training; the XGBoost image's own script-mode helper,
sagemaker_xgboost_container.distributed, does the same). Only the first host writes the model and
checkpoints; a distributed job that restarts trains anew, as no host sees the whole data to
fingerprint a checkpoint by.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from xgboost import collective
from xgboost.tracker import RabitTracker

MODEL_FILE = "xgboost-model"
# The preprocess step's name for it (contracts.DATA_CONTRACT_FILE; a test keeps them equal).
CONTRACT_FILE = "data_contract.json"
# The objective and evaluation metric of each task type the contract names.
OBJECTIVES = {
    "binary_classification": ("binary:logistic", "auc"),
    "multiclass_classification": ("multi:softprob", "mlogloss"),
    "regression": ("reg:squarederror", "rmse"),
}
CHECKPOINT_FILE = "checkpoint.ubj"
CHECKPOINT_META = "checkpoint.json"
# Not shipped: bytecode, and what the training toolkit leaves when it installs this directory as
# a package before running it (sagemaker-training: build/ and *.egg-info beside the sources).
SHIP_IGNORES = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
SOURCE_DIR = Path(__file__).resolve().parent


class TrainingDataError(ValueError):
    """A data channel is missing, empty or malformed; the message names it."""


def read_contract(directory: Path) -> dict[str, Any]:
    """The data contract beside the training split; refuses what this model cannot train on."""
    path = directory / CONTRACT_FILE
    if not path.is_file():
        raise TrainingDataError(f"{path} is missing: the preprocess step writes the data contract beside each split.")
    contract = dict(json.loads(path.read_text()))
    categorical = [f["name"] for f in contract["features"] if f["kind"] == "categorical"]
    if categorical:
        raise TrainingDataError(
            f"The data contract has categorical features ({', '.join(categorical)}); this XGBoost example takes "
            "numeric and integer features only: use models/sklearn, which encodes them."
        )
    if contract.get("task_type") not in OBJECTIVES:
        raise TrainingDataError(f"Task type {contract.get('task_type')!r}; allowed: {', '.join(OBJECTIVES)}.")
    return contract


def load_channel(directory: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Label-first, header-less CSVs of one channel -> (features, labels); an empty cell is missing (NaN)."""
    files = sorted(directory.glob("*.csv")) if directory.is_dir() else []
    if not files:
        raise TrainingDataError(f"Channel '{name}': no *.csv file in {directory}.")
    try:
        table = pd.concat(
            [pd.read_csv(path, header=None, dtype=str, keep_default_na=False) for path in files], ignore_index=True
        )
    except pd.errors.EmptyDataError as error:
        raise TrainingDataError(f"Channel '{name}': a CSV file in {directory} is empty.") from error
    if table.shape[1] < 2:
        raise TrainingDataError(f"Channel '{name}': expected the label then the features in each row.")
    text = table.apply(lambda column: column.str.strip())
    values = text.apply(lambda column: pd.to_numeric(column.where(column != ""), errors="coerce"))
    if (values.isna() & (text != "")).any().any() or values.iloc[:, 0].isna().any():
        raise TrainingDataError(f"Channel '{name}': non-numeric values or a missing label in {directory}.")
    return values.iloc[:, 1:].to_numpy(dtype=float), values.iloc[:, 0].to_numpy(dtype=float)


def booster_params(args: argparse.Namespace, contract: Mapping[str, Any]) -> dict[str, Any]:
    objective, metric = OBJECTIVES[contract["task_type"]]
    classes = {"num_class": len(contract["classes"])} if objective.startswith("multi:") else {}
    return {
        "objective": objective,
        "eval_metric": metric,
        **classes,
        "max_depth": args.max_depth,
        "eta": args.eta,
        "subsample": args.subsample,
        "min_child_weight": args.min_child_weight,
        "seed": args.seed,
        "nthread": 1,
    }


def fingerprint(features: np.ndarray, labels: np.ndarray, params: dict[str, Any], num_round: int) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(features).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    digest.update(json.dumps({"params": params, "num_round": num_round}, sort_keys=True).encode())
    return digest.hexdigest()


def resume_from(checkpoint_dir: Path | None, expected_fingerprint: str) -> tuple[xgb.Booster | None, int]:
    """The checkpointed booster and its round count, if it belongs to this very training run."""
    if checkpoint_dir is None:
        return None, 0
    meta_path = checkpoint_dir / CHECKPOINT_META
    if not meta_path.exists() or not (checkpoint_dir / CHECKPOINT_FILE).exists():
        return None, 0
    meta = json.loads(meta_path.read_text())
    if meta.get("fingerprint") != expected_fingerprint:
        return None, 0
    booster = xgb.Booster()
    booster.load_model(str(checkpoint_dir / CHECKPOINT_FILE))
    return booster, int(meta["rounds"])


class _Checkpoint(xgb.callback.TrainingCallback):
    def __init__(self, directory: Path, run_fingerprint: str, every: int, offset: int) -> None:
        super().__init__()
        self.directory, self.fingerprint, self.every, self.offset = directory, run_fingerprint, every, offset

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        rounds = self.offset + epoch + 1
        if rounds % self.every == 0:
            self.directory.mkdir(parents=True, exist_ok=True)
            model.save_model(str(self.directory / CHECKPOINT_FILE))
            (self.directory / CHECKPOINT_META).write_text(
                json.dumps({"fingerprint": self.fingerprint, "rounds": rounds})
            )
        return False


def train(
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray],
    params: dict[str, Any],
    *,
    num_round: int,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 10,
) -> xgb.Booster:
    run_fingerprint = fingerprint(*train_data, params, num_round)
    resumed, done = resume_from(checkpoint_dir, run_fingerprint)
    dtrain = xgb.DMatrix(train_data[0], label=train_data[1])
    dvalidation = xgb.DMatrix(validation_data[0], label=validation_data[1])
    callbacks = [] if checkpoint_dir is None else [_Checkpoint(checkpoint_dir, run_fingerprint, checkpoint_every, done)]
    return xgb.train(
        params,
        dtrain,
        num_boost_round=num_round - done,
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        xgb_model=resumed,
        callbacks=callbacks,
        verbose_eval=False,
    )


# The tracker's port on the first host (the XGBoost image's helper uses the same).
TRACKER_PORT = 9099


def _address(host: str, attempts: int = 60) -> str:
    """A host's address; SageMaker documents that the other hosts' names may resolve only after a while."""
    for _ in range(attempts - 1):
        try:
            return socket.gethostbyname(host)
        except OSError:
            time.sleep(5)
    return socket.gethostbyname(host)


@contextlib.contextmanager
def cluster(hosts: Sequence[str], current_host: str, port: int = TRACKER_PORT) -> Iterator[bool]:
    """XGBoost's collective communicator across the job's hosts while inside; yields whether this host leads.

    One host: nothing to set up. Several: the first (sorted) runs the tracker; each joins with its
    position as task id, so xgb.train on any host trains the one model of all hosts' data.
    """
    ordered = sorted(hosts)
    if len(ordered) <= 1:
        yield True
        return
    leader = ordered[0]
    address = _address(leader)
    tracker = None
    if current_host == leader:
        tracker = RabitTracker(n_workers=len(ordered), host_ip=address, port=port, sortby="task")
        tracker.start()
    try:
        context = _join(address, port, ordered.index(current_host))
        try:
            yield current_host == leader
        finally:
            context.__exit__(None, None, None)
        if tracker is not None:
            tracker.wait_for()
    finally:
        if tracker is not None:
            tracker.free()


# How long a host keeps trying to join the first host's tracker: the hosts start, download their
# shares and read them at their own pace, and XGBoost's own connect gives up after about 6 s.
JOIN_ATTEMPTS = 120
JOIN_RETRY_SECONDS = 5.0


def _join(address: str, port: int, task: int) -> Any:
    """This host's communicator context, entered; retried until the tracker listens (the XGBoost image's
    own helper retries the same way: a raw TCP probe of the tracker would break its protocol)."""

    def entered() -> Any:
        context = collective.CommunicatorContext(
            dmlc_tracker_uri=address, dmlc_tracker_port=port, dmlc_task_id=str(task)
        )
        context.__enter__()
        return context

    for _ in range(JOIN_ATTEMPTS - 1):
        try:
            return entered()
        except xgb.core.XGBoostError:
            time.sleep(JOIN_RETRY_SECONDS)
    return entered()


def ship_inference_code(model_dir: Path) -> None:
    """This source directory into <model_dir>/code: the serving container and the evaluate step load it."""
    shutil.copytree(SOURCE_DIR, model_dir / "code", ignore=SHIP_IGNORES, dirs_exist_ok=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max_depth", type=int, default=4)
    parser.add_argument("--eta", type=float, default=0.2)
    parser.add_argument("--subsample", type=float, default=0.9)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--num_round", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train", type=Path, default=Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")))
    parser.add_argument(
        "--validation", type=Path, default=Path(env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"))
    )
    parser.add_argument("--model-dir", type=Path, default=Path(env.get("SM_MODEL_DIR", "/opt/ml/model")))
    # SageMaker syncs /opt/ml/checkpoints with the job's CheckpointConfig S3 prefix.
    default_checkpoints = "/opt/ml/checkpoints" if Path("/opt/ml/checkpoints").is_dir() else ""
    parser.add_argument("--checkpoint-dir", default=default_checkpoints)
    # The training toolkit sets both; one host when they are absent (a local run).
    parser.add_argument("--hosts", type=json.loads, default=json.loads(env.get("SM_HOSTS", "[]")))
    parser.add_argument("--current-host", default=env.get("SM_CURRENT_HOST", ""))
    parser.add_argument("--tracker-port", type=int, default=TRACKER_PORT)
    args = parser.parse_args(argv)
    for name in ("max_depth", "num_round"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    contract = read_contract(args.train)
    train_data, validation_data = load_channel(args.train, "train"), load_channel(args.validation, "validation")
    distributed = len(args.hosts) > 1
    with cluster(args.hosts, args.current_host, args.tracker_port) as leader:
        booster = train(
            train_data,
            validation_data,
            booster_params(args, contract),
            num_round=args.num_round,
            checkpoint_dir=Path(args.checkpoint_dir) if args.checkpoint_dir and not distributed else None,
        )
    if not leader:
        print(json.dumps({"rounds": booster.num_boosted_rounds(), "model": "written by the first host"}))
        return
    args.model_dir.mkdir(parents=True, exist_ok=True)
    # Explicit UBJSON: the file name has no extension to infer the format from.
    (args.model_dir / MODEL_FILE).write_bytes(bytes(booster.save_raw(raw_format="ubj")))
    ship_inference_code(args.model_dir)
    print(json.dumps({"rounds": booster.num_boosted_rounds(), "model": str(args.model_dir / MODEL_FILE)}))


if __name__ == "__main__":
    main()
