"""The real client factory: lazy, region from config unless --region, an assumed role when asked."""

from __future__ import annotations

import boto3
from moto import mock_aws

from mlopsctl import aws


def test_factory_builds_nothing_until_asked_and_honours_region_override() -> None:
    with mock_aws():
        make = aws.session_factory(None, None, None)
        assert make("ssm", "eu-west-1", "dev").meta.region_name == "eu-west-1"
        assert make("ssm", "eu-west-1", "dev") is make("ssm", "eu-west-1", "prod")
        override = aws.session_factory(None, "us-east-1", None)
        assert override("sagemaker", "eu-west-1", aws.REGISTRY).meta.region_name == "us-east-1"


def test_factory_assumes_the_given_role_for_every_client() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="eu-west-1")
        role = iam.create_role(
            RoleName="mlops-delivery-dev-deploy-verifier", AssumeRolePolicyDocument='{"Version": "2012-10-17"}'
        )["Role"]["Arn"]
        make = aws.session_factory(None, None, role)
        identity = make("sts", "eu-west-1", "dev").get_caller_identity()
        assert ":assumed-role/mlops-delivery-dev-deploy-verifier/mlopsctl" in identity["Arn"]


def test_tests_can_replace_the_factory_and_restore_it() -> None:
    def fake(service: str, region: str, scope: str) -> str:
        return f"{service}@{region}/{scope}"

    aws.set_client_factory(fake)
    try:
        assert aws.session_factory("any-profile", None, None)("ssm", "eu-west-1", "dev") == "ssm@eu-west-1/dev"
    finally:
        aws.set_client_factory(None)
    assert aws.session_factory(None, None, None) is not fake


def test_each_scope_acts_with_its_accounts_operator_role_and_the_caller_stays_itself() -> None:
    from config import load_cdk_json
    from mlopsctl.context import operator_role_arns

    roles = operator_role_arns(load_cdk_json(overrides={}))
    assert roles[aws.REGISTRY] == roles["dev"] == "arn:aws:iam::222222222222:role/mlops-delivery-dev-operator"
    with mock_aws():
        caller = boto3.client("sts", region_name="eu-west-1").get_caller_identity()["Arn"]
        make = aws.session_factory(None, None, None, roles)
        prod = make("sts", "eu-west-1", "prod").get_caller_identity()
        assert prod["Account"] == "444444444444"
        # The session name keeps who assumed the role visible in the account's CloudTrail.
        assert prod["Arn"].startswith("arn:aws:sts::444444444444:assumed-role/mlops-delivery-prod-operator/mlopsctl-")
        assert make("sts", "eu-west-1", aws.REGISTRY).get_caller_identity()["Account"] == "222222222222"
        assert make("sts", "eu-west-1", aws.CALLER).get_caller_identity()["Arn"] == caller
        # --role-arn (the delivery pipeline's verifier) still wins for every scope.
        verifier = "arn:aws:iam::333333333333:role/mlops-delivery-staging-deploy-verifier"
        pinned = aws.session_factory(None, None, verifier, roles)
        assert pinned("sts", "eu-west-1", "prod").get_caller_identity()["Account"] == "333333333333"


def test_session_names_fit_sts() -> None:
    """RoleSessionName: 2-64 characters of [\\w+=,.@-] (STS AssumeRole API)."""
    import re

    import botocore.session

    shape = botocore.session.get_session().get_service_model("sts").shape_for("roleSessionNameType")
    name = aws.session_name("arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123/" + "a" * 80 + " b")
    assert shape.metadata["min"] <= len(name) <= shape.metadata["max"]
    assert re.fullmatch(shape.metadata["pattern"], name)
