"""The delivery pipeline's post-deploy verdict: is the endpoint running what the deployment asked for?

With a release, the endpoint must be InService on the EndpointConfig this deployment requested,
and that config's model must come from the release's model package. SageMaker's deployment
guardrails roll an update back on their own: the endpoint ends InService on the previous
EndpointConfig (DescribeEndpoint's EndpointConfigName names the config it runs, see
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html), while
CloudFormation may still report the stack updated. So neither status nor stack proves a release.

Without a release (nothing Approved: resolve-release wrote none and synth left the serving stack
out, which leaves a deployed endpoint untouched) the verdict depends on the endpoint:

    endpoint    verdict
    --------    -------
    none        first installation: nothing to serve yet, the check passes and says so
    exists      fail: it serves a version that is no longer Approved, and nothing replaces it

Failing is deliberate rather than falling back to the ledger's last known-good version: with
nothing Approved, every version in the ledger is unapproved too (an Approved one would have been
the release), and the product never deploys an unapproved version. The message names the ledger's
last known-good version, so approving it brings the environment back through the usual path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from mlopsctl import endpoint, ledger, registry
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError


def served_release(ctx: Context, env_name: str, requested_config: str | None, *, outcome: str) -> endpoint.LiveState:
    """The live state when ENV's endpoint serves its release (on `requested_config`, when given).

    Every other state raises OperatorError whose message ends with `outcome` (what did not happen).
    """
    env = ctx.env(env_name)
    names = ctx.cfg.names
    if env.release is None:
        raise OperatorError(
            f"No release for {env.name}: expected releases/{env.name}.json or -c release.{env.name}=<arn> "
            "(run mlopsctl resolve-release first)."
        )
    wanted = env.release.model_package_arn
    endpoint_name = names.endpoint(env.name)
    live = endpoint.live_state(ctx.in_env("sagemaker", env), endpoint_name, names.variant)
    if live is None:
        raise OperatorError(f"Endpoint {endpoint_name} does not exist in {env.region}; {outcome}.")
    if live.status != endpoint.IN_SERVICE:
        why = f" ({live.failure_reason})" if live.failure_reason else ""
        raise OperatorError(f"Endpoint {endpoint_name} is {live.status}, not InService{why}; {outcome}.")
    if requested_config is not None and live.endpoint_config_name != requested_config:
        raise OperatorError(
            f"Endpoint {endpoint_name} is InService on {live.endpoint_config_name} "
            f"(v{registry.version_of(live.model_package_arn)}), not on {requested_config} that this deployment "
            f"requested for the release v{registry.version_of(wanted)}: SageMaker's deployment guardrails rolled "
            "the update back (a rollback alarm fired; the alerts topic has it) although CloudFormation reported "
            f"success. Both configs and their models are kept; reject v{registry.version_of(wanted)} or fix and "
            f"release again; {outcome}."
        )
    if live.model_package_arn != wanted:
        raise OperatorError(
            f"Endpoint {endpoint_name} is InService but serves v{registry.version_of(live.model_package_arn)} "
            f"on {live.endpoint_config_name}, not the release v{registry.version_of(wanted)}: the deployment was "
            f"rolled back (or never applied); {outcome}."
        )
    return live


def unreleased(ctx: Context, env_name: str) -> dict[str, Any]:
    """The verdict for ENV without a release (see the module's table): passes only without an endpoint."""
    env = ctx.env(env_name)
    names = ctx.cfg.names
    endpoint_name = names.endpoint(env.name)
    live = endpoint.live_state(ctx.in_env("sagemaker", env), endpoint_name, names.variant)
    if live is None:
        return {
            "skipped": True,
            "endpoint": None,
            "message": f"{env.name}: no release (no model approved yet) and no endpoint {endpoint_name}; skipped.",
        }
    parameter = names.ledger_parameter(env.name)
    fallback = ledger.last_known_good(ledger.history(ctx.in_env("ssm", env), parameter), live.model_package_arn)
    if fallback is not None:
        version = registry.version_of(fallback["model_package_arn"])
        remedy = (
            f"approve the last known-good v{version} (mlopsctl approve {version}) or another version, and the "
            "pipeline releases it"
        )
    else:
        remedy = f"the ledger {parameter} has no other known-good version: approve a version to release it"
    raise OperatorError(
        f"{env.name}: endpoint {endpoint_name} is {live.status} serving "
        f"v{registry.version_of(live.model_package_arn)} on {live.endpoint_config_name}, but no version is "
        f"Approved, so this deployment left it untouched: a version that is no longer Approved keeps "
        f"serving. {remedy.capitalize()}."
    )


def unreleased_behind_role(make_ctx: Callable[[], Context], env_name: str, role_arn: str | None) -> dict[str, Any]:
    """`unreleased` as the pipeline runs it: through the environment's deploy-verifier role.

    That role is created by the serving stack together with the endpoint, and this app alone
    writes its trust policy, so when it cannot be assumed (STS answers AccessDenied for a role
    that does not exist) the serving stack was never deployed: no endpoint, a first installation.
    """
    try:
        return unreleased(make_ctx(), env_name)
    except ClientError as error:
        if (
            role_arn is None
            or error.operation_name != "AssumeRole"
            or error.response["Error"]["Code"] != "AccessDenied"
        ):
            raise
    return {
        "skipped": True,
        "endpoint": None,
        "message": (
            f"{env_name}: no release (no model approved yet) and no serving stack (its deploy-verifier role "
            f"{role_arn} cannot be assumed; the first release creates it); skipped."
        ),
    }
