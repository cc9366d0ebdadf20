"""The role an operator (mlopsctl) assumes to act on one environment, and what releases add to it."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config import AwsTarget, Generated, ResourceNames
from constructs import Construct
from constructs.security.nag_acknowledgments import acknowledge_wildcards, objects_in
from constructs.storage.model_registry import ModelRegistry
from contracts import EVALUATION_REPORTS_PATTERN, SAMPLE_PAYLOADS_PATTERN

# Where the model-build pipeline's evaluation step writes evaluation.json (compare reads it).
EVALUATION_REPORTS = EVALUATION_REPORTS_PATTERN


@dataclass(frozen=True)
class OperatorAccess:
    """Who may operate one environment, and where the registry its releases come from lives."""

    names: ResourceNames
    environment: str
    trusted_principals: tuple[str, ...]
    toolchain_account: str
    registry: AwsTarget


def _trust(access: OperatorAccess) -> iam.IPrincipal:
    if access.trusted_principals:
        return iam.CompositePrincipal(*(iam.ArnPrincipal(arn) for arn in access.trusted_principals))
    # The account root alone would admit any principal the toolchain account lets call
    # sts:AssumeRole; the tag makes being an operator an explicit grant there.
    tag = f"aws:PrincipalTag/{access.names.operator_tag_key}"
    return iam.AccountPrincipal(access.toolchain_account).with_conditions({"StringEquals": {tag: access.names.project}})


class OperatorRole(Construct):
    """Read the endpoint, its alarms and the registry; write the ledger (every environment).

    Releases (create a Model and EndpointConfig, update the endpoint) are added by the
    serving stack with `OperatorReleasePermissions`, which knows the endpoint's execution
    role. In the model-build environment `grant_registry_operations` adds approval changes.
    """

    def __init__(self, scope: Construct, id_: str, *, access: OperatorAccess, key: kms.IKey) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        names, env = access.names, access.environment
        self.role = iam.Role(
            self,
            "Role",
            role_name=names.operator_role(env),
            assumed_by=_trust(access),
            description=f"mlopsctl in {env}: status, rollback and the known-good ledger of {names.endpoint(env)}",
        )
        endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=names.endpoint(env))
        configs = stack.format_arn(service="sagemaker", resource="endpoint-config", resource_name="*")
        models = stack.format_arn(service="sagemaker", resource="model", resource_name="*")
        ledger_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=names.ledger_parameter(env).lstrip("/")
        )
        # CloudWatch alarm ARNs use ':' before the name (arn:...:alarm:<name>); DescribeAlarms takes
        # alarm ARNs as resources (AWS's ARC guide scopes it so: "CloudWatch alarms for application health").
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{names.rollback_alarm_prefix(env)}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        packages = stack.format_arn(
            service="sagemaker",
            account=access.registry.account,
            region=access.registry.region,
            resource="model-package",
            resource_name=f"{names.model_package_group}/*",
        )
        # cleanup keeps what the deployed serving template names, and waits while it changes.
        serving_stack = stack.format_arn(
            service="cloudformation", resource="stack", resource_name=f"{names.stack(env, 'serving')}/*"
        )
        statements = {
            "ReadEndpoint": (["sagemaker:DescribeEndpoint"], [endpoint_arn]),
            "ReadServingStack": (
                ["cloudformation:DescribeStacks", "cloudformation:ListStackResources"],
                [serving_stack],
            ),
            "ReadWhatTheEndpointServes": (
                ["sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
                [configs, models],
            ),
            "KnownGoodLedger": (["ssm:GetParameter", "ssm:GetParameterHistory", "ssm:PutParameter"], [ledger_arn]),
            "RollbackAlarms": (["cloudwatch:DescribeAlarms"], [alarms]),
            # Before a rollback: the target version must be readable from here, as CreateModel needs it.
            "ReadRegisteredVersions": (["sagemaker:DescribeModelPackage"], [packages]),
        }
        for sid, (actions, resources) in statements.items():
            self.role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))
        # SageMaker uses the caller's permission on the EndpointConfig's KmsKeyId during
        # UpdateEndpoint ("the KMS key policy must grant permission to the IAM role that you
        # specify in your CreateEndpoint, UpdateEndpoint requests", CreateEndpointConfig API).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="EndpointKeyGrants",
                actions=["kms:CreateGrant"],
                resources=[key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        # A separate statement: DescribeKey has no kms:GrantIsForAWSResource key to satisfy.
        self.role.add_to_policy(
            iam.PolicyStatement(sid="EndpointKeyDescribe", actions=["kms:DescribeKey"], resources=[key.key_arn])
        )
        acknowledge_wildcards(
            self.role,
            {
                f"Resource::{configs}": "Describe only; config names are generated per release, so not known here.",
                f"Resource::{models}": "Describe only; model names are generated per release, so not known here.",
                f"Resource::{alarms}": "Describe only, and only the alarms named with this environment's prefix.",
                f"Resource::{packages}": "Describe the versions of the one released model group.",
                f"Resource::{serving_stack}": "Read-only; the serving stack's id, which ends its ARN, is generated.",
            },
        )

    def grant_registry_operations(
        self,
        *,
        registry: ModelRegistry,
        pipeline_name: str,
        manual_retraining_source: str,
        artifacts_bucket: s3.IBucket,
    ) -> None:
        """The model-build environment's extras: approve/reject, runs, evaluation reports, retrain."""
        stack = Stack.of(self)
        pipeline = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)
        executions = f"{pipeline}/execution/*"
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ApproveAndRejectVersions",
                actions=[
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:ListModelPackages",
                    "sagemaker:UpdateModelPackage",
                ],
                resources=[registry.group_arn, registry.package_arn_pattern],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ModelBuildRuns",
                actions=["sagemaker:ListPipelineExecutions", "sagemaker:ListPipelineParametersForExecution"],
                resources=[pipeline, executions],
            )
        )
        bus = stack.format_arn(service="events", resource="event-bus", resource_name="default")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManualRetrainingRequests",
                actions=["events:PutEvents"],
                resources=[bus],
                conditions={"StringEquals": {"events:source": manual_retraining_source}},
            )
        )
        artifacts_bucket.grant_read(self.role, EVALUATION_REPORTS)
        # The smoke test run by hand sends the sample payload registered with the served version.
        artifacts_bucket.grant_read(self.role, SAMPLE_PAYLOADS_PATTERN)
        acknowledge_wildcards(
            self.role,
            {
                f"Resource::{registry.package_arn_pattern}": "Approval status of the versions of the one model group.",
                f"Resource::{executions}": "Parameters of the runs of the one model-build pipeline.",
                objects_in(self, artifacts_bucket, EVALUATION_REPORTS): "Evaluation reports only, for compare.",
                objects_in(self, artifacts_bucket, SAMPLE_PAYLOADS_PATTERN): "Sample payloads only, for smoke-test.",
                "Action::s3:GetBucket*": "Read-only bucket metadata that grant_read adds with the object read.",
                "Action::s3:GetObject*": "Object reads of the evaluation reports and sample payloads only.",
                "Action::s3:List*": "Listing within the same bucket, added by grant_read.",
                "Action::kms:GenerateDataKey*": "Added by grant_read for the bucket key; reads only.",
                "Action::kms:ReEncrypt*": "Added by grant_read for the bucket key; reads only.",
            },
        )


def guard_alarms_arn(stack: Stack, names: ResourceNames, env: str) -> str:
    """The copies of the new-fleet alarms mlopsctl points at a config it deploys (mlopsctl/guard.py)."""
    return stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=f"{names.guard_alarm_prefix(env)}*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def guard_alarm_statement(stack: Stack, names: ResourceNames, env: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="GuardAlarms",
        actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"],
        resources=[guard_alarms_arn(stack, names, env)],
    )


class OperatorReleasePermissions(Construct):
    """What a rollback changes in a serving environment, attached to its operator role.

    Only Models and EndpointConfigs with the names mlopsctl generates for this endpoint
    (config.ResourceNames.generated) can be created or put on the endpoint; those of a shadow
    test too can be deleted (cleanup). Alarms only under the guard-alarm prefix.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        names: ResourceNames,
        environment: str,
        execution_role: iam.IRole,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        # Imported by name: no export couples the storage stack's role to this stack.
        self.role = iam.Role.from_role_name(self, "OperatorRole", names.operator_role(environment))
        endpoint_arn = stack.format_arn(
            service="sagemaker", resource="endpoint", resource_name=names.endpoint(environment)
        )

        def generated(resource: str, kind: Generated) -> str:
            return stack.format_arn(
                service="sagemaker", resource=resource, resource_name=names.generated_pattern(environment, kind)
            )

        configs, models = generated("endpoint-config", Generated.ROLLBACK), generated("model", Generated.ROLLBACK)
        shadow = [generated("endpoint-config", Generated.SHADOW), generated("model", Generated.SHADOW)]
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="PrepareReleases",
                    actions=[
                        "sagemaker:CreateModel",
                        "sagemaker:CreateEndpointConfig",
                        "sagemaker:DeleteModel",
                        "sagemaker:DeleteEndpointConfig",
                    ],
                    resources=[models, configs],
                ),
                iam.PolicyStatement(
                    sid="CleanUpShadowTests",
                    actions=["sagemaker:DeleteModel", "sagemaker:DeleteEndpointConfig"],
                    resources=shadow,
                ),
                iam.PolicyStatement(
                    sid="UpdateEndpoint", actions=["sagemaker:UpdateEndpoint"], resources=[endpoint_arn, configs]
                ),
                guard_alarm_statement(stack, names, environment),
                iam.PolicyStatement(
                    sid="PassExecutionRole",
                    actions=["iam:PassRole"],
                    resources=[execution_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
            ],
        )
        acknowledge_wildcards(
            self.policy,
            {
                f"Resource::{models}": "Models mlopsctl names after this endpoint for a release; nothing else.",
                f"Resource::{configs}": "EndpointConfigs mlopsctl names after this endpoint for a release.",
                **{f"Resource::{arn}": "Deletes what a shadow test left, by its generated name." for arn in shadow},
                f"Resource::{guard_alarms_arn(stack, names, environment)}": (
                    "The alarms mlopsctl copies to guard the update to a config it creates, named after that config."
                ),
            },
        )
