"""`Resource: "*"` allowed per statement and action: only actions that take no resource at all.

cdk-nag reports every such statement as `AwsSolutions-IAM5[Resource::*]`, a finding text that
names no action, so an acknowledgement of it would also pass `s3:GetObject` on `*`. This app
therefore acknowledges that text once (app.py) and checks each statement here instead, as a
synth-time validation plugin over the synthesized templates: an Allow statement whose Resource
is `*` passes only if every one of its actions is listed in NO_RESOURCE_ACTIONS, actions for
which the Service Authorization Reference ("Actions, resources, and condition keys for <service>")
lists no resource type, so no ARN could scope them (tests/test_wildcard_resources.py checks the
table against that reference's data). Three statements are accepted by their exact action set in
SCOPED_ELSEWHERE, each with why its `*` cannot be narrowed; any other action on `*` fails synth.
NotResource and NotAction grant by exclusion, as broadly as `*`, and are judged as `*`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
)

PLUGIN = "mlops-wildcard-resources"
RULE = "resource-star-only-for-actions-without-resources"

_SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_{}.html"
# Action -> the Service Authorization Reference page that lists it without a resource type.
NO_RESOURCE_ACTIONS: Mapping[str, str] = {
    "ecr:GetAuthorizationToken": _SAR.format("amazonelasticcontainerregistry"),
    "xray:PutTraceSegments": _SAR.format("awsx-ray"),
    "xray:PutTelemetryRecords": _SAR.format("awsx-ray"),
    "cloudwatch:PutMetricData": _SAR.format("amazoncloudwatch"),
    "cloudwatch:GetMetricData": _SAR.format("amazoncloudwatch"),
    "ec2:DescribeNetworkInterfaces": _SAR.format("amazonec2"),
    "ec2:DescribeVpcs": _SAR.format("amazonec2"),
    "ec2:DescribeDhcpOptions": _SAR.format("amazonec2"),
    "ec2:DescribeSubnets": _SAR.format("amazonec2"),
    "ec2:DescribeSecurityGroups": _SAR.format("amazonec2"),
    "ec2:DescribeVpcEndpoints": _SAR.format("amazonec2"),
}

# Statements whose actions do take resources but whose `*` is accepted, by their exact action set.
SCOPED_ELSEWHERE: Mapping[frozenset[str], str] = {
    frozenset(
        {
            "ec2:CreateNetworkInterface",
            "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterface",
            "ec2:DeleteNetworkInterfacePermission",
        }
    ): (
        "processing jobs in a VPC: SageMaker's validation of CreateProcessingJob fails when the execution role's "
        "network-interface permissions are scoped (constructs/network/job_network.py); the jobs themselves are "
        "confined to the configured subnets and security groups by sagemaker:VpcSubnets and "
        "sagemaker:VpcSecurityGroupIds"
    ),
    frozenset({"cloudformation:DescribeStacks", "s3:ListBucket"}): (
        "CDK Pipelines' self-mutation role: the CDK CLI reads the bootstrap stack and checks its bucket with its "
        "own credentials; both are read-only, and which stack and bucket the CLI reads is its own (toolkit stack "
        "name and qualifier), so a narrower scope could stop the pipeline from updating itself"
    ),
    frozenset({"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"}): (
        "CDK Pipelines' shared asset-publishing role, granted in CDK Pipelines' own policy: an explicit Deny outside "
        "the pipeline's asset projects confines it to them "
        "(constructs/delivery/delivery_pipeline.py, _confine_asset_builds)"
    ),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# CloudFormation types that hold IAM policies: one document, or a list of inline policies.
_ONE_DOCUMENT = (
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
)
_INLINE_POLICIES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")


def _documents(resource: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    properties = resource.get("Properties", {})
    if resource.get("Type") in _ONE_DOCUMENT:
        yield properties.get("PolicyDocument", {})
    if resource.get("Type") in _INLINE_POLICIES:
        for policy in properties.get("Policies", []):
            yield policy.get("PolicyDocument", {})


def _refused(statement: Mapping[str, Any]) -> list[str]:
    """What one statement grants on every resource that only NO_RESOURCE_ACTIONS may have there.

    NotResource grants on every resource but those listed, and NotAction every action but those
    listed: exclusions no table of actions can vouch for, so they count as `*`.
    """
    if statement.get("Effect") != "Allow":
        return []
    if "*" not in _as_list(statement.get("Resource", [])) and "NotResource" not in statement:
        return []
    if "NotAction" in statement:
        return [f"NotAction {', '.join(sorted(_as_list(statement['NotAction'])))}"]
    actions = frozenset(_as_list(statement.get("Action", [])))
    if actions in SCOPED_ELSEWHERE:
        return []
    return sorted(action for action in actions if action not in NO_RESOURCE_ACTIONS)


def wildcard_findings(template: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(logical id, actions not allowed on `*`) of each statement in `template` this rule refuses."""
    findings = []
    for logical_id, resource in template.get("Resources", {}).items():
        for document in _documents(resource):
            for statement in _as_list(document.get("Statement", [])):
                refused = _refused(statement)
                if refused:
                    findings.append((logical_id, refused))
    return findings


@jsii.implements(IPolicyValidationPlugin)
class WildcardResourceRule:
    """The synth-time check of this module, reporting each refused statement as an error."""

    @property
    def name(self) -> str:
        return PLUGIN

    @property
    def rule_ids(self) -> list[str] | None:
        return [RULE]

    @property
    def version(self) -> str | None:
        return "1"

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        violations = []
        for path in context.template_paths:
            for logical_id, actions in wildcard_findings(json.loads(Path(path).read_text())):
                violations.append(
                    PolicyViolation(
                        rule_name=RULE,
                        description=(
                            f"{', '.join(actions)} on Resource '*': these actions take resources, so grant them on "
                            "the ARNs they need (only actions without resource types may use '*')"
                        ),
                        severity="error",
                        violating_resources=[
                            PolicyViolatingResource(
                                locations=["Properties"], resource_logical_id=logical_id, template_path=path
                            )
                        ],
                    )
                )
        return PolicyValidationPluginReport(success=not violations, violations=violations, plugin_version="1")
