"""The policy evaluator the deploy-policy test relies on answers as IAM does, or refuses to answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.iam_policy import Request, allowing, read_statements

ROLE = "arn:aws:iam::111111111111:role/mlops-delivery-dev-serving-EndpointRole-AbCdEf123456"


def _policy(tmp_path: Path, *statements: dict[str, Any]) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return path


def _allows(tmp_path: Path, statement: dict[str, Any], request: Request) -> bool:
    return bool(allowing(read_statements([_policy(tmp_path, {"Sid": "S", "Effect": "Allow", **statement})]), request))


def test_actions_match_without_case_and_resources_with_it(tmp_path: Path) -> None:
    statement = {"Action": "IAM:get*", "Resource": "arn:aws:iam::*:role/mlops-delivery-*"}
    assert _allows(tmp_path, statement, Request("iam:GetRole", ROLE))
    assert not _allows(tmp_path, statement, Request("iam:GetRole", ROLE.replace("mlops-delivery", "MLOPS-DELIVERY")))
    # `?` is one character, and only `*` and `?` are wildcards ([...] is literal, unlike fnmatch).
    assert _allows(tmp_path, {"Action": "iam:GetRol?", "Resource": "*"}, Request("iam:GetRole", ROLE))
    character_set = {"Action": "iam:GetRole", "Resource": "arn:aws:iam::[0-9]*"}
    assert not _allows(tmp_path, character_set, Request("iam:GetRole", ROLE))


def test_an_action_without_resource_types_needs_the_resource_star(tmp_path: Path) -> None:
    request = Request("events:PutPermission", "*")
    assert _allows(tmp_path, {"Action": "events:PutPermission", "Resource": "*"}, request)
    assert not _allows(
        tmp_path, {"Action": "events:PutPermission", "Resource": "arn:aws:events:*:*:event-bus/default"}, request
    )


def test_a_pattern_in_another_region_or_account_allows_nothing(tmp_path: Path) -> None:
    request = Request("lambda:GetFunction", "arn:aws:lambda:eu-west-1:222222222222:function:mlops-delivery-x")
    for resource in (
        "arn:aws:lambda:us-east-1:*:function:mlops-delivery-*",
        "arn:aws:lambda:*:111111111111:function:mlops-delivery-*",
    ):
        assert not _allows(tmp_path, {"Action": "lambda:GetFunction", "Resource": resource}, request)


def test_a_condition_holds_only_with_its_key_in_the_request(tmp_path: Path) -> None:
    statement = {
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]}},
    }
    assert _allows(tmp_path, statement, Request("iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}))
    assert not _allows(tmp_path, statement, Request("iam:PassRole", ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}))
    assert not _allows(tmp_path, statement, Request("iam:PassRole", ROLE))


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringLikeIfExists": {}}},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::${aws:username}/*"},
    ],
    ids=["Deny", "NotAction", "NotResource", "IfExists", "policy-variable"],
)
def test_what_it_does_not_evaluate_is_refused(tmp_path: Path, statement: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not evaluated here"):
        read_statements([_policy(tmp_path, {"Sid": "S", **statement})])
