"""The step scripts: pure functions, bad input, and a small local end-to-end run."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

import config
import contracts
from pipeline_steps import local_run, sample_data
from pipeline_steps.scripts import baseline, evaluate, preprocess
from tests.conftest import ROOT
from tests.support import model_source, preprocessed, write_contract

train = model_source("xgboost", "train")
inference = model_source("xgboost", "inference")
XGBOOST = config.load_model("models/xgboost")
WINE = config.load_model("models/wine")
DIABETES = config.load_model("models/diabetes")
FIRST, SECOND = (f.name for f in XGBOOST.data.features[:2])


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return sample_data.sample_for(XGBOOST.data)


def run_preprocess(model: config.ModelConfig, table: pd.DataFrame, root: Path, *extra: str) -> None:
    """`table` as a raw file (header and delimiter as the contract says, columns as they are), preprocessed."""
    raw_dir = root / "in"
    raw_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(raw_dir / "data.csv", index=False, sep=model.data.csv.delimiter)
    contract = write_contract(model, root / "contract")
    preprocess.main(["--contract", str(contract), "--input-dir", str(raw_dir), "--output-dir", str(root / "o"), *extra])


# --- preprocess: the data contract ---------------------------------------------------------


@pytest.mark.parametrize(("model", "rows"), [(XGBOOST, 569), (WINE, 178), (DIABETES, 442)], ids=lambda v: str(v)[:20])
def test_each_bundled_sample_has_the_columns_of_its_examples_contract(model: config.ModelConfig, rows: int) -> None:
    table = sample_data.sample_for(model.data)
    assert list(table.columns) == sample_data.contract_columns(model.data) and len(table) == rows
    if model.data.classes:
        assert set(table[model.data.label]) == set(model.data.classes)


def test_a_contract_without_a_bundled_sample_is_told_to_bring_its_csv() -> None:
    other = dataclasses.replace(DIABETES.data, label="outcome")
    with pytest.raises(ValueError, match=r"No bundled sample has the columns of this data contract.*DATA="):
        sample_data.sample_for(other)


def test_split_is_deterministic_disjoint_and_stratified_by_class(raw: pd.DataFrame, tmp_path: Path) -> None:
    contract = json.loads(write_contract(XGBOOST, tmp_path).read_text())
    table = preprocess.checked_rows(raw.astype(str), contract, "sample")
    label = XGBOOST.data.label
    first = preprocess.split(table, validation_fraction=0.15, test_fraction=0.15, seed=7, stratify_by=label)
    second = preprocess.split(table, validation_fraction=0.15, test_fraction=0.15, seed=7, stratify_by=label)
    for name in preprocess.SPLITS:
        pd.testing.assert_frame_equal(first[name], second[name])
    assert sum(len(part) for part in first.values()) == len(raw)
    overall = table[label].mean()
    for name in preprocess.SPLITS:
        assert first[name][label].mean() == pytest.approx(overall, abs=0.02), name


def test_preprocess_in_small_chunks_splits_each_class_exactly_and_deterministically(
    raw: pd.DataFrame, tmp_path: Path
) -> None:
    """Read 37 rows at a time: each split still holds exactly its share of each class, the same rows every run."""
    label = XGBOOST.data.label
    runs = [preprocessed(XGBOOST, raw, tmp_path / str(run), "--chunk-rows=37") for run in range(2)]
    written = [{n: (run / n / f"{n}.csv").read_text() for n in preprocess.SPLITS} for run in runs]
    assert written[0] == written[1]
    parts = {n: pd.read_csv(runs[0] / n / f"{n}.csv", header=None) for n in preprocess.SPLITS}
    for index, name in enumerate(XGBOOST.data.classes):
        expected = preprocess.split_sizes(int((raw[label] == name).sum()), 0.15, 0.15)
        assert {n: int((parts[n][0] == index).sum()) for n in preprocess.SPLITS} == expected
    rows = pd.concat(parts.values()).iloc[:, 1:].round(6).apply(tuple, axis=1)
    assert sorted(rows) == sorted(raw[list(XGBOOST.data.feature_names)].round(6).apply(tuple, axis=1))


def test_a_bad_value_in_a_later_chunk_is_named_by_its_row_in_the_file(raw: pd.DataFrame, tmp_path: Path) -> None:
    table = raw.astype(object)
    table.loc[99, FIRST] = "abc"
    with pytest.raises(preprocess.InputDataError, match=rf"data row 100, column '{FIRST}': value 'abc'"):
        run_preprocess(XGBOOST, table, tmp_path, "--chunk-rows=30")


def test_preprocess_writes_label_first_headerless_splits_with_the_contract(raw: pd.DataFrame, tmp_path: Path) -> None:
    splits = preprocessed(XGBOOST, raw, tmp_path)
    train_rows = pd.read_csv(splits / "train" / "train.csv", header=None)
    assert train_rows.shape[1] == 1 + len(XGBOOST.data.features)
    # The label is the class's position in the contract's classes.
    assert set(train_rows[0]) == {0, 1}
    for name in preprocess.SPLITS:
        written = json.loads((splits / name / preprocess.CONTRACT_FILE).read_text())
        assert written == XGBOOST.data.as_document(XGBOOST.task_type.value)
    with tarfile.open(splits / "sample" / "payload.tar.gz") as archive:
        (member,) = archive.getmembers()
        rows = archive.extractfile(member).read().decode().splitlines()  # type: ignore[union-attr]
    test_rows = (splits / "test" / "test.csv").read_text().splitlines()
    # Spread evenly over the held-out split, from its first row to its last: not only its head.
    spread = [round(i * (len(test_rows) - 1) / (preprocess.SAMPLE_ROWS - 1)) for i in range(preprocess.SAMPLE_ROWS)]
    assert member.name == "payload.csv" and rows == [test_rows[i].split(",", 1)[1] for i in spread]
    assert {test_rows[i].split(",", 1)[0] for i in spread} == {"0", "1"}, "the sample holds both classes"


def test_a_sample_payload_of_no_rows_is_refused(raw: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        run_preprocess(XGBOOST, raw, tmp_path, "--sample-rows=0")
    assert not (tmp_path / "o").exists()


def test_only_the_sample_data_module_names_a_samples_columns_or_classes() -> None:
    """Step scripts, the drift check's tests and the benchmarks go through the data contract: none names a
    bundled sample's multi-word column or class (a user's data has other names)."""
    names: set[str] = set()
    for model in (XGBOOST, WINE, DIABETES):
        spelled = {f.name for f in model.data.features if "_" in f.name} | set(model.data.classes)
        names |= {form for name in spelled if not name.startswith("class_") for form in (name, name.replace("_", " "))}
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\b")
    files = [p for p in sorted((ROOT / "pipeline_steps").rglob("*.py")) if p.name != "sample_data.py"]
    files += [ROOT / "tests" / "test_drift_check.py", ROOT / "tests" / "test_drift_decision.py"]
    files += sorted((ROOT / "bench").glob("*.py"))
    found = {p.relative_to(ROOT).as_posix(): sorted(set(pattern.findall(p.read_text()))) for p in files}
    assert not {path: hits for path, hits in found.items() if hits}


def test_an_instance_that_receives_no_raw_file_says_to_use_fewer_instances(tmp_path: Path) -> None:
    """ShardedByS3Key leaves an instance without data when the manifest names fewer files than instances."""
    (tmp_path / "in").mkdir()
    contract = write_contract(XGBOOST, tmp_path / "contract")
    with pytest.raises(preprocess.InputDataError, match=r"part 1\) received no raw file.*no more instances than files"):
        preprocess.main([f"--contract={contract}", f"--input-dir={tmp_path / 'in'}", "--output-dir=o", "--part=-1"])


def test_sample_positions_spread_from_the_first_row_to_the_last() -> None:
    assert preprocess.sample_positions(85, 10).tolist() == [0, 9, 19, 28, 37, 47, 56, 65, 75, 84]
    assert preprocess.sample_positions(3, 10).tolist() == [0, 1, 2]
    assert preprocess.sample_positions(0, 10).size == 0


def test_regression_keeps_numbers_and_category_text_and_drops_ignored_columns(tmp_path: Path) -> None:
    table = sample_data.sample_for(DIABETES.data)
    splits = preprocessed(DIABETES, table, tmp_path)
    rows = pd.read_csv(splits / "train" / "train.csv", header=None, dtype=str)
    assert rows.shape[1] == 1 + len(DIABETES.data.features)
    label = pd.to_numeric(rows[0])
    assert label.between(table[DIABETES.data.label].min(), table[DIABETES.data.label].max()).all()
    positions = {f.name: i + 1 for i, f in enumerate(DIABETES.data.features)}
    assert set(rows[positions["sex"]]) == {"1", "2"}
    assert set(rows[positions["bmi_band"]]) <= {"underweight", "normal", "overweight", "obese"}
    # A random split: both splits keep a spread of values, with no class to stratify by.
    test = pd.to_numeric(pd.read_csv(splits / "test" / "test.csv", header=None)[0])
    assert len(test) == round(len(table) * 0.15) and test.std() > 0


def test_a_file_written_with_another_delimiter_fails_naming_the_columns(tmp_path: Path) -> None:
    table = sample_data.sample_for(WINE.data)
    (tmp_path / "in").mkdir()
    table.to_csv(tmp_path / "in" / "wine.csv", index=False)  # commas; the wine contract says ';'
    with pytest.raises(preprocess.InputDataError, match=r"wine\.csv: columns do not match the data contract; missing"):
        preprocess.main(
            [f"--contract={write_contract(WINE, tmp_path / 'c')}", f"--input-dir={tmp_path / 'in'}", "--output-dir=o"]
        )


def test_files_without_a_header_follow_the_contracts_column_order(tmp_path: Path) -> None:
    order = (*reversed(DIABETES.data.feature_names), DIABETES.data.label, *DIABETES.data.ignore)
    model = dataclasses.replace(
        DIABETES, data=dataclasses.replace(DIABETES.data, csv=config.CsvFormat(header=False, columns=order))
    )
    splits = preprocessed(model, sample_data.sample_for(DIABETES.data), tmp_path)
    header_row = preprocessed(DIABETES, sample_data.sample_for(DIABETES.data), tmp_path / "with-header")
    assert (splits / "train" / "train.csv").read_text() == (header_row / "train" / "train.csv").read_text()


@pytest.mark.parametrize(
    ("model", "mutate", "message"),
    [
        (XGBOOST, lambda t: t.drop(columns=[FIRST]), rf"missing: \['{FIRST}'\]; unexpected: none"),
        (XGBOOST, lambda t: t.assign(extra_column=1), r"missing: none; unexpected: \['extra_column'\]"),
        (
            XGBOOST,
            lambda t: t.assign(**{SECOND: ["big", *t[SECOND][1:]]}),
            rf"data\.csv: data row 1, column '{SECOND}': value 'big'; allowed: finite numbers\.",
        ),
        (
            XGBOOST,
            lambda t: t.assign(**{SECOND: [*t[SECOND][:4], "", *t[SECOND][5:]]}),
            rf"data row 5, column '{SECOND}': value ''; allowed: finite numbers\.",
        ),
        (
            XGBOOST,
            lambda t: t.assign(**{XGBOOST.data.label: ["unknown", *t[XGBOOST.data.label][1:]]}),
            rf"column '{XGBOOST.data.label}': value 'unknown'; allowed: {', '.join(XGBOOST.data.classes)}\.",
        ),
        (XGBOOST, lambda t: t.iloc[0:0], "header but no data rows"),
        (DIABETES, lambda t: t.assign(sex=["3", *t["sex"][1:]]), r"column 'sex': value '3'; allowed: 1, 2\."),
        (
            DIABETES,
            lambda t: t.assign(age=[30.5, *t["age"][1:]]),
            r"column 'age': value '30\.5'; allowed: whole numbers",
        ),
        (
            DIABETES,
            lambda t: t.assign(progression=["n/a", *t["progression"][1:]]),
            r"column 'progression': value 'n/a'; allowed: finite numbers",
        ),
    ],
    ids=[
        "missing-column",
        "extra-column",
        "non-numeric",
        "missing-value-not-allowed",
        "unknown-class",
        "header-only",
        "category-not-allowed",
        "integer-with-a-fraction",
        "regression-label-not-a-number",
    ],
)
def test_preprocess_rejects_bad_input_naming_file_row_column_and_value(
    model: config.ModelConfig, mutate: Any, message: str, tmp_path: Path
) -> None:
    table = mutate(sample_data.sample_for(model.data).astype(object))
    with pytest.raises(preprocess.InputDataError, match=message):
        run_preprocess(model, table, tmp_path)


def test_a_feature_that_may_be_missing_takes_an_empty_cell(tmp_path: Path) -> None:
    features = tuple(
        dataclasses.replace(f, missing=True) if f.name in ("bmi", "bmi_band") else f for f in DIABETES.data.features
    )
    model = dataclasses.replace(DIABETES, data=dataclasses.replace(DIABETES.data, features=features))
    table = sample_data.sample_for(model.data).astype(object)
    table.loc[:9, ["bmi", "bmi_band"]] = ""
    run_preprocess(model, table, tmp_path)
    rows = pd.concat(pd.read_csv(tmp_path / "o" / n / f"{n}.csv", header=None) for n in preprocess.SPLITS)
    assert int(rows[3].isna().sum()) == 10 and int(rows[11].isna().sum()) == 10


def test_preprocess_rejects_an_empty_file_and_an_empty_directory(tmp_path: Path) -> None:
    contract = json.loads(write_contract(XGBOOST, tmp_path / "c").read_text())
    (tmp_path / "in").mkdir()
    with pytest.raises(preprocess.InputDataError, match=r"No \*\.csv file"):
        preprocess.count_groups(tmp_path / "in", contract)
    (tmp_path / "in" / "empty.csv").write_text("")
    with pytest.raises(preprocess.InputDataError, match=r"empty\.csv is empty"):
        preprocess.count_groups(tmp_path / "in", contract)


# --- train --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def splits(raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return preprocessed(XGBOOST, raw, tmp_path_factory.mktemp("splits"))


def test_train_writes_the_model_and_the_inference_code_that_serves_it(splits: Path, tmp_path: Path) -> None:
    train.main(
        [
            "--num_round=5",
            *("--train", str(splits / "train"), "--validation", str(splits / "validation")),
            *("--model-dir", str(tmp_path), "--checkpoint-dir", ""),
        ]
    )
    assert sorted(p.name for p in (tmp_path / "code").iterdir()) == ["inference.py", "train.py"]
    booster = inference.model_fn(str(tmp_path))
    assert booster.num_boosted_rounds() == 5
    assert booster.num_features() == 30
    body = (splits / "test" / "test.csv").read_text().splitlines()[0].split(",", 1)[1]
    (probability,) = inference.predict_fn(inference.input_fn(body.encode(), "text/csv"), booster)
    assert 0 <= probability <= 1
    assert inference.output_fn(np.array([0.25, 0.5]), "text/csv") == ("0.25\n0.5", "text/csv")


def _wait_until_listening(port: int, process: subprocess.Popen[str], seconds: float = 60.0) -> None:
    """Until a socket listens on `port` (the kernel's table of TCP sockets, read only: nothing binds or
    connects to the port), the process ends or the time is up. Without /proc, no wait: the second host's
    own retry covers it."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    deadline = time.monotonic() + seconds
    while tables[0].exists() and process.poll() is None and time.monotonic() < deadline:
        for table in tables:
            rows = table.read_text().splitlines()[1:] if table.exists() else []
            # local_address is ADDRESS:PORT in hex; state 0A is LISTEN.
            if any(int(row.split()[1].rsplit(":", 1)[1], 16) == port and row.split()[3] == "0A" for row in rows):
                return
        time.sleep(0.05)


def test_xgboost_trains_one_model_on_two_instances_each_with_a_share_of_the_train_split(
    raw: pd.DataFrame, tmp_path: Path
) -> None:
    """Preprocess writes the train split in two files; each 'instance' (a process here, as SageMaker's
    ShardedByS3Key gives each host its files) reads one, and the two train one model through XGBoost's
    collective communicator. The first host writes it. (A host that starts before the first host's tracker
    listens retries: the next two tests.)"""
    splits = preprocessed(XGBOOST, raw, tmp_path / "p", "--train-files=2")
    files = sorted((splits / "train").glob("*.csv"))
    assert [f.name for f in files] == ["train-0.csv", "train-1.csv"]
    hosts = ["127.0.0.1", "localhost"]  # two names of this machine: the tracker and a second worker
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workers: dict[int, subprocess.Popen[str]] = {}
    for index, (host, share) in enumerate(zip(hosts, files, strict=True)):
        channel = tmp_path / f"train-{index}"
        channel.mkdir()
        shutil.copy(share, channel)
        shutil.copy(splits / "train" / preprocess.CONTRACT_FILE, channel)
        command = [
            sys.executable,
            str(ROOT / "models" / "xgboost" / "src" / "train.py"),
            *("--num_round", "5", "--train", str(channel), "--validation", str(splits / "validation")),
            *("--model-dir", str(tmp_path / f"model-{index}"), "--checkpoint-dir", ""),
            *("--hosts", json.dumps(hosts), "--current-host", host, "--tracker-port", str(port)),
        ]
        workers[index] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if index == 0:
            # The second host starts once the tracker listens, so its first join succeeds instead of
            # waiting out XGBoost's retry.
            _wait_until_listening(port, workers[0])
    outputs = [workers[index].communicate(timeout=240)[0] for index in sorted(workers)]
    assert [workers[index].returncode for index in sorted(workers)] == [0, 0], outputs
    assert not (tmp_path / "model-1").exists(), "only the first host writes the model"
    booster = inference.model_fn(str(tmp_path / "model-0"))
    alone = xgb.train(
        train.booster_params(
            train.parse_args([]), json.loads((splits / "train" / preprocess.CONTRACT_FILE).read_text())
        ),
        xgb.DMatrix(*train.load_channel(tmp_path / "train-0", "train")),
        num_boost_round=5,
    )
    both = pd.concat(pd.read_csv(f, header=None) for f in files)
    matrix = xgb.DMatrix(both.iloc[:, 1:].to_numpy(dtype=float))
    together, one_share = booster.predict(matrix), alone.predict(matrix)
    assert booster.num_boosted_rounds() == 5 and not np.allclose(together, one_share), (
        "the model learned from both shares, not from the first host's alone"
    )


def test_a_host_keeps_joining_until_the_tracker_listens_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each failed join (XGBoost raises XGBoostError once its own connect gives up) waits and tries again,
    JOIN_ATTEMPTS times in all; the last failure is raised. Other errors are not retried."""
    attempts: list[dict[str, str]] = []
    fail_first = 2

    class Context:
        def __init__(self, **args: str) -> None:
            self.args = args

        def __enter__(self) -> None:
            attempts.append(self.args)
            if len(attempts) <= fail_first:
                raise xgb.core.XGBoostError("Failed to bootstrap the communication group.")

    waits: list[float] = []
    monkeypatch.setattr(train.collective, "CommunicatorContext", Context)
    monkeypatch.setattr(train.time, "sleep", waits.append)
    joined = train._join("10.0.0.1", 9099, 1)
    assert isinstance(joined, Context) and len(attempts) == 3
    assert attempts[-1] == {"dmlc_tracker_uri": "10.0.0.1", "dmlc_tracker_port": 9099, "dmlc_task_id": "1"}
    assert waits == [train.JOIN_RETRY_SECONDS] * 2

    attempts.clear()
    fail_first = train.JOIN_ATTEMPTS
    with pytest.raises(xgb.core.XGBoostError):
        train._join("10.0.0.1", 9099, 1)
    assert len(attempts) == train.JOIN_ATTEMPTS

    def refused(**args: str) -> None:
        attempts.append(args)
        raise ValueError("not a connection failure")

    attempts.clear()
    monkeypatch.setattr(train.collective, "CommunicatorContext", refused)
    with pytest.raises(ValueError, match="not a connection failure"):
        train._join("10.0.0.1", 9099, 1)
    assert len(attempts) == 1


@pytest.mark.slow
@pytest.mark.waits  # XGBoost's own connect timeout, ~6 s
@pytest.mark.filterwarnings("ignore:.*(Failed to connect|Retrying connection):UserWarning")
def test_a_host_that_started_before_the_tracker_joins_it_once_it_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    """XGBoost itself: a join with no tracker listening fails with XGBoostError after XGBoost's own connect
    gives up (about 6 s), and the same process joins on the next attempt, once the tracker listens (started
    here in place of the wait between attempts). One worker, so the tracker needs no second host."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    trackers: list[Any] = []

    def start_tracker(seconds: float) -> None:
        assert seconds == train.JOIN_RETRY_SECONDS and not trackers, "one wait, after the first failure"
        tracker = train.RabitTracker(n_workers=1, host_ip="127.0.0.1", port=port, sortby="task")
        tracker.start()
        trackers.append(tracker)

    monkeypatch.setattr(train.time, "sleep", start_tracker)
    monkeypatch.setattr(train, "JOIN_ATTEMPTS", 2)  # the failure, then the join: a broken retry fails in seconds
    context = train._join("127.0.0.1", port, 0)  # raises XGBoostError unless the second attempt joined
    try:
        assert len(trackers) == 1 and xgb.collective.get_rank() == 0
    finally:
        context.__exit__(None, None, None)
        trackers[0].wait_for(timeout=60)
        trackers[0].free()


def test_train_takes_the_toolkits_arguments_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Script mode: hyperparameters arrive as `--name value`, locations as SM_CHANNEL_* and SM_MODEL_DIR."""
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "train"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    args = train.parse_args(["--max_depth", "6", "--eta", "0.05"])
    assert (args.max_depth, args.eta, args.num_round) == (6, 0.05, 100)
    assert (args.train, args.model_dir) == (tmp_path / "train", tmp_path / "model")
    with pytest.raises(SystemExit):
        train.parse_args(["--max_depth", "deep"])


def test_spot_restart_resumes_only_its_own_checkpoint(splits: Path, tmp_path: Path) -> None:
    data = train.load_channel(splits / "train", "train")
    validation = train.load_channel(splits / "validation", "validation")
    contract = XGBOOST.data.as_document(XGBOOST.task_type.value)
    params = {**train.booster_params(train.parse_args([]), contract), "max_depth": 2}
    train.train(data, validation, params, num_round=10, checkpoint_dir=tmp_path, checkpoint_every=5)
    assert json.loads((tmp_path / train.CHECKPOINT_META).read_text())["rounds"] == 10
    same_run = train.fingerprint(*data, params, 10)
    resumed, done = train.resume_from(tmp_path, same_run)
    assert resumed is not None and done == 10
    other_run = train.fingerprint(*data, {**params, "eta": 0.01}, 10)
    assert train.resume_from(tmp_path, other_run) == (None, 0)
    # Resuming a finished run adds no rounds.
    again = train.train(data, validation, params, num_round=10, checkpoint_dir=tmp_path, checkpoint_every=5)
    assert again.num_boosted_rounds() == 10


def test_the_xgboost_example_trains_the_contracts_task_and_refuses_categories(tmp_path: Path) -> None:
    splits = preprocessed(WINE, sample_data.sample_for(WINE.data), tmp_path / "wine")
    train.main(
        [
            "--num_round=3",
            *(f"--train={splits / 'train'}", f"--validation={splits / 'validation'}"),
            *(f"--model-dir={tmp_path / 'model'}", "--checkpoint-dir="),
        ]
    )
    booster = inference.model_fn(str(tmp_path / "model"))
    row = (splits / "test" / "test.csv").read_text().splitlines()[0].split(",", 1)[1]
    (probabilities,) = inference.predict_fn(inference.input_fn(row.encode(), "text/csv"), booster)
    assert probabilities.shape == (3,) and probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    categorical = preprocessed(DIABETES, sample_data.sample_for(DIABETES.data), tmp_path / "diabetes")
    with pytest.raises(train.TrainingDataError, match=r"categorical features \(sex, bmi_band\).*models/sklearn"):
        train.read_contract(categorical / "train")


def test_train_rejects_missing_and_non_numeric_channels(tmp_path: Path) -> None:
    with pytest.raises(train.TrainingDataError, match=r"Channel 'train': no \*\.csv file"):
        train.load_channel(tmp_path, "train")
    (tmp_path / "bad.csv").write_text("1,2,x\n0,3,4\n")
    with pytest.raises(train.TrainingDataError, match="Channel 'validation': non-numeric"):
        train.load_channel(tmp_path, "validation")


# --- evaluate -----------------------------------------------------------------------------


def test_metrics_match_hand_computed_values() -> None:
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.6, 0.4, 0.9])
    assert evaluate.auc(labels, scores) == pytest.approx(0.75)
    assert evaluate.accuracy(labels, scores) == pytest.approx(0.5)
    assert evaluate.f1(labels, scores) == pytest.approx(0.5)
    assert evaluate.auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("candidate", "champion", "passed", "reason"),
    [
        (0.90, None, True, "no champion yet"),
        (0.70, None, False, "auc 0.7000 is below the minimum 0.8000"),
        (0.895, 0.90, True, "champion 0.9000"),
        (0.85, 0.90, False, "0.0500 worse than the champion's 0.9000 (allowed regression 0.0100)"),
        (0.75, 0.90, False, "below the minimum 0.8000; auc 0.7500 is 0.1500 worse"),
    ],
    ids=["first-model", "first-model-too-weak", "within-tolerance", "regressed", "both-fail"],
)
def test_quality_gate_names_the_failed_condition_and_numbers(candidate, champion, passed, reason) -> None:
    decision = evaluate.quality_gate(
        metric="auc",
        candidate=candidate,
        champion=champion,
        threshold=0.8,
        allowed_regression=0.01,
        class_counts={0: 30, 1: 55},
    )
    assert decision.passed is passed
    assert reason in decision.reason


def test_gate_reports_the_regression_against_the_champion() -> None:
    both = {0: 30, 1: 55}
    first = evaluate.quality_gate(
        metric="auc", candidate=0.9, champion=None, threshold=0, allowed_regression=0, class_counts=both
    )
    assert first.regression == 0
    better = evaluate.quality_gate(
        metric="auc", candidate=0.95, champion=0.9, threshold=0, allowed_regression=0, class_counts=both
    )
    assert better.regression == pytest.approx(-0.05) and better.passed


def test_evaluate_rejects_missing_models_and_mismatched_test_data(splits: Path, tmp_path: Path) -> None:
    features, _ = evaluate.load_test(splits / "test")
    with pytest.raises(evaluate.EvaluationInputError, match="The candidate model is missing"):
        evaluate.predict(tmp_path / "nothing", features, "candidate", evaluate.BINARY)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(splits / "test" / "test.csv", arcname="not-a-model")
    with pytest.raises(evaluate.EvaluationInputError, match=r"has no code/inference.py: the training script must copy"):
        evaluate.predict(archive, features, "champion", evaluate.BINARY)
    with pytest.raises(evaluate.EvaluationInputError, match=r"Test data: no \*\.csv file"):
        evaluate.load_test(tmp_path)


# --- baseline -----------------------------------------------------------------------------


def test_baseline_has_the_model_monitor_shape_with_ten_buckets(splits: Path) -> None:
    contract = baseline.load_contract_features(splits / "train")
    features = baseline.load_training_features(splits / "train", contract)
    stats = baseline.statistics(features, contract)
    assert stats["version"] == 0.0 and stats["dataset"]["item_count"] == len(features)
    assert [f["name"] for f in stats["features"]] == list(XGBOOST.data.feature_names)
    first = stats["features"][0]["numerical_statistics"]
    buckets = first["distribution"]["kll"]["buckets"]
    assert len(buckets) == 10
    assert buckets[0]["lower_bound"] == first["min"] and buckets[-1]["upper_bound"] == first["max"]
    assert sum(b["count"] for b in buckets) == first["common"]["num_present"] == len(features)
    assert first["mean"] == pytest.approx(features[FIRST].mean())
    constraints = baseline.constraints(stats, contract)
    assert constraints["features"][0] == {
        "name": FIRST,
        "inferred_type": "Fractional",
        "completeness": 1.0,
        "num_constraints": {"is_non_negative": True},
    }
    assert "monitoring_config" in constraints


def test_baseline_counts_categories_in_model_monitors_string_statistics(tmp_path: Path) -> None:
    """string_statistics with distinct_count and categorical buckets, the domain the contract allows."""
    splits = preprocessed(DIABETES, sample_data.sample_for(DIABETES.data), tmp_path)
    contract = baseline.load_contract_features(splits / "train")
    table = baseline.load_training_features(splits / "train", contract)
    stats = {f["name"]: f for f in baseline.statistics(table, contract)["features"]}
    sex = stats["sex"]
    counts = {b["value"]: b["count"] for b in sex["string_statistics"]["distribution"]["categorical"]["buckets"]}
    assert sex["inferred_type"] == "String" and sex["string_statistics"]["distinct_count"] == 2
    assert counts == {k: int(v) for k, v in table["sex"].value_counts().items()}
    assert sex["string_statistics"]["common"] == {"num_present": len(table), "num_missing": 0}
    assert stats["age"]["inferred_type"] == "Integral" and stats["bmi"]["inferred_type"] == "Fractional"
    by_name = {c["name"]: c for c in baseline.constraints({"features": list(stats.values())}, contract)["features"]}
    assert by_name["bmi_band"]["string_constraints"] == {"domains": ["underweight", "normal", "overweight", "obese"]}
    distribution = baseline.constraints({"features": list(stats.values())}, contract)["monitoring_config"]
    assert distribution["distribution_constraints"]["categorical_drift_method"] == "LInfinity"


def test_baseline_histogram_of_a_constant_feature_is_one_bucket() -> None:
    stats = baseline.statistics(pd.DataFrame({"a": [2.0, 2.0]}), [{"name": "a", "kind": "numeric"}])
    (feature,) = stats["features"]
    assert feature["numerical_statistics"]["distribution"]["kll"]["buckets"] == [
        {"lower_bound": 2.0, "upper_bound": 2.0, "count": 2.0}
    ]


def test_baseline_streamed_in_chunks_equals_the_whole_split(tmp_path: Path) -> None:
    """Two passes over chunks (ranges and moments, then buckets) give what the whole table gives."""
    rng = np.random.default_rng(4)
    features = [
        {"name": "x", "kind": "numeric"},
        {"name": "n", "kind": "integer"},
        {"name": "c", "kind": "categorical"},
    ]
    table = pd.DataFrame(
        {
            "label": 0,
            "x": rng.lognormal(2, 1, 2_345),
            "n": rng.poisson(3, 2_345),
            "c": rng.choice(["a", "b", ""], 2_345),
        }
    )
    table.to_csv(tmp_path / "train.csv", header=False, index=False)
    whole = baseline.statistics(baseline.load_training_features(tmp_path, features), features)
    chunked = baseline.statistics_of_chunks(lambda: baseline.training_chunks(tmp_path, features, 100), features)
    x = chunked["features"][0]["numerical_statistics"]
    assert x["std_dev"] == pytest.approx(float(table["x"].std(ddof=0)), rel=1e-12)
    assert sum(b["count"] for b in x["distribution"]["kll"]["buckets"]) == 2_345
    moments = ("mean", "sum", "std_dev")
    for one, other in zip(whole["features"], chunked["features"], strict=True):
        first, second = (feature.get("numerical_statistics", {}) for feature in (one, other))
        assert [first.pop(m, None) for m in moments] == pytest.approx([second.pop(m, None) for m in moments])
        assert one == other, "buckets, ranges and counts are exact"
    assert chunked["features"][2]["string_statistics"]["common"] == {
        "num_present": int((table["c"] != "").sum()),
        "num_missing": int((table["c"] == "").sum()),
    }


def test_baseline_rejects_a_missing_contract_and_non_numeric_values(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("1,2.0\n")
    with pytest.raises(baseline.BaselineInputError, match=r"data_contract\.json is missing"):
        baseline.load_contract_features(tmp_path)
    features = [{"name": "a", "kind": "numeric"}]
    (tmp_path / "train.csv").write_text("1,2.0\n0,abc\n")
    with pytest.raises(baseline.BaselineInputError, match="feature 'a' has the non-numeric value 'abc' at row 2"):
        baseline.load_training_features(tmp_path, features)
    with pytest.raises(baseline.BaselineInputError, match="expected the label plus 2 features"):
        baseline.load_training_features(tmp_path, [*features, {"name": "b", "kind": "categorical"}])


# --- sample data and the local run ---------------------------------------------------------


def test_weekly_batch_drifts_by_the_requested_amount(raw: pd.DataFrame) -> None:
    calm = sample_data.weekly_batch(raw, XGBOOST.data, week=1, drift=0.0)
    drifted = sample_data.weekly_batch(raw, XGBOOST.data, week=1, drift=1.0)
    shift = (drifted[FIRST].mean() - calm[FIRST].mean()) / raw[FIRST].std()
    assert shift == pytest.approx(1.0, abs=0.05)
    pd.testing.assert_frame_equal(drifted, sample_data.weekly_batch(raw, XGBOOST.data, week=1, drift=1.0))
    with pytest.raises(ValueError, match="drift must be >= 0"):
        sample_data.weekly_batch(raw, XGBOOST.data, week=1, drift=-1)


def test_weekly_batch_moves_categories_to_the_rarest_and_keeps_integers_whole() -> None:
    base = sample_data.sample_for(DIABETES.data)
    drifted = sample_data.weekly_batch(base, DIABETES.data, week=1, drift=1.0)
    rarest = base["bmi_band"].value_counts().idxmin()
    assert (drifted["bmi_band"] == rarest).mean() > 0.5 > (base["bmi_band"] == rarest).mean()
    assert (drifted["age"] == drifted["age"].round()).all() and drifted["age"].mean() > base["age"].mean()


def test_a_users_csv_runs_through_the_local_pipeline(tmp_path: Path) -> None:
    """DATA=: a CSV written as the contract says (here the wine sample, ';'-delimited) instead of the bundled one."""
    own = sample_data.write_csv(sample_data.sample_for(WINE.data), tmp_path / "mine.csv", WINE.data)
    small = {"models/wine": {"n_estimators": "10"}}
    first, _ = local_run.run_local_pipeline(tmp_path / "run", drift=0.5, model=WINE, hyperparameters=small, data=own)
    assert set(first.report["multiclass_classification_metrics"]) == {"accuracy", "macro_f1", "log_loss"}
    assert first.report["metadata"][contracts.METADATA_CLASS_COUNT] == "3"
    other = tmp_path / "other.csv"
    other.write_text("cultivar;alcohol\nclass_0;13.2\n")
    with pytest.raises(
        SystemExit, match=r"other\.csv: columns do not match the data contract; missing: \['malic_acid'"
    ):
        local_run.main(["--model=models/wine", f"--data={other}", f"--output-dir={tmp_path / 'other'}"])


def test_local_pipeline_registers_a_first_model_then_compares_the_next_with_it(
    xgboost_local_run: list[local_run.RunResult],
) -> None:
    first, second = xgboost_local_run
    assert first.report["champion"] is None and first.report["gate"]["passed"]
    assert first.report["metadata"]["champion_metric_value"] == "none"
    comparison = second.report["comparison"]
    assert comparison["champion"] is not None
    assert comparison["delta"] == pytest.approx(comparison["candidate"] - comparison["champion"], abs=1e-6)
    # The first model has not seen the shifted data; the retrained one has.
    assert comparison["delta"] > 0 and second.report["gate"]["passed"]
    assert (second.baseline_dir / "statistics.json").exists() and (second.baseline_dir / "constraints.json").exists()
    assert comparison["basis"] == second.report["metadata"]["comparison_basis"] == evaluate.SAME_TEST_SPLIT
    table = local_run.metrics_table(second)
    assert "candidate" in table and "gate: REGISTER" in table
    assert "champion scored on this test split by its own inference code (xgboost:3.0-5)" in table


def test_local_gate_fails_a_candidate_below_the_minimum(tmp_path: Path) -> None:
    """The local pipeline's first run alone: the gate it applies has no champion to compare with."""
    csv = sample_data.write_csv(sample_data.sample_for(XGBOOST.data), tmp_path / "week-0.csv", XGBOOST.data)
    first = local_run.run_once(
        "first", csv, tmp_path, model=XGBOOST, champion=None, hyperparameters={"num_round": "2"}, threshold=0.9999
    )
    assert not first.report["gate"]["passed"]
    assert "below the minimum 0.9999" in local_run.metrics_table(first)


def test_evaluate_fetches_the_champion_in_the_region_it_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """boto3 reads only AWS_DEFAULT_REGION, which a processing job need not have: the definition passes --region."""
    import boto3

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    made: list[str | None] = []

    class S3:
        def download_file(self, bucket: str, key: str, target: str) -> None:
            Path(target).write_text('{"model": {}}')

    def client(name: str, region_name: str | None = None) -> S3:
        made.append(region_name)
        return S3()

    monkeypatch.setattr(boto3, "client", client)
    assert evaluate._read_report("s3://b/k/evaluation.json", tmp_path, "eu-central-1") == {"model": {}}
    assert made == ["eu-central-1"]
    definition = json.loads((ROOT / "pipeline_steps" / "definitions" / "model_build.json").read_text())
    (step,) = [s for s in definition["Steps"] if s["Name"] == "Evaluate"]
    assert "--region=${AWS::Region}" in step["Arguments"]["AppSpecification"]["ContainerArguments"]
