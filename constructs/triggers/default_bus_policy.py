"""A statement on the account's default event bus policy (cross-account event delivery)."""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_iam as iam

from constructs import Construct


class DefaultBusPolicy(Construct):
    """AWS::Events::EventBusPolicy with one statement on the `default` bus.

    Written as a plain CfnResource: the typed CfnEventBusPolicy prints a deprecation warning for
    its legacy `principal` property on every synth, although only `Statement` is used here.
    """

    def __init__(self, scope: Construct, id_: str, *, statement_id: str, statement: iam.PolicyStatement) -> None:
        super().__init__(scope, id_)
        self.resource = CfnResource(
            self,
            "Resource",
            type="AWS::Events::EventBusPolicy",
            properties={
                "EventBusName": "default",
                "StatementId": statement_id,
                "Statement": Stack.of(self).resolve(statement.to_statement_json()),
            },
        )
