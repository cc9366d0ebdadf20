"""Puts SageMaker jobs and models into the environment's VPC and network isolation, and lets their roles do so.

The pipeline definitions are generated offline and hold no environment, so the network goes
into each job step's Arguments here, at synth, with the field names of the APIs the steps
call: CreateProcessingJob takes `NetworkConfig` {VpcConfig, EnableNetworkIsolation};
CreateTrainingJob takes `VpcConfig` and `EnableNetworkIsolation` at its top level (botocore
sagemaker service model; a pipeline step's Arguments are that API's request).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from config import VpcSettings
from pipeline_steps.sdk_session import canonical_json


def _job_steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Processing and training steps, also those inside condition steps' branches."""
    for step in steps:
        if step["Type"] in ("Processing", "Training"):
            yield step
        elif step["Type"] == "Condition":
            yield from _job_steps(step["Arguments"].get("IfSteps", []))
            yield from _job_steps(step["Arguments"].get("ElseSteps", []))


def job_step_names(definition: str) -> list[str]:
    """Names of the processing and training steps of a pipeline definition."""
    return [step["Name"] for step in _job_steps(json.loads(definition)["Steps"])]


def with_network(definition: str, vpc: VpcSettings | None, isolated_steps: Collection[str]) -> str:
    """`definition` with every job step in `vpc`, and network isolation on `isolated_steps`.

    Step names compare in lower case. Unchanged text when there is nothing to add, so an
    environment without network settings deploys the definition exactly as generated.
    """
    isolated = {name.lower() for name in isolated_steps}
    if vpc is None and not isolated:
        return definition
    pipeline = json.loads(definition)
    found = set()
    for step in _job_steps(pipeline["Steps"]):
        arguments = step["Arguments"]
        isolate = step["Name"].lower() in isolated
        found.add(step["Name"].lower())
        if step["Type"] == "Processing":
            network: dict[str, Any] = {"EnableNetworkIsolation": isolate}
            if vpc is not None:
                network["VpcConfig"] = vpc.sagemaker_vpc_config
            arguments["NetworkConfig"] = network
        else:
            arguments["EnableNetworkIsolation"] = isolate
            if vpc is not None:
                arguments["VpcConfig"] = vpc.sagemaker_vpc_config
    missing = sorted(isolated - found)
    if missing:
        raise ValueError(f"No processing or training step named {missing} in the pipeline definition to isolate.")
    return canonical_json(pipeline)


def grant_vpc_access(role: iam.IRole, vpc: VpcSettings, findings: dict[str, str]) -> None:
    """The EC2 permissions SageMaker uses with the role to attach jobs or a model to `vpc`.

    The actions are those the SageMaker developer guide lists for an execution role whose
    jobs or models run in a VPC ("How to use SageMaker AI execution roles": CreateTrainingJob,
    CreateProcessingJob, CreateModel). Network interfaces only in the configured subnets with
    the configured security groups, and managed only inside the VPC (the ec2:Vpc condition
    key of network-interface resources, Service Authorization Reference for Amazon EC2).
    Adds the acknowledgment of each wildcard to `findings`.
    """
    stack = Stack.of(role)

    def ec2_arn(resource: str, name: str) -> str:
        return stack.format_arn(service="ec2", resource=resource, resource_name=name)

    interfaces = ec2_arn("network-interface", "*")
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="AttachToConfiguredSubnetsAndGroups",
            actions=["ec2:CreateNetworkInterface"],
            resources=[
                *(ec2_arn("subnet", subnet) for subnet in vpc.subnet_ids),
                *(ec2_arn("security-group", group) for group in vpc.security_group_ids),
            ],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ManageNetworkInterfacesInVpc",
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=[interfaces],
            conditions={"ArnEquals": {"ec2:Vpc": ec2_arn("vpc", vpc.vpc_id)}},
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="DescribeVpcNetwork",
            actions=[
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            resources=["*"],
        )
    )
    findings[f"Resource::{interfaces}"] = (
        "SageMaker names the network interfaces it creates for jobs and models; limited to the configured VPC "
        "by the ec2:Vpc condition, and created only in the configured subnets and security groups."
    )
    describe = "The ec2:Describe* actions SageMaker checks the VPC with support no resource-level permissions."
    findings["Resource::*"] = f"{findings['Resource::*']} {describe}" if "Resource::*" in findings else describe
