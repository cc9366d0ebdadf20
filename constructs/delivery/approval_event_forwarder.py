"""Forwards the registry's approval decisions to the account that runs the delivery pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs

import contracts
from constructs import Construct
from constructs.storage.model_registry import ModelRegistry

# A version's approval status changed; the decisions that change what ships are these two
# (Rejected matters too: rejecting the live version must redeploy the previous approved one).
APPROVAL_DECISIONS = (contracts.APPROVED, contracts.REJECTED)


def approval_event_pattern(group_name: str, *, accounts: Sequence[str] = ()) -> events.EventPattern:
    """SageMaker's 'Model Package State Change' for `group_name`, when approved or rejected."""
    source, detail_type = contracts.MODEL_PACKAGE_STATE_CHANGE
    options: dict[str, Any] = {}
    if accounts:
        options["account"] = list(accounts)
    return events.EventPattern(
        source=[source],
        detail_type=[detail_type],
        detail={"ModelPackageGroupName": [group_name], "ModelApprovalStatus": list(APPROVAL_DECISIONS)},
        **options,
    )


class ApprovalEventForwarder(Construct):
    """A rule next to the registry that sends its approval decisions to another event bus.

    Used when the delivery pipeline lives in another account or region: SageMaker only
    emits the event on the registry account's default bus, so the event has to be carried
    to the pipeline's default bus, where a rule starts the pipeline. What the other bus refuses
    lands in `dead_letter_queue` after EventBridge's retries.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        registry: ModelRegistry,
        destination: events.IEventBus,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id_)
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"Sends approval decisions on model package group {registry.group_name} to the pipeline",
            event_pattern=approval_event_pattern(registry.group_name),
            targets=[targets.EventBus(destination, dead_letter_queue=dead_letter_queue)],
        )
