"""The physical names and ARNs a synthesized assembly's resources get when CloudFormation creates them.

A resource with a name property gets that name. One without gets a name CloudFormation
generates from the stack name, the logical ID and a random suffix, `MyStack-MyBucket-
abcdefghijk1` in CloudFormation's own example ("Name type", CloudFormation user guide), cut to
the type's limit and lower-cased where the type needs it (S3). How it is cut the user guide does
not say; the CloudFormation CLI's Java plugin does it in code, and real names agree
(tests/test_generated_names.py): the stack name is cut as well as the logical ID. The few
identifiers the service makes up (key ids, sg-..., vpce-...) get fixed placeholders of the
right shape.

`Deployed.resolve` evaluates the intrinsic functions the templates use (Ref, Fn::GetAtt,
Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::ImportValue across the assembly's stacks) with
these names, the stack's account and region; what it cannot know stays a `<...>` placeholder,
which no ARN pattern matches.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.conftest import Assembly

PARTITION = "aws"
# CloudFormation's random suffix: 12 characters and a dash before them.
_SUFFIX = "-AbCdEf123456"


@dataclass(frozen=True)
class Naming:
    """How a resource type is named and what its ARN and `Ref` are."""

    arn: str  # with {partition}, {region}, {account}, {name}
    name_property: str | None = None
    max_length: int = 64
    lower: bool = False
    # What `Ref` returns: the name, the ARN or (SQS) the queue URL.
    ref: str = "name"
    # A service-made identifier instead of a generated name: its prefix (key ids have none).
    made_up_id: str | None = None


_SAGEMAKER = "arn:{partition}:sagemaker:{region}:{account}:"
NAMINGS: dict[str, Naming] = {
    "AWS::IAM::Role": Naming("arn:{partition}:iam::{account}:role/{name}", "RoleName", 64),
    "AWS::S3::Bucket": Naming("arn:{partition}:s3:::{name}", "BucketName", 63, lower=True),
    "AWS::KMS::Key": Naming("arn:{partition}:kms:{region}:{account}:key/{name}", made_up_id=""),
    "AWS::KMS::Alias": Naming("arn:{partition}:kms:{region}:{account}:{name}", "AliasName", 256),
    "AWS::Lambda::Function": Naming("arn:{partition}:lambda:{region}:{account}:function:{name}", "FunctionName", 64),
    "AWS::Logs::LogGroup": Naming("arn:{partition}:logs:{region}:{account}:log-group:{name}", "LogGroupName", 512),
    "AWS::SNS::Topic": Naming("arn:{partition}:sns:{region}:{account}:{name}", "TopicName", 256, ref="arn"),
    "AWS::SQS::Queue": Naming("arn:{partition}:sqs:{region}:{account}:{name}", "QueueName", 80, ref="url"),
    "AWS::Events::Rule": Naming("arn:{partition}:events:{region}:{account}:rule/{name}", "Name", 64),
    "AWS::CloudWatch::Alarm": Naming("arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}", "AlarmName", 255),
    "AWS::CloudWatch::Dashboard": Naming(
        "arn:{partition}:cloudwatch::{account}:dashboard/{name}", "DashboardName", 255
    ),
    "AWS::SageMaker::Endpoint": Naming(_SAGEMAKER + "endpoint/{name}", "EndpointName", 63, True, "arn"),
    "AWS::SageMaker::EndpointConfig": Naming(
        _SAGEMAKER + "endpoint-config/{name}", "EndpointConfigName", 63, True, "arn"
    ),
    "AWS::SageMaker::Model": Naming(_SAGEMAKER + "model/{name}", "ModelName", 63, True, "arn"),
    "AWS::SageMaker::Pipeline": Naming(_SAGEMAKER + "pipeline/{name}", "PipelineName", 256, True),
    "AWS::SageMaker::ModelPackageGroup": Naming(
        _SAGEMAKER + "model-package-group/{name}", "ModelPackageGroupName", 63, True, "arn"
    ),
    "AWS::CodePipeline::Pipeline": Naming("arn:{partition}:codepipeline:{region}:{account}:{name}", "Name", 100),
    "AWS::CodeBuild::Project": Naming("arn:{partition}:codebuild:{region}:{account}:project/{name}", "Name", 150),
    "AWS::CodeStarNotifications::NotificationRule": Naming(
        "arn:{partition}:codestar-notifications:{region}:{account}:notificationrule/{name}", made_up_id="", ref="arn"
    ),
    "AWS::ApplicationAutoScaling::ScalableTarget": Naming(
        "arn:{partition}:application-autoscaling:{region}:{account}:scalable-target/{name}", made_up_id="sclt"
    ),
    "AWS::EC2::SecurityGroup": Naming(
        "arn:{partition}:ec2:{region}:{account}:security-group/{name}", made_up_id="sg-", ref="id"
    ),
    "AWS::EC2::VPCEndpoint": Naming("arn:{partition}:ec2:{region}:{account}:vpc-endpoint/{name}", made_up_id="vpce-"),
}


def generated_name(stack_name: str, logical_id: str, max_length: int, *, lower: bool = False) -> str:
    """`<stack>-<logical id>-<suffix>` in at most `max_length` characters.

    What the suffix and the dash between the parts leave is split fairly between the stack name and
    the logical ID, the stack name's half rounded up and each part taking what the other leaves
    (IdentifierUtils.generateResourceIdentifier, aws-cloudformation/cloudformation-cli-java-plugin).
    """
    room = max_length - len(_SUFFIX) - 1
    if len(stack_name) + len(logical_id) > room:
        stack_name = stack_name[: max(room - len(logical_id), (room + 1) // 2)]
        logical_id = logical_id[: room - len(stack_name)]
    name = f"{stack_name}-{logical_id}{_SUFFIX}"
    return name.lower() if lower else name


def made_up_id(prefix: str, logical_id: str) -> str:
    digest = hashlib.sha256(logical_id.encode()).hexdigest()
    if prefix == "":
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return f"{prefix}{digest[:17]}"


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]


class Deployed:
    """An assembly's resources with the names, ARNs and values they have once deployed."""

    def __init__(self, assembly: Assembly) -> None:
        self.assembly = assembly
        self._exports = {
            output["Export"]["Name"]: (stack, output["Value"])
            for stack, template in assembly.templates.items()
            for output in template.get("Outputs", {}).values()
            if isinstance(output.get("Export", {}).get("Name"), str)
        }

    def resources(self) -> Iterator[Resource]:
        for stack, template in self.assembly.templates.items():
            for logical_id, resource in template["Resources"].items():
                yield Resource(stack, logical_id, resource["Type"], resource.get("Properties", {}))

    def account(self, stack: str) -> str:
        return self.assembly.environments[stack][0]

    def region(self, stack: str) -> str:
        return self.assembly.environments[stack][1]

    def format(self, stack: str, pattern: str, **values: str) -> str:
        return pattern.format(partition=PARTITION, region=self.region(stack), account=self.account(stack), **values)

    def _resource(self, stack: str, logical_id: str) -> dict[str, Any]:
        return dict(self.assembly.templates[stack]["Resources"][logical_id])

    def name(self, stack: str, logical_id: str) -> str:
        resource = self._resource(stack, logical_id)
        naming = NAMINGS.get(resource["Type"])
        if naming is None:
            return f"<name of {logical_id}>"
        if naming.made_up_id is not None:
            return made_up_id(naming.made_up_id, logical_id)
        given = resource.get("Properties", {}).get(naming.name_property) if naming.name_property else None
        if given is not None:
            return str(self.resolve(stack, given))
        return generated_name(stack, logical_id, naming.max_length, lower=naming.lower)

    def arn(self, stack: str, logical_id: str) -> str:
        resource = self._resource(stack, logical_id)
        if resource["Type"] == "AWS::SNS::Subscription":
            return f"{self.resolve(stack, resource['Properties']['TopicArn'])}:{made_up_id('', logical_id)}"
        naming = NAMINGS.get(resource["Type"])
        if naming is None:
            return f"<arn of {logical_id}>"
        return self.format(stack, naming.arn, name=self.name(stack, logical_id))

    def ref(self, stack: str, logical_id: str) -> str:
        naming = NAMINGS.get(self._resource(stack, logical_id)["Type"])
        if naming is not None and naming.ref == "arn":
            return self.arn(stack, logical_id)
        if naming is not None and naming.ref == "url":
            return (
                f"https://sqs.{self.region(stack)}.amazonaws.com/{self.account(stack)}/{self.name(stack, logical_id)}"
            )
        return self.name(stack, logical_id)

    def attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(stack, logical_id)
        if attribute.endswith("Name") or attribute in ("KeyId", "GroupId"):
            return self.name(stack, logical_id)
        return f"<{logical_id}.{attribute}>"

    def pseudo(self, stack: str, name: str) -> str:
        values = {
            "AWS::Region": self.region(stack),
            "AWS::AccountId": self.account(stack),
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
        }
        return values.get(name, f"<{name}>")

    def resolve(self, stack: str, value: Any) -> Any:
        """`value` with every intrinsic function evaluated in `stack`."""
        if isinstance(value, list):
            return [self.resolve(stack, item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(stack, item) for key, item in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            return self.pseudo(stack, argument) if argument.startswith("AWS::") else self.ref(stack, argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.attribute(stack, logical_id, attribute)
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(part) for part in self.resolve(stack, parts))
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._substitute(stack, text, self.resolve(stack, variables))
        if function == "Fn::Select":
            index, items = self.resolve(stack, argument)
            return items[int(index)]
        if function == "Fn::Split":
            separator, text = self.resolve(stack, argument)
            return str(text).split(separator)
        if function == "Fn::ImportValue":
            exporter, exported = self._exports[self.resolve(stack, argument)]
            return self.resolve(exporter, exported)
        return {function: self.resolve(stack, argument)}

    def _substitute(self, stack: str, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if name.startswith("AWS::"):
                return self.pseudo(stack, name)
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.attribute(stack, logical_id, attribute)
            return self.ref(stack, name)

        return re.sub(r"\$\{(?!!)([^}]+)\}", one, text)
