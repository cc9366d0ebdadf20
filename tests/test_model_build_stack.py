"""The model-build stack: the SageMaker pipeline resource and its execution role's policy."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

import config
from constructs.training import model_build_pipeline as construct
from pipeline_steps import checked_in
from tests.conftest import Assembly
from tests.support import as_list, data_bucket, imported_resources

STACK = "mlops-delivery-dev-model-build"


@pytest.fixture(scope="module")
def template(assembly: Assembly) -> Template:
    return assembly.template(STACK)


def statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    assert len(policies) == 1
    return next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"]


def role_id(template: Template) -> str:
    roles = template.find_resources("AWS::IAM::Role")
    assert len(roles) == 1
    return next(iter(roles))


def variables_of(props: dict[str, Any]) -> dict[str, Any]:
    return props["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][1]


def statement_with(template: Template, action: str) -> dict[str, Any]:
    for statement in statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions:
            return statement
    raise AssertionError(f"no statement allows {action}")


def test_only_the_model_build_environment_has_the_pipeline(assembly: Assembly) -> None:
    assert STACK in assembly.templates
    assert not any(name.endswith("-model-build") for name in assembly.templates if name != STACK)


def test_pipeline_resource_fills_every_definition_variable(template: Template) -> None:
    pipelines = template.find_resources("AWS::SageMaker::Pipeline")
    assert len(pipelines) == 1
    props = next(iter(pipelines.values()))["Properties"]
    assert props["PipelineName"] == "mlops-delivery-model-build"
    assert props["RoleArn"] == {"Fn::GetAtt": [role_id(template), "Arn"]}
    assert variables_of(props)["PipelineRoleName"] == {"Ref": role_id(template)}
    body, variables = props["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    assert json.loads(body) == json.loads(construct.DEFINITION_FILE.read_text())
    assert set(variables) == {
        "PipelineRoleName",
        "ArtifactsBucket",
        "KmsKeyArn",
        "ProcessingImageUri",
        "TrainingImageUri",
        "InferenceImageUri",
        "ModelPackageGroupName",
        "CodeAssetBucket",
        "ModelSourceKey",
        "DataContractKey",
        "PreprocessCodeKey",
        "EvaluateCodeKey",
        "BaselineCodeKey",
    }
    configured = checked_in.model_image_uris(config.load_cdk_json().model_build.model, "eu-west-1")
    for role, uri in configured.items():
        assert variables[f"{role.capitalize()}ImageUri"] == uri
        assert uri.startswith("141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-")  # the examples' images
    assert variables["ModelPackageGroupName"] == "mlops-delivery"
    for script in ("Preprocess", "Evaluate", "Baseline"):
        assert "/" not in variables[f"{script}CodeKey"] and variables[f"{script}CodeKey"].endswith(".py")
    # The model's source directory: one deterministic tar.gz (the training toolkit opens it with r:gz).
    assert "/" not in variables["ModelSourceKey"] and variables["ModelSourceKey"].endswith(".gz")


def test_role_is_assumed_by_sagemaker_without_managed_full_access(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
                ]
            },
            "ManagedPolicyArns": Match.absent(),
        },
    )


def test_role_passes_only_itself_and_only_to_sagemaker(template: Template) -> None:
    statement = statement_with(template, "iam:PassRole")
    assert statement["Resource"] == {"Fn::GetAtt": [role_id(template), "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_role_runs_only_processing_and_training_jobs_in_its_account(template: Template) -> None:
    statement = statement_with(template, "sagemaker:DescribeTrainingJob")
    assert set(statement["Action"]) == {
        "sagemaker:AddTags",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
    }
    jobs = {
        "Processing": "arn:aws:sagemaker:eu-west-1:222222222222:processing-job/*",
        "Training": "arn:aws:sagemaker:eu-west-1:222222222222:training-job/*",
    }
    assert statement["Resource"] == list(jobs.values())
    # One statement per job type (job_network.grant_create_jobs), conditioned only with a VPC.
    for kind, arn in jobs.items():
        create = statement_with(template, f"sagemaker:Create{kind}Job")
        assert create["Action"] == f"sagemaker:Create{kind}Job" and create["Resource"] == arn
        assert "Condition" not in create


def test_role_registers_only_into_the_model_package_group(template: Template) -> None:
    statement = statement_with(template, "sagemaker:CreateModelPackage")
    assert statement["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/mlops-delivery",
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/*",
    ]


def imports(resource: Any) -> str:
    return json.dumps(resource)


def test_role_reads_data_and_writes_only_pipeline_and_model_prefixes(template: Template, assembly: Assembly) -> None:
    read = statement_with(template, "s3:GetObject*")
    write = statement_with(template, "s3:PutObject")
    assert "s3:PutObject" not in read["Action"]
    assert data_bucket(assembly) in imported_resources(assembly, read["Resource"])
    ((storage, written),) = imported_resources(assembly, write["Resource"])
    assert storage == data_bucket(assembly)[0] and written.startswith("ArtifactsBucket")
    object_patterns = sorted(r["Fn::Join"][1][1] for r in write["Resource"] if "Fn::Join" in r)
    assert object_patterns == ["/models/*", "/pipelines/model-build/*"]


def test_role_reads_the_input_manifests_the_start_retraining_function_writes(template: Template) -> None:
    """Preprocess reads its raw data through the run's manifest under input-manifests/ in the artifacts bucket."""
    readers = [
        s
        for s in statements(template)
        if "s3:GetObject*" in s["Action"]
        and "ArtifactsBucket" in imports(s["Resource"])
        and "s3:PutObject" not in s["Action"]
    ]
    assert len(readers) == 1
    artifacts = [r for r in readers[0]["Resource"] if "ArtifactsBucket" in imports(r)]
    assert [r["Fn::Join"][1][1] for r in artifacts if "Fn::Join" in r] == ["/input-manifests/*"]


def test_role_uses_the_environments_key_for_data_and_job_volumes(template: Template) -> None:
    statement = statement_with(template, "kms:CreateGrant")
    assert {"kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"} <= set(statement["Action"])
    assert "DataKey" in imports(statement["Resource"])


def test_role_pulls_only_the_processing_and_training_image_repositories(template: Template) -> None:
    pull = statement_with(template, "ecr:BatchGetImage")
    images = checked_in.model_image_uris(config.load_cdk_json().model_build.model, "eu-west-1")
    repositories = sorted(
        {images["processing"].split("/", 1)[1].split(":")[0], images["training"].split("/", 1)[1].split(":")[0]}
    )
    expected = [f"arn:aws:ecr:eu-west-1:141502667606:repository/{r}" for r in repositories]
    assert as_list(pull["Resource"]) == expected
    login = statement_with(template, "ecr:GetAuthorizationToken")
    assert login["Action"] == "ecr:GetAuthorizationToken" and login["Resource"] == "*"


def test_role_writes_only_sagemaker_job_logs_and_metrics(template: Template) -> None:
    logs = statement_with(template, "logs:PutLogEvents")
    assert logs["Resource"] == [
        "arn:aws:logs:eu-west-1:222222222222:log-group:/aws/sagemaker/ProcessingJobs:*",
        "arn:aws:logs:eu-west-1:222222222222:log-group:/aws/sagemaker/TrainingJobs:*",
    ]
    metrics = statement_with(template, "cloudwatch:PutMetricData")
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}


def test_the_preprocess_step_reads_the_configured_data_contract(assembly: Assembly, template: Template) -> None:
    """The contract reaches the pipeline as a file asset the definition names, never baked into it."""
    (props,) = [r["Properties"] for r in template.find_resources("AWS::SageMaker::Pipeline").values()]
    body, variables = props["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    preprocess = next(step for step in json.loads(body)["Steps"] if step["Name"] == "Preprocess")
    inputs = {i["InputName"]: i["S3Input"] for i in preprocess["Arguments"]["ProcessingInputs"]}
    assert inputs["contract"]["S3Uri"] == "s3://${CodeAssetBucket}/${DataContractKey}"
    assert inputs["contract"]["LocalPath"] == "/opt/ml/processing/input/contract"
    (asset,) = assembly.directory.rglob(f"asset.{variables['DataContractKey']}")
    model = config.load_cdk_json().model_build.model
    assert json.loads(asset.read_text()) == model.data.as_document(model.task_type.value)


def test_role_reads_exactly_the_step_script_model_source_and_data_contract_assets(template: Template) -> None:
    scripts = statement_with(template, "s3:GetObject")
    assert scripts["Action"] == "s3:GetObject"
    assert len(scripts["Resource"]) == 5
    for resource in scripts["Resource"]:
        assert resource.startswith("arn:aws:s3:::cdk-hnb659fds-assets-222222222222-eu-west-1/")
    assert sorted(r.rsplit(".", 1)[1] for r in scripts["Resource"]) == ["gz", "json", "py", "py", "py"]
    listing = statement_with(template, "s3:ListBucket")
    assert len(listing["Condition"]["StringEquals"]["s3:prefix"]) == 5


def test_unknown_region_fails_with_the_allowed_regions() -> None:
    model = config.load_model("models/xgboost")
    with pytest.raises(
        checked_in.CheckedInError, match=r"in region 'xx-nowhere-1'; allowed: a region where .*eu-west-1"
    ):
        checked_in.model_image_uris(model, "xx-nowhere-1")


def test_a_framework_image_missing_from_the_map_names_the_command_that_resolves_it() -> None:
    model = config.load_model("models/xgboost")
    newer = dataclasses.replace(model.images, training=config.ImageRef("xgboost", "9.9-9"))
    with pytest.raises(
        checked_in.CheckedInError, match=r"'xgboost:9\.9-9'.*framework_images\.json.*`make pipeline-definitions`"
    ):
        checked_in.model_image_uris(dataclasses.replace(model, images=newer), "eu-west-1")


def test_model_build_template_passes_cfn_lint(assembly: Assembly, tmp_path: Path) -> None:
    """cfn-lint knows the AWS::SageMaker::Pipeline and IAM schemas (as `make synth` runs it)."""
    path = tmp_path / "model-build.template.json"
    path.write_text(json.dumps(assembly.templates[STACK]))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", "W3005", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
