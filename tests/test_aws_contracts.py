"""Values we send to AWS meet AWS's own constraints (botocore's service model; see tests/aws_contract.py).

botocore checks only required members, types and minimum lengths before sending, so a value
that breaks a maximum length or a pattern fails in AWS: a trigger reason in the model package's
metadata fails the pipeline at registration, after training; a role name over 64 characters
fails the deployment. Each test builds the value with the product's own code, at its extremes.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import config
import contracts
from mlopsctl import retraining_request
from pipeline_steps.checked_in import MODEL_BUILD_DEFINITION as DEFINITION_FILE
from pipeline_steps.scripts import evaluate
from tests import aws_contract, support
from tests.aws_contract import check, check_request, violations
from tests.conftest import ROOT, raw_config

sys.path.insert(0, str(ROOT / "lambda" / "start_retraining"))
runs = importlib.import_module("retraining_runs")
triggers = importlib.import_module("trigger_events")
settings_module = importlib.import_module("retraining_settings")

METADATA_VALUE = ("sagemaker", "CreateModelPackage", "CustomerMetadataProperties.{value}")
METADATA_KEY = ("sagemaker", "CreateModelPackage", "CustomerMetadataProperties.{key}")
ACCOUNT = "111111111111"
BUCKET = "mlops-delivery-dev-data"
# An IAM Identity Center session: a role name of 64 characters, a session name (e-mail) of 64.
SSO_ROLE = "AWSReservedSSO_DataScientistsWithALongPermissionSetName_0123abcd"
SSO_SESSION = "firstname.middlename.lastname.team@long-subsidiary.example.co.uk"
SSO_CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/{SSO_ROLE}/{SSO_SESSION}"


def function_settings() -> Any:
    return settings_module.Settings.from_env(
        {
            "PIPELINE_NAME": "p" * 32 + "-model-build",
            "MODEL_PACKAGE_GROUP": "mlops-delivery",
            "DATA_BUCKET": BUCKET,
            "INCOMING_PREFIX": "incoming/",
            "MANIFEST_BUCKET": "b" * 63,
            "QUIET_PERIOD_MINUTES": "60",
            "APPROVAL_MODE": "manual",
            "PRODUCTION": "false",
            "MANUAL_SOURCE": "mlops-delivery.retraining",
            "DRIFT_ALARM_PREFIXES": "mlops-delivery-prod-drift-",
        }
    )


# --- the checker itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("java", "value", "matches"),
    [
        (r"[\w+=,.@-]+", "role-name", True),
        (r"[\w+=,.@-]+", "rôle", False),  # Java's \w is ASCII
        (".*", "one line", True),
        (".*", "two\nlines", False),  # Java's . excludes line terminators
        (".*", "carriage\rreturn", False),
        (r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,256}", "Zürich 2026: a=b+c/d@e", True),
        (r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,256}", "(requested by x)", False),
        (r"[\w-\/]+", "a-b/c", True),  # a class escape next to a hyphen is no range
        (r"[\uD800\uDC00-\uDBFF\uDFFF]+", "\U0001d400", True),  # a surrogate pair is one character
        (r"[\S]+", "a\u00a0b", True),  # Java's \S: anything but ASCII blanks
    ],
)
def test_java_patterns_mean_in_python_what_they_mean_in_java(java: str, value: str, matches: bool) -> None:
    assert bool(aws_contract._compiled(java).fullmatch(value)) is matches


def test_every_pattern_of_the_services_we_call_translates() -> None:
    for service in ("sagemaker", "iam", "ssm", "events", "cloudwatch", "codepipeline", "sts"):
        model = aws_contract._model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                aws_contract._compiled(pattern)


def test_a_violation_names_the_member_the_value_and_the_rule() -> None:
    [message] = violations(*METADATA_VALUE, "manual: fix (requested by alice)")
    assert message.startswith("sagemaker:CreateModelPackage.CustomerMetadataProperties.{value} = ")
    assert "'manual: fix (requested by alice)'" in message and "does not match the pattern" in message
    assert violations(*METADATA_VALUE, "") == [
        "sagemaker:CreateModelPackage.CustomerMetadataProperties.{value} = '': length 0 is below the minimum 1 "
        "(botocore service model)"
    ]


# --- the retraining function's StartPipelineExecution ------------------------------------------


def _events() -> dict[str, dict[str, Any]]:
    """Each trigger kind at its extremes: longest fields, characters metadata refuses, line breaks."""
    odd = "(v2) réétiquetage, 50% [batch #7]! 🚀\nsecond line\ttab "
    key = "incoming/" + ("dossier (copie) & ñ/" * 60)[:1015]
    alarm = "mlops-delivery-prod-drift-" + ("feature (x) > 0.2; " * 20)[:229]
    return {
        "schedule": support.eventbridge_event(
            "aws.events", "Scheduled Event", {}, account=ACCOUNT, resources=["arn:aws:events:eu-west-1:1:rule/r"]
        ),
        "new-data": support.object_created_event(BUCKET, key, account=ACCOUNT),
        "drift": support.alarm_state_change_event(alarm, "ALARM", account=ACCOUNT),
        "manual": support.eventbridge_event(
            "mlops-delivery.retraining",
            contracts.RETRAINING_REQUESTED,
            {
                "reason": (odd * 20)[: contracts.RETRAINING_REASON_MAX_LENGTH],
                "requested_by": retraining_request.requester(SSO_CALLER),
            },
            account=ACCOUNT,
            resources=[],
        ),
    }


@pytest.mark.parametrize("kind", ["schedule", "new-data", "drift", "manual"])
@pytest.mark.parametrize("with_champion", [False, True])
def test_start_pipeline_execution_request_meets_the_sagemaker_contract(kind: str, with_champion: bool) -> None:
    settings = function_settings()
    trigger = triggers.parse_trigger(_events()[kind], settings)
    champion = (
        runs.Champion(
            model_package_arn="arn:aws:sagemaker:eu-west-1:111111111111:model-package/" + "p" * 32 + "/123456",
            model_data_url="s3://" + "b" * 63 + "/models/pipelines-abcdefghijkl-Train-ABCDEFGHIJ/output/model.tar.gz",
            evaluation_uri="s3://"
            + "b" * 63
            + "/pipelines/model-build/abcdefghijkl/evaluate/evaluation/evaluation.json",
        )
        if with_champion
        else None
    )
    manifest = f"s3://{settings.manifest_bucket}/{contracts.INPUT_MANIFESTS_PREFIX}{'f' * 64}.manifest"
    parameters = runs.pipeline_parameters(trigger, champion, manifest, runs.approval_status(settings))
    check_request("sagemaker", "StartPipelineExecution", runs.start_request(settings, trigger, parameters))


@pytest.mark.parametrize("kind", ["schedule", "new-data", "drift", "manual"])
def test_trigger_reason_is_a_valid_model_package_metadata_value(kind: str) -> None:
    """The pipeline copies TriggerReason into CustomerMetadataProperties at registration, after training."""
    trigger = triggers.parse_trigger(_events()[kind], function_settings())
    check(*METADATA_VALUE, trigger.metadata_reason)
    assert trigger.metadata_reason.split(":")[0] == trigger.kind.value


def test_metadata_reason_keeps_what_it_can_and_the_description_keeps_everything() -> None:
    event = support.eventbridge_event(
        "mlops-delivery.retraining",
        contracts.RETRAINING_REQUESTED,
        {"reason": "relabelled (October)\nsee ticket #42", "requested_by": SSO_CALLER[:128]},
        account=ACCOUNT,
        resources=[],
    )
    trigger = triggers.parse_trigger(event, function_settings())
    assert trigger.reason == f"manual: relabelled (October) see ticket #42 (requested by {SSO_CALLER[:128]})"
    assert trigger.metadata_reason == f"manual: relabelled October see ticket 42 requested by {SSO_CALLER[:128]}"
    long = triggers.metadata_value("words " * 100)
    assert long == ("words " * 100)[:256]
    assert triggers.metadata_value("(  )") == "none"  # never empty: AWS requires at least one character


def test_metadata_value_counts_length_as_java_does() -> None:
    """A letter outside the Basic Multilingual Plane is two UTF-16 units: 200 of them are 400 units."""
    value = triggers.metadata_value("\U0001d400" * 200)
    check(*METADATA_VALUE, value)
    assert len(value.encode("utf-16-le")) // 2 <= 256


def test_the_function_accepts_the_longest_request_the_cli_sends() -> None:
    """Both read the limits in contracts.py; the longest request is a valid execution description."""
    longest = retraining_request.checked_reason("x" * contracts.RETRAINING_REASON_MAX_LENGTH)
    requester = "r" * contracts.RETRAINING_REQUESTED_BY_MAX_LENGTH
    event = support.eventbridge_event(
        "mlops-delivery.retraining",
        contracts.RETRAINING_REQUESTED,
        {"reason": longest, "requested_by": requester},
        account=ACCOUNT,
        resources=[],
    )
    trigger = triggers.parse_trigger(event, function_settings())
    assert trigger.reason == f"manual: {longest} (requested by {requester})"
    check("sagemaker", "StartPipelineExecution", "PipelineExecutionDescription", trigger.reason)


# --- what the model-building pipeline writes into the model package ----------------------------


# The longest image URI a model may name (SageMaker's ContainerImage allows 255 characters).
_ECR_PREFIX, _DIGEST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/", "@sha256:" + "a" * 64
LONGEST_ECR_IMAGE = _ECR_PREFIX + "r" * (255 - len(_ECR_PREFIX) - len(_DIGEST)) + _DIGEST


def test_an_image_label_of_any_accepted_image_is_a_valid_metadata_value() -> None:
    """The Register step records the model's images (framework:version or the ECR URI) as metadata."""
    assert len(LONGEST_ECR_IMAGE) == 255 and config.parse_ecr_image(LONGEST_ECR_IMAGE) is not None
    check("sagemaker", "CreateModel", "PrimaryContainer.Image", LONGEST_ECR_IMAGE)
    for label in (LONGEST_ECR_IMAGE, "xgboost:3.0-5", "sklearn:1.2-1", "pytorch:2.5.1"):
        check(*METADATA_VALUE, label)


def _register_arguments() -> dict[str, Any]:
    definition = json.loads(Path(DEFINITION_FILE).read_text())
    gate = next(step for step in definition["Steps"] if step["Type"] == "Condition")
    register = next(step for step in gate["Arguments"]["IfSteps"] if step["Name"] == "Register")
    return dict(register["Arguments"])


def _register_metadata() -> dict[str, Any]:
    return dict(_register_arguments()["CustomerMetadataProperties"])


def test_the_registered_sample_payload_url_meets_the_create_model_package_contract() -> None:
    """SamplePayloadUrl: an S3 URI of one gzip-compressed tar archive with the .tar.gz suffix (CreateModelPackage),
    resolved with the longest bucket name S3 allows and a pipeline execution id."""
    url = _register_arguments()["SamplePayloadUrl"]["Std:Join"]
    (output, archive) = url["Values"]
    assert output == {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['sample'].S3Output.S3Uri"}
    prefix = (
        f"s3://{'b' * 63}/{contracts.PIPELINE_OUTPUT_PREFIX}abcdefghijkl/preprocess/{contracts.SAMPLE_PAYLOAD_OUTPUT}"
    )
    resolved = url["On"].join([prefix, archive])
    check("sagemaker", "CreateModelPackage", "SamplePayloadUrl", resolved)
    assert resolved.endswith(".tar.gz")


def _reports() -> list[dict[str, Any]]:
    metrics = {"auc": {"value": 0.912345, "standard_deviation": 0.01}}
    both = {0: 5, 1: 5}
    arn = "arn:aws:sagemaker:eu-west-1:111111111111:model-package/" + "p" * 32 + "/123456"
    first = evaluate.quality_gate(
        metric="auc", candidate=0.912345, champion=None, threshold=0.8, allowed_regression=0, class_counts=both
    )
    worse = evaluate.quality_gate(
        metric="auc", candidate=0.5, champion=0.912345, threshold=0.1, allowed_regression=1, class_counts=both
    )

    def champion(basis: str, value: float | None, image: str | None) -> evaluate.ChampionResult:
        failure = "the champion cannot be compared" if basis == evaluate.NOT_COMPARABLE else None
        return evaluate.ChampionResult(
            basis, value, metrics if basis == evaluate.SAME_TEST_SPLIT else None, image, "n", failure
        )

    def report(
        candidate: dict[str, Any], result: evaluate.ChampionResult | None, champion_arn: str, gate: Any, rows: int
    ) -> dict[str, Any]:
        return evaluate.build_report(
            task=evaluate.BINARY,
            candidate=candidate,
            champion=result,
            champion_arn=champion_arn,
            metric="auc",
            higher_is_better=True,
            inference_image=LONGEST_ECR_IMAGE,
            gate=gate,
            test_rows=rows,
        )

    low = {"auc": {"value": 0.5, "standard_deviation": 0.0}}
    return [
        report(metrics, None, "", first, 10),
        report(low, champion(evaluate.SAME_TEST_SPLIT, 0.912345, "xgboost:3.0-5"), arn, worse, 10),
        report(metrics, champion(evaluate.SAME_TEST_SPLIT, 0.912345, "xgboost:3.0-5"), "", first, 1),
        report(low, champion(evaluate.STORED_METRIC, 0.912345, None), arn, worse, 10),
        report(low, champion(evaluate.NOT_COMPARABLE, None, LONGEST_ECR_IMAGE), arn, worse, 10),
    ]


def _resolve(value: Any, report: dict[str, Any], trigger_reason: str) -> str:
    """A metadata value as the pipeline resolves it at run time."""
    if value == {"Get": "Parameters.TriggerReason"}:
        return trigger_reason
    if value == {"Get": "Execution.PipelineExecutionArn"}:
        return f"arn:aws:sagemaker:eu-west-1:111111111111:pipeline/{'p' * 32}-model-build/execution/abcdefghijkl"
    if isinstance(value, dict) and "Std:JsonGet" in value:
        node: Any = report
        for part in value["Std:JsonGet"]["Path"].split("."):
            node = node[part]
        return node
    if isinstance(value, str):
        return value
    raise AssertionError(f"Metadata value from an unknown source: {value!r}; add it to this test.")


@pytest.mark.parametrize(
    "report",
    _reports(),
    ids=["first-run", "with-champion", "champion-without-arn", "stored-metric", "not-comparable"],
)
def test_registered_metadata_meets_the_create_model_package_contract(report: dict[str, Any]) -> None:
    """Every key and value the Register step sends, resolved as at run time, incl. the first run's."""
    metadata = _register_metadata()
    reasons = [triggers.parse_trigger(event, function_settings()).metadata_reason for event in _events().values()]
    for reason in [*reasons, "manual: started without a reason"]:
        resolved = {key: _resolve(value, report, reason) for key, value in metadata.items()}
        check("sagemaker", "CreateModelPackage", "CustomerMetadataProperties", resolved)
        for key, value in resolved.items():
            check(*METADATA_KEY, key)
            check(*METADATA_VALUE, value)


def test_the_definitions_parameter_defaults_are_valid_parameter_values() -> None:
    definition = json.loads(Path(DEFINITION_FILE).read_text())
    for parameter in definition["Parameters"]:
        check("sagemaker", "StartPipelineExecution", "PipelineParameters[].Name", parameter["Name"])
        check("sagemaker", "StartPipelineExecution", "PipelineParameters[].Value", str(parameter["DefaultValue"]))


# --- physical names at the longest project and environment names the config accepts ------------

# Which AWS operation creates each name config.ResourceNames.limited_names lists.
NAME_CONTRACTS = {
    "IAM role name": ("iam", "CreateRole", "RoleName"),
    "SageMaker endpoint name": ("sagemaker", "CreateEndpoint", "EndpointName"),
    "SageMaker monitoring schedule name": ("sagemaker", "CreateMonitoringSchedule", "MonitoringScheduleName"),
    "SageMaker model package group name": ("sagemaker", "CreateModelPackageGroup", "ModelPackageGroupName"),
    "SageMaker pipeline name": ("sagemaker", "CreatePipeline", "PipelineName"),
    "CodePipeline pipeline name": ("codepipeline", "CreatePipeline", "pipeline.name"),
    "CloudFormation stack name": ("cloudformation", "CreateStack", "StackName"),
    "SSM parameter name": ("ssm", "PutParameter", "Name"),
    "SageMaker model name mlopsctl generates (rollback)": ("sagemaker", "CreateModel", "ModelName"),
    "SageMaker model name mlopsctl generates (shadow)": ("sagemaker", "CreateModel", "ModelName"),
}


def test_config_name_limits_are_awss() -> None:
    for what, _, limit in config.ResourceNames("mlops-delivery").limited_names("dev"):
        assert what in NAME_CONTRACTS, f"{what}: say which AWS operation creates it in NAME_CONTRACTS"
        assert aws_contract.rule(*NAME_CONTRACTS[what]).max_length == limit, what


def _config_with(project: str, env: str, tmp_path: Path) -> config.AppConfig:
    raw = raw_config()
    raw["project_name"] = project
    raw["environments"] = {env: raw["environments"]["dev"]}
    raw["model_build"]["environment"] = env
    raw["retained_names"] = {"project_name": project, "model_build_environment": env}
    return config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)


def _longest_accepted(env: str, tmp_path: Path) -> config.AppConfig:
    for length in range(32, 2, -1):
        try:
            return _config_with("p" * length, env, tmp_path)
        except config.ConfigError:
            continue
    raise AssertionError(f"No project name is accepted with environment {env!r}.")


@pytest.mark.parametrize("env", ["d", "e" * 8, "e" * 16])
def test_every_physical_name_meets_awss_contract_at_the_longest_accepted_names(env: str, tmp_path: Path) -> None:
    cfg = _longest_accepted(env, tmp_path)
    names = cfg.names
    for what, name, _ in names.limited_names(env):
        check(*NAME_CONTRACTS[what], name)
    for kind in ("storage", "model-build", "retraining", "serving"):
        check("cloudformation", "CreateStack", "StackName", names.stack(env, kind))
    check("sagemaker", "CreatePipeline", "PipelineName", names.drift_check_pipeline(env))
    check("cloudwatch", "PutDashboard", "DashboardName", names.endpoint(env))
    check("cloudwatch", "PutMetricAlarm", "Namespace", names.drift_metric_namespace)
    check("events", "PutEvents", "Entries[].Source", names.manual_retraining_source)
    check("sagemaker", "CreateEndpointConfig", "ProductionVariants[].VariantName", names.variant)
    # Alarm names are a prefix plus a short suffix (e.g. "p99-model-latency"); room for 60 more.
    for prefix in (names.drift_alarm_prefix(env), names.rollback_alarm_prefix(env)):
        check("cloudwatch", "PutMetricAlarm", "AlarmName", prefix + "x" * 60)
    # The Model Monitor job definition (model_monitor_schedule.py): `<endpoint>-dq-v<version>`.
    check("sagemaker", "CreateDataQualityJobDefinition", "JobDefinitionName", f"{names.endpoint(env)}-dq-v999999")


def test_config_refuses_a_project_name_that_makes_the_role_name_too_long(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError) as error:
        _config_with("p" * 32, "e" * 16, tmp_path)
    assert str(error.value) == (
        f"Invalid config 'mlops.project_name': got '{'p' * 32}'; allowed: at most 31 characters with environment "
        f"'{'e' * 16}', because the IAM role name '{'p' * 32}-{'e' * 16}-deploy-verifier' has 65 characters and "
        "AWS allows 64."
    )
    assert violations("iam", "CreateRole", "RoleName", f"{'p' * 32}-{'e' * 16}-deploy-verifier")


@pytest.mark.parametrize("project", ["aws", "aws-ml", "ssm-models"])
def test_config_refuses_a_reserved_project_prefix(project: str, tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=rf"^Invalid config 'mlops.project_name': got '{project}'; allowed: "):
        _config_with(project, "dev", tmp_path)
    assert violations("ssm", "PutParameter", "Name", config.ResourceNames(project).ledger_parameter("dev"))


# --- names the operator CLI creates --------------------------------------------------------------


@pytest.mark.parametrize("kind", list(config.Generated))
def test_generated_model_and_endpoint_config_names_meet_the_sagemaker_contract(kind: config.Generated) -> None:
    latest = datetime(2099, 12, 31, 23, 59, 59)
    for names, env in ((config.ResourceNames("p" * 31), "e" * 16), (config.ResourceNames("mlops-delivery"), "dev")):
        name = names.generated(env, kind, latest)
        check("sagemaker", "CreateModel", "ModelName", name)
        check("sagemaker", "CreateEndpointConfig", "EndpointConfigName", name)
        # The endpoint part whole, as the IAM scope needs it; the time to the second at the end.
        assert name == f"{names.endpoint(env)}-{kind.value}991231235959"
        assert names.generated_regex(env, kind).fullmatch(name)


# --- the manual retraining request the CLI sends -----------------------------------------------


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        (SSO_CALLER, f"{ACCOUNT}:assumed-role/.../{SSO_SESSION}"),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/{SSO_SESSION}",
            f"{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/{SSO_SESSION}",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:user/" + "division/" * 12 + "a" * 64,
            f"{ACCOUNT}:user/.../{'a' * 64}",
        ),
    ],
)
def test_requester_fits_the_functions_limit(caller: str, expected: str) -> None:
    assert retraining_request.requester(caller) == expected
    assert len(expected) <= contracts.RETRAINING_REQUESTED_BY_MAX_LENGTH


def test_requester_refuses_what_cannot_be_shortened() -> None:
    with pytest.raises(retraining_request.RequestError, match="not an ARN"):
        retraining_request.requester("x" * 200)


# --- names and descriptions in the synthesized templates ----------------------------------------

# The API operation behind each CloudFormation property we set as a plain string.
CFN_CONTRACTS = {
    ("AWS::CloudWatch::Alarm", "AlarmName"): ("cloudwatch", "PutMetricAlarm", "AlarmName"),
    ("AWS::CloudWatch::Alarm", "AlarmDescription"): ("cloudwatch", "PutMetricAlarm", "AlarmDescription"),
    ("AWS::CloudWatch::Alarm", "MetricName"): ("cloudwatch", "PutMetricAlarm", "MetricName"),
    ("AWS::CloudWatch::Alarm", "Namespace"): ("cloudwatch", "PutMetricAlarm", "Namespace"),
    ("AWS::CloudWatch::Dashboard", "DashboardName"): ("cloudwatch", "PutDashboard", "DashboardName"),
    ("AWS::CodeBuild::Project", "Name"): ("codebuild", "CreateProject", "name"),
    ("AWS::CodeBuild::Project", "Description"): ("codebuild", "CreateProject", "description"),
    ("AWS::CodePipeline::Pipeline", "Name"): ("codepipeline", "CreatePipeline", "pipeline.name"),
    ("AWS::CodeStarNotifications::NotificationRule", "Name"): (
        "codestar-notifications",
        "CreateNotificationRule",
        "Name",
    ),
    ("AWS::Events::Rule", "Name"): ("events", "PutRule", "Name"),
    ("AWS::Events::Rule", "Description"): ("events", "PutRule", "Description"),
    ("AWS::IAM::Role", "RoleName"): ("iam", "CreateRole", "RoleName"),
    ("AWS::IAM::Role", "Description"): ("iam", "CreateRole", "Description"),
    ("AWS::IAM::Policy", "PolicyName"): ("iam", "PutRolePolicy", "PolicyName"),
    ("AWS::KMS::Alias", "AliasName"): ("kms", "CreateAlias", "AliasName"),
    ("AWS::KMS::Key", "Description"): ("kms", "CreateKey", "Description"),
    ("AWS::Lambda::Function", "Description"): ("lambda", "CreateFunction", "Description"),
    ("AWS::SageMaker::DataQualityJobDefinition", "JobDefinitionName"): (
        "sagemaker",
        "CreateDataQualityJobDefinition",
        "JobDefinitionName",
    ),
    ("AWS::SageMaker::Endpoint", "EndpointName"): ("sagemaker", "CreateEndpoint", "EndpointName"),
    ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName"): (
        "sagemaker",
        "CreateModelPackageGroup",
        "ModelPackageGroupName",
    ),
    ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupDescription"): (
        "sagemaker",
        "CreateModelPackageGroup",
        "ModelPackageGroupDescription",
    ),
    ("AWS::SageMaker::MonitoringSchedule", "MonitoringScheduleName"): (
        "sagemaker",
        "CreateMonitoringSchedule",
        "MonitoringScheduleName",
    ),
    ("AWS::SageMaker::Pipeline", "PipelineName"): ("sagemaker", "CreatePipeline", "PipelineName"),
    ("AWS::SageMaker::Pipeline", "PipelineDescription"): ("sagemaker", "CreatePipeline", "PipelineDescription"),
    ("AWS::SageMaker::Pipeline", "PipelineDisplayName"): ("sagemaker", "CreatePipeline", "PipelineDisplayName"),
    ("AWS::SSM::Parameter", "Name"): ("ssm", "PutParameter", "Name"),
    ("AWS::SSM::Parameter", "Description"): ("ssm", "PutParameter", "Description"),
}


def test_names_and_descriptions_in_every_template_meet_the_api_contracts(assembly: Any) -> None:
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for stack, template in assembly.templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            for prop, value in resource.get("Properties", {}).items():
                contract = CFN_CONTRACTS.get((resource["Type"], prop))
                if contract and isinstance(value, str):
                    seen.add((resource["Type"], prop))
                    problems += [f"{stack}/{logical_id}: {p}" for p in violations(*contract, value)]
    assert not problems, "\n".join(problems)
    # The names the product sets itself are among those checked.
    assert {
        ("AWS::IAM::Role", "RoleName"),
        ("AWS::SageMaker::Endpoint", "EndpointName"),
        ("AWS::SageMaker::Pipeline", "PipelineName"),
        ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName"),
        ("AWS::CloudWatch::Alarm", "AlarmName"),
        ("AWS::CodePipeline::Pipeline", "Name"),
    } <= seen, seen
