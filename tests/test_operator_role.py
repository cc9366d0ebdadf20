"""The operator roles: one per environment, trusted narrowly, scoped to that environment's resources."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from config import AwsTarget, Generated, ResourceNames
from config.names import physical_name_problem
from constructs.delivery.shadow_test_access import ShadowTestAccess
from constructs.security.operator_role import OperatorAccess, OperatorReleasePermissions, OperatorRole
from tests.conftest import Assembly, cdk_json_context
from tests.operator_cli.accounts import allowed, resolve
from tests.support import as_list

ACCOUNTS = {"dev": "222222222222", "staging": "333333333333", "prod": "444444444444"}


def _role(template: Any, env: str) -> dict[str, Any]:
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": f"mlops-delivery-{env}-operator"}})
    (role,) = roles.values()
    return dict(role["Properties"])


def _statements(template: Any) -> dict[str, dict[str, Any]]:
    return {
        statement["Sid"]: statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "Sid" in statement
    }


@pytest.mark.parametrize("env", list(ACCOUNTS))
def test_each_environment_has_an_operator_role_only_tagged_toolchain_principals_assume(
    assembly: Assembly, env: str
) -> None:
    trust = _role(assembly.template(f"mlops-delivery-{env}-storage"), env)["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalTag/mlops-operator": "mlops-delivery"}},
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        }
    ]


@pytest.mark.parametrize("env", list(ACCOUNTS))
def test_operator_role_reads_and_records_only_its_own_environment(assembly: Assembly, env: str) -> None:
    account = ACCOUNTS[env]
    granted = _statements(assembly.template(f"mlops-delivery-{env}-storage"))
    assert granted["ReadEndpoint"]["Resource"] == f"arn:aws:sagemaker:eu-west-1:{account}:endpoint/mlops-delivery-{env}"
    assert granted["KnownGoodLedger"]["Resource"] == (
        f"arn:aws:ssm:eu-west-1:{account}:parameter/mlops-delivery/{env}/known-good"
    )
    assert granted["RollbackAlarms"]["Resource"] == (
        f"arn:aws:cloudwatch:eu-west-1:{account}:alarm:mlops-delivery-{env}-rollback-*"
    )
    # Versions are read where they live (the model-build account), never changed from here.
    assert granted["ReadRegisteredVersions"]["Resource"] == (
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/*"
    )
    # Grants on the environment's key only for SageMaker's own use during UpdateEndpoint.
    assert granted["EndpointKeyGrants"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    actions = {a for s in granted.values() for a in as_list(s["Action"])}
    assert ("sagemaker:UpdateModelPackage" in actions) is (env == "dev")
    assert not any(a.endswith("*") for a in actions if not a.startswith(("s3:", "kms:")))


def test_only_the_model_build_role_changes_approvals_and_reads_its_runs(assembly: Assembly) -> None:
    granted = _statements(assembly.template("mlops-delivery-dev-storage"))
    approvals = granted["ApproveAndRejectVersions"]
    assert "sagemaker:UpdateModelPackage" in approvals["Action"]
    assert approvals["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/mlops-delivery",
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/*",
    ]
    assert granted["ManualRetrainingRequests"]["Condition"] == {
        "StringEquals": {"events:source": "mlops-delivery.retraining"}
    }
    assert granted["ModelBuildRuns"]["Resource"][0] == (
        "arn:aws:sagemaker:eu-west-1:222222222222:pipeline/mlops-delivery-model-build"
    )


@pytest.mark.parametrize("env", list(ACCOUNTS))
def test_serving_stack_lets_the_operator_release_only_models_named_after_its_endpoint(
    assembly: Assembly, env: str
) -> None:
    template = assembly.template(f"mlops-delivery-{env}-serving")
    policies = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [f"mlops-delivery-{env}-operator"]}}
    )
    (policy,) = policies.values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    prefix = f"arn:aws:sagemaker:eu-west-1:{ACCOUNTS[env]}"
    assert sorted(statements["PrepareReleases"]["Resource"]) == [
        f"{prefix}:endpoint-config/mlops-delivery-{env}-r*",
        f"{prefix}:model/mlops-delivery-{env}-r*",
    ]
    assert f"{prefix}:endpoint/mlops-delivery-{env}" in statements["UpdateEndpoint"]["Resource"]
    pass_role = statements["PassExecutionRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert pass_role["Resource"]["Fn::GetAtt"][0].startswith("EndpointExecutionRole")


@pytest.mark.template
def test_configured_operator_principals_replace_the_toolchain_tag_trust() -> None:
    # cdk.json's feature flags, as in `cdk synth` (literal partitions in ARNs among them).
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "Roles", env=cdk.Environment(account="333333333333", region="eu-west-1"))
    access = OperatorAccess(
        names=ResourceNames("mlops-delivery"),
        environment="staging",
        trusted_principals=("arn:aws:iam::999999999999:role/MlPlatformOnCall",),
        toolchain_account="111111111111",
        registry=AwsTarget(account="222222222222", region="eu-west-1"),
    )
    OperatorRole(stack, "Operator", access=access, key=kms.Key(stack, "Key"))
    role = _role(Template.from_stack(stack), "staging")
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:role/MlPlatformOnCall"},
        }
    ]


def test_operator_role_names_fit_iam_for_the_longest_project_and_environment_names() -> None:
    """Project names are up to 32 characters and environment names up to 16 (config/fields.py)."""
    shape = botocore.session.get_session().get_service_model("iam").shape_for("roleNameType")
    name = ResourceNames("p" * 32).operator_role("e" * 16)
    assert len(name) <= shape.metadata["max"]
    assert re.fullmatch(shape.metadata["pattern"], name)


def _longest_names() -> ResourceNames:
    """The longest project name config accepts beside the longest environment name (a 48-character endpoint)."""
    project, env = "p" * 31, "e" * 16
    assert physical_name_problem(project, [env]) is None and physical_name_problem(project + "p", [env]) is not None
    names = ResourceNames(project)
    assert len(names.endpoint(env)) == 48
    return names


def _granted(template: dict[str, Any], account: str) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resolve(resource["Properties"], account, "eu-west-1", {})["PolicyDocument"]["Statement"]
    ]


@pytest.mark.template
def test_every_generated_name_at_the_longest_names_is_allowed_by_the_role_that_creates_it() -> None:
    """Rollback names (operator role) and shadow-test names (verifier role), checked against the synthesized
    policies as IAM checks SageMaker's ARNs (names in lower case)."""
    names, env, account = _longest_names(), "e" * 16, "333333333333"
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "Serving", env=cdk.Environment(account=account, region="eu-west-1"))
    execution = iam.Role(stack, "Execution", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    OperatorReleasePermissions(stack, "OperatorReleases", names=names, environment=env, execution_role=execution)
    verifier = iam.Role(stack, "Verifier", assumed_by=iam.AccountRootPrincipal())
    ShadowTestAccess(
        stack,
        "Shadow",
        verifier_role=verifier,
        names=names,
        environment=env,
        execution_role=execution,
        capture_bucket=s3.Bucket(stack, "Capture"),
        capture_prefix="data-capture/e/",
        key=kms.Key(stack, "Key"),
    )
    template = Template.from_stack(stack).to_json()
    operator = [s for s in _granted(template, account) if s.get("Sid") in ("PrepareReleases", "UpdateEndpoint")]
    shadow = [s for s in _granted(template, account) if s.get("Sid") == "CreateShadowModelAndConfig"]
    latest = datetime(2099, 12, 31, 23, 59, 59)
    model_shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("ModelName")
    for kind, statements, actions in (
        (Generated.ROLLBACK, operator, ("sagemaker:CreateModel", "sagemaker:CreateEndpointConfig")),
        (Generated.SHADOW, shadow, ("sagemaker:CreateModel", "sagemaker:CreateEndpointConfig")),
    ):
        name = names.generated(env, kind, latest)
        assert name.startswith(names.endpoint(env)) and len(name) <= model_shape.metadata["max"]
        assert re.fullmatch(model_shape.metadata["pattern"], name)
        for action, resource in zip(actions, ("model", "endpoint-config"), strict=True):
            arn = f"arn:aws:sagemaker:eu-west-1:{account}:{resource}/{name.lower()}"
            assert allowed(statements, action, arn, {}), (kind, action, arn)
    rollback_config = (
        f"arn:aws:sagemaker:eu-west-1:{account}:endpoint-config/{names.generated(env, Generated.ROLLBACK, latest)}"
    )
    assert allowed(operator, "sagemaker:UpdateEndpoint", rollback_config, {})
