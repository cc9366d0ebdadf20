"""Fixtures for the operator CLI tests: moto as the build account, clients through the CLI's factory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from config import load_cdk_json
from mlopsctl import aws
from mlopsctl.context import Context
from tests.operator_cli.support import ACCOUNT, BUCKET, GROUP, REGION, Clients, moto_client


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clients]:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    with mock_aws():
        factory = Clients()
        aws.set_client_factory(factory)
        try:
            moto_client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
            moto_client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
            yield factory
        finally:
            aws.set_client_factory(None)


@pytest.fixture
def ctx(clients: Clients) -> Context:
    return Context(cfg=load_cdk_json(overrides={}), clients=clients)
