"""How an environment's SageMaker jobs and endpoint reach the network: a VPC, its endpoints, isolation."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import Field, model_validator

from config.errors import invalid
from config.fields import IPV4_CIDR, ROUTE_TABLE_ID, SECURITY_GROUP_ID, SUBNET_ID, VPC_ID, Flag, Listed, Text
from config.schema import Schema

# SageMaker's VpcConfig takes 1-16 subnets and 1-5 security groups (botocore sagemaker model:
# Subnets, VpcSecurityGroupIds).
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
# SageMaker hosting: "You must create at least two subnets in different availability zones in
# your private VPC, even if you have only one hosting instance" (developer guide, "Give SageMaker
# Hosted Endpoints Access to Resources in Your Amazon VPC"). Config can't see the zones.
MIN_ENDPOINT_SUBNETS = 2
# The VPC endpoints `private_networking` can create, by the last part of their service name
# (com.amazonaws.<region>.<name>): s3 is a gateway endpoint, the others interface endpoints.
VPC_ENDPOINT_SERVICES = ("s3", "sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", "logs", "monitoring", "kms")


class VpcSettings(Schema):
    """The VPC that SageMaker jobs and the endpoint attach their network interfaces to."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    # Where the interface VPC endpoints go: at most one subnet per Availability Zone (EC2).
    endpoint_subnet_ids: tuple[str, ...]

    @property
    def sagemaker_vpc_config(self) -> dict[str, list[str]]:
        """SageMaker's VpcConfig (CreateTrainingJob, CreateModel, a processing job's NetworkConfig)."""
        return {"SecurityGroupIds": list(self.security_group_ids), "Subnets": list(self.subnet_ids)}


# Steps whose script calls an AWS API from inside its container, which network isolation cuts
# off ("the container can't make any outbound network calls", SageMaker "Network isolation").
_STEPS_NEEDING_NETWORK = {
    "train": "script-mode training downloads the model's source directory (sagemaker_submit_directory) "
    "from S3 inside the container",
    "evaluate": "evaluate.py downloads the champion model through the S3 API",
}


class NetworkIsolation(Schema):
    """Which model-build steps, by their names in lower case, and whether the endpoint run isolated."""

    preprocess: Annotated[bool, Flag()] = False
    train: Annotated[bool, Flag()] = False
    evaluate: Annotated[bool, Flag()] = False
    baseline: Annotated[bool, Flag()] = False
    endpoint: Annotated[bool, Flag()] = True

    @model_validator(mode="after")
    def _check(self) -> Self:
        for step, why in _STEPS_NEEDING_NETWORK.items():
            if getattr(self, step):
                raise invalid(step, True, f"false: {why}, which network isolation cuts off")
        return self


# The model-build pipeline's processing and training steps, by their names in lower case.
MODEL_BUILD_JOB_STEPS = tuple(name for name in NetworkIsolation.model_fields if name != "endpoint")


def _ids(what: str, high: int) -> Listed:
    pattern = {"subnet": SUBNET_ID, "security group": SECURITY_GROUP_ID, "route table": ROUTE_TABLE_ID}[what]
    example = {"subnet": "subnet", "security group": "sg", "route table": "rtb"}[what] + "-0123456789abcdef0"
    return Listed(pattern, f"1 to {high} distinct {what} ({example}) IDs", high=high, distinct=True, null_is_empty=True)


class NetworkConfig(Schema):
    """How an environment's SageMaker jobs and endpoint reach the network.

    Without a VPC they run in SageMaker's own network, as before; with one, they attach to
    its subnets and reach AWS through whatever that VPC routes to (NAT, or the VPC endpoints
    that `private_networking` creates). Network isolation is independent of the VPC: the
    container gets no network at all, while SageMaker still moves its S3 inputs and outputs.
    """

    # The VPC, its job subnets and security groups: all three or none.
    vpc_id: Annotated[str | None, Text(VPC_ID, "a VPC ID such as vpc-0123456789abcdef0")] = None
    subnet_ids: Annotated[tuple[str, ...], _ids("subnet", MAX_SUBNETS)] = ()
    security_group_ids: Annotated[tuple[str, ...], _ids("security group", MAX_SECURITY_GROUPS)] = ()
    # Default: subnet_ids.
    endpoint_subnet_ids: Annotated[tuple[str, ...], _ids("subnet", MAX_SUBNETS)] = ()
    # Create the VPC endpoints in `vpc_endpoints` (default: S3, SageMaker, ECR, CloudWatch logs
    # and metrics, KMS). Their private DNS answers for the whole VPC.
    private_networking: Annotated[bool, Flag()] = False
    # Leave out those the VPC already has: a route table takes one S3 gateway route, and a
    # private DNS name one interface endpoint per VPC.
    vpc_endpoints: Annotated[
        tuple[str, ...],
        Listed(
            "^(" + "|".join(re.escape(name) for name in VPC_ENDPOINT_SERVICES) + ")$",
            f"distinct names from {' | '.join(VPC_ENDPOINT_SERVICES)}",
            distinct=True,
        ),
    ] = VPC_ENDPOINT_SERVICES
    # Besides the job security groups, who may use the interface endpoints (HTTPS): other
    # workloads of a shared VPC, whose calls to these services private DNS also redirects.
    endpoint_client_cidrs: Annotated[
        tuple[str, ...],
        Listed(
            IPV4_CIDR,
            "1 to 50 distinct IPv4 CIDR blocks such as 10.0.0.0/16",
            high=50,
            distinct=True,
            null_is_empty=True,
        ),
    ] = ()
    # The route tables of the job subnets: the S3 gateway endpoint adds its route to them.
    # CreateVpcEndpoint sets no upper limit.
    route_table_ids: Annotated[tuple[str, ...], _ids("route table", 200)] = ()
    network_isolation: NetworkIsolation = Field(default_factory=NetworkIsolation)

    @model_validator(mode="after")
    def _check(self) -> Self:
        parts = ("vpc_id", "subnet_ids", "security_group_ids")
        given = [part for part in parts if getattr(self, part)]
        if not given and self.endpoint_subnet_ids:
            raise invalid("endpoint_subnet_ids", list(self.endpoint_subnet_ids), "only with vpc_id set")
        for part in parts:
            if given and part not in given:
                raise invalid(
                    part,
                    None if part not in self.model_fields_set else [],
                    f"a value whenever {given[0]} is set: a VPC needs vpc_id, subnet_ids and security_group_ids",
                )
        if self.private_networking and not given:
            raise invalid(
                "private_networking",
                True,
                "false unless vpc_id, subnet_ids and security_group_ids are set: the VPC endpoints go into that VPC",
            )
        if given and len(self.subnet_ids) < MIN_ENDPOINT_SUBNETS:
            raise invalid(
                "subnet_ids",
                list(self.subnet_ids),
                f"{MIN_ENDPOINT_SUBNETS} to {MAX_SUBNETS} distinct subnet IDs in different Availability Zones: "
                "SageMaker hosts the endpoint in at least two",
            )
        if self.private_networking and "s3" in self.vpc_endpoints and not self.route_table_ids:
            raise invalid(
                "route_table_ids",
                [],
                "1 to 200 distinct route table (rtb-0123456789abcdef0) IDs with private_networking "
                "(or leave s3 out of vpc_endpoints)",
            )
        if self.endpoint_client_cidrs and not self.private_networking:
            raise invalid("endpoint_client_cidrs", list(self.endpoint_client_cidrs), "only with private_networking")
        return self

    @property
    def vpc(self) -> VpcSettings | None:
        if self.vpc_id is None:
            return None
        return VpcSettings(
            vpc_id=self.vpc_id,
            subnet_ids=self.subnet_ids,
            security_group_ids=self.security_group_ids,
            endpoint_subnet_ids=self.endpoint_subnet_ids or self.subnet_ids,
        )

    @property
    def isolated_steps(self) -> tuple[str, ...]:
        """Model-build steps (MODEL_BUILD_JOB_STEPS) that run with network isolation."""
        return tuple(step for step in MODEL_BUILD_JOB_STEPS if getattr(self.network_isolation, step))

    @property
    def endpoint_isolation(self) -> bool:
        return self.network_isolation.endpoint
