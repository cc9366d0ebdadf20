"""Shared fixtures: fake AWS credentials, the real cdk.json context, one synth of the app per test run."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Tests never reach AWS: fake credentials and a fixed region before any client is built.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        # aws-cdk-lib's built-in CloudFormation validation fails synth in this project (cdk.json sets
        # @aws-cdk/core:validateAgainstDefaultRules) and starts a rules engine of ~4-5 s of CPU in each
        # process that synthesizes: ~12 s of a run with two workers. The tests' own synths leave it
        # out; app.py as the CLI runs it keeps it (cli_environment). Every documented layout is
        # synthesized that way: the four accounts without releases (`make synth`, and the slow tier's
        # app.py run), with releases (`make synth-example`), the sandbox (`make synth-sandbox`), the
        # last two in CI (.ci/run), and the VPC layout of every option (tests/test_app_script.py).
        "CDK_VALIDATION": "false",
    }
)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_loader() -> Iterator[None]:
    """One service-model loader per data path, shared by every botocore session of the run.

    moto gives every test a new boto3 default session, and each new botocore session parses the
    service models it needs again (sagemaker's alone is megabytes of JSON): most of the time the
    moto tests took. The SageMaker SDK creates a loader of its own for each image URI it
    resolves (`image_uris.retrieve`, once per region) and parses botocore's endpoint data each
    time (the checked-in files' builds: model build 13.5 s of CPU before, 4 s after; drift check
    7 s, 2.3 s). The models are the same read-only files for every session, so sharing cannot
    leak state; tests/test_suite_rules.py checks that it still takes effect.
    """
    shared = functools.cache(botocore.loaders.create_loader)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared)
        patch.setattr(botocore.loaders, "create_loader", shared)
        yield


# A version ARN in the shape the registry returns, so serving stacks synthesize offline.
EXAMPLE_RELEASE_ARN = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/3"


# The session's synthesized layouts and app.py runs, by the tier a test that asks for one is in.
# Tests that build apps of their own declare `template` themselves (pytestmark or a mark on the
# test); tests/test_suite_rules.py checks that none is left undeclared.
FIXTURE_TIERS = {
    "assembly": "template",
    "variant_assembly": "template",
    "sandbox_assembly": "template",
    "insecure_prod_synth": "template",
    "app_py_without_releases": "slow",
    "variant_model_build_definition": "slow",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for a synthesized layout or an app.py run is in that fixture's tier: as an
    argument, or by the fixture's name as a parameter (`request.getfixturevalue(layout)`).

    Tests marked `waits` (seconds of a library's timeout, no CPU) run first: the workers hand out
    tests in this order, so the other worker's work overlaps the wait instead of following it."""
    items.sort(key=lambda item: item.get_closest_marker("waits") is None)
    for item in items:
        callspec = getattr(item, "callspec", None)
        asked = [*getattr(item, "fixturenames", ()), *(callspec.params.values() if callspec else ())]
        tiers = {FIXTURE_TIERS[name] for name in asked if isinstance(name, str) and name in FIXTURE_TIERS}
        if "slow" in tiers:
            item.add_marker(pytest.mark.slow)
        elif tiers and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.template)


def cdk_json_context() -> dict[str, Any]:
    """The context block of the real cdk.json, so tests see what `cdk synth` sees."""
    return dict(json.loads((ROOT / "cdk.json").read_text())["context"])


def configured_features() -> tuple[str, ...]:
    """The features of the data contract cdk.json's model names (tests hold whatever model is configured)."""
    import config

    return config.load_cdk_json().model_build.model.data.feature_names


def raw_config() -> dict[str, Any]:
    """A deep copy of the `mlops` settings from cdk.json, for tests that edit them."""
    return json.loads(json.dumps(cdk_json_context()["mlops"]))


def _account_region(environment: str) -> tuple[str, str]:
    account, region = environment.removeprefix("aws://").split("/", 1)
    return account, region


class Assembly:
    """A synthesized cloud assembly with templates looked up by stack name."""

    def __init__(self, directory: Path) -> None:
        from scripts.list_templates import stacks

        self.directory = directory
        found = stacks(directory)
        self.templates: dict[str, dict[str, Any]] = {name: json.loads(path.read_text()) for name, _, path in found}
        # Stack name -> (account, region), from the manifest's aws://account/region.
        self.environments = {name: _account_region(environment) for name, environment, _ in found}

    def template(self, stack_name: str) -> Any:
        from aws_cdk.assertions import Template

        if stack_name not in self.templates:
            raise KeyError(f"No stack {stack_name!r}; synthesized: {sorted(self.templates)}")
        return Template.from_json(self.templates[stack_name])


def synth(context: dict[str, Any], outdir: Path) -> Assembly:
    import aws_cdk as cdk

    import app

    application = cdk.App(context=context, outdir=str(outdir))
    app.build_app(application)
    application.synth()
    return Assembly(outdir)


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, produce: Callable[[Path], None]) -> Path:
    """The directory `produce` fills, made once per test run and shared by every xdist worker.

    The pattern pytest-xdist documents: the first worker that needs it makes it in the run's
    shared temporary directory, under a lock, and the others read that copy.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        directory = tmp_path_factory.mktemp(name)
        produce(directory)
        return directory
    shared = tmp_path_factory.getbasetemp().parent / name
    with _exclusive(shared.with_name(f"{name}.lock")):
        if not shared.is_dir():
            # Renamed only once complete: a worker that failed halfway leaves nothing to reuse.
            partial = shared.with_name(f"{name}.{worker}")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            produce(partial)
            partial.rename(shared)
    return shared


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """The whole app, synthesized once per run with cdk.json's context and cdk-nag on."""
    context = cdk_json_context()
    context["release.dev"] = EXAMPLE_RELEASE_ARN
    context["release.staging"] = EXAMPLE_RELEASE_ARN
    context["release.prod"] = EXAMPLE_RELEASE_ARN
    return Assembly(_once_per_run(tmp_path_factory, "cdk.out", lambda directory: synth(context, directory)))


# A connection created before the CodeConnections rename, as the variant's source.
OLD_CONNECTION = "arn:aws:codestar-connections:eu-west-1:111111111111:connection/11111111-1111-1111-1111-111111111111"


def variant_context() -> dict[str, Any]:
    """The settings the session assembly lacks: dev and staging in VPCs (tests/test_private_networking.py),
    a shadow test before prod (tests/test_shadow_stage.py), a ROLLING staging with auto-approval, and a
    canary of 10 % in dev; a release in every stage."""
    from tests.support import vpc_config

    context = cdk_json_context()
    context["mlops"] = vpc_config()
    context.update({f"release.{env}": EXAMPLE_RELEASE_ARN for env in ("dev", "staging", "prod")})
    context["mlops.environments.prod.shadow.enabled"] = "true"
    context["mlops.environments.prod.shadow.duration_minutes"] = "45"
    # Staging rolls its fleet in batches: SageMaker refuses ROLLING beside a shadow variant, so not prod.
    context["mlops.environments.staging.rollout.type"] = "ROLLING"
    # A canary of 10 % in dev, where cdk.json and the sandbox keep the default 50 %.
    context["mlops.environments.dev.rollout.canary_size_percent"] = "10"
    # Auto-approval outside the model-build environment changes nothing built; synth warns of it
    # on the pipeline's stack (tests/test_config.py).
    context["mlops.environments.staging.approval"] = "auto"
    # Options whose resources or permissions the default layout lacks (tests/test_deploy_policies.py):
    # reserved concurrency for the retraining function, a connection ARN from before the rename.
    context["mlops.model_build.retraining.one_trigger_at_a_time"] = "true"
    context["mlops.source.connection_arn"] = OLD_CONNECTION
    return context


@pytest.fixture(scope="session")
def variant_assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """One synth, once per run, of variant_context(): with cdk-nag and the Control Tower rules on, like
    every synth."""
    context = variant_context()
    return Assembly(_once_per_run(tmp_path_factory, "variant-cdk.out", lambda directory: synth(context, directory)))


# The sandbox's example release: its registry is in its one account (as `make synth-sandbox`).
SANDBOX_RELEASE_ARN = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mlops-delivery/1"


@pytest.fixture(scope="session")
def sandbox_assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """The one-account sandbox (cdk.sandbox.json over cdk.json), once per run, with a release so it serves."""
    context = {**cdk_json_context(), "mlops-settings": "cdk.sandbox.json", "release.dev": SANDBOX_RELEASE_ARN}
    return Assembly(_once_per_run(tmp_path_factory, "sandbox-cdk.out", lambda directory: synth(context, directory)))


def cli_environment(context: dict[str, object], outdir: Path) -> dict[str, str]:
    """The environment `cdk synth` gives app.py: context and output directory in the CLI's variables, and
    CDK's built-in validation as a user's synth has it."""
    inherited = {name: value for name, value in os.environ.items() if name != "CDK_VALIDATION"}
    return {**inherited, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}


def run_app_py(context: dict[str, object], outdir: Path) -> subprocess.CompletedProcess[str]:
    """What `cdk synth` runs: app.py as a script, in the environment the CLI gives it."""
    env = cli_environment(context, outdir)
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class AppPyRun:
    returncode: int
    output: str
    outdir: Path


@pytest.fixture(scope="session")
def app_py_without_releases(tmp_path_factory: pytest.TempPathFactory) -> AppPyRun:
    """`python app.py` with cdk.json's context alone, once per run: no release, so no serving stacks."""

    def run(directory: Path) -> None:
        result = run_app_py(cdk_json_context(), directory / "cdk.out")
        outcome = {"returncode": result.returncode, "output": result.stdout + result.stderr}
        (directory / "outcome.json").write_text(json.dumps(outcome))

    directory = _once_per_run(tmp_path_factory, "app-py-without-releases", run)
    outcome = json.loads((directory / "outcome.json").read_text())
    return AppPyRun(returncode=outcome["returncode"], output=outcome["output"], outdir=directory / "cdk.out")


@dataclass(frozen=True)
class InsecureSynth:
    """The app with an unencrypted bucket in its production stage (and s3:GetObject on '*' for a role
    of every stage and of the pipeline's stack): what synth refused, and where."""

    error: str
    outdir: Path
    # Construct paths of the roles given s3:GetObject on '*'.
    wildcard_roles: list[str]
    # Construct paths: the stages that got the bucket, and the stage the pipeline promotes to prod.
    insecure_stages: list[str]
    prod_promotion: str


@pytest.fixture(scope="session")
def insecure_prod_synth(tmp_path_factory: pytest.TempPathFactory) -> InsecureSynth:
    """One synth, once per run, that every cdk-nag and Control Tower gate test inspects."""

    def build(directory: Path) -> None:
        import aws_cdk as cdk
        from aws_cdk import aws_iam as iam
        from aws_cdk import aws_s3 as s3

        import app

        original = app.EnvironmentStage
        insecure: list[str] = []

        # A wildcard-resource grant of an action that takes resources, on one role of every stage and
        # of the pipeline's stack: WildcardResourceRule refuses each. A stage is changed as it is made:
        # CDK Pipelines synthesizes it when the pipeline adds it, and ignores later changes.
        wildcard_roles: list[str] = []

        def grant_on_star(scope: Any) -> None:
            role = next(c for c in scope.node.find_all() if isinstance(c, iam.Role))
            role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
            wildcard_roles.append(role.node.path)

        def prod_with_insecure_bucket(*args: Any, **kwargs: Any) -> Any:
            stage = original(*args, **kwargs)
            grant_on_star(stage)
            if kwargs["environment"].production:
                s3.Bucket(stage.storage, "InsecureBucket")
                insecure.append(stage.node.path)
            return stage

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(app, "EnvironmentStage", prod_with_insecure_bucket)
            application = cdk.App(context=cdk_json_context(), outdir=str(directory / "cdk.out"))
            app.build_app(application)
        grant_on_star(application.node.find_child("Cicd"))
        delivery = application.node.find_child("Cicd").node.find_child("Delivery")
        (prod_promotion,) = [p.stage.node.path for p in delivery.promotions if p.environment == "prod"]
        try:
            application.synth()
            error = ""
        except RuntimeError as refused:
            error = str(refused)
        outcome = {
            "error": error,
            "insecure": insecure,
            "prod_promotion": prod_promotion,
            "wildcard_roles": wildcard_roles,
        }
        (directory / "outcome.json").write_text(json.dumps(outcome))

    directory = _once_per_run(tmp_path_factory, "insecure-prod", build)
    outcome = json.loads((directory / "outcome.json").read_text())
    return InsecureSynth(
        error=outcome["error"],
        outdir=directory / "cdk.out",
        wildcard_roles=outcome["wildcard_roles"],
        insecure_stages=outcome["insecure"],
        prod_promotion=outcome["prod_promotion"],
    )


@pytest.fixture(scope="session")
def xgboost_local_run(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """`make local-pipeline` with the XGBoost example, once per run: a first model, then one retrained on a
    drifted batch (0.8) and compared with it. Each run trains two models in subprocesses; the tests that
    read these outputs (and write nothing beside them) share one run."""
    from config import load_model
    from pipeline_steps import local_run

    model = load_model("models/xgboost")

    def run(directory: Path) -> None:
        # A small model: the example's own hyperparameters are for real data.
        results = local_run.run_local_pipeline(
            directory, drift=0.8, model=model, hyperparameters={model.origin: {"num_round": "10"}}
        )
        # Paths relative to the run: a worker's directory is renamed once complete.
        runs = [
            {
                "name": result.name,
                "report": result.report,
                "model_archive": str(result.model_archive.relative_to(directory)),
                "baseline_dir": str(result.baseline_dir.relative_to(directory)),
            }
            for result in results
        ]
        (directory / "runs.json").write_text(json.dumps(runs))

    directory = _once_per_run(tmp_path_factory, "xgboost-local-run", run)
    return [
        local_run.RunResult(
            run["name"], run["report"], directory / run["model_archive"], directory / run["baseline_dir"]
        )
        for run in json.loads((directory / "runs.json").read_text())
    ]


@pytest.fixture(scope="session")
def variant_model_build_definition(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The model-build definition the SDK builds (offline) for settings the checked-in one lacks, once per run:
    spot training off, three preprocess and two training instances. Each build takes seconds of the SDK's own
    config validation, so the tests of these settings share one."""
    overrides = {
        "mlops.model_build.use_spot_training": "false",
        "mlops.model_build.preprocess_instance_count": "3",
        "mlops.model_build.training_instance_count": "2",
    }

    def build(directory: Path) -> None:
        import config
        from pipeline_steps import model_build_pipeline as builder

        saved = dict(os.environ)  # the offline SDK session sets region variables; other tests expect ours
        try:
            settings = builder.settings_from_config(config.load_cdk_json(ROOT / "cdk.json", overrides))
            (directory / "definition.json").write_text(builder.build_definition(settings))
        finally:
            os.environ.clear()
            os.environ.update(saved)

    directory = _once_per_run(tmp_path_factory, "variant-model-build-definition", build)
    return dict(json.loads((directory / "definition.json").read_text()))
