"""The stateful stack of each environment: encryption, SSL-only, retention, events, registry."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.conftest import Assembly
from tests.support import assert_topic_admits_only_this_accounts_publishers

ENVIRONMENTS = ["dev", "staging", "prod"]


def storage(assembly: Assembly, env: str) -> Any:
    return assembly.template(f"mlops-delivery-{env}-storage")


def buckets(template: Any) -> dict[str, Any]:
    return template.find_resources("AWS::S3::Bucket")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_kms_key_rotates_and_is_retained(assembly: Assembly, env: str) -> None:
    template = storage(assembly, env)
    keys = template.find_resources("AWS::KMS::Key")
    assert keys, "no customer-managed key"
    for key in keys.values():
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_bucket_is_encrypted_versioned_private_and_retained(assembly: Assembly, env: str) -> None:
    found = buckets(storage(assembly, env))
    assert len(found) == 3  # data, artifacts, access logs
    kms_encrypted = 0
    for bucket in found.values():
        props = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain"
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        if rule["SSEAlgorithm"] == "aws:kms":
            assert "KMSMasterKeyID" in rule
            assert "LoggingConfiguration" in props, "KMS buckets must log to the access-log bucket"
            kms_encrypted += 1
        else:
            # Only the access-log bucket: S3 log delivery cannot write to SSE-KMS buckets.
            assert rule["SSEAlgorithm"] == "AES256"
    assert kms_encrypted == 2


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_bucket_denies_plain_http(assembly: Assembly, env: str) -> None:
    template = storage(assembly, env)
    policies = template.find_resources("AWS::S3::BucketPolicy")
    secured = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                secured.add(policy["Properties"]["Bucket"]["Ref"])
    assert secured == set(buckets(template))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_data_bucket_sends_object_events_to_eventbridge(assembly: Assembly, env: str) -> None:
    template = storage(assembly, env)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}},
    )
    # Native EventBridge delivery: no notifications custom resource and its Lambda function.
    template.resource_count_is("Custom::S3BucketNotifications", 0)
    template.resource_count_is("AWS::Lambda::Function", 0)


def test_prod_is_termination_protected(assembly: Assembly) -> None:
    import json

    manifest = json.loads((assembly.directory / "assembly-Prod" / "manifest.json").read_text())
    props = [a["properties"] for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    storage_props = next(p for p in props if p.get("stackName") == "mlops-delivery-prod-storage")
    assert storage_props.get("terminationProtection") is True


def test_registry_lives_only_in_the_build_environment(assembly: Assembly) -> None:
    storage(assembly, "dev").resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)
    storage(assembly, "staging").resource_count_is("AWS::SageMaker::ModelPackageGroup", 0)
    storage(assembly, "prod").resource_count_is("AWS::SageMaker::ModelPackageGroup", 0)


def test_registry_is_retained_and_shared_read_only_with_serving_accounts(assembly: Assembly) -> None:
    groups = storage(assembly, "dev").find_resources("AWS::SageMaker::ModelPackageGroup")
    (group,) = groups.values()
    assert group["DeletionPolicy"] == "Retain"
    assert group["Properties"]["ModelPackageGroupName"] == "mlops-delivery"
    statements = group["Properties"]["ModelPackageGroupPolicy"]["Statement"]
    for statement in statements:
        assert sorted(statement["Principal"]["AWS"]) == [
            "arn:aws:iam::111111111111:root",  # toolchain: resolves which version to release
            "arn:aws:iam::333333333333:root",
            "arn:aws:iam::444444444444:root",
        ]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:DescribeModelPackage",
        "sagemaker:ListModelPackages",
    }
    assert not any("Update" in a or "Delete" in a for a in actions)


def test_serving_accounts_read_only_model_artifacts_and_baselines(assembly: Assembly) -> None:
    template = storage(assembly, "dev")
    shared = {
        statement["Sid"]: statement["Resource"]["Fn::Join"][1][-1]
        for policy in template.find_resources("AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid", "").startswith("ServingAccounts")
    }
    # Training data under pipelines/ is never shared; only the registered baselines and sample payloads are.
    assert shared == {
        "ServingAccountsReadModelArtifacts": "/models/*",
        "ServingAccountsReadDriftBaselines": "/pipelines/model-build/*/baseline/*",
        "ServingAccountsReadSamplePayloads": "/pipelines/model-build/*/preprocess/sample/*",
    }
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "ServingAccountsReadModelArtifacts",
                                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                                "Resource": Match.object_like(
                                    {"Fn::Join": ["", Match.array_with([Match.string_like_regexp("/models/\\*$")])]}
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "ServingAccountsDecryptViaS3",
                                "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_alerts_topic_is_encrypted_and_ssl_only(assembly: Assembly, env: str) -> None:
    template = storage(assembly, env)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bucket_policies_are_retained_with_their_buckets(assembly: Assembly, env: str) -> None:
    """A retained bucket must not lose its SSL-only and cross-account statements on stack deletion."""
    template = storage(assembly, env)
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == len(buckets(template))
    for logical_id, policy in policies.items():
        assert policy.get("DeletionPolicy") == "Retain", logical_id
        assert policy.get("UpdateReplacePolicy") == "Retain", logical_id


@pytest.mark.parametrize(("env", "account"), [("dev", "222222222222"), ("prod", "444444444444")])
def test_alerts_topic_and_key_admit_only_this_accounts_alarms_rules_and_notifications(
    assembly: Assembly, env: str, account: str
) -> None:
    assert_topic_admits_only_this_accounts_publishers(storage(assembly, env), account)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_data_bucket_name_is_a_stack_output(assembly: Assembly, env: str) -> None:
    template = storage(assembly, env)
    data_buckets = [
        logical_id
        for logical_id, bucket in buckets(template).items()
        if bucket["Properties"].get("NotificationConfiguration", {}).get("EventBridgeConfiguration")
    ]
    assert len(data_buckets) == 1
    template.has_output("DataBucketName", {"Value": {"Ref": data_buckets[0]}})
