"""`mlopsctl cleanup`: delete one environment's Models and EndpointConfigs that no endpoint uses.

They pile up on purpose: the serving stack retains the pair each release replaces (after a
guardrail rollback the endpoint still runs it), and every `mlopsctl rollback` creates a pair.
Only this app's own are candidates: tagged `<project>:endpoint=<endpoint>` by the serving stack
and the shadow test, or named by mlopsctl (config.ResourceNames.generated). Never deleted: the
current or pending EndpointConfig of any endpoint in the account and region, the Model and
EndpointConfig the deployed serving template names (after a guardrail rollback the endpoint runs
the previous pair, but the stack's next update or rollback starts from the one it names), and the
Models those configs name.
Nothing is planned while any endpoint or the environment's serving stack is mid-update, because
an update in flight (or a stack rolling back) may still switch to a config that looks unused now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from config import EnvironmentConfig, Generated
from mlopsctl import endpoint
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError

# Endpoint states with no update in flight (see the EndpointStatus enum of DescribeEndpoint).
SETTLED_ENDPOINT = frozenset({endpoint.IN_SERVICE, "OutOfService", "Failed"})
# A stack that failed to roll back still needs its previous resources to continue the rollback.
STUCK_STACK = "UPDATE_ROLLBACK_FAILED"


@dataclass
class InUse:
    configs: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)


def _pages(client: Any, operation: str, key: str, **request: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**request):
        items.extend(page.get(key, []))
    return items


def _models_of(config: dict[str, Any]) -> set[str]:
    variants = [*config.get("ProductionVariants", []), *(config.get("ShadowProductionVariants") or [])]
    return {variant["ModelName"] for variant in variants if variant.get("ModelName")}


def in_use(sm: Any) -> InUse:
    """What every endpoint of the account and region runs or is about to run; refuses mid-update."""
    endpoints = _pages(sm, "list_endpoints", "Endpoints")
    moving = sorted(
        f"{e['EndpointName']} ({e['EndpointStatus']})" for e in endpoints if e["EndpointStatus"] not in SETTLED_ENDPOINT
    )
    if moving:
        raise OperatorError(
            f"Refusing cleanup: endpoints are changing: {', '.join(moving)}. An update in flight may still "
            "switch to (or roll back to) a config that looks unused now; run it again once they are InService."
        )
    used = InUse()
    for summary in endpoints:
        description = sm.describe_endpoint(EndpointName=summary["EndpointName"])
        used.configs.add(description["EndpointConfigName"])
        pending = (description.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
        if pending:
            used.configs.add(pending)
    for name in sorted(used.configs):
        try:
            used.models |= _models_of(sm.describe_endpoint_config(EndpointConfigName=name))
        except ClientError as error:
            # An endpoint can outlive its config (deleted by hand); it then names no model we could keep.
            if error.response["Error"]["Code"] != "ValidationException":
                raise
    return used


# The serving template's resources that name what an endpoint runs (CloudFormation resource types).
_NAMED_BY_TEMPLATE = {"AWS::SageMaker::EndpointConfig": "configs", "AWS::SageMaker::Model": "models"}


def _named_by_stack(cfn: Any, stack_name: str) -> InUse:
    """The physical ids, in lower case, of the Model and EndpointConfig the deployed serving stack
    names; refuses while it is changing.

    CloudFormation identifies both by ARN (their Ref and the primaryIdentifier of their resource
    schemas), not by name; see _named_among. Nothing when the stack does not exist (the
    environment has no release yet, or it was deleted).
    """
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return InUse()
        raise
    status = stacks[0]["StackStatus"]
    if status.endswith("_IN_PROGRESS") or status == STUCK_STACK:
        raise OperatorError(
            f"Refusing cleanup: stack {stack_name} is {status}; CloudFormation may still need the previous "
            "Model and EndpointConfig. Run it again once the stack is *_COMPLETE."
        )
    named = InUse()
    for resource in _pages(cfn, "list_stack_resources", "StackResourceSummaries", StackName=stack_name):
        kind = _NAMED_BY_TEMPLATE.get(resource["ResourceType"])
        if kind and resource.get("PhysicalResourceId"):
            getattr(named, kind).add(resource["PhysicalResourceId"].lower())
    return named


def _named_among(items: list[dict[str, Any]], kind: str, physical_ids: set[str]) -> set[str]:
    """Names of the `kind` summaries whose ARN (or name) is one of `physical_ids`, in any case:
    SageMaker has written names into ARNs in lower case, so an ARN alone does not give the name."""
    return {
        item[f"{kind}Name"]
        for item in items
        if item[f"{kind}Arn"].lower() in physical_ids or item[f"{kind}Name"].lower() in physical_ids
    }


def _owned(
    sm: Any, items: list[dict[str, Any]], kind: str, tag: tuple[str, str], generated: list[re.Pattern[str]]
) -> list[str]:
    """Names of the `kind` ("Model" or "EndpointConfig") summaries this app made for the endpoint."""
    names = []
    for item in items:
        name = item[f"{kind}Name"]
        if any(pattern.fullmatch(name) for pattern in generated):
            names.append(name)
            continue
        tags = _pages(sm, "list_tags", "Tags", ResourceArn=item[f"{kind}Arn"])
        if any((t["Key"], t.get("Value")) == tag for t in tags):
            names.append(name)
    return sorted(names)


def plan(ctx: Context, env: EnvironmentConfig) -> dict[str, Any]:
    names = ctx.cfg.names
    endpoint_name = names.endpoint(env.name)
    sm = ctx.in_env("sagemaker", env)
    named = _named_by_stack(ctx.in_env("cloudformation", env), names.stack(env.name, "serving"))
    used = in_use(sm)
    config_items = _pages(sm, "list_endpoint_configs", "EndpointConfigs")
    model_items = _pages(sm, "list_models", "Models")
    used.configs |= _named_among(config_items, "EndpointConfig", named.configs)
    used.models |= _named_among(model_items, "Model", named.models)
    tag = (names.endpoint_resource_tag, endpoint_name)
    generated = [names.generated_regex(env.name, kind) for kind in Generated]
    configs = _owned(sm, config_items, "EndpointConfig", tag, generated)
    models = _owned(sm, model_items, "Model", tag, generated)
    return {
        "environment": env.name,
        "endpoint_name": endpoint_name,
        "region": env.region,
        "in_use": {"endpoint_configs": sorted(used.configs), "models": sorted(used.models)},
        "delete": {
            "endpoint_configs": [c for c in configs if c not in used.configs],
            "models": [m for m in models if m not in used.models],
        },
    }


def cleanup(ctx: Context, env_name: str, *, delete: bool) -> dict[str, Any]:
    """The plan (dry run), or the plan carried out when `delete`: configs first, then their models."""
    env = ctx.env(env_name)
    result = plan(ctx, env)
    result["deleted"] = delete
    if delete:
        sm = ctx.in_env("sagemaker", env)
        for name in result["delete"]["endpoint_configs"]:
            sm.delete_endpoint_config(EndpointConfigName=name)
        for name in result["delete"]["models"]:
            sm.delete_model(ModelName=name)
    return result
