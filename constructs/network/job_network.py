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
from pipeline_steps.checked_in import canonical_json

# Pipeline step types that start no SageMaker job or model of their own (SageMaker pipeline
# Python SDK's StepTypeEnum); every other type could escape the VPC, so `_job_steps` refuses it.
_STEPS_WITHOUT_JOBS = frozenset({"Condition", "Fail", "RegisterModel", "Lambda", "Callback"})


def _job_steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Processing and training steps, also those inside condition steps' branches.

    Any other step type that runs a job (Transform, Tuning, QualityCheck, Model, ...) raises:
    a new step must be given its network here before it can deploy, not run outside the VPC.
    """
    for step in steps:
        if step["Type"] in ("Processing", "Training"):
            yield step
        elif step["Type"] == "Condition":
            yield from _job_steps(step["Arguments"].get("IfSteps", []))
            yield from _job_steps(step["Arguments"].get("ElseSteps", []))
        elif step["Type"] not in _STEPS_WITHOUT_JOBS:
            raise ValueError(
                f"Pipeline step {step['Name']!r} has type {step['Type']!r}, which job_network doesn't know how to "
                f"put into the VPC; known: Processing, Training, {', '.join(sorted(_STEPS_WITHOUT_JOBS))}."
            )


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
            # Merged, so settings the SDK put there (EnableInterContainerTrafficEncryption) stay.
            network: dict[str, Any] = {**arguments.get("NetworkConfig", {}), "EnableNetworkIsolation": isolate}
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


def grant_vpc_access(
    role: iam.IRole, vpc: VpcSettings, findings: dict[str, str], *, runs_processing_jobs: bool
) -> None:
    """The EC2 permissions SageMaker uses with the role to attach jobs or a model to `vpc`.

    The actions are those the SageMaker developer guide lists for an execution role whose
    jobs or models run in a VPC ("How to use SageMaker AI execution roles": CreateTrainingJob,
    CreateProcessingJob, CreateModel). For a role that runs processing jobs the same page says
    not to scope them "with any conditions or resource filters. Otherwise, the validation checks
    that occur during the creation of the processing job fail"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createprocessingjob-perms):
    those roles get them on every resource, and `grant_create_jobs` keeps their jobs in
    the VPC instead. Other roles (the endpoint's) create network interfaces only in the
    configured subnets with the configured security groups, and manage them only inside the VPC
    (the ec2:Vpc condition key of network-interface resources, Service Authorization Reference
    for Amazon EC2). Adds the acknowledgment of each wildcard to `findings`.
    """
    stack = Stack.of(role)

    def ec2_arn(resource: str, name: str) -> str:
        return stack.format_arn(service="ec2", resource=resource, resource_name=name)

    interface_actions = [
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    ]
    describe_actions = [
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    ]
    if runs_processing_jobs:
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ManageJobNetworkInterfaces", actions=interface_actions, resources=["*"])
        )
        # SageMaker's processing-job validation fails when the execution role's EC2 network-interface
        # permissions are scoped by resource or condition (developer guide, CreateProcessingJob API: Execution
        # Role Permissions); the role may create jobs only in the configured subnets and security groups
        # (sagemaker:VpcSubnets, sagemaker:VpcSecurityGroupIds). constructs/security/wildcard_resources.py accepts it.
    else:
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
                actions=interface_actions,
                resources=[interfaces],
                conditions={"ArnEquals": {"ec2:Vpc": ec2_arn("vpc", vpc.vpc_id)}},
            )
        )
        findings[f"Resource::{interfaces}"] = (
            "SageMaker names the network interfaces it creates for jobs and models; limited to the configured VPC "
            "by the ec2:Vpc condition, and created only in the configured subnets and security groups."
        )
        # host-vpc.md ("Give SageMaker Hosted Endpoints Access to Resources in Your Amazon VPC") lists it.
        describe_actions.append("ec2:DescribeVpcEndpoints")
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="DescribeVpcNetwork", actions=describe_actions, resources=["*"])
    )
    # The ec2:Describe* actions take no resources (constructs/security/wildcard_resources.py checks each
    # statement on '*').


def job_network_conditions(vpc: VpcSettings | None, *, isolated: bool) -> dict[str, Any]:
    """IAM conditions that let a role create a SageMaker job only in `vpc` (and only isolated).

    The keys are those the Service Authorization Reference lists for sagemaker:CreateProcessingJob
    and sagemaker:CreateTrainingJob: sagemaker:VpcSubnets and sagemaker:VpcSecurityGroupIds are
    multivalued (ForAllValues, with Null false so a request without a VpcConfig doesn't pass
    vacuously), sagemaker:NetworkIsolation is a Bool (SageMaker developer guide, "Identity-based
    policy examples": "Require Amazon VPC", "Enforce network isolation").
    """
    conditions: dict[str, Any] = {}
    if vpc is not None:
        conditions["ForAllValues:StringEquals"] = {
            "sagemaker:VpcSubnets": list(vpc.subnet_ids),
            "sagemaker:VpcSecurityGroupIds": list(vpc.security_group_ids),
        }
        conditions["Null"] = {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"}
    if isolated:
        conditions["Bool"] = {"sagemaker:NetworkIsolation": "true"}
    return conditions


def grant_create_jobs(
    role: iam.IRole,
    *,
    job_arns: dict[str, str],
    definition: str,
    vpc: VpcSettings | None,
    isolated_steps: Collection[str],
) -> None:
    """Lets `role` create the pipeline's jobs of each type in `job_arns` ({"Processing": arn, ...}),
    in `vpc` when there is one, and isolated where every step of that type is.

    This is what keeps jobs in the VPC when the execution role's EC2 permissions can't be
    scoped (`grant_vpc_access`): step code holding the role's credentials can't start a job
    outside it.
    """
    isolated = {name.lower() for name in isolated_steps}
    steps = list(_job_steps(json.loads(definition)["Steps"])) if vpc is not None or isolated else []
    for step_type, arn in job_arns.items():
        names = [step["Name"].lower() for step in steps if step["Type"] == step_type]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=f"Create{step_type}Jobs",
                actions=[f"sagemaker:Create{step_type}Job"],
                resources=[arn],
                conditions=job_network_conditions(vpc, isolated=bool(names) and all(n in isolated for n in names))
                or None,
            )
        )
