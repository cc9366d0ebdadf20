"""Starts the delivery pipeline when a model version is approved or rejected in the registry."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs

import contracts
from constructs import Construct
from constructs.delivery.approval_event_forwarder import approval_event_pattern
from constructs.storage.model_registry import ModelRegistry
from constructs.triggers.default_bus_policy import DefaultBusPolicy


class ModelApprovalTrigger(Construct):
    """An EventBridge rule on the registry's approval decisions that starts `pipeline`.

    The pipeline then resolves the release again, so a model refresh takes exactly the path a
    code change takes: synth, every environment in order, the smoke test and the manual
    approval before production. When the registry lives in another account, that account's
    forwarder puts the events on this account's default bus, and the bus policy admits that
    account only, for PutEvents of SageMaker model package state changes only, on the default bus.
    An approval the rule cannot turn into a pipeline start lands in `dead_letter_queue`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        pipeline: codepipeline.IPipeline,
        registry: ModelRegistry,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        registry_account = Stack.of(registry).account
        self.bus_policy: DefaultBusPolicy | None = None
        if registry_account != stack.account:
            source, detail_type = contracts.MODEL_PACKAGE_STATE_CHANGE
            statement = iam.PolicyStatement(
                sid="ModelRegistryAccountForwardsApprovals",
                principals=[iam.AccountPrincipal(registry_account)],
                actions=["events:PutEvents"],
                resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
                # The registry account cannot inject pushes, manual retrains or look-alike events.
                conditions={
                    "ForAllValues:StringEquals": {"events:source": [source]},
                    "StringEquals": {"events:detail-type": detail_type},
                },
            )
            self.bus_policy = DefaultBusPolicy(
                self, "AdmitRegistryAccount", statement_id="ModelRegistryAccountForwardsApprovals", statement=statement
            )
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"Starts the delivery pipeline when a version of {registry.group_name} is approved or rejected",
            # The account filter keeps any other account's look-alike events from starting a deploy.
            event_pattern=approval_event_pattern(registry.group_name, accounts=[registry_account]),
            targets=[targets.CodePipeline(pipeline, dead_letter_queue=dead_letter_queue)],
        )
