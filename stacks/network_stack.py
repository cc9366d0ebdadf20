"""An environment's private way to AWS: the VPC endpoints its SageMaker jobs and endpoint use."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack

from config import NetworkConfig
from constructs import Construct
from constructs.network.private_endpoints import PrivateEndpoints


class NetworkStack(Stack):
    """Only where the config asks for private networking; stateless, replaceable on any deploy."""

    def __init__(self, scope: Construct, id_: str, *, network: NetworkConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        assert network.vpc is not None, "config (NetworkConfig) requires a VPC for private networking"
        self.endpoints = PrivateEndpoints(
            self,
            "PrivateEndpoints",
            vpc=network.vpc,
            route_table_ids=network.route_table_ids,
            services=network.vpc_endpoints,
            client_cidrs=network.endpoint_client_cidrs,
        )
