"""The deploy policies in docs/bootstrap/ against CloudFormation's own contract, for every layout.

CloudFormation deploys with the bootstrap's execution role, which gets exactly these managed
policies. For every resource of the sandbox, the four-account layout and the VPC + ROLLING +
shadow variant, the test takes the create, update and delete handler permissions from the
resource type's registry schema (`handlers`, as cfn-lint ships the schemas), works out the ARN
each permission is checked against (the resource's real or generated name, and what its
properties refer to: passed roles, keys, layers, code objects), and evaluates the policies
against each request (tests/iam_policy.py). Which ARN an action is checked against comes from
the IAM service authorization data cfn-lint ships (data/AdditionalSpecs/Policies.json): an
action with no resource type is checked against `*`.

A handler permission is left out only when it is listed below with the property that would
exercise it, and that property is absent from the resource. Runtime needs the schemas do not
list are added with their source. A permission the test cannot place fails with its name,
so a new resource type or property needs a decision here, not a silent pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint
import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from tests.conftest import ROOT, Assembly
from tests.deployed_names import NAMINGS, PARTITION, Deployed, Resource, generated_name
from tests.iam_policy import Request, Statement, allowing, read_statements

POLICIES = sorted((ROOT / "docs" / "bootstrap").glob("*.json"))
LAYOUTS = ("assembly", "variant_assembly", "sandbox_assembly")
PHASES = ("create", "update", "delete")
# IAM quota: a customer managed policy holds at most 6,144 characters, whitespace not counted.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MANAGED_POLICY_MAX_CHARACTERS = 6144

# --- what CloudFormation's handlers need that their schemas do not say -----------------------

# AWS::CodeBuild::Project has no registry schema (no `handlers`): the permissions of the CodeBuild
# API calls its provider makes (CodeBuild API reference: CreateProject, UpdateProject,
# DeleteProject, BatchGetProjects), and iam:PassRole of the ServiceRole it hands to CodeBuild.
LEGACY_HANDLERS: dict[str, dict[str, tuple[str, ...]]] = {
    "AWS::CodeBuild::Project": {
        "create": ("codebuild:CreateProject", "codebuild:BatchGetProjects", "iam:PassRole"),
        "update": ("codebuild:UpdateProject", "codebuild:BatchGetProjects", "iam:PassRole"),
        "delete": ("codebuild:DeleteProject", "codebuild:BatchGetProjects"),
    },
}

# Handler permissions that are not IAM actions, and the IAM action that authorizes the call:
# S3 authorizes DeleteBucketLifecycle as s3:PutLifecycleConfiguration and DeleteBucketEncryption
# as s3:PutEncryptionConfiguration (S3 API reference, the "Permissions" of each operation).
IAM_ACTION_OF = {
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
}


@dataclass(frozen=True)
class Need:
    """A permission a resource needs at deploy time that its handlers do not list."""

    action: str
    phases: tuple[str, ...]
    arns: Callable[[Deployed, Resource], list[str]]
    source: str


def _variant_endpoint(deployed: Deployed, resource: Resource) -> list[str]:
    """The SageMaker endpoint of a scalable target `endpoint/<name>/variant/<variant>`."""
    name = str(deployed.resolve(resource.stack, resource.properties["ResourceId"])).split("/")[1]
    return [deployed.format(resource.stack, "arn:{partition}:sagemaker:{region}:{account}:endpoint/{name}", name=name)]


def _named_resource(deployed: Deployed, stack: str, resource_type: str, name: str) -> Resource:
    """The resource of `resource_type` in `stack` whose (real or generated) name is `name`."""
    for other in deployed.resources():
        if (other.stack, other.type) == (stack, resource_type) and deployed.name(stack, other.logical_id) == name:
            return other
    raise AssertionError(f"no {resource_type} named {name} in {stack}")


def _variant_endpoint_config(deployed: Deployed, resource: Resource) -> list[str]:
    """The EndpointConfig the scalable target's endpoint runs (Application Auto Scaling describes it)."""
    name = str(deployed.resolve(resource.stack, resource.properties["ResourceId"])).split("/")[1]
    endpoint = _named_resource(deployed, resource.stack, "AWS::SageMaker::Endpoint", name)
    config = str(deployed.resolve(resource.stack, endpoint.properties["EndpointConfigName"]))
    arn = "arn:{partition}:sagemaker:{region}:{account}:endpoint-config/{name}"
    return [deployed.format(resource.stack, arn, name=config)]


def _endpoint_config_keys(deployed: Deployed, resource: Resource) -> list[str]:
    """The keys of the endpoint config an endpoint runs (volumes and captured data)."""
    name = str(deployed.resolve(resource.stack, resource.properties["EndpointConfigName"]))
    config = _named_resource(deployed, resource.stack, "AWS::SageMaker::EndpointConfig", name)
    return _arns("KmsKeyId", "DataCaptureConfig.KmsKeyId")(deployed, config)


def _target_tracking_alarms(deployed: Deployed, resource: Resource) -> list[str]:
    """The alarms Application Auto Scaling creates for a target tracking policy, as the caller."""
    return [
        deployed.format(
            resource.stack, "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}", name="TargetTracking-x"
        )
    ]


def _service_linked_role(deployed: Deployed, resource: Resource) -> list[str]:
    service = f"{resource.properties['ServiceNamespace']}.application-autoscaling.amazonaws.com"
    return [
        deployed.format(
            resource.stack, "arn:{partition}:iam::{account}:role/aws-service-role/{name}", name=service + "/x"
        )
    ]


def _scalable_target(deployed: Deployed, resource: Resource) -> list[str]:
    """A scaling policy acts on its scalable target (whose `Ref` is no ARN)."""
    return [deployed.arn(resource.stack, resource.properties["ScalingTargetId"]["Ref"])]


_AUTOSCALING_TARGETS = (
    "Application Auto Scaling User Guide, 'Permissions required for actions on target services' (SageMaker "
    "endpoints: sagemaker:DescribeEndpoint, sagemaker:DescribeEndpointConfig and "
    "sagemaker:UpdateEndpointWeightsAndCapacities); SageMaker Developer Guide, 'Auto scaling prerequisites'"
)
RUNTIME_NEEDS: dict[str, tuple[Need, ...]] = {
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        Need("sagemaker:DescribeEndpoint", ("create", "update"), _variant_endpoint, _AUTOSCALING_TARGETS),
        Need("sagemaker:DescribeEndpointConfig", ("create", "update"), _variant_endpoint_config, _AUTOSCALING_TARGETS),
        Need(
            "sagemaker:UpdateEndpointWeightsAndCapacities",
            ("create", "update"),
            _variant_endpoint,
            _AUTOSCALING_TARGETS,
        ),
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": tuple(
        Need(action, ("create", "update", "delete"), _target_tracking_alarms, _AUTOSCALING_TARGETS)
        for action in ("cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms")
    ),
    # "The KMS key policy must grant permission to the IAM role that you specify in your
    # CreateEndpoint, UpdateEndpoint requests" (SageMaker API reference, CreateEndpointConfig
    # KmsKeyId): the caller of CreateEndpoint uses the endpoint config's keys, SageMaker through grants.
    "AWS::SageMaker::Endpoint": tuple(
        Need(action, ("create", "update"), _endpoint_config_keys, "SageMaker API reference, KmsKeyId")
        for action in ("kms:CreateGrant", "kms:DescribeKey")
    ),
}


def template_requests(deployed: Deployed, stack: str) -> list[Request]:
    """What deploying a template needs besides its resources: the SSM parameters its parameters name.

    CDK's templates read the bootstrap version from an `AWS::SSM::Parameter::Value<String>`
    parameter, which CloudFormation resolves with ssm:GetParameters (CloudFormation user guide,
    "Specify existing resources at runtime with CloudFormation-supplied parameter types").
    """
    return [
        Request(
            "ssm:GetParameters",
            deployed.format(stack, "arn:{partition}:ssm:{region}:{account}:parameter{name}", name=parameter["Default"]),
        )
        for parameter in deployed.assembly.templates[stack].get("Parameters", {}).values()
        if parameter["Type"].startswith("AWS::SSM::Parameter::Value<")
    ]


# --- handler permissions our properties do not exercise ---------------------------------------


@dataclass(frozen=True)
class NotUsed:
    """`permissions` serve only `properties`: a resource that sets any of them needs them after all.

    `holds`, when given, decides instead whether a resource's properties leave them unused.
    """

    permissions: tuple[str, ...]
    properties: tuple[str, ...]
    why: str
    holds: Callable[[dict[str, Any]], bool] | None = None

    def leaves_unused(self, properties: dict[str, Any]) -> bool:
        if self.holds is not None:
            return self.holds(properties)
        return not any(name in properties for name in self.properties)


NOT_USED: dict[str, tuple[NotUsed, ...]] = {
    "AWS::Logs::LogGroup": (
        # Delivery of data-protection audit findings to S3 or Firehose, and the policy itself.
        NotUsed(
            (
                "logs:CreateLogDelivery",
                "s3:REST.PUT.OBJECT",
                "firehose:TagDeliveryStream",
                "logs:PutDataProtectionPolicy",
                "logs:DeleteDataProtectionPolicy",
                "logs:GetDataProtectionPolicy",
            ),
            ("DataProtectionPolicy",),
            "no data protection policy, so no audit finding delivery to S3 or Firehose",
        ),
        NotUsed(
            ("logs:PutIndexPolicy", "logs:DeleteIndexPolicy", "logs:DescribeIndexPolicies"),
            ("FieldIndexPolicies",),
            "no field indexes",
        ),
        NotUsed(
            ("logs:PutResourcePolicy", "logs:DeleteResourcePolicy", "logs:DescribeResourcePolicies"),
            ("ResourcePolicyDocument",),
            "no resource policy on the group",
        ),
        NotUsed(
            ("logs:PutBearerTokenAuthentication",), ("BearerTokenAuthenticationEnabled",), "no bearer-token ingestion"
        ),
        NotUsed(
            ("logs:PutLogGroupDeletionProtection",), ("DeletionProtectionEnabled",), "deletion follows removal_policy"
        ),
    ),
    "AWS::S3::Bucket": (
        NotUsed(
            ("iam:PassRole", "s3:PutReplicationConfiguration", "s3:PutBucketReplication", "s3:DeleteBucketReplication"),
            ("ReplicationConfiguration",),
            "no replication, so no replication role is passed",
        ),
        NotUsed(
            ("s3:PutAnalyticsConfiguration", "s3:DeleteBucketAnalyticsConfiguration"),
            ("AnalyticsConfigurations",),
            "no storage class analysis",
        ),
        NotUsed(("s3:PutBucketCORS", "s3:DeleteBucketCors"), ("CorsConfiguration",), "no CORS rules"),
        NotUsed(
            ("s3:PutMetricsConfiguration", "s3:DeleteBucketMetricsConfiguration"),
            ("MetricsConfigurations",),
            "no request metrics",
        ),
        NotUsed(("s3:PutBucketWebsite", "s3:DeleteBucketWebsite"), ("WebsiteConfiguration",), "no website hosting"),
        NotUsed(("s3:PutAccelerateConfiguration",), ("AccelerateConfiguration",), "no transfer acceleration"),
        NotUsed(("s3:PutInventoryConfiguration",), ("InventoryConfigurations",), "no inventory"),
        NotUsed(
            ("s3:PutIntelligentTieringConfiguration",), ("IntelligentTieringConfigurations",), "no Intelligent-Tiering"
        ),
        NotUsed(
            ("s3:PutBucketAcl", "s3:PutObjectAcl"),
            ("AccessControl",),
            "no canned ACL: ACLs are off (BucketOwnerEnforced ownership)",
        ),
        NotUsed(
            ("s3:PutBucketObjectLockConfiguration", "s3:PutObjectLockConfiguration"),
            ("ObjectLockConfiguration", "ObjectLockEnabled"),
            "no Object Lock",
        ),
        NotUsed(("s3:PutBucketAbac",), ("AbacStatus",), "no attribute-based access control"),
        NotUsed(
            (
                "s3:CreateBucketMetadataTableConfiguration",
                "s3:GetBucketMetadataTableConfiguration",
                "s3:DeleteBucketMetadataTableConfiguration",
                "s3:UpdateBucketMetadataJournalTableConfiguration",
                "s3:UpdateBucketMetadataInventoryTableConfiguration",
                "s3:UpdateBucketMetadataAnnotationTableConfiguration",
                "s3tables:CreateNamespace",
                "s3tables:CreateTable",
                "s3tables:CreateTableBucket",
                "s3tables:GetTable",
                "s3tables:PutTableBucketPolicy",
                "s3tables:PutTableEncryption",
                "s3tables:PutTablePolicy",
                "s3tables:GetTableMetadataLocation",
                "s3tables:UpdateTableMetadataLocation",
            ),
            ("MetadataConfiguration", "MetadataTableConfiguration"),
            "no S3 Metadata tables",
        ),
        # The schema does not say when the create handler deletes objects. Left out on purpose: the
        # deploy role must never delete training data or model artifacts, and a new bucket is empty.
        NotUsed(
            ("s3:DeleteObject",),
            (),
            "CloudFormation never deletes this project's objects",
            holds=lambda _properties: True,
        ),
    ),
    "AWS::Lambda::Function": (
        NotUsed(
            ("ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeNetworkInterfaces"),
            ("VpcConfig",),
            "the function is not in a VPC",
        ),
        NotUsed(
            ("elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets"),
            ("FileSystemConfigs",),
            "no file system",
        ),
        NotUsed(
            ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
            ("KmsKeyArn",),
            "environment variables are encrypted with Lambda's AWS managed key",
        ),
        NotUsed(
            (
                "lambda:GetCodeSigningConfig",
                "lambda:PutFunctionCodeSigningConfig",
                "lambda:DeleteFunctionCodeSigningConfig",
            ),
            ("CodeSigningConfigArn",),
            "no code signing",
        ),
        NotUsed(("lambda:PutRuntimeManagementConfig",), ("RuntimeManagementConfig",), "runtime updates stay automatic"),
        NotUsed(("lambda:PutFunctionRecursionConfig",), ("RecursiveLoop",), "recursive loop detection stays on"),
        NotUsed(
            ("lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"),
            ("ReservedConcurrentExecutions",),
            "no reserved concurrency (retraining.one_trigger_at_a_time off)",
        ),
        # Lambda Managed Instances; AssociateRuntimeAlias is not in the IAM service data cfn-lint ships.
        NotUsed(
            ("lambda:PutFunctionScalingConfig", "lambda:PassCapacityProvider", "lambda:AssociateRuntimeAlias"),
            ("CapacityProviderConfig", "FunctionScalingConfig", "PublishToLatestPublished"),
            "the function runs on Lambda's default compute, not on Lambda Managed Instances",
        ),
        NotUsed(("lambda:PublishVersion",), ("SnapStart",), "no SnapStart, so updates publish no version"),
        NotUsed(
            ("s3:GetObjectVersion",),
            ("Code",),
            "the code object is named without a version",
            holds=lambda properties: "S3ObjectVersion" not in properties.get("Code", {}),
        ),
    ),
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        NotUsed(("iam:PassRole",), ("RoleARN",), "no RoleARN: the service-linked role is used"),
        NotUsed(
            ("application-autoscaling:PutScheduledAction", "application-autoscaling:DeleteScheduledAction"),
            ("ScheduledActions",),
            "no scheduled scaling",
        ),
        NotUsed(
            (
                "lambda:GetProvisionedConcurrencyConfig",
                "lambda:PutProvisionedConcurrencyConfig",
                "lambda:DeleteProvisionedConcurrencyConfig",
            ),
            ("ServiceNamespace",),
            "the scalable target is a SageMaker variant, not a Lambda alias",
            holds=lambda properties: properties.get("ServiceNamespace") != "lambda",
        ),
    ),
    "AWS::SNS::Topic": (
        NotUsed(("iam:GetRole", "iam:PassRole"), ("DeliveryStatusLogging",), "no delivery status logging role"),
        NotUsed(
            ("sns:PutDataProtectionPolicy", "sns:GetDataProtectionPolicy"),
            ("DataProtectionPolicy",),
            "no message data protection",
        ),
        NotUsed(
            ("sns:Subscribe", "sns:Unsubscribe", "sns:ListSubscriptionsByTopic"),
            ("Subscription",),
            "subscriptions are AWS::SNS::Subscription resources of their own",
        ),
    ),
    "AWS::SNS::Subscription": (
        NotUsed(("iam:GetRole", "iam:PassRole"), ("SubscriptionRoleArn",), "e-mail subscriptions pass no role"),
    ),
    "AWS::SageMaker::EndpointConfig": (
        NotUsed(("iam:PassRole",), ("ExecutionRoleArn",), "the models carry the execution role"),
    ),
    "AWS::Events::Rule": (
        NotUsed(
            ("iam:PassRole",),
            ("Targets",),
            "no target of this rule has a RoleArn",
            holds=lambda properties: not any("RoleArn" in target for target in properties.get("Targets", [])),
        ),
    ),
    "AWS::IAM::Role": (
        NotUsed(
            ("iam:AttachRolePolicy", "iam:DetachRolePolicy"),
            ("ManagedPolicyArns",),
            "no managed policies: every grant is an inline AWS::IAM::Policy",
        ),
        NotUsed(
            ("iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"),
            ("PermissionsBoundary",),
            "no permissions boundary (docs/deploy.md says how to add one)",
        ),
    ),
    "AWS::IAM::Policy": (
        NotUsed(
            ("iam:PutUserPolicy", "iam:GetUserPolicy", "iam:DeleteUserPolicy"), ("Users",), "attached to roles only"
        ),
        NotUsed(
            ("iam:PutGroupPolicy", "iam:GetGroupPolicy", "iam:DeleteGroupPolicy"), ("Groups",), "attached to roles only"
        ),
    ),
    "AWS::KMS::Key": (
        NotUsed(("kms:DisableKey", "kms:EnableKey"), ("Enabled",), "keys stay enabled"),
        NotUsed(
            ("kms:DisableKeyRotation",),
            ("EnableKeyRotation",),
            "rotation is on for every key",
            holds=lambda properties: properties.get("EnableKeyRotation") is True,
        ),
    ),
    "AWS::SageMaker::Pipeline": (
        NotUsed(
            ("s3:GetObject",),
            ("PipelineDefinition",),
            "the definition is in the template, not read from S3",
            holds=lambda properties: "PipelineDefinitionS3Location" not in properties.get("PipelineDefinition", {}),
        ),
    ),
    "AWS::CodePipeline::Pipeline": (
        NotUsed(
            ("codepipeline:DisableStageTransition", "codepipeline:EnableStageTransition"),
            ("DisableInboundStageTransitions",),
            "no stage transition is disabled",
        ),
    ),
    "AWS::EC2::VPCEndpoint": (
        NotUsed(
            (
                "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation",
                "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation",
            ),
            ("ServiceNetworkArn",),
            "interface and gateway endpoints only, no service network endpoint",
        ),
        NotUsed(("vpce:AllowMultiRegion",), ("ServiceRegion",), "every endpoint is for a service of its own region"),
    ),
}

# iam:PassedToService of the roles each resource type passes (IAM User Guide, "Granting a user
# permissions to pass a role to an AWS service").
PASSED_TO = {
    "AWS::Lambda::Function": "lambda.amazonaws.com",
    "AWS::Events::Rule": "events.amazonaws.com",
    "AWS::SageMaker::Model": "sagemaker.amazonaws.com",
    "AWS::SageMaker::Pipeline": "sagemaker.amazonaws.com",
    "AWS::CodeBuild::Project": "codebuild.amazonaws.com",
    "AWS::CodePipeline::Pipeline": "codepipeline.amazonaws.com",
}

# --- what each resource's handlers act on besides the resource itself -------------------------


def _values(properties: Any, path: str) -> list[Any]:
    """The values at `path` ("A.B", "A[].B") of `properties`; none when a part is absent."""
    found = [properties]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        found = [item.get(key) for item in found if isinstance(item, dict) and key in item]
        if many:
            found = [element for item in found for element in item]
    return found


def _arns(*paths: str) -> Callable[[Deployed, Resource], list[str]]:
    def arns(deployed: Deployed, resource: Resource) -> list[str]:
        return [
            str(deployed.resolve(resource.stack, value))
            for path in paths
            for value in _values(resource.properties, path)
        ]

    return arns


def _named(arn: str, *paths: str) -> Callable[[Deployed, Resource], list[str]]:
    """ARNs `arn` of the names found at `paths`."""

    def arns(deployed: Deployed, resource: Resource) -> list[str]:
        names = _arns(*paths)(deployed, resource)
        return [deployed.format(resource.stack, arn, name=name.rsplit("/", 1)[-1]) for name in names]

    return arns


def _function(deployed: Deployed, resource: Resource) -> list[str]:
    name = str(deployed.resolve(resource.stack, resource.properties["FunctionName"]))
    if name.startswith("arn:"):
        return [name]
    return [deployed.format(resource.stack, "arn:{partition}:lambda:{region}:{account}:function:{name}", name=name)]


def _code_object(deployed: Deployed, resource: Resource) -> list[str]:
    code = deployed.resolve(resource.stack, resource.properties["Code"])
    return [f"arn:{PARTITION}:s3:::{code['S3Bucket']}/{code['S3Key']}"]


def _ec2(kind: str, path: str) -> Callable[[Deployed, Resource], list[str]]:
    return _named("arn:{partition}:ec2:{region}:{account}:" + kind + "/{name}", path)


def _new_rules(deployed: Deployed, resource: Resource) -> list[str]:
    """The rules AuthorizeSecurityGroup* creates, each with an ARN of its own."""
    return [
        deployed.format(
            resource.stack, "arn:{partition}:ec2:{region}:{account}:security-group-rule/{name}", name="sgr-x"
        )
    ]


REFERENCES: dict[str, tuple[Callable[[Deployed, Resource], list[str]], ...]] = {
    "AWS::IAM::Policy": (_named("arn:{partition}:iam::{account}:role/{name}", "Roles[]"),),
    "AWS::S3::BucketPolicy": (_named("arn:{partition}:s3:::{name}", "Bucket"),),
    "AWS::SQS::QueuePolicy": (_named("arn:{partition}:sqs:{region}:{account}:{name}", "Queues[]"),),
    "AWS::SNS::TopicPolicy": (_arns("Topics[]"),),
    "AWS::SNS::Subscription": (_arns("TopicArn"),),
    "AWS::KMS::Alias": (_arns("TargetKeyId"),),
    "AWS::Lambda::Function": (_arns("Role", "Layers[]"), _code_object),
    "AWS::Lambda::Permission": (_function,),
    "AWS::Lambda::EventInvokeConfig": (_function,),
    "AWS::Events::Rule": (_arns("Targets[].RoleArn"),),
    "AWS::Events::EventBusPolicy": (
        _named("arn:{partition}:events:{region}:{account}:event-bus/{name}", "EventBusName"),
    ),
    "AWS::SageMaker::Model": (_arns("ExecutionRoleArn"),),
    "AWS::SageMaker::Pipeline": (_arns("RoleArn"),),
    "AWS::SageMaker::EndpointConfig": (_arns("KmsKeyId", "DataCaptureConfig.KmsKeyId"),),
    "AWS::SageMaker::Endpoint": (
        _named("arn:{partition}:sagemaker:{region}:{account}:endpoint-config/{name}", "EndpointConfigName"),
    ),
    "AWS::CodeBuild::Project": (_arns("ServiceRole"),),
    "AWS::CodePipeline::Pipeline": (_arns("RoleArn", "Stages[].Actions[].Configuration.ConnectionArn"),),
    "AWS::ApplicationAutoScaling::ScalingPolicy": (_scalable_target,),
    "AWS::ApplicationAutoScaling::ScalableTarget": (_service_linked_role, _target_tracking_alarms),
    "AWS::EC2::SecurityGroup": (_ec2("vpc", "VpcId"), _new_rules),
    "AWS::EC2::VPCEndpoint": (
        _ec2("vpc", "VpcId"),
        _ec2("subnet", "SubnetIds[]"),
        _ec2("security-group", "SecurityGroupIds[]"),
        _ec2("route-table", "RouteTableIds[]"),
    ),
}

# Actions whose only resource types are optional ones our requests do not name: IAM checks them
# against `*` (Service Authorization Reference: GetMetricData reads metrics, which have no ARN).
CHECKED_AGAINST_ANY_RESOURCE = {"cloudwatch:GetMetricData"}
TAGGING = re.compile(r":(Add|Create|Delete|List|Untag|Tag)\w*Tag|:(Untag|Tag)\w*$|Tagging$")

# --- IAM's authorization data and the registry schemas ----------------------------------------

_POLICIES_JSON = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"


@cache
def _iam_services() -> dict[str, Any]:
    return dict(json.loads(_POLICIES_JSON.read_text()))


def resource_patterns(action: str) -> list[re.Pattern[str]] | None:
    """ARN patterns of the resource types `action` is checked against; [] for `*`; None if IAM has no such action."""
    service, name = action.split(":", 1)
    data = _iam_services().get(service, {})
    entry = data.get("Actions", {}).get(name.lower())
    if entry is None:
        return None
    patterns = []
    for kind in entry.get("Resources", []):
        # Action entries name resource types as the reference spells them; the map's keys are lower case.
        for arn_format in data["Resources"][kind.lower()]["ARNFormats"]:
            pattern = re.sub(r"\$\{Partition\}", PARTITION, arn_format)
            pattern = re.sub(r"\$\{[A-Za-z]+\}", "[^:]*", pattern)
            patterns.append(re.compile(pattern))
    return patterns


@cache
def handler_permissions(resource_type: str) -> dict[str, tuple[str, ...]]:
    if resource_type in LEGACY_HANDLERS:
        return LEGACY_HANDLERS[resource_type]
    handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", resource_type).schema["handlers"]
    # A type whose every property is create-only has no update handler.
    return {phase: tuple(handlers.get(phase, {}).get("permissions", ())) for phase in PHASES}


# --- the requests -------------------------------------------------------------------------------


@dataclass
class Findings:
    """What one layout's check found: requests no policy allows, and permissions it could not place."""

    denied: list[str] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)
    # Every request, with the statements that allow it.
    allowed_by: list[tuple[Request, list[Statement]]] = field(default_factory=list)


def _unused(resource: Resource, permission: str) -> bool:
    """Whether NOT_USED leaves `permission` out for this resource's properties."""
    return any(
        permission in entry.permissions and entry.leaves_unused(resource.properties)
        for entry in NOT_USED.get(resource.type, ())
    )


def _context(
    deployed: Deployed, resource: Resource, phase: str, action: str, arn: str, own: list[str]
) -> dict[str, str]:
    """The condition keys IAM sees for this request."""
    context: dict[str, str] = {}
    verb = action.split(":", 1)[1]
    creating = phase == "create" and verb.startswith("Create")
    # The stack-name tag CloudFormation puts on at creation (cloudFormationSystemTags), on our
    # own resources once they exist.
    if arn in own and not creating:
        context["aws:ResourceTag/aws:cloudformation:stack-name"] = resource.stack
    if action == "ec2:CreateTags" and phase == "create":
        creator = next(p for p in handler_permissions(resource.type)["create"] if re.match(r"ec2:Create(?!Tags)", p))
        context["ec2:CreateAction"] = creator.split(":", 1)[1]
    if action == "iam:PassRole" and resource.type in PASSED_TO:
        context["iam:PassedToService"] = PASSED_TO[resource.type]
    if action == "iam:CreateServiceLinkedRole":
        # role/aws-service-role/<service principal>/<role name>
        context["iam:AWSServiceName"] = arn.split("/")[2]
    return context


def _renamed_service(action: str, arns: list[str]) -> str:
    """codestar-connections:* on a connection created since the rename is checked as codeconnections:*.

    "the service prefix needs to match that of the resource" (Developer Tools console user
    guide, "Connections rename").
    """
    if action.startswith("codestar-connections:") and any(a.split(":")[2:3] == ["codeconnections"] for a in arns):
        return "codeconnections:" + action.split(":", 1)[1]
    return action


def requests_of(deployed: Deployed, resource: Resource, unplaced: list[str]) -> Iterator[tuple[str, Request]]:
    """(phase, request) for every permission the resource's handlers exercise with its properties."""
    own = [deployed.arn(resource.stack, resource.logical_id)]
    referenced = [arn for find in REFERENCES.get(resource.type, ()) for arn in find(deployed, resource)]
    where = f"{resource.stack} {resource.logical_id} ({resource.type})"
    for phase, permissions in handler_permissions(resource.type).items():
        for permission in permissions:
            if _unused(resource, permission):
                continue
            action = _renamed_service(IAM_ACTION_OF.get(permission, permission), referenced)
            patterns = resource_patterns(action)
            if patterns is None:
                unplaced.append(f"{where} {phase}: {permission} is no IAM action; list it in NOT_USED")
                continue
            # Tagging acts on the resource itself, though IAM lets the actions name any taggable type.
            candidates = own if TAGGING.search(action) else [*own, *referenced]
            arns = [a for a in candidates if any(p.fullmatch(a) for p in patterns)]
            if not patterns or (not arns and action in CHECKED_AGAINST_ANY_RESOURCE):
                arns = ["*"]
            if not arns:
                unplaced.append(
                    f"{where} {phase}: {permission} acts on none of {sorted([*own, *referenced])}; "
                    "add what it acts on to REFERENCES or list it in NOT_USED"
                )
            for arn in arns:
                yield phase, Request(action, arn, _context(deployed, resource, phase, action, arn, own))
    for need in RUNTIME_NEEDS.get(resource.type, ()):
        for phase in need.phases:
            for arn in need.arns(deployed, resource):
                yield phase, Request(need.action, arn, _context(deployed, resource, phase, need.action, arn, own))


@cache
def layout_requests(directory: Path) -> tuple[tuple[tuple[str, Request], ...], tuple[str, ...]]:
    """(where, request) of everything deploying the assembly in `directory` asks IAM, and what
    could not be placed; made once per layout and test process."""
    deployed = Deployed(Assembly(directory))
    unplaced: list[str] = []
    found = [
        (f"{stack} (template)", request)
        for stack in deployed.assembly.templates
        for request in template_requests(deployed, stack)
    ]
    for resource in deployed.resources():
        if resource.type != "AWS::CDK::Metadata":
            where = f"{resource.stack} {resource.logical_id} ({resource.type})"
            found += [(f"{where} {phase}", request) for phase, request in requests_of(deployed, resource, unplaced)]
    return tuple(found), tuple(unplaced)


def check(assembly: Assembly, statements: list[Statement]) -> Findings:
    requests, unplaced = layout_requests(assembly.directory)
    findings = Findings(unplaced=list(unplaced))
    for where, request in requests:
        allowed = allowing(statements, request)
        findings.allowed_by.append((request, allowed))
        if not allowed:
            findings.denied.append(f"{where}: {request}")
    return findings


# --- what the policies grant that no tested layout exercises -----------------------------------

# Resource types only a config option creates, which no session layout turns on. Their handler
# permissions stay in the policies, and are checked on representative ARNs below.
OPTION_RESOURCES = {
    # drift.use_model_monitor needs a release file with baselines (config.EnvironmentConfig).
    "AWS::SageMaker::DataQualityJobDefinition": "data-quality-job-definition/mlops-delivery-staging-dq-v3",
    "AWS::SageMaker::MonitoringSchedule": "monitoring-schedule/mlops-delivery-staging-drift-check",
}
# The role a Model Monitor job definition and schedule pass (the drift monitor role's generated name).
_MONITOR_ROLE = "arn:aws:iam::333333333333:role/" + generated_name(
    "mlops-delivery-staging-serving", "DriftMonitorRoleD959AAF6", NAMINGS["AWS::IAM::Role"].max_length
)
# Actions no handler lists, kept for a reason that could not be checked offline.
KEPT = {
    "sagemaker:DescribeModelPackage": (
        "CreateModel from a model package version of another account (Containers.ModelPackageName): the "
        "registry's resource policy grants the serving accounts exactly this read "
        "(constructs/storage/model_registry.py)"
    ),
    "codestar-notifications:Subscribe": "adds a notification rule's SNS target (CodeStar Notifications API)",
    "codestar-notifications:Unsubscribe": "removes a notification rule's SNS target (CodeStar Notifications API)",
}


def option_requests() -> list[Request]:
    requests = []
    for resource_type, name in OPTION_RESOURCES.items():
        arn = f"arn:aws:sagemaker:eu-west-1:333333333333:{name}"
        for permission in {p for phase in handler_permissions(resource_type).values() for p in phase}:
            if permission == "iam:PassRole":
                requests.append(Request(permission, _MONITOR_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"}))
            else:
                requests.append(Request(permission, arn))
    return requests


def every_request(*layouts: Assembly) -> list[Request]:
    """What deploying every layout asks IAM, and what the option-only resources would."""
    return [request for layout in layouts for _, request in layout_requests(layout.directory)[0]] + option_requests()


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES, ids=[policy.name for policy in POLICIES])
def test_each_deploy_policy_fits_a_managed_policy(policy: Path) -> None:
    text = policy.read_text()
    assert json.loads(text)["Version"] == "2012-10-17"
    assert len(re.sub(r"\s", "", text)) <= MANAGED_POLICY_MAX_CHARACTERS
    for statement in read_statements([policy]):
        assert "*" not in statement.actions, statement.sid
        assert not any(action.endswith(":*") for action in statement.actions), statement.sid


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deploy_policies_allow_every_handler_permission_of_every_resource(
    layout: str, request: pytest.FixtureRequest
) -> None:
    findings = check(request.getfixturevalue(layout), read_statements(POLICIES))
    assert not findings.unplaced, "\n".join(findings.unplaced)
    assert not findings.denied, "denied:\n" + "\n".join(sorted(set(findings.denied)))


def test_every_statement_of_the_deploy_policies_is_needed_by_some_layout(
    assembly: Assembly, variant_assembly: Assembly, sandbox_assembly: Assembly
) -> None:
    """Each statement is the only one allowing some request: removing it fails the test above."""
    statements = read_statements(POLICIES)
    requests = every_request(assembly, variant_assembly, sandbox_assembly)
    needed: set[tuple[str, str]] = set()
    for request in requests:
        allowed = allowing(statements, request)
        if len(allowed) == 1:
            needed.add((allowed[0].policy, allowed[0].sid))
    unneeded = [f"{s.policy} {s.sid}" for s in statements if (s.policy, s.sid) not in needed]
    assert not unneeded, f"statements no request needs alone: {unneeded}"


def test_a_condition_key_counts_only_for_the_actions_iam_sets_it_for(assembly: Assembly) -> None:
    """iam:PassedToService is a key of iam:PassRole alone (Service Authorization Reference, IAM): an
    iam:GetRole allowed only under that condition is denied, and the test must say so."""
    moved = []
    for statement in read_statements(POLICIES):
        if statement.sid == "ProjectIamRoles":
            statement = replace(statement, actions=tuple(a for a in statement.actions if a != "iam:GetRole"))
        elif statement.sid == "PassProjectRolesToTheirServices":
            statement = replace(statement, actions=(*statement.actions, "iam:GetRole"))
        moved.append(statement)
    denied = check(assembly, moved).denied
    assert any("(AWS::CodePipeline::Pipeline)" in d and ": iam:GetRole on " in d for d in denied)


def test_the_handlers_of_resources_a_config_option_creates_are_allowed_too() -> None:
    statements = read_statements(POLICIES)
    denied = [str(request) for request in option_requests() if not allowing(statements, request)]
    assert not denied, denied


def test_every_action_of_the_deploy_policies_is_exercised_or_kept_for_a_reason(
    assembly: Assembly, variant_assembly: Assembly, sandbox_assembly: Assembly
) -> None:
    """Least privilege, action by action: what no handler of any layout needs is not granted."""
    statements = read_statements(POLICIES)
    requests = every_request(assembly, variant_assembly, sandbox_assembly)
    exercised = {
        (s.sid, pattern)
        for request in requests
        for s in allowing(statements, request)
        for pattern in s.action_patterns(request.action)
    }
    idle = [f"{s.sid}: {a}" for s in statements for a in s.actions if (s.sid, a) not in exercised and a not in KEPT]
    assert not idle, f"granted but needed by no handler, runtime need or KEPT entry: {idle}"
