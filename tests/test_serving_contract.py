"""Serving that a client cannot turn against us: each example's inference.py behind the toolkit's semantics,
and its code/ installed at start-up without a network.

Both example images serve script-mode models through sagemaker-containers 2.8.6.post2
(sagemaker-scikit-learn-container 1.2-1 serving.py, sagemaker-xgboost-container 3.0-5 serving.py);
`toolkit_response` follows its _transformer.Transformer: input_fn, predict_fn and output_fn are
wrapped by _functions.error_wrapper, so any exception they raise becomes a ClientError that the
Flask worker answers with HTTP 500; output_fn's tuple is sent with 200, a response object with
its own status. At start, _modules.import_module writes a setup.py into the code directory when
it has none (prepare) and runs `python -m pip install .` there (install).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import config
from pipeline_steps import model_build_pipeline, sample_data
from tests.support import model_source, preprocessed

XGBOOST = config.load_model("models/xgboost")
DIABETES = config.load_model("models/diabetes")
CSV = "text/csv"


def toolkit_response(module: Any, model: Any, body: bytes, content_type: str, accept: str = CSV) -> tuple[int, str]:
    """(HTTP status, body) as sagemaker-containers' Transformer and Flask worker would send them."""
    try:
        result = module.output_fn(module.predict_fn(module.input_fn(body, content_type), model), accept)
    except Exception:
        return 500, ""
    if isinstance(result, tuple):
        return 200, str(result[0])
    return int(result.status_code), result.get_data(as_text=True)


def trained(model: config.ModelConfig, source: str, root: Path, *arguments: str) -> tuple[Any, Any, Path]:
    """(inference module, loaded model, model directory): `source`'s train.py run on `model`'s sample."""
    splits = preprocessed(model, sample_data.sample_for(model.data), root)
    channels = (f"--train={splits / 'train'}", f"--validation={splits / 'validation'}")
    model_source(source, "train").main([*arguments, *channels, f"--model-dir={root / 'model'}"])
    inference = model_source(source, "inference")
    return inference, inference.model_fn(str(root / "model")), root / "model"


@pytest.fixture(scope="module")
def xgboost_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    return trained(XGBOOST, "xgboost", tmp_path_factory.mktemp("xgboost"), "--num_round=3", "--checkpoint-dir=")


@pytest.fixture(scope="module")
def sklearn_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    """The scikit-learn source on the diabetes contract: numbers and categories."""
    return trained(DIABETES, "sklearn", tmp_path_factory.mktemp("sklearn"), "--n_estimators=5")


def request_row(model_dir: Path) -> bytes:
    """A held-out row as the endpoint takes it (the label dropped)."""
    splits = model_dir.parent / "splits"
    return (splits / "test" / "test.csv").read_text().splitlines()[0].split(",", 1)[1].encode()


@pytest.mark.parametrize("example", ["xgboost_model", "sklearn_model"])
def test_a_good_request_is_answered_with_200(example: str, request: pytest.FixtureRequest) -> None:
    module, model, model_dir = request.getfixturevalue(example)
    row = request_row(model_dir)
    status, body = toolkit_response(module, model, row + b"\n" + row, "text/csv; charset=utf-8", "*/*")
    assert status == 200 and len(body.splitlines()) == 2


@pytest.mark.parametrize("example", ["xgboost_model", "sklearn_model"])
@pytest.mark.parametrize(
    ("make_body", "content_type", "accept", "status", "says"),
    [
        (lambda row: b'{"instances": [1]}', "application/json", CSV, 415, "Unsupported content type"),
        (lambda row: row + b",1.0", CSV, CSV, 400, "The model expects"),
        (lambda row: b"\xff\xfe\x00", CSV, CSV, 400, "UTF-8"),
        (lambda row: b"", CSV, CSV, 400, "The body"),
        (lambda row: row + b"\n" + row.rsplit(b",", 1)[0], CSV, CSV, 400, "The body"),
        (lambda row: row, CSV, "application/json", 406, "Unsupported accept type"),
    ],
    ids=["json-body", "extra-feature", "not-utf8", "empty", "ragged-rows", "json-accept"],
)
def test_a_request_the_model_cannot_answer_is_a_client_error_never_a_500(
    example: str, make_body: Any, content_type: str, accept: str, status: int, says: str, request: pytest.FixtureRequest
) -> None:
    """A 5XX feeds the rollback alarms: one misbehaving client must not be able to roll a release back."""
    module, model, model_dir = request.getfixturevalue(example)
    answer = toolkit_response(module, model, make_body(request_row(model_dir)), content_type, accept)
    assert answer[0] == status and says in answer[1], answer


@pytest.mark.parametrize(
    ("example", "cell"), [("xgboost_model", b"abc"), ("sklearn_model", b"not-a-number")], ids=["xgboost", "sklearn"]
)
def test_a_word_where_a_number_belongs_is_a_400(example: str, cell: bytes, request: pytest.FixtureRequest) -> None:
    module, model, model_dir = request.getfixturevalue(example)
    row = request_row(model_dir).split(b",")
    # The first numeric feature of either contract (diabetes: age; breast cancer: the first one).
    row[0] = cell
    status, body = toolkit_response(module, model, b",".join(row), CSV)
    assert status == 400 and "number" in body


@pytest.mark.parametrize("example", ["xgboost_model", "sklearn_model"])
@pytest.mark.parametrize("cell", [b"inf", b"-Infinity", b"1e400", b"nan"])
def test_a_number_that_is_not_finite_is_a_400(example: str, cell: bytes, request: pytest.FixtureRequest) -> None:
    """Both estimators raise on infinity: left to them, any client could make the endpoint answer 500."""
    module, model, model_dir = request.getfixturevalue(example)
    row = request_row(model_dir).split(b",")
    row[0] = cell
    status, body = toolkit_response(module, model, b",".join(row), CSV)
    assert status == 400 and "finite number" in body, (status, body)


def test_an_unseen_category_is_answered_not_refused(sklearn_model: tuple[Any, Any, Path]) -> None:
    """The drift check counts it; the one-hot encoding ignores it."""
    module, model, model_dir = sklearn_model
    row = request_row(model_dir).decode().split(",")
    row[-1] = "not-a-band"
    assert toolkit_response(module, model, ",".join(row).encode(), CSV)[0] == 200


# --- start-up without a network ------------------------------------------------------------------


def toolkit_prepare(code: Path, name: str) -> None:
    """What sagemaker-containers' _modules.prepare writes into a code directory without a setup.py."""
    (code / "setup.py").write_text(
        textwrap.dedent(
            f"""
            from setuptools import setup
            setup(packages=[''], name="{name}", version='1.0.0', include_package_data=True)
            """
        )
    )
    (code / "setup.cfg").write_text("[wheel]\nuniversal = 1\n")
    (code / "MANIFEST.in").write_text("recursive-include . *\nrecursive-exclude . __pycache__*\n")


def offline_install(code: Path, target: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m pip install .` in `code`, as the toolkit runs it, with no index to download from.

    Every PIP_* variable of this machine is dropped (its find-links too): only the model's
    environment configures pip. The install goes to `target`, not into this interpreter.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(environment)
    env["PIP_NO_INDEX"] = "1"  # no network: nothing can be fetched
    command = [sys.executable, "-m", "pip", "install", ".", "--target", str(target), "--quiet"]
    return subprocess.run(command, cwd=code, env=env, capture_output=True, text=True, check=False, timeout=300)


@pytest.mark.parametrize("example", ["xgboost_model", "sklearn_model"])
def test_the_code_installs_at_start_without_a_network_with_the_registered_environment(
    example: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    _, _, model_dir = request.getfixturevalue(example)
    code = tmp_path / "code"
    shutil.copytree(model_dir / "code", code)
    toolkit_prepare(code, "inference")
    pip_settings = {k: v for k, v in model_build_pipeline.SERVING_ENVIRONMENT.items() if k.startswith("PIP_")}
    installed = offline_install(code, tmp_path / "site", pip_settings)
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "site" / "inference.py").is_file()


def test_without_the_setting_the_same_install_needs_the_network(
    xgboost_model: tuple[Any, Any, Path], tmp_path: Path
) -> None:
    """The failure the setting prevents: an isolated build fetches setuptools from the index first."""
    code = tmp_path / "code"
    shutil.copytree(xgboost_model[2] / "code", code)
    toolkit_prepare(code, "inference")
    isolated = offline_install(code, tmp_path / "site", {})
    assert isolated.returncode != 0 and "setuptools" in isolated.stdout + isolated.stderr
    # pip applies PIP_NO_BUILD_ISOLATION to the option's destination (build_isolation): "true" keeps it on.
    still_isolated = offline_install(code, tmp_path / "site", {"PIP_NO_BUILD_ISOLATION": "true"})
    assert still_isolated.returncode != 0


def test_every_example_image_has_the_build_tools_the_offline_install_uses() -> None:
    from pipeline_steps import images

    for contract in {images.XGBOOST, images.SKLEARN}:
        assert {"setuptools", "wheel", "werkzeug"} <= contract.modules, contract.framework
