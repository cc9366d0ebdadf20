"""The default four-account layout as a fake: each call is allowed only if the synthesized policies allow it.

An operator in the toolchain account (111111111111) runs mlopsctl. Each scope acts as the
operator role the stacks create in its account (dev 222222222222 also holds the registry,
staging 333333333333, prod 444444444444). Before a call reaches moto (or a Stubber for the
endpoint calls moto lacks) it is checked the way IAM would check it:

- the role's trust policy must admit the operator (assume-role);
- the role's identity policies (storage stack + serving stack) must allow action and resource;
- a resource in another account must also be allowed by that resource's policy (the model
  package group's), or the call is denied (SSM parameters and endpoints have none).

The evaluator reads Allow and Deny statements with `*`/`?` wildcards and the condition
operators our templates use (StringEquals, Bool); anything else does not match (deny).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from config import AppConfig
from mlopsctl import aws
from mlopsctl.context import operator_role_arns
from tests.conftest import Assembly

TOOLCHAIN = "111111111111"
OPERATOR = f"arn:aws:iam::{TOOLCHAIN}:role/PlatformOperator"
OPERATOR_SESSION = f"arn:aws:sts::{TOOLCHAIN}:assumed-role/PlatformOperator/alice"
REGION = "eu-west-1"

# Calls moto does not implement for SageMaker endpoints: these go to the test's Stubber.
STUBBED = frozenset(
    {
        "DescribeEndpoint",
        "DescribeEndpointConfig",
        "DescribeModel",
        "CreateModel",
        "CreateEndpointConfig",
        "DeleteModel",
        "DeleteEndpointConfig",
        "UpdateEndpoint",
    }
)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resolve(value: Any, account: str, region: str, templates_arns: dict[str, str]) -> Any:
    """The intrinsics CDK writes into these policies; unknown references stay unmatched placeholders."""
    if isinstance(value, list):
        return [resolve(v, account, region, templates_arns) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account}
        return pseudo.get(value["Ref"], f"<Ref {value['Ref']}>")
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(p, account, region, templates_arns)) for p in parts)
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return templates_arns.get(logical_id, f"<{logical_id}.{attribute}>") if attribute == "Arn" else "<attr>"
    if any(key.startswith("Fn::") for key in value):
        return f"<{next(iter(value))}>"
    return {k: resolve(v, account, region, templates_arns) for k, v in value.items()}


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    known = {k.lower(): v for k, v in context.items()}
    for operator, pairs in conditions.items():
        if operator not in ("StringEquals", "Bool"):
            return False
        for key, expected in pairs.items():
            actual = known.get(key.lower())
            if actual is None or actual not in [str(e) for e in _as_list(expected)]:
                return False
    return True


def _statement_matches(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str], principal: str | None
) -> bool:
    if not any(_glob(a, action, case=False) for a in _as_list(statement.get("Action", []))):
        return False
    # Trust policies name no Resource: the role itself is the resource.
    if not any(_glob(r, resource) for r in _as_list(statement.get("Resource", "*"))):
        return False
    if principal is not None:
        allowed = _as_list((statement.get("Principal") or {}).get("AWS", []))
        account = principal.split(":")[4]
        if principal not in allowed and f"arn:aws:iam::{account}:root" not in allowed:
            return False
    return _conditions_hold(statement.get("Condition", {}), context)


def allowed(
    statements: Iterable[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, str],
    principal: str | None = None,
) -> bool:
    """An explicit Deny wins; otherwise some Allow must match."""
    matching = [s for s in statements if _statement_matches(s, action, resource, context, principal)]
    return any(s["Effect"] == "Allow" for s in matching) and not any(s["Effect"] == "Deny" for s in matching)


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


def _arn(service: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{account}:{resource}"


def _sagemaker(operation: str, p: dict[str, Any], account: str) -> list[Request]:
    """Resource ARNs per the Service Authorization Reference (SageMaker lower-cases names in ARNs)."""

    def sm(kind: str, name: str) -> str:
        return name if name.startswith("arn:") else _arn("sagemaker", account, f"{kind}/{name.lower()}")

    action = f"sagemaker:{operation}"
    if operation in ("DescribeEndpoint", "UpdateEndpoint"):
        requests = [Request(action, sm("endpoint", p["EndpointName"]))]
        if "EndpointConfigName" in p:
            requests.append(Request(action, sm("endpoint-config", p["EndpointConfigName"])))
        return requests
    if operation in ("DescribeEndpointConfig", "CreateEndpointConfig", "DeleteEndpointConfig"):
        return [Request(action, sm("endpoint-config", p["EndpointConfigName"]))]
    if operation in ("DescribeModel", "DeleteModel"):
        return [Request(action, sm("model", p["ModelName"]))]
    if operation == "CreateModel":
        package = p["PrimaryContainer"]["ModelPackageName"]
        return [
            Request(action, sm("model", p["ModelName"])),
            Request("iam:PassRole", p["ExecutionRoleArn"], {"iam:PassedToService": "sagemaker.amazonaws.com"}),
            # SageMaker reads the version on the caller's behalf (cross-account: the group's policy).
            Request("sagemaker:DescribeModelPackage", package),
        ]
    if operation == "DescribeModelPackage":
        return [Request(action, p["ModelPackageName"])]
    if operation == "UpdateModelPackage":
        return [Request(action, p["ModelPackageArn"])]
    if operation == "ListModelPackages":
        return [Request(action, sm("model-package-group", p["ModelPackageGroupName"]))]
    if operation == "ListPipelineExecutions":
        return [Request(action, sm("pipeline", p["PipelineName"]))]
    if operation == "ListPipelineParametersForExecution":
        return [Request(action, p["PipelineExecutionArn"])]
    raise AssertionError(f"no permission mapping for sagemaker:{operation}; add it before using the call")


def requests_for(service: str, operation: str, p: dict[str, Any], account: str) -> list[Request]:
    if service == "sagemaker":
        return _sagemaker(operation, p, account)
    if service == "ssm" and operation in ("GetParameter", "GetParameterHistory", "PutParameter"):
        return [Request(f"ssm:{operation}", _arn("ssm", account, f"parameter{p['Name']}"))]
    if service == "cloudwatch" and operation == "PutMetricAlarm":
        return [Request("cloudwatch:PutMetricAlarm", _arn("cloudwatch", account, f"alarm:{p['AlarmName']}"))]
    if service == "cloudwatch" and operation == "DeleteAlarms":
        return [Request("cloudwatch:DeleteAlarms", _arn("cloudwatch", account, f"alarm:{n}")) for n in p["AlarmNames"]]
    if service == "cloudwatch" and operation == "DescribeAlarms":
        # The prefix bounds every alarm the call can return.
        return [Request("cloudwatch:DescribeAlarms", _arn("cloudwatch", account, f"alarm:{p['AlarmNamePrefix']}*"))]
    if service == "events" and operation == "PutEvents":
        return [
            Request(
                "events:PutEvents",
                _arn("events", account, f"event-bus/{entry.get('EventBusName', 'default')}"),
                {"events:source": entry["Source"]},
            )
            for entry in p["Entries"]
        ]
    raise AssertionError(f"no permission mapping for {service}:{operation}; add it before using the call")


def denied(operation: str, principal: str, request: Request) -> ClientError:
    message = f"User: {principal} is not authorized to perform: {request.action} on resource: {request.resource}"
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, operation)


@dataclass
class Role:
    arn: str
    trust: list[dict[str, Any]]
    statements: list[dict[str, Any]]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def session(self) -> str:
        return self.arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/mlopsctl"


def _physical_role_arns(stack: str, template: dict[str, Any], account: str) -> dict[str, str]:
    """Roles with generated names get one shaped like CloudFormation's (<stack>-<logical id>)."""
    return {
        logical_id: f"arn:aws:iam::{account}:role/{resource['Properties'].get('RoleName', f'{stack}-{logical_id}')}"
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }


class FourAccounts:
    """The client factory mlopsctl gets: policy-checked clients over moto and per-account Stubbers."""

    def __init__(self, assembly: Assembly, cfg: AppConfig) -> None:
        self.cfg = cfg
        self.roles: dict[str, Role] = {}
        self.resource_policies: list[tuple[str, list[dict[str, Any]]]] = []
        self.role_arns: dict[str, str] = {}
        self.operator_tags = {f"aws:PrincipalTag/{cfg.names.operator_tag_key}": cfg.project_name}
        self.denials: list[str] = []
        self.calls: list[tuple[str, str, str]] = []
        self.stubs: dict[str, Any] = {}
        self._moto: dict[tuple[str, str], Any] = {}
        self.models: dict[str, Any] = {}
        self._read(assembly)

    # ------------------------------------------------------------ what the stacks grant

    def _read(self, assembly: Assembly) -> None:
        for env in self.cfg.environments:
            stacks = {kind: f"{self.cfg.names.stack(env.name, kind)}" for kind in ("storage", "serving")}
            role_name = self.cfg.names.operator_role(env.name)
            statements: list[dict[str, Any]] = []
            trust: list[dict[str, Any]] = []
            for stack in stacks.values():
                template = assembly.templates.get(stack)
                if template is None:
                    continue
                arns = _physical_role_arns(stack, template, env.account)
                self.role_arns.update({f"{stack}/{k}": v for k, v in arns.items()})
                statements += self._policies_of(template, role_name, env.account, arns, trust)
                self._group_policies(template, env.account, arns)
            arn = f"arn:aws:iam::{env.account}:role/{role_name}"
            self.roles[arn] = Role(arn, trust, statements)

    def _policies_of(
        self, template: dict[str, Any], role_name: str, account: str, arns: dict[str, str], trust: list[Any]
    ) -> list[dict[str, Any]]:
        own_ids = {k for k, v in arns.items() if v.endswith(f":role/{role_name}")}
        statements: list[dict[str, Any]] = []
        for logical_id, resource in template["Resources"].items():
            props = resolve(resource.get("Properties", {}), account, REGION, arns)
            if logical_id in own_ids:
                trust += props["AssumeRolePolicyDocument"]["Statement"]
                for policy in props.get("Policies", []):
                    statements += policy["PolicyDocument"]["Statement"]
            if resource["Type"] == "AWS::IAM::Policy":
                roles = _as_list(props.get("Roles", []))
                if role_name in roles or any(f"<Ref {i}>" in roles for i in own_ids):
                    statements += props["PolicyDocument"]["Statement"]
        return statements

    def _group_policies(self, template: dict[str, Any], account: str, arns: dict[str, str]) -> None:
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
                props = resolve(resource["Properties"], account, REGION, arns)
                policy = props.get("ModelPackageGroupPolicy") or {"Statement": []}
                name = props["ModelPackageGroupName"]
                self.resource_policies.append(
                    (_arn("sagemaker", account, f"model-package*/{name}*"), policy["Statement"])
                )

    def execution_role_arn(self, env: str) -> str:
        """The serving stack's endpoint execution role, named the way CloudFormation would."""
        stack = self.cfg.names.stack(env, "serving")
        return next(arn for key, arn in self.role_arns.items() if key.startswith(f"{stack}/EndpointExecutionRole"))

    def revoke(self, env: str, action: str) -> None:
        """As if a stack granted one action less: the fake then denies it like IAM would."""
        role = self.roles[self.role_for(env)]
        role.statements = [*role.statements, {"Effect": "Deny", "Action": action, "Resource": "*"}]

    # ------------------------------------------------------------ checking a call

    def role_for(self, scope: str) -> str:
        return operator_role_arns(self.cfg)[scope]

    def assume(self, scope: str) -> Role:
        role = self.roles[self.role_for(scope)]
        if not allowed(role.trust, "sts:AssumeRole", role.arn, self.operator_tags, principal=OPERATOR):
            request = Request("sts:AssumeRole", role.arn)
            self.denials.append(f"{OPERATOR_SESSION} sts:AssumeRole {role.arn}")
            raise denied("AssumeRole", OPERATOR_SESSION, request)
        return role

    def authorize(self, role: Role, operation: str, request: Request) -> None:
        if not allowed(role.statements, request.action, request.resource, request.context):
            self.denials.append(f"{role.arn} {request.action} {request.resource}")
            raise denied(operation, role.session, request)
        owner = request.resource.split(":")[4] if request.resource.count(":") >= 5 else role.account
        if owner and owner != role.account:
            # Cross-account: the resource's own policy must allow it too.
            policies = [s for pattern, st in self.resource_policies if _glob(pattern, request.resource) for s in st]
            if not allowed(policies, request.action, request.resource, request.context, principal=role.arn):
                self.denials.append(f"{role.arn} {request.action} {request.resource} (resource policy)")
                raise denied(operation, role.session, request)

    # ------------------------------------------------------------ delegates

    def moto(self, service: str, account: str) -> Any:
        """A moto client acting in `account` (moto keys state by the account of the credentials)."""
        if (service, account) not in self._moto:
            credentials = boto3.client("sts", region_name=REGION).assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/moto-{account}", RoleSessionName="fake"
            )["Credentials"]
            self._moto[(service, account)] = boto3.client(
                service,
                region_name=REGION,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
        return self._moto[(service, account)]

    def stub(self, env: str) -> Any:
        """A SageMaker client (never sent) for the test's Stubber: `env`'s endpoint calls land here."""
        self.stubs[env] = boto3.client("sagemaker", region_name=REGION)
        return self.stubs[env]

    def __call__(self, service: str, region: str, scope: str) -> Any:
        return CheckedClient(self, service, scope)


class CheckedClient:
    """Looks like a boto3 client; authorizes each API call, then delegates it."""

    def __init__(self, world: FourAccounts, service: str, scope: str) -> None:
        self._world, self._service, self._scope = world, service, scope
        if service not in world.models:
            world.models[service] = boto3.client(service, region_name=REGION)
        self._model = world.models[service]

    def _identity(self) -> dict[str, str]:
        if self._scope == aws.CALLER:
            return {"Account": TOOLCHAIN, "Arn": OPERATOR_SESSION, "UserId": "AROAOPERATOR:alice"}
        role = self._world.assume(self._scope)
        return {"Account": role.account, "Arn": role.session, "UserId": "AROAOPERATOR:mlopsctl"}

    def __getattr__(self, name: str) -> Any:
        operation = self._model.meta.method_to_api_mapping.get(name)
        if operation is None:
            return getattr(self._model, name)
        if self._service == "sts":
            assert operation == "GetCallerIdentity", f"unexpected sts call {operation}"
            return lambda **params: self._identity()
        return self._checked(name, operation)

    def _checked(self, name: str, operation: str) -> Callable[..., Any]:
        def call(**params: Any) -> Any:
            world = self._world
            assert self._scope != aws.CALLER, f"{operation} must act in an account's role, not as the operator"
            role = world.assume(self._scope)
            requests = requests_for(self._service, operation, params, role.account)
            for request in requests:
                world.authorize(role, operation, request)
            world.calls.append((self._scope, role.arn, f"{self._service}:{operation}"))
            owner = requests[0].resource.split(":")[4] or role.account
            if self._service == "sagemaker" and operation in STUBBED:
                return getattr(world.stubs[self._scope], name)(**params)
            return getattr(world.moto(self._service, owner), name)(**params)

        return call


def ledger_history(world: FourAccounts, env: str) -> list[dict[str, Any]]:
    account = world.cfg.environment(env).account
    name = world.cfg.names.ledger_parameter(env)
    history = world.moto("ssm", account).get_parameter_history(Name=name)["Parameters"]
    return [json.loads(p["Value"]) for p in sorted(history, key=lambda p: p["Version"])]
