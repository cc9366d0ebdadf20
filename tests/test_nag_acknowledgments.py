"""`objects_in` spells a bucket's object ARN as cdk-nag reports it, in its own stack and in others."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs.security.nag_acknowledgments import objects_in


def _policy_resources(template: dict[str, Any]) -> list[Any]:
    return [
        resource
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]


@pytest.mark.template
def test_objects_in_names_the_arn_as_each_stacks_template_holds_it() -> None:
    app = cdk.App()
    env = cdk.Environment(account="222222222222", region="eu-west-1")
    storage = cdk.Stack(app, "Storage", env=env)
    serving = cdk.Stack(app, "Serving", env=env)
    bucket = s3.Bucket(storage, "Artifacts")
    local = iam.Role(storage, "Local", assumed_by=iam.AccountRootPrincipal())
    remote = iam.Role(serving, "Remote", assumed_by=iam.AccountRootPrincipal())
    bucket.grant_read(local, "models/*")
    bucket.grant_read(remote, "models/*")

    own, other = objects_in(local, bucket, "models/*"), objects_in(remote, bucket, "models/*")
    assembly = app.synth()
    storage_template = assembly.get_stack_by_name("Storage").template
    serving_template = assembly.get_stack_by_name("Serving").template

    logical_id = next(k for k, r in storage_template["Resources"].items() if r["Type"] == "AWS::S3::Bucket")
    assert own == f"Resource::<{logical_id}.Arn>/models/*"
    imports = [
        part["Fn::ImportValue"]
        for resource in _policy_resources(serving_template)
        if isinstance(resource, dict) and "Fn::Join" in resource
        for part in resource["Fn::Join"][1]
        if isinstance(part, dict) and "Fn::ImportValue" in part
    ]
    assert imports and other == f"Resource::{imports[0]}/models/*"
    # The name is the automatic cross-stack export's: the storage stack exports the ARN once.
    exported = [o["Export"]["Name"] for o in storage_template["Outputs"].values() if "Export" in o]
    assert exported.count(imports[0]) == 1 and len(exported) == 1
