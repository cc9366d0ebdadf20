"""Alerts that reach someone: no event dropped in silence, and a warning when nobody would hear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Assembly, raw_config
from tests.deployed_names import Deployed
from tests.support import stage_for, synth_warnings

LAYOUTS = ("assembly", "variant_assembly", "sandbox_assembly")
QUEUE_DEPTH = "ApproximateNumberOfMessagesVisible"


def _queue_alarms(deployed: Deployed) -> dict[str, list[dict[str, Any]]]:
    """Queue ARN -> the alarms on its visible messages that notify someone."""
    alarms: dict[str, list[dict[str, Any]]] = {}
    for resource in deployed.resources():
        properties = resource.properties
        if (
            resource.type != "AWS::CloudWatch::Alarm"
            or properties.get("MetricName") != "ApproximateNumberOfMessagesVisible"
        ):
            continue
        (dimension,) = properties["Dimensions"]
        queue = deployed.resolve(resource.stack, dimension["Value"])
        arn = f"arn:aws:sqs:{deployed.region(resource.stack)}:{deployed.account(resource.stack)}:{queue}"
        if properties.get("AlarmActions"):
            alarms.setdefault(arn, []).append(properties)
    return alarms


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_eventbridge_target_has_a_dead_letter_queue_whose_depth_alarm_notifies(
    layout: str, request: pytest.FixtureRequest
) -> None:
    """What cdk-nag's Serverless pack checks as EventBusDLQ, and the alarm that makes the queue seen."""
    deployed = Deployed(request.getfixturevalue(layout))
    alarms = _queue_alarms(deployed)
    targets = 0
    for resource in deployed.resources():
        if resource.type != "AWS::Events::Rule":
            continue
        for target in resource.properties["Targets"]:
            targets += 1
            where = f"{resource.stack} {resource.logical_id} -> {target['Id']}"
            assert "DeadLetterConfig" in target, f"{where}: no dead-letter queue"
            queue = deployed.resolve(resource.stack, target["DeadLetterConfig"]["Arn"])
            # EventBridge puts undeliverable events only into a queue of the rule's own account and region.
            assert queue.split(":")[3:5] == [deployed.region(resource.stack), deployed.account(resource.stack)], where
            assert alarms.get(queue), f"{where}: no alarm on {queue}"
            assert all(alarm["Threshold"] == 1 and alarm["EvaluationPeriods"] == 1 for alarm in alarms[queue])
    assert targets >= 7


def test_the_undelivered_events_queue_admits_only_this_accounts_rules_with_a_key_eventbridge_may_use(
    assembly: Assembly,
) -> None:
    template = assembly.template("mlops-delivery-prod-storage").to_json()
    resources = template["Resources"]
    (queue_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue" and "UndeliveredEvents" in k]
    (policy,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    (statement,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "444444444444"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:events:eu-west-1:444444444444:rule/*"
    key_id = resources[queue_id]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_policy = resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
    eventbridge = [s for s in key_policy if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert eventbridge and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(eventbridge[0]["Action"])
    assert resources[queue_id]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_synth_warns_when_production_or_its_pipeline_would_notify_nobody(
    assembly: Assembly, sandbox_assembly: Assembly
) -> None:
    """The shipped cdk.json has no addresses: prod and the toolchain are named; the sandbox has its own."""
    warnings = synth_warnings(assembly.directory, "mlops:noNotificationEmails")
    assert len(warnings) == 2, warnings
    assert any("mlops.environments.prod.notification_emails is empty" in w for w in warnings)
    assert any("mlops.toolchain.notification_emails is empty" in w for w in warnings)
    assert not synth_warnings(sandbox_assembly.directory, "mlops:noNotificationEmails")


@pytest.mark.template
def test_a_production_environment_with_addresses_is_not_warned_about(tmp_path: Path) -> None:
    from aws_cdk.assertions import Annotations, Match

    raw = raw_config()
    raw["environments"]["prod"]["notification_emails"] = ["oncall@example.com"]
    stage = stage_for(raw, tmp_path, "prod")
    assert not Annotations.from_stack(stage.storage).find_warning("*", Match.string_like_regexp("notification_emails"))
    raw["environments"]["prod"]["notification_emails"] = []
    stage = stage_for(raw, tmp_path, "prod")
    (warning,) = Annotations.from_stack(stage.storage).find_warning(
        "*", Match.string_like_regexp("notification_emails")
    )
    assert "docs/operations.md" in str(warning.entry.data)
