"""Every step script and every example model's code, run as SageMaker runs it, on its image's Python and packages.

vermin (tests/test_image_contracts.py) sees syntax; this sees behaviour: `datetime.fromisoformat`
of Python 3.9, pandas 1.1 of the scikit-learn image, numpy 2 of the XGBoost image. An example
model's data (one example per source directory) goes through the model-building pipeline's steps,
each step in the venv of its image
(pipeline_steps/image_venvs.py, built by `make image-venvs`), wired as the checked-in definitions wire
them: every job's container entry point, arguments, input and output paths and the parameters'
defaults come from pipeline_steps/definitions/, each job gets a /opt/ml of its own under a temporary
directory, and what one step writes to "S3" the next reads, by the definition's references. Then
the trained model answers requests through its inference handlers as the serving toolkit calls
them, and the drift check (the scikit-learn image, whatever the model's) compares a shifted batch
of captured requests with the baseline the model's image wrote.

Each process gets only the environment SageMaker gives it: PATH, HOME, LANG, the training
toolkit's SM_* variables for training, the definition's Environment for processing and serving;
no AWS_DEFAULT_REGION (the region reaches a script only as the definition's --region argument),
no credentials. Nothing calls AWS: the drift check gets its local options (--no-publish, a local
capture folder and baseline), as pipeline_steps/local_drift_check.py runs it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import config
from pipeline_steps import checked_in, image_venvs, local_drift_check, sample_data
from pipeline_steps.images import EXAMPLE_MODEL_IMAGES, SKLEARN, STEP_IMAGES, ImageContract

pytestmark = pytest.mark.slow

# The container's root of SageMaker's paths (inputs, outputs, model, code); each job's is mapped
# onto a folder of its own.
OPT_ML = "/opt/ml"
SERVING_DRIVER = Path(__file__).with_name("toolkit_serving.py")
REGION = "eu-west-1"
# Execution.StartDateTime as an ISO-8601 UTC time with a fraction and "Z", which Python 3.9's
# fromisoformat refuses (the drift check parses it itself).
STARTED_AT = datetime(2026, 1, 1, 12, 0, 0, 250000, tzinfo=UTC)
EXECUTION_ID = "local-execution"
# Test values of what CloudFormation (Fn::Sub) puts into the definitions.
SUBSTITUTIONS = {
    "AWS::Region": REGION,
    "ArtifactsBucket": "artifacts",
    "CodeAssetBucket": "code",
    "CodeBucket": "code",
    "ModelSourceKey": "model-source.tar.gz",
}


def interpreter(image: ImageContract) -> Path:
    """The image venv's Python; skips only when pyenv lacks the image's Python, fails when the venv is stale."""
    python = image_venvs.pyenv_python(image)
    if python is None:
        pytest.skip(f"no pyenv Python {image.python_label} for the {image.framework} {image.version} image's venv")
    assert image_venvs.is_current(image, python), (
        f"{image_venvs.venv_dir(image)} is missing or not built from images.py's pins: run `make image-venvs`"
    )
    return image_venvs.venv_python(image)


def container_environment(python: Path, home: Path, extra: Mapping[str, str] = {}) -> dict[str, str]:
    """What a SageMaker container has, and nothing of this machine's AWS settings.

    OPENBLAS_* pass through: this machine sets them where older OpenBLAS builds (numpy 1.24's)
    compute wrong results on its processor; they are no AWS setting.
    """
    machine = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    return {
        "PATH": f"{python.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        **machine,
        **extra,
    }


def container_path_options(script: Path) -> dict[str, str]:
    """The script's options whose default is a container path under /opt/ml: option -> that path."""
    found = {}
    for node in ast.walk(ast.parse(script.read_text())):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and node.args):
            continue
        default = next((k.value for k in node.keywords if k.arg == "default"), None)
        if isinstance(default, ast.Call) and default.args:  # Path("/opt/ml/...")
            default = default.args[0]
        if isinstance(default, ast.Constant) and str(default.value).startswith(OPT_ML):
            found[str(getattr(node.args[0], "value", ""))] = str(default.value)
    return found


def in_container(value: str, opt: Path) -> str:
    """A container path in an argument or variable (`/opt/ml/...`, `--name=/opt/ml/...`) moved under `opt`."""
    return re.sub(rf"(^|=){re.escape(OPT_ML)}/", lambda m: f"{m.group(1)}{opt}/", value)


@dataclass
class LocalSageMaker:
    """Runs a definition's jobs on this machine: each job's /opt/ml a folder of its own, S3 a dict of paths."""

    root: Path
    values: dict[str, Any]  # "${Name}" substitutions and the Get references (parameters, execution, steps)
    s3: dict[str, Path] = field(default_factory=dict)
    jobs: int = 0

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"\$\{([\w:]+)\}", lambda m: str(self.values[m.group(1)]), value)
        if isinstance(value, dict) and "Get" in value:
            return self.values[value["Get"]]
        if isinstance(value, dict) and "Std:Join" in value:
            join = value["Std:Join"]
            return join["On"].join(str(self.resolve(v)) for v in join["Values"])
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def parameters(self, definition: Mapping[str, Any], **test_values: Any) -> None:
        for parameter in definition["Parameters"]:
            name = parameter["Name"]
            default = test_values.get(name, self.resolve(parameter.get("DefaultValue", "")))
            self.values[f"Parameters.{name}"] = default

    def container(self, name: str) -> Path:
        self.jobs += 1
        opt = self.root / f"{self.jobs:02d}-{name}" / OPT_ML.lstrip("/")
        opt.mkdir(parents=True)
        return opt

    def download(self, uri: str, local: Path) -> None:
        """An S3Prefix input: the objects under `uri` into `local`, as File mode does."""
        source = self.s3[uri]
        if source.is_dir():
            shutil.copytree(source, local, dirs_exist_ok=True)
        else:
            local.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, local / source.name)

    def run(self, command: list[str], opt: Path, environment: Mapping[str, str], cwd: Path) -> str:
        home = opt.parent / "home"
        home.mkdir(exist_ok=True)
        python = Path(command[0])
        result = subprocess.run(
            command, cwd=cwd, env=container_environment(python, home, environment), capture_output=True, text=True
        )
        assert result.returncode == 0, f"{' '.join(command[1:2])} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def processing(self, step: Mapping[str, Any], python: Path, *extra_arguments: str) -> dict[str, Path]:
        """One processing job; registers its outputs' S3 URIs and returns their local folders by name."""
        arguments = step["Arguments"]
        opt = self.container(step["Name"])

        def local(path: str) -> Path:
            assert path.startswith(OPT_ML), path
            return opt / path[len(OPT_ML) + 1 :]

        for job_input in arguments["ProcessingInputs"]:
            s3_input = job_input["S3Input"]
            # botocore's ProcessingS3Input.LocalPath: "must begin with /opt/ml/processing/".
            assert s3_input["LocalPath"].startswith(f"{OPT_ML}/processing/"), s3_input
            self.download(self.resolve(s3_input["S3Uri"]), local(s3_input["LocalPath"]))
        app = arguments["AppSpecification"]
        entrypoint = self.resolve(app["ContainerEntrypoint"])
        assert entrypoint[0] == "python3", entrypoint
        given = [in_container(str(a), opt) for a in self.resolve(app.get("ContainerArguments", []))]
        outputs = arguments["ProcessingOutputConfig"]["Outputs"]
        mounted = [i["S3Input"]["LocalPath"] for i in arguments["ProcessingInputs"]]
        mounted += [o["S3Output"]["LocalPath"] for o in outputs]
        path_options = []
        for option, path in container_path_options(local(entrypoint[1])).items():
            # The script's default must be where the definition mounts its input or output (or their parent).
            assert any(m == path or m.startswith(f"{path}/") for m in mounted), (step["Name"], option, path)
            if not any(a == option or a.startswith(f"{option}=") for a in given):
                path_options.append(f"{option}={local(path)}")
        command = [str(python), str(local(entrypoint[1])), *given, *path_options, *extra_arguments]
        self.run(command, opt, self.resolve(arguments.get("Environment", {})), cwd=opt.parent)
        found = {}
        for output in outputs:
            folder = local(output["S3Output"]["LocalPath"])
            self.s3[self.resolve(output["S3Output"]["S3Uri"])] = folder
            reference = f"Steps.{step['Name']}.ProcessingOutputConfig.Outputs['{output['OutputName']}'].S3Output.S3Uri"
            self.values[reference] = self.resolve(output["S3Output"]["S3Uri"])
            found[output["OutputName"]] = folder
        return found

    def training(self, step: Mapping[str, Any], python: Path, source_dir: Path) -> Path:
        """One script-mode training job, as the framework image's training toolkit runs it; returns model.tar.gz.

        Environment: the toolkit's documented SM_* variables (github.com/aws/sagemaker-training-toolkit
        ENVIRONMENT_VARIABLES.md, and sagemaker_training/environment.py `to_env_vars`: SM_ + the
        key upper-cased, JSON for what is not a string). Arguments: each hyperparameter other than
        SageMaker's own `sagemaker_*` as `--name value`; the entry point (sagemaker_program) runs
        from the source directory, downloaded to /opt/ml/code.
        """
        arguments = step["Arguments"]
        opt = self.container(step["Name"])
        channels = {}
        for channel in arguments["InputDataConfig"]:
            name = channel["ChannelName"]
            channels[name] = opt / "input" / "data" / name
            self.download(self.resolve(channel["DataSource"]["S3DataSource"]["S3Uri"]), channels[name])
        code = opt / "code"
        shutil.copytree(source_dir, code, ignore=shutil.ignore_patterns("__pycache__"))
        baked = self.resolve(arguments["HyperParameters"])
        user = {k: v for k, v in baked.items() if not k.startswith("sagemaker_")}
        hosts = ["algo-1"]
        resource = {"current_host": hosts[0], "hosts": hosts}
        environment = {
            "SM_MODEL_DIR": str(opt / "model"),
            "SM_CHANNELS": json.dumps(sorted(channels)),
            **{f"SM_CHANNEL_{name.upper()}": str(path) for name, path in channels.items()},
            "SM_HPS": json.dumps(user),
            **{f"SM_HP_{name.upper()}": value for name, value in user.items()},
            "SM_HOSTS": json.dumps(hosts),
            "SM_CURRENT_HOST": hosts[0],
            "SM_RESOURCE_CONFIG": json.dumps(resource),
            "SM_NUM_CPUS": "2",
            "SM_NUM_GPUS": "0",
            "SM_LOG_LEVEL": "20",
            "SM_NETWORK_INTERFACE_NAME": "eth0",
            "SM_INPUT_DIR": str(opt / "input"),
            "SM_INPUT_CONFIG_DIR": str(opt / "input" / "config"),
            "SM_OUTPUT_DIR": str(opt / "output"),
            "SM_OUTPUT_DATA_DIR": str(opt / "output" / "data"),
            "SM_USER_ENTRY_POINT": baked["sagemaker_program"],
            "SM_USER_ARGS": json.dumps([part for name, value in user.items() for part in (f"--{name}", str(value))]),
        }
        user_arguments = json.loads(environment["SM_USER_ARGS"])
        self.run([str(python), baked["sagemaker_program"], *user_arguments], opt, environment, cwd=code)
        # SageMaker uploads /opt/ml/model as model.tar.gz under the job's output path.
        archive = opt.parent / "output" / "model.tar.gz"
        archive.parent.mkdir()
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted((opt / "model").rglob("*")):
                tar.add(path, arcname=str(path.relative_to(opt / "model")), recursive=False)
        uri = f"{self.resolve(arguments['OutputDataConfig']['S3OutputPath'])}/{EXECUTION_ID}/output/model.tar.gz"
        self.s3[uri] = archive
        self.values[f"Steps.{step['Name']}.ModelArtifacts.S3ModelArtifacts"] = uri
        return archive

    def serving(
        self, container: Mapping[str, Any], python: Path, requests: list[dict[str, str | None]]
    ) -> list[dict[str, Any]]:
        """The registered container: model.tar.gz into /opt/ml/model, the handlers called as the toolkit calls them."""
        opt = self.container("Serve")
        model_dir = opt / "model"
        with tarfile.open(self.s3[self.resolve(container["ModelDataUrl"])]) as tar:
            tar.extractall(model_dir)  # noqa: S202 - the archive this test made
        environment = {k: in_container(str(v), opt) for k, v in self.resolve(container["Environment"]).items()}
        request_file = opt.parent / "requests.json"
        request_file.write_text(json.dumps(requests))
        output = self.run(
            [str(python), str(SERVING_DRIVER), str(model_dir), str(request_file)], opt, environment, cwd=opt
        )
        return list(json.loads(output))


def steps(definition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every step, those nested in a condition's branches included."""
    for step in definition["Steps"]:
        yield step
        for branch in ("IfSteps", "ElseSteps"):
            yield from steps({"Steps": step.get("Arguments", {}).get(branch, [])})


# The settings of cdk.json's model that the generated definition bakes into arguments (inputs.json's keys).
BAKED_ARGUMENTS = ("task_type", "metric.name", "metric.higher_is_better", "images.inference")


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def as_generated_for(definition: Mapping[str, Any], model: config.ModelConfig) -> dict[str, Any]:
    """The model-build definition as the builder writes it for `model`. The checked-in one is generated for
    cdk.json's model; another model's differs in what model_build.inputs.json records: the evaluate
    arguments, the metric parameters' defaults, the training job's entry point and hyperparameters."""
    inputs = json.loads(checked_in.MODEL_BUILD_INPUTS.read_text())
    wanted = checked_in.model_inputs(model)
    text = json.dumps(definition)
    for key in BAKED_ARGUMENTS:
        old, new = _text(inputs[f"mlops.model_build.model.{key}"]), _text(wanted[key])
        text = re.sub(rf'"(--[\w-]+)={re.escape(old)}"', lambda m, new=new: f'"{m.group(1)}={new}"', text)
    generated = dict(json.loads(text))
    defaults = {"MetricThreshold": model.metric.threshold, "AllowedRegression": model.metric.allowed_regression}
    for parameter in generated["Parameters"]:
        parameter["DefaultValue"] = defaults.get(parameter["Name"], parameter.get("DefaultValue"))
    (train,) = [step["Arguments"] for step in steps(generated) if step["Type"] == "Training"]
    sagemaker_own = {k: v for k, v in train["HyperParameters"].items() if k.startswith("sagemaker_")}
    train["HyperParameters"] = {**model.hyperparameter_map, **sagemaker_own, "sagemaker_program": model.entry_point}
    return generated


def capture_batch(model: config.ModelConfig, folder: Path, end: datetime) -> list[str]:
    """Data capture of a batch of the model's data with every other feature shifted; returns the shifted ones."""
    contract = model.data
    base = sample_data.sample_for(contract)
    batch = sample_data.weekly_batch(base, contract, week=1, drift=0.0)
    shifted = local_drift_check.shifted_features(contract)
    drifted = sample_data.shifted(batch, base, contract, shifted, local_drift_check.SHIFT_STD, np.random.default_rng(7))
    hour = folder / "endpoint" / "AllTraffic" / f"{end:%Y/%m/%d/%H}"
    hour.mkdir(parents=True)
    lines = local_drift_check.capture_lines(drifted, contract.feature_names, end)
    (hour / "capture.jsonl").write_text("\n".join(lines) + "\n")
    return shifted


def sample_requests(payload: Path) -> str:
    with tarfile.open(payload) as tar:
        member = next(m for m in tar.getmembers() if m.isfile())
        handle = tar.extractfile(member)
        assert handle is not None
        return handle.read().decode("utf-8")


def examples_to_run() -> list[str]:
    """One example model per source directory (the examples that share one differ only in data): the one
    whose data has the most kinds of features, as categorical ones take the most code (encoding,
    unseen categories)."""
    chosen: dict[Path, config.ModelConfig] = {}
    for name in sorted(EXAMPLE_MODEL_IMAGES):
        model = config.load_model(str(image_venvs.MODELS_DIR / name))
        current = chosen.get(model.source_dir)
        if current is None or len({f.kind for f in model.data.features}) > len({f.kind for f in current.data.features}):
            chosen[model.source_dir] = model
    return sorted(Path(model.origin).name for model in chosen.values())


EXAMPLES = examples_to_run()


def test_the_runs_cover_every_image_a_step_script_runs_in() -> None:
    assert {image for images in STEP_IMAGES.values() for image in images} <= {
        EXAMPLE_MODEL_IMAGES[example] for example in EXAMPLES
    }


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_step_and_model_runs_on_its_images_python_and_packages(example: str, tmp_path: Path) -> None:
    image = EXAMPLE_MODEL_IMAGES[example]
    python = interpreter(image)
    model = config.load_model(str(image_venvs.MODELS_DIR / example))
    drift_python = interpreter(SKLEARN)
    assert STEP_IMAGES["drift_check"] == (SKLEARN,)
    build = as_generated_for(json.loads(checked_in.MODEL_BUILD_DEFINITION.read_text()), model)

    local = LocalSageMaker(tmp_path, {**SUBSTITUTIONS, "Execution.PipelineExecutionId": EXECUTION_ID})
    code = f"s3://{SUBSTITUTIONS['CodeAssetBucket']}"
    for name in STEP_IMAGES:
        local.values[f"{name.title().replace('_', '')}CodeKey"] = f"{name}.py"
        local.s3[f"{code}/{name}.py"] = checked_in.step_script(name)
    contract_file = tmp_path / "contract" / "data_contract.json"
    contract_file.parent.mkdir()
    contract_file.write_text(json.dumps(model.data.as_document(model.task_type.value)))
    local.values["DataContractKey"] = "contract/"
    local.s3[f"{code}/contract/"] = contract_file.parent
    metric = model.metric
    local.parameters(build)
    raw = sample_data.write_csv(sample_data.sample_for(model.data), tmp_path / "raw" / "data.csv", model.data)
    local.s3[local.values["Parameters.InputManifestUri"]] = raw.parent

    outputs = {}
    for step in build["Steps"]:  # in the definition's order, which is the order of their dependencies
        if step["Type"] == "Processing":
            outputs[step["Name"]] = local.processing(step, python)
        elif step["Type"] == "Training":
            archive = local.training(step, python, model.source_dir)
    baseline = outputs["Baseline"]["baseline"]

    report = json.loads((outputs["Evaluate"]["evaluation"] / "evaluation.json").read_text())
    assert report["gate"]["passed"], report["gate"]
    assert report["comparison"]["metric"] == metric.name
    assert report["model"]["inference_image"] == model.images.inference.label
    statistics = json.loads((baseline / "statistics.json").read_text())
    assert {f["name"] for f in statistics["features"]} == set(model.data.feature_names)
    assert archive.is_file()

    # The registered version's container, serving the held-out sample payload and one refused request.
    (register,) = [step for step in steps(build) if step["Type"] == "RegisterModel"]
    (container,) = register["Arguments"]["InferenceSpecification"]["Containers"]
    body = sample_requests(next(outputs["Preprocess"]["sample"].glob("*.tar.gz")))
    # Without an Accept the toolkit takes the container's SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT; a charset
    # parameter makes the body reach input_fn as bytes instead of text.
    served, unlabelled, as_bytes, refused = local.serving(
        container,
        python,
        [
            {"body": body, "content_type": "text/csv", "accept": "text/csv"},
            {"body": body, "content_type": "text/csv", "accept": None},
            {"body": body, "content_type": "text/csv; charset=utf-8", "accept": "*/*"},
            {"body": body, "content_type": "application/json", "accept": "text/csv"},
        ],
    )
    answers = [list(map(float, line.split(","))) for line in served["body"].splitlines()]
    assert served["status"] == 200 and served["content_type"] == "text/csv"
    assert unlabelled == served and as_bytes == served
    assert len(answers) == len(body.splitlines()) and all(np.isfinite(a).all() for a in answers)
    if model.data.classes:
        width = 1 if len(model.data.classes) == 2 else len(model.data.classes)
        assert all(len(a) == width and all(0.0 <= p <= 1.0 for p in a) for a in answers)
    assert refused["status"] == 415

    # The drift check (its image whatever the model's), on the baseline this model's image wrote.
    drift = json.loads(checked_in.DRIFT_CHECK_DEFINITION.read_text())
    drift_config = config.load_cdk_json().build_environment.drift
    capture = tmp_path / "capture"
    shifted = capture_batch(model, capture, STARTED_AT.replace(microsecond=0) - timedelta(minutes=1))
    local.values.update(
        {
            "CodeKey": "drift_check.py",
            "ReportsUri": "s3://artifacts/drift-reports",
            "CaptureUri": str(capture),
            "EndpointName": "endpoint",
            "MetricNamespace": "Test/Drift",
            "DriftThreshold": f"{drift_config.threshold:g}",
            "FalseAlarmRate": f"{drift_config.false_alarm_rate:g}",
            "DetectionPower": f"{drift_config.detection_power:g}",
            "DetectableShift": f"{drift_config.detectable_shift_std:g}",
            "MaxRejectedFraction": f"{drift_config.max_rejected_fraction:g}",
            "WindowHours": str(drift_config.window_hours),
            "Execution.StartDateTime": STARTED_AT.isoformat().replace("+00:00", "Z"),
        }
    )
    local.parameters(drift, BaselineStatisticsUri=str(baseline / "statistics.json"))
    for step in drift["Steps"]:
        found = local.processing(step, drift_python, "--no-publish")
    drift_report = json.loads((found["report"] / "drift-report.json").read_text())
    assert drift_report["status"] == "drift", drift_report
    assert sorted(drift_report["drifted_features"]) == sorted(shifted)


def test_the_definition_rewritten_for_the_model_it_was_generated_for_is_unchanged() -> None:
    definition = json.loads(checked_in.MODEL_BUILD_DEFINITION.read_text())
    assert as_generated_for(definition, config.load_cdk_json().model_build.model) == definition
