"""An environment's private way to AWS: the VPC endpoints its SageMaker jobs and endpoint use."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack

from config import VpcSettings
from constructs import Construct
from constructs.private_endpoints import PrivateEndpoints


class NetworkStack(Stack):
    """Only where the config asks for private networking; stateless, replaceable on any deploy."""

    def __init__(
        self, scope: Construct, id_: str, *, vpc: VpcSettings, route_table_ids: tuple[str, ...], **kwargs: Any
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.endpoints = PrivateEndpoints(self, "PrivateEndpoints", vpc=vpc, route_table_ids=route_table_ids)
