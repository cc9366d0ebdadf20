"""rollback: return an environment to a known-good version, never leaving half of it done.

Order: check (assume the environment's and the registry's roles, describe every resource the
changes touch) -> prepare (a new Model and EndpointConfig, unused until the update) -> registry
(reject the live version, in the model-build account) -> endpoint (guarded blue/green update)
-> wait -> ledger. A failure before the update is accepted undoes every earlier change, newest
first; a rollback the deployment guardrails undo restores the live version's approval. Every
failure says what was changed, what was undone and what is still in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

import contracts
from config import EnvironmentConfig, Generated
from endpoint_deployment import deployment_config
from mlopsctl import endpoint, guard, ledger, registry
from mlopsctl.aws import REGISTRY
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError


def utc_now() -> datetime:
    """The time generated names carry (a module function, so tests can fix it)."""
    return datetime.now(UTC)


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        e = error.response.get("Error", {})
        return f"{error.operation_name} {e.get('Code')}: {e.get('Message', '')}"
    return str(error)


@dataclass
class Plan:
    """Everything a rollback needs, read before anything is changed."""

    env: EnvironmentConfig
    endpoint_name: str
    live: endpoint.LiveState
    source: endpoint.ReleaseSource
    target_arn: str
    # Whole-endpoint rollback alarms, and the new-fleet alarms whose copies watch the new config.
    alarms: list[str]
    new_fleet_templates: list[dict[str, Any]]
    acting_as: dict[str, str]
    operator: str
    # The live version and its approval before the rollback; None when there is nothing to reject.
    reject_arn: str | None = None
    reject_was: str | None = None

    @property
    def target_version(self) -> int | None:
        return registry.version_of(self.target_arn)


@dataclass
class Journal:
    """The changes made so far, each with its undo (None: nothing to undo, e.g. an accepted update)."""

    env: str
    steps: list[tuple[str, Callable[[], Any] | None]] = field(default_factory=list)

    def did(self, what: str, undo: Callable[[], Any] | None) -> None:
        self.steps.append((what, undo))

    def retire(self, what: str) -> str | None:
        """Undoes step `what` now, as its work is done, and forgets it; the reason if that failed."""
        for index, (step, undo) in enumerate(self.steps):
            if step == what and undo is not None:
                del self.steps[index]
                try:
                    undo()
                except (ClientError, BotoCoreError) as error:
                    return _reason(error)
                return None
        return None

    def made(self) -> str:
        return "; ".join(what for what, _ in self.steps) or "none"

    def unwind(self) -> tuple[list[str], list[str]]:
        """Undoes every step, newest first; (undone, still in place)."""
        undone, remaining = [], []
        for what, undo in reversed(self.steps):
            if undo is None:
                continue
            try:
                undo()
            except (ClientError, BotoCoreError) as error:
                remaining.append(f"{what} (undo failed: {_reason(error)})")
            else:
                undone.append(what)
        return undone, remaining

    def failure(self, headline: str, tail: str = "") -> OperatorError:
        made = self.made()
        undone, remaining = self.unwind()
        return OperatorError(
            f"{headline}. Changes made: {made}. Undone: {'; '.join(undone) or 'nothing'}. "
            f"Still in place: {'; '.join(remaining) or 'nothing'}.{tail}"
        )


def _acting_as(ctx: Context, scope: str, region: str, account: str, env_name: str) -> str:
    """Assumes `scope`'s role now (no dry run exists for cross-account writes) and checks its account."""
    what = "the model registry" if scope == REGISTRY else f"environment {scope}"
    try:
        identity = ctx.clients("sts", region, scope).get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        raise OperatorError(
            f"Refusing rollback of {env_name}: cannot act on {what} in account {account}: {_reason(error)}. "
            "Nothing was changed."
        ) from error
    if identity["Account"] != account:
        raise OperatorError(
            f"Refusing rollback of {env_name}: the credentials for {what} act in account {identity['Account']} "
            f"({identity['Arn']}), not {account}. Nothing was changed."
        )
    return str(identity["Arn"])


def _target_arn(ctx: Context, env: EnvironmentConfig, live: endpoint.LiveState, to: str | None) -> str:
    name = ctx.cfg.names.ledger_parameter(env.name)
    if to is not None:
        return registry.resolve_version(ctx.cfg, to)
    record = ledger.last_known_good(ledger.history(ctx.in_env("ssm", env), name), live.model_package_arn)
    if record is None:
        raise OperatorError(
            f"Refusing rollback of {env.name}: the ledger {name} has no known-good version other than the live one "
            f"(v{registry.version_of(live.model_package_arn)}); pass --to VERSION to choose one."
        )
    return str(record["model_package_arn"])


def _live(ctx: Context, env: EnvironmentConfig, endpoint_name: str) -> endpoint.LiveState:
    live = endpoint.live_state(ctx.in_env("sagemaker", env), endpoint_name, ctx.cfg.names.variant)
    if live is None:
        raise OperatorError(f"Refusing rollback of {env.name}: endpoint {endpoint_name} does not exist.")
    if live.status == endpoint.UPDATING:
        raise OperatorError(
            f"Refusing rollback of {env.name}: endpoint {endpoint_name} is already Updating (a deployment is in "
            "progress; its alarms can still roll it back). Wait until it is InService."
        )
    if live.status != endpoint.IN_SERVICE:
        raise OperatorError(
            f"Refusing rollback of {env.name}: endpoint {endpoint_name} is {live.status}, not InService."
        )
    return live


def _check_target(ctx: Context, env: EnvironmentConfig, target_arn: str) -> None:
    """Approved in the registry, and readable with a container from the serving account (CreateModel needs both)."""
    version = registry.version_of(target_arn)
    status = registry.describe(ctx.registry(), target_arn)["ModelApprovalStatus"]
    if status != contracts.APPROVED:
        raise OperatorError(
            f"Refusing rollback of {env.name}: target v{version} is {status}, not Approved; "
            "approve it first (mlopsctl approve) or choose another version with --to."
        )
    try:
        package = ctx.in_env("sagemaker", env).describe_model_package(ModelPackageName=target_arn)
    except ClientError as error:
        raise OperatorError(
            f"Refusing rollback of {env.name}: v{version} is not readable from account {env.account} "
            f"({_reason(error)}), so no Model can be created from it. Nothing was changed."
        ) from error
    if not (package.get("InferenceSpecification") or {}).get("Containers"):
        raise OperatorError(f"Refusing rollback of {env.name}: v{version} has no inference container to deploy.")


def plan(ctx: Context, env_name: str, to: str | None) -> Plan:
    """Every check, no change: roles, endpoint, target, the version to reject, alarms, live settings."""
    env = ctx.env(env_name)
    names = ctx.cfg.names
    build = ctx.cfg.build_environment
    acting_as = {
        REGISTRY: _acting_as(ctx, REGISTRY, build.region, build.account, env.name),
        env.name: _acting_as(ctx, env.name, env.region, env.account, env.name),
    }
    operator = ctx.caller()
    endpoint_name = names.endpoint(env.name)
    live = _live(ctx, env, endpoint_name)
    # The deployed new-fleet alarms watch the serving template's config (the fleet a rollback
    # drains); copies of them watch the new config once it exists (mlopsctl/guard.py).
    cw = ctx.in_env("cloudwatch", env)
    alarms = guard.whole_endpoint_alarms(cw, names, env.name)
    templates = guard.new_fleet_alarms(cw, names, env.name)
    guard.rollback_alarm_set(alarms, [t["AlarmName"] for t in templates], env=env.name)
    target_arn = _target_arn(ctx, env, live, to)
    if target_arn == live.model_package_arn:
        raise OperatorError(
            f"Refusing rollback of {env.name}: v{registry.version_of(target_arn)} is already live on {endpoint_name}."
        )
    _check_target(ctx, env, target_arn)
    source = endpoint.read_release_source(ctx.in_env("sagemaker", env), live.endpoint_config_name, names.variant)
    result = Plan(env, endpoint_name, live, source, target_arn, alarms, templates, acting_as, operator)
    bad = live.model_package_arn
    if bad and registry.in_group(ctx.cfg, bad):
        was = registry.describe(ctx.registry(), bad)["ModelApprovalStatus"]
        if was != contracts.REJECTED:
            result.reject_arn, result.reject_was = bad, was
    return result


def _prepare(ctx: Context, p: Plan, journal: Journal, now: datetime) -> tuple[str, list[str]]:
    """The new Model and EndpointConfig, and the copies of the new-fleet alarms that watch its fleet."""
    sm, cw = ctx.in_env("sagemaker", p.env), ctx.in_env("cloudwatch", p.env)
    name = ctx.cfg.names.generated(p.env.name, Generated.ROLLBACK, now)
    model_request, config_request = endpoint.release_requests(
        p.source, name=name, package_arn=p.target_arn, instance_count=p.live.desired_instance_count
    )
    try:
        sm.create_model(**model_request)
        journal.did(f"created model {name}", lambda: sm.delete_model(ModelName=name))
        sm.create_endpoint_config(**config_request)
        journal.did(f"created endpoint config {name}", lambda: sm.delete_endpoint_config(EndpointConfigName=name))
        guards = guard.put_guard_alarms(cw, ctx.cfg.names, p.env.name, p.new_fleet_templates, name)
        journal.did(_guards_step(guards), lambda: guard.delete_alarms(cw, guards))
    except ClientError as error:
        raise journal.failure(f"Rollback of {p.env.name} failed creating the release ({_reason(error)})") from error
    return name, guards


def _reject(ctx: Context, p: Plan, journal: Journal, reason: str) -> None:
    bad, was = p.reject_arn, p.reject_was
    if bad is None or was is None:
        return
    reg, who, v = ctx.registry(), p.operator, registry.version_of(bad)
    description = f"Rejected by {who}: rolled back {p.env.name} to v{p.target_version}: {reason}"
    try:
        registry.set_status(reg, bad, contracts.REJECTED, description)
    except ClientError as error:
        raise journal.failure(f"Rollback of {p.env.name} failed rejecting v{v} ({_reason(error)})") from error
    restored = f"Restored to {was} by {who}: the rollback of {p.env.name} to v{p.target_version} did not complete"
    journal.did(f"v{v} {was} -> Rejected", lambda: registry.set_status(reg, bad, was, restored))


def _update(ctx: Context, p: Plan, journal: Journal, new_config: str, guards: list[str]) -> None:
    try:
        ctx.in_env("sagemaker", p.env).update_endpoint(
            EndpointName=p.endpoint_name,
            EndpointConfigName=new_config,
            # A rollback changes the model only, which SageMaker allows while the variant is
            # registered with autoscaling; RetainAllVariantProperties keeps the count autoscaling
            # reached (SageMaker developer guide, "Update endpoints that use auto scaling").
            RetainAllVariantProperties=True,
            DeploymentConfig=deployment_config(p.env.rollout, [*p.alarms, *guards]),
        )
    except ClientError as error:
        raise journal.failure(
            f"Rollback of {p.env.name} failed updating endpoint {p.endpoint_name} ({_reason(error)}); "
            f"it still serves v{registry.version_of(p.live.model_package_arn)} on {p.live.endpoint_config_name}",
            " The ledger is unchanged.",
        ) from error
    journal.did(f"started the blue/green update of {p.endpoint_name} to {new_config}", None)


def _wait(ctx: Context, p: Plan, journal: Journal, new_config: str, **waiting: Any) -> dict[str, Any]:
    rollout = p.env.rollout
    timeout = (rollout.max_execution_timeout_minutes + rollout.termination_wait_minutes + 10) * 60
    sm = ctx.in_env("sagemaker", p.env)
    try:
        return endpoint.wait_until_settled(
            sm, p.endpoint_name, timeout_seconds=timeout, expected_config=new_config, **waiting
        )
    except (endpoint.StillInFlight, ClientError, BotoCoreError) as error:
        bad = registry.version_of(p.reject_arn)
        restore = f" If the guardrails roll it back, restore v{bad} with `mlopsctl approve {bad}`." if bad else ""
        raise OperatorError(
            f"Rollback of {p.env.name} is still in flight: {_reason(error)}. The update to {new_config} "
            f"(v{p.target_version}) was accepted and may still complete, so nothing was undone. Changes made: "
            f"{journal.made()}. The ledger is unchanged. Follow it with `mlopsctl status --env {p.env.name}`.{restore}"
        ) from error


def _drop_guards(journal: Journal, guards: list[str]) -> None:
    """Deletes the settled update's guard alarms; one left behind only notifies, so a failure is noted, not raised."""
    problem = journal.retire(_guards_step(guards))
    if problem:
        journal.did(f"alarms {', '.join(guards)} left in place (delete failed: {problem})", None)


def _guards_step(guards: list[str]) -> str:
    return f"created alarms {', '.join(guards)}"


def _not_taken(p: Plan, journal: Journal, final: dict[str, Any], new_config: str) -> OperatorError:
    why = f": {final['FailureReason']}" if final.get("FailureReason") else ""
    headline = (
        f"Rollback of {p.env.name} did not take: endpoint is {final['EndpointStatus']} on "
        f"{final['EndpointConfigName']}, not on {new_config} (the deployment guardrails rolled it back{why}); "
        "nothing was recorded in the ledger"
    )
    if final["EndpointConfigName"] == p.live.endpoint_config_name:
        # The old version serves again: it must not stay Rejected, or the next run would replace it.
        return journal.failure(headline)
    return OperatorError(
        f"{headline}. The endpoint serves neither the old nor the new config, so nothing was undone. "
        f"Changes made: {journal.made()}."
    )


def rollback(
    ctx: Context,
    env_name: str,
    to: str | None,
    reason: str,
    *,
    on_poll: Callable[[str, float], None] = lambda status, elapsed: None,
    poll_seconds: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] | None = None,
) -> dict[str, Any]:
    # Refused before anything changes: the ledger entry written at the end must fit SSM's 4 KB.
    if len(reason) > ledger.REASON_MAX_LENGTH:
        raise OperatorError(
            f"--reason has {len(reason)} characters; the ledger records at most {ledger.REASON_MAX_LENGTH}."
        )
    if not poll_seconds > 0:
        raise OperatorError(f"poll_seconds must be above 0, got {poll_seconds}; nothing was changed.")
    p = plan(ctx, env_name, to)
    journal = Journal(p.env.name)
    new_config, guards = _prepare(ctx, p, journal, (now or utc_now)())
    _reject(ctx, p, journal, reason)
    _update(ctx, p, journal, new_config, guards)
    final = _wait(ctx, p, journal, new_config, poll_seconds=poll_seconds, on_poll=on_poll, sleep=sleep, clock=clock)
    # The update has settled: its guard alarms' work is done (the whole-endpoint alarms stay).
    _drop_guards(journal, guards)
    if final["EndpointStatus"] != endpoint.IN_SERVICE or final["EndpointConfigName"] != new_config:
        raise _not_taken(p, journal, final, new_config)

    names = ctx.cfg.names
    record = ledger.entry(
        model_package_arn=p.target_arn,
        model_version=p.target_version,
        endpoint_config_name=new_config,
        source="rollback",
        reason=reason,
    )
    try:
        ledger.append(ctx.in_env("ssm", p.env), names.ledger_parameter(p.env.name), record)
    except ClientError as error:
        raise OperatorError(
            f"Rollback of {p.env.name} took effect (endpoint serves v{p.target_version} on {new_config}; changes: "
            f"{journal.made()}), but recording it in the ledger {names.ledger_parameter(p.env.name)} failed: "
            f"{_reason(error)}. The ledger still ends with the previous entry."
        ) from error
    next_release = registry.latest(ctx.registry(), ctx.cfg, contracts.APPROVED)
    next_arn = next_release["ModelPackageArn"] if next_release else None
    return {
        "environment": p.env.name,
        "endpoint_name": p.endpoint_name,
        "from": p.live.model_package_arn,
        "to": p.target_arn,
        "endpoint_config_name": new_config,
        "rejected": p.reject_arn,
        "rollback_alarms": p.alarms,
        "acting_as": p.acting_as,
        "changes": [what for what, _ in journal.steps],
        "ledger_entry": record,
        "next_release": next_arn,
        "pipeline_consistent": next_arn == p.target_arn,
    }
