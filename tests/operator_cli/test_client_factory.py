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
