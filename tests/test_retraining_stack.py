"""The retraining stack: rule patterns and targets, the bus policy, IAM, the function, DLQ and alerts."""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.conftest import Assembly, cdk_json_context, raw_config
from tests.support import alarm_state_change_event, data_bucket, eventbridge_event, exported, object_created_event

STACK = "mlops-delivery-dev-retraining"
BUILD_ACCOUNT = "222222222222"
PIPELINE_ARN = f"arn:aws:sagemaker:eu-west-1:{BUILD_ACCOUNT}:pipeline/mlops-delivery-model-build"
PACKAGE_PATTERN = f"arn:aws:sagemaker:eu-west-1:{BUILD_ACCOUNT}:model-package/mlops-delivery/*"
QUEUE = Match.object_like({"Fn::GetAtt": [Match.string_like_regexp("^StartRetrainingDeadLetterQueue"), "Arn"]})
TOPIC = Match.object_like({"Fn::ImportValue": Match.string_like_regexp("AlertsTopic")})


@pytest.fixture(scope="module")
def template(assembly: Assembly) -> Any:
    return assembly.template(STACK)


def rules(template: Any) -> dict[str, dict[str, Any]]:
    return template.find_resources("AWS::Events::Rule")


def rule_named(template: Any, prefix: str) -> dict[str, Any]:
    found = [r["Properties"] for logical_id, r in rules(template).items() if logical_id.startswith(prefix)]
    assert len(found) == 1, f"expected one rule {prefix}*, found {len(found)}"
    return found[0]


def assert_function_target_with_retry_and_dlq(rule: dict[str, Any]) -> None:
    (target,) = rule["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("StartRetrainingFunction")
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("StartRetrainingDeadLetterQueue")
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 7200}


def test_retraining_stack_exists_only_in_the_model_build_environment(assembly: Assembly) -> None:
    assert STACK in assembly.templates
    assert "mlops-delivery-staging-retraining" not in assembly.templates
    assert "mlops-delivery-prod-retraining" not in assembly.templates


def test_schedule_rule_uses_the_configured_expression(template: Any) -> None:
    rule = rule_named(template, "TriggersScheduleRule")
    assert rule["ScheduleExpression"] == raw_config()["model_build"]["retraining"]["schedule"]
    assert rule["State"] == "ENABLED"
    assert_function_target_with_retry_and_dlq(rule)


def test_new_data_rule_matches_object_created_under_the_incoming_prefix_of_the_data_bucket(
    template: Any, assembly: Assembly
) -> None:
    rule = rule_named(template, "TriggersNewDataRule")
    pattern = rule["EventPattern"]
    assert set(pattern) == {"source", "detail-type", "detail"}
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": "incoming/"}]}
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert exported(assembly, bucket) == data_bucket(assembly)
    assert_function_target_with_retry_and_dlq(rule)


def test_drift_rule_matches_alarm_state_change_to_alarm_for_every_environments_drift_alarms(template: Any) -> None:
    rule = rule_named(template, "TriggersDriftRule")
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "account": ["222222222222", "333333333333", "444444444444"],
        "detail": {
            "alarmName": [
                {"prefix": "mlops-delivery-dev-drift-"},
                {"prefix": "mlops-delivery-staging-drift-"},
                {"prefix": "mlops-delivery-prod-drift-"},
            ],
            "state": {"value": ["ALARM"]},
        },
    }
    assert_function_target_with_retry_and_dlq(rule)


def test_manual_rule_matches_the_contract_source_and_detail_type(template: Any) -> None:
    rule = rule_named(template, "TriggersManualRule")
    assert rule["EventPattern"] == {"source": ["mlops-delivery.retraining"], "detail-type": ["Retraining Requested"]}
    assert_function_target_with_retry_and_dlq(rule)


def test_no_rule_routes_code_events_to_the_function(template: Any) -> None:
    """No rule routes code events (CodeCommit, CodePipeline, CodeBuild) to the function."""
    for logical_id, rule in rules(template).items():
        sources = rule["Properties"].get("EventPattern", {}).get("source", [])
        assert not [s for s in sources if s in ("aws.codecommit", "aws.codepipeline", "aws.codebuild")], logical_id


def test_eventbridge_may_invoke_the_function_only_from_its_rules(template: Any) -> None:
    permissions = template.find_resources("AWS::Lambda::Permission")
    assert len(permissions) == 4  # schedule, new data, drift, manual
    for permission in permissions.values():
        props = permission["Properties"]
        assert props["Principal"] == "events.amazonaws.com"
        assert props["SourceArn"]["Fn::GetAtt"][0].startswith("Triggers")


def test_serving_accounts_may_forward_events_to_the_default_bus_and_nobody_else(template: Any) -> None:
    template.resource_count_is("AWS::Events::EventBusPolicy", 1)
    template.has_resource_properties(
        "AWS::Events::EventBusPolicy",
        {
            "EventBusName": "default",
            "Statement": {
                "Sid": "ServingAccountsForwardDriftAlarms",
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Principal": {"AWS": ["arn:aws:iam::333333333333:root", "arn:aws:iam::444444444444:root"]},
                "Resource": f"arn:aws:events:eu-west-1:{BUILD_ACCOUNT}:event-bus/default",
                "Condition": {
                    "ForAllValues:StringEquals": {"events:source": ["aws.cloudwatch"]},
                    "StringEquals": {"events:detail-type": "CloudWatch Alarm State Change"},
                },
            },
        },
    )


def function_statements(template: Any) -> list[dict[str, Any]]:
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert all(statement["Effect"] == "Allow" for statement in statements)
    return statements


def test_function_may_start_and_list_runs_of_the_pipeline_and_read_the_registry_only(template: Any) -> None:
    by_action: dict[str, list[Any]] = {}
    for statement in function_statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            by_action.setdefault(action, []).append(statement["Resource"])
    # Failed invocations go to the KMS-encrypted dead-letter queue as this role.
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        queue_keys = [r for r in by_action[action] if "Fn::GetAtt" in r]
        assert [r["Fn::GetAtt"][0][: len("StartRetrainingDeadLetterKey")] for r in queue_keys] == [
            "StartRetrainingDeadLetterKey"
        ]
    assert by_action["sqs:SendMessage"][0]["Fn::GetAtt"][0].startswith("StartRetrainingDeadLetterQueue")
    assert by_action["sagemaker:StartPipelineExecution"] == [PIPELINE_ARN]
    assert by_action["sagemaker:ListPipelineExecutions"] == [PIPELINE_ARN]
    for read in ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"):
        assert by_action[read] == [
            [f"arn:aws:sagemaker:eu-west-1:{BUILD_ACCOUNT}:model-package-group/mlops-delivery", PACKAGE_PATTERN]
        ]
    sagemaker_actions = {a for a in by_action if a.startswith("sagemaker:")}
    assert sagemaker_actions == {
        "sagemaker:StartPipelineExecution",
        "sagemaker:ListPipelineExecutions",
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    }
    # The only resource "*" is X-Ray's, which has no resource-level permissions.
    assert {a for a, resources in by_action.items() if "*" in resources} == {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert not [a for a in by_action if a.endswith(":*") or a == "*"]


def test_function_lists_only_the_incoming_prefix_and_writes_only_input_manifests(
    template: Any, assembly: Assembly
) -> None:
    """Each run's snapshot: list the incoming data with versions, write its manifest, encrypt it via S3."""
    statements = function_statements(template)
    s3_actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {a for a in s3_actions if a.startswith("s3:")} == {"s3:ListBucketVersions", "s3:PutObject"}
    by_sid = {s.get("Sid"): s for s in statements}

    listing = by_sid["ListIncomingTrainingData"]
    assert listing["Action"] == "s3:ListBucketVersions"
    assert exported(assembly, listing["Resource"]) == data_bucket(assembly)
    assert listing["Condition"] == {"StringEquals": {"s3:prefix": "incoming/"}}

    write = by_sid["WriteInputManifests"]
    assert write["Action"] == "s3:PutObject"
    bucket_arn, pattern = write["Resource"]["Fn::Join"][1]
    assert "ArtifactsBucket" in bucket_arn["Fn::ImportValue"]
    assert pattern == "/input-manifests/*"

    encrypt = by_sid["EncryptInputManifestsThroughS3"]
    assert encrypt["Action"] == "kms:GenerateDataKey"
    assert "DataKey" in encrypt["Resource"]["Fn::ImportValue"]
    assert encrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def test_function_runs_latest_python_with_pinned_powertools_layer_and_no_reserved_concurrency(template: Any) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "start_retraining.lambda_handler",
            # A reservation fails on accounts with a low concurrency quota; it is opt-in.
            "ReservedConcurrentExecutions": Match.absent(),
            "TracingConfig": {"Mode": "Active"},
            "Layers": [
                Match.string_like_regexp(
                    r"^arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:\d+$"
                )
            ],
            "DeadLetterConfig": {"TargetArn": QUEUE},
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "PIPELINE_NAME": "mlops-delivery-model-build",
                        "MODEL_PACKAGE_GROUP": "mlops-delivery",
                        "INCOMING_PREFIX": "incoming/",
                        "MANIFEST_BUCKET": {"Fn::ImportValue": Match.string_like_regexp("ArtifactsBucket")},
                        "QUIET_PERIOD_MINUTES": "60",
                        "APPROVAL_MODE": "manual",
                        "PRODUCTION": "false",
                        "MANUAL_SOURCE": "mlops-delivery.retraining",
                    }
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 2, "Qualifier": "$LATEST"}
    )


def test_asset_holds_only_the_handler_sources(assembly: Assembly, template: Any) -> None:
    """Powertools comes from the AWS layer: the handler's modules and contracts.py, no dependency vendored."""
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    staged = assembly.directory / f"asset.{asset_hash}"
    assert sorted(p.name for p in staged.iterdir()) == [
        "contracts.py",
        "retraining_runs.py",
        "retraining_settings.py",
        "start_retraining.py",
        "training_data.py",
        "trigger_events.py",
    ]


def test_dead_letter_queue_is_kms_encrypted_ssl_only_and_alarmed_to_the_alerts_topic(template: Any) -> None:
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^StartRetrainingDeadLetterKey"), "Arn"]},
            "MessageRetentionPeriod": 1209600,
        },
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowEventBridgeToUseTheQueue",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": Match.any_value()}],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [TOPIC],
        },
    )


STATEFUL_OF_THE_FUNCTION = ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::KMS::Key", "AWS::Logs::LogGroup")


def test_dead_letter_queue_its_policy_key_and_logs_are_retained_like_the_buckets(template: Any) -> None:
    """dev's removal_policy is retain: what the function leaves behind outlives the stack."""
    for kind in STATEFUL_OF_THE_FUNCTION:
        found = template.find_resources(kind)
        assert found, kind
        for logical_id, resource in found.items():
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


def test_pipeline_failure_notifies_the_alerts_topic(template: Any) -> None:
    rule = rule_named(template, "NotificationsPipelineFailedRule")
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"],
        "detail": {"pipelineArn": [PIPELINE_ARN], "currentPipelineExecutionStatus": ["Failed"]},
    }
    (target,) = rule["Targets"]
    assert "AlertsTopic" in target["Arn"]["Fn::ImportValue"]
    assert target["InputTransformer"]["InputPathsMap"] == {
        "time": "$.time",
        "detail-pipelineExecutionArn": "$.detail.pipelineExecutionArn",
        "detail-pipelineExecutionDisplayName": "$.detail.pipelineExecutionDisplayName",
    }
    assert "FAILED" in target["InputTransformer"]["InputTemplate"]
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("StartRetrainingDeadLetterQueue")


def test_version_waiting_for_approval_notifies_the_alerts_topic(template: Any) -> None:
    rule = rule_named(template, "NotificationsApprovalPendingRule")
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": ["mlops-delivery"],
            "ModelApprovalStatus": ["PendingManualApproval"],
            "ModelPackageStatus": ["Completed"],
        },
    }
    (target,) = rule["Targets"]
    assert "AlertsTopic" in target["Arn"]["Fn::ImportValue"]
    assert "waiting for approval" in target["InputTransformer"]["InputTemplate"]
    assert set(target["InputTransformer"]["InputPathsMap"].values()) == {
        "$.detail.ModelPackageVersion",
        "$.detail.ModelPackageGroupName",
        "$.detail.ModelPackageArn",
    }


@pytest.mark.template
def test_rules_follow_the_config_and_a_single_account_needs_no_bus_policy() -> None:
    """Schedule off, new data off: no such rules. Every environment in one account: no bus policy.

    Also one trigger at a time (reserved concurrency) and removal_policy destroy, as configured.
    """
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from config import ApprovalMode, AwsTarget, ResourceNames, RetrainingConfig
    from constructs.security.operator_role import OperatorAccess
    from stacks.retraining_stack import RetrainingStack
    from stacks.storage_stack import StorageStack

    app = cdk.App(context=cdk_json_context())  # the real feature flags
    env = cdk.Environment(account=BUILD_ACCOUNT, region="eu-west-1")
    storage = StorageStack(
        app,
        "Storage",
        env=env,
        project_name="mlops-delivery",
        model_package_group_name="mlops-delivery",
        removal_policy=cdk.RemovalPolicy.DESTROY,
        notification_emails=[],
        builds_models=True,
        operator_access=OperatorAccess(
            names=ResourceNames("mlops-delivery"),
            environment="dev",
            trusted_principals=(),
            toolchain_account=BUILD_ACCOUNT,
            registry=AwsTarget(account=BUILD_ACCOUNT, region="eu-west-1"),
        ),
    )
    assert storage.registry is not None
    retraining = RetrainingStack(
        app,
        "Retraining",
        env=env,
        pipeline_name="mlops-delivery-model-build",
        registry=storage.registry,
        data_bucket=storage.data_bucket,
        artifacts_bucket=storage.artifacts_bucket,
        key=storage.key,
        alerts_topic=storage.alerts_topic,
        retraining=RetrainingConfig(
            schedule=None,
            on_new_data=False,
            on_drift=True,
            incoming_prefix="incoming/",
            quiet_period_minutes=0,
            one_trigger_at_a_time=True,
        ),
        approval=ApprovalMode.AUTO,
        production=False,
        manual_source="mlops-delivery.retraining",
        drift_alarm_prefixes=["mlops-delivery-dev-drift-"],
        drift_alarm_accounts=[BUILD_ACCOUNT],
        forwarding_accounts=[],
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    template = Template.from_stack(retraining)
    trigger_kinds = sorted(m.group(1) for i in rules(template) if (m := re.match(r"^Triggers([A-Za-z]+?)Rule", i)))
    assert trigger_kinds == ["Drift", "Manual"]
    template.resource_count_is("AWS::Events::EventBusPolicy", 0)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"APPROVAL_MODE": "auto", "QUIET_PERIOD_MINUTES": "0"})}},
    )
    # Asked for: one trigger at a time. Destroy mode: the function's leftovers go with the stack.
    template.has_resource_properties("AWS::Lambda::Function", {"ReservedConcurrentExecutions": 1})
    for kind in STATEFUL_OF_THE_FUNCTION:
        for logical_id, resource in template.find_resources(kind).items():
            assert resource.get("DeletionPolicy") == "Delete", logical_id
    for logical_id, policy in Template.from_stack(storage).find_resources("AWS::S3::BucketPolicy").items():
        assert policy.get("DeletionPolicy") == "Delete", logical_id


def test_rule_patterns_match_the_events_aws_publishes_and_nothing_else(template: Any) -> None:
    """The synthesized patterns, evaluated by an EventBridge pattern matcher against documented events."""
    from moto.events.models import EventPattern

    def matches(rule_prefix: str, event: dict[str, Any]) -> bool:
        pattern = json.dumps(rule_named(template, rule_prefix)["EventPattern"])
        # The data bucket's name is imported from the storage stack; stand in a literal for it.
        pattern = re.sub(r'\{"Fn::ImportValue": "[^"]*DataBucket[^"]*"\}', '"data-bucket"', pattern)
        return EventPattern.load(pattern).matches_event(event)

    event = partial(eventbridge_event, account=BUILD_ACCOUNT)
    upload = partial(object_created_event, account=BUILD_ACCOUNT)
    # Drift alarms are forwarded from the serving accounts, prod's here.
    alarm = partial(alarm_state_change_event, account="444444444444")

    assert matches("TriggersNewDataRule", upload("data-bucket", "incoming/2026/part-1.csv"))
    assert not matches("TriggersNewDataRule", upload("data-bucket", "reports/part-1.csv"))
    assert not matches("TriggersNewDataRule", upload("other-bucket", "incoming/part-1.csv"))

    assert matches("TriggersDriftRule", alarm("mlops-delivery-prod-drift-summary", "ALARM"))
    assert not matches("TriggersDriftRule", alarm("mlops-delivery-prod-drift-summary", "OK"))
    assert not matches("TriggersDriftRule", alarm("mlops-delivery-prod-rollback-5xx", "ALARM"))
    assert not matches("TriggersDriftRule", alarm("mlops-delivery-prod-drift-summary", "ALARM", account="999999999999"))

    manual = event("mlops-delivery.retraining", "Retraining Requested", {"reason": "relabelled data"})
    assert matches("TriggersManualRule", manual)
    push = event("aws.codecommit", "CodeCommit Repository State Change", {"event": "referenceUpdated"})
    for rule in ("TriggersNewDataRule", "TriggersDriftRule", "TriggersManualRule"):
        assert not matches(rule, push)

    failed = {
        "pipelineArn": PIPELINE_ARN,
        "pipelineExecutionArn": f"{PIPELINE_ARN}/execution/p4jn9xou8a8s",
        "pipelineExecutionDisplayName": "drift-0a1b2c3d4e5f6a7b",
        "currentPipelineExecutionStatus": "Failed",
        "previousPipelineExecutionStatus": "Executing",
    }
    status_change = "SageMaker Model Building Pipeline Execution Status Change"
    assert matches("NotificationsPipelineFailedRule", event("aws.sagemaker", status_change, failed))
    succeeded = {**failed, "currentPipelineExecutionStatus": "Succeeded"}
    assert not matches("NotificationsPipelineFailedRule", event("aws.sagemaker", status_change, succeeded))

    registered = {
        "ModelPackageGroupName": "mlops-delivery",
        "ModelPackageVersion": 7,
        "ModelPackageArn": f"arn:aws:sagemaker:eu-west-1:{BUILD_ACCOUNT}:model-package/mlops-delivery/7",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "PendingManualApproval",
    }
    package_change = "SageMaker Model Package State Change"
    assert matches("NotificationsApprovalPendingRule", event("aws.sagemaker", package_change, registered))
    approved = {**registered, "ModelApprovalStatus": "Approved"}
    assert not matches("NotificationsApprovalPendingRule", event("aws.sagemaker", package_change, approved))
