"""What each command does, as functions over injected clients that return plain data.

The CLI (cli.py) only parses flags, calls one of these and prints the result. Every failure
or refusal raises OperatorError with a one-line message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

import contracts
from config import TASK_METRICS, AppConfig, EnvironmentConfig, TaskType
from mlopsctl import endpoint, guard, ledger, payload, registry, retraining_request, verification
from mlopsctl.context import Context
from mlopsctl.errors import NothingApproved, OperatorError

# ---------------------------------------------------------------- status


def _executions(ctx: Context, limit: int) -> list[dict[str, Any]] | str:
    sm = ctx.registry()
    pipeline = ctx.cfg.names.model_build_pipeline
    try:
        summaries = sm.list_pipeline_executions(
            PipelineName=pipeline, SortBy="CreationTime", SortOrder="Descending", MaxResults=limit
        )["PipelineExecutionSummaries"]
    except ClientError as error:
        return f"cannot list executions of {pipeline}: {error.response['Error'].get('Message', error)}"
    summaries = sorted(summaries, key=lambda s: s["StartTime"], reverse=True)[:limit]
    result = []
    for summary in summaries:
        arn = summary["PipelineExecutionArn"]
        parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
        values = {p["Name"]: p["Value"] for p in parameters}
        failure = summary.get("PipelineExecutionFailureReason")
        result.append(
            {
                "execution_arn": arn,
                "started": str(summary["StartTime"]),
                "status": summary["PipelineExecutionStatus"],
                "trigger_reason": values.get(contracts.TRIGGER_REASON_PARAMETER, ""),
                "failure_reason": failure or None,
            }
        )
    return result


def _environment_status(ctx: Context, env: EnvironmentConfig) -> dict[str, Any]:
    names = ctx.cfg.names
    live = endpoint.live_state(ctx.in_env("sagemaker", env), names.endpoint(env.name), names.variant)
    record = ledger.current(ctx.in_env("ssm", env), names.ledger_parameter(env.name))
    alarms = [
        {"name": a["AlarmName"], "state": a.get("StateValue"), "reason": a.get("StateReason")}
        for a in guard.metric_alarms(ctx.in_env("cloudwatch", env), names.rollback_alarm_prefix(env.name))
    ]
    return {
        "environment": env.name,
        "account": env.account,
        "endpoint": live.as_dict() if live else None,
        "live_version": registry.version_of(live.model_package_arn) if live else None,
        "deployment_in_progress": bool(live and (live.status == endpoint.UPDATING or live.pending_deployment)),
        "rollback_alarms": alarms,
        "alarms_firing": [alarm["name"] for alarm in alarms if alarm["state"] == "ALARM"],
        "ledger": record,
        "ledger_matches_endpoint": bool(live and record and record["model_package_arn"] == live.model_package_arn),
    }


def _error_text(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        return f"{error.response['Error'].get('Code')}: {error.response['Error'].get('Message', '')}"
    return str(error)


def _pending(ctx: Context) -> list[dict[str, Any]] | str:
    try:
        pending = registry.list_versions(ctx.registry(), ctx.cfg, contracts.PENDING_MANUAL_APPROVAL)
    except (ClientError, BotoCoreError) as error:
        return f"cannot list versions of {registry.group_arn(ctx.cfg)}: {_error_text(error)}"
    return [
        {"version": p.get("ModelPackageVersion"), "arn": p["ModelPackageArn"], "created": str(p["CreationTime"])}
        for p in pending
    ]


def status(ctx: Context, env_name: str | None, executions: int = 5) -> dict[str, Any]:
    """Every environment (each read with its own account's role), then the registry's side."""
    envs = [ctx.env(env_name)] if env_name else list(ctx.cfg.environments)
    environments = []
    for env in envs:
        try:
            environments.append(_environment_status(ctx, env))
        except (ClientError, BotoCoreError) as error:
            # One unreachable account (no access, wrong profile) must not hide the others.
            environments.append({"environment": env.name, "account": env.account, "error": _error_text(error)})
    return {
        "environments": environments,
        "pipeline": ctx.cfg.names.model_build_pipeline,
        "executions": _executions(ctx, executions),
        "pending_approval": _pending(ctx),
    }


# ---------------------------------------------------------------- compare


def compare(ctx: Context, a: str | None, b: str | None) -> dict[str, Any]:
    sm = ctx.registry()
    if a is None:
        champion = registry.latest(sm, ctx.cfg, contracts.APPROVED)
        if champion is None:
            raise OperatorError("No Approved version to compare with; give two versions: compare A B.")
        a_arn = champion["ModelPackageArn"]
    else:
        a_arn = registry.resolve_version(ctx.cfg, a)
    if b is None:
        candidate = registry.latest(sm, ctx.cfg, contracts.PENDING_MANUAL_APPROVAL)
        if candidate is None:
            raise OperatorError("No version is pending approval; give the versions to compare: compare A B.")
        b_arn = candidate["ModelPackageArn"]
    else:
        b_arn = registry.resolve_version(ctx.cfg, b)
    s3 = ctx.registry("s3")
    left, right = registry.version_metrics(sm, s3, a_arn), registry.version_metrics(sm, s3, b_arn)
    names = [m for m in registry.METRICS if m in left.metrics or m in right.metrics]
    names += sorted((set(left.metrics) | set(right.metrics)) - set(names))
    rows: list[dict[str, Any]] = []
    gate, higher_is_better = gate_metric(ctx.cfg, right.gate_metric)
    configured = ctx.cfg.model_build.model.metric
    gate_delta: float | None = None
    for name in names:
        va, vb = left.metrics.get(name), right.metrics.get(name)
        delta = None if va is None or vb is None else vb - va
        rows.append({"metric": name, "a": va, "b": vb, "delta": delta})
        if name == gate:
            gate_delta = delta
    return {
        "a": left.as_dict(),
        "b": right.as_dict(),
        "metrics": rows,
        "gate_metric": gate,
        # The configured tolerance belongs to the configured metric; a version gated on another has none here.
        "allowed_regression": configured.allowed_regression if gate == configured.name else None,
        "higher_is_better": higher_is_better,
        # B worse than A in the gate metric's direction.
        "regression": gate_delta is not None and (gate_delta < 0 if higher_is_better else gate_delta > 0),
    }


def gate_metric(cfg: AppConfig, recorded: str | None) -> tuple[str, bool]:
    """The metric a version was gated on (as it recorded it) and its direction; else the configured one."""
    configured = cfg.model_build.model.metric
    name = recorded or configured.name
    directions = {metric: higher for metrics in TASK_METRICS.values() for metric, higher in metrics.items()}
    return name, directions.get(name, configured.higher_is_better)


# ---------------------------------------------------------------- approve / reject


def set_approval(ctx: Context, ref: str, approve: bool, reason: str | None) -> dict[str, Any]:
    sm = ctx.registry()
    arn = registry.resolve_version(ctx.cfg, ref)
    before = registry.describe(sm, arn)["ModelApprovalStatus"]
    who = ctx.caller()
    status = contracts.APPROVED if approve else contracts.REJECTED
    description = f"{status} by {who}" + (f": {reason}" if reason else "")
    registry.set_status(sm, arn, status, description)
    return {
        "model_package_arn": arn,
        "version": registry.version_of(arn),
        "from": before,
        "to": status,
        "approval_description": registry.approval_description(description),
    }


# ---------------------------------------------------------------- retrain


def retrain(ctx: Context, reason: str) -> dict[str, Any]:
    """Sends the manual retraining event, refusing first what the retraining function would refuse."""
    try:
        checked = retraining_request.checked_reason(reason)
        detail = {"reason": checked, "requested_by": retraining_request.requester(ctx.caller())}
    except retraining_request.RequestError as error:
        raise OperatorError(str(error)) from error
    entry = {
        "Source": ctx.cfg.names.manual_retraining_source,
        "DetailType": contracts.RETRAINING_REQUESTED,
        "Detail": json.dumps(detail),
        "EventBusName": "default",
    }
    response = ctx.registry("events").put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise OperatorError(
            f"EventBridge refused the retraining event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}"
        )
    return {
        "event_id": response["Entries"][0]["EventId"],
        "source": entry["Source"],
        "detail": detail,
        "environment": ctx.cfg.build_environment.name,
    }


# ---------------------------------------------------------------- resolve-release


def resolve_release(ctx: Context, env_name: str) -> dict[str, Any]:
    env = ctx.env(env_name)
    sm = ctx.registry()
    approved = registry.latest(sm, ctx.cfg, contracts.APPROVED)
    if approved is None:
        raise NothingApproved(
            f"No Approved version in {registry.group_arn(ctx.cfg)}: approve one (mlopsctl approve VERSION) "
            f"before releasing to {env.name}."
        )
    arn = approved["ModelPackageArn"]
    package = registry.describe(sm, arn)
    statistics, constraints = registry.baselines(package)
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return {
        "model_package_arn": arn,
        "baseline_statistics_uri": statistics,
        "baseline_constraints_uri": constraints,
        # The endpoint's role is granted this image's repository (config.Release.image_uri).
        "image_uri": containers[0].get("Image"),
    }


# ---------------------------------------------------------------- record-deployment


def record_deployment(ctx: Context, env_name: str, requested_config: str | None = None) -> dict[str, Any]:
    """Appends ENV's release to the ledger once the endpoint serves it (on `requested_config`, when given)."""
    env = ctx.env(env_name)
    names = ctx.cfg.names
    live = verification.served_release(ctx, env_name, requested_config, outcome="nothing recorded")
    assert env.release is not None  # served_release refuses an environment without one
    wanted = env.release.model_package_arn
    parameter = names.ledger_parameter(env.name)
    ssm = ctx.in_env("ssm", env)
    previous = ledger.current(ssm, parameter)
    if (
        previous
        and previous["model_package_arn"] == wanted
        and previous.get("endpoint_config_name") == live.endpoint_config_name
    ):
        # A re-run of the same deployment must not add a second entry for one release.
        return {"recorded": False, "ledger_entry": previous, "endpoint": live.as_dict()}
    record = ledger.entry(
        model_package_arn=wanted,
        model_version=registry.version_of(wanted),
        endpoint_config_name=live.endpoint_config_name,
        source="pipeline",
        reason="deployed by the delivery pipeline",
    )
    ledger.append(ssm, parameter, record)
    return {"recorded": True, "ledger_entry": record, "endpoint": live.as_dict()}


# ---------------------------------------------------------------- smoke-test


def _s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass(frozen=True)
class ServedVersion:
    """What the smoke test needs of the version an endpoint serves: its sample rows and how it answers."""

    rows: list[str]
    task: TaskType
    class_count: int | None


def served_version(ctx: Context, package_arn: str, sample: list[str] | None) -> ServedVersion:
    """The version's registered sample payload (or the `sample` rows), task type and class count."""
    package = registry.describe(ctx.registry(), package_arn)
    metadata = package.get("CustomerMetadataProperties") or {}
    try:
        task = TaskType(metadata.get(contracts.METADATA_TASK_TYPE, ctx.cfg.model_build.model.task_type.value))
    except ValueError as error:
        raise OperatorError(f"{package_arn} records an unknown task_type: {error}") from error
    count = str(metadata.get(contracts.METADATA_CLASS_COUNT, ""))
    class_count = int(count) if count.isdigit() else None
    if sample is not None:
        return ServedVersion(sample, task, class_count)
    uri = package.get("SamplePayloadUrl")
    if not uri or not str(uri).startswith("s3://"):
        raise OperatorError(
            f"v{registry.version_of(package_arn)} has no sample payload registered (SamplePayloadUrl): "
            "give rows of its features with --sample."
        )
    bucket, key = _s3_location(str(uri))
    try:
        content = ctx.registry("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise OperatorError(f"Cannot read the sample payload {uri}: {_error_text(error)}") from error
    return ServedVersion(payload.rows_of_archive(content, str(uri)), task, class_count)


def _smoke_tested_state(ctx: Context, env: EnvironmentConfig, requested_config: str | None) -> endpoint.LiveState:
    """The endpoint to smoke-test: with `requested_config`, only while it serves ENV's release on that config."""
    if requested_config is not None:
        return verification.served_release(ctx, env.name, requested_config, outcome="not smoke-tested")
    endpoint_name = ctx.cfg.names.endpoint(env.name)
    found = endpoint.live_state(ctx.in_env("sagemaker", env), endpoint_name, ctx.cfg.names.variant)
    if found is None:
        raise OperatorError(f"Endpoint {endpoint_name} does not exist in {env.region}; not smoke-tested.")
    return found


def _smoke_request(
    runtime: Any,
    batch: list[str],
    *,
    endpoint_name: str,
    version: ServedVersion,
    clock: Callable[[], float],
    max_latency_ms: float,
) -> float:
    """One request of `batch`'s rows: its milliseconds, or OperatorError on a failed, wrong or slow answer."""
    start = clock()
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType="text/csv", Accept="text/csv", Body="\n".join(batch)
        )
    except ClientError as error:
        code = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        raise OperatorError(
            f"Smoke test of {endpoint_name} failed: HTTP {code} {error.response['Error'].get('Code')}: "
            f"{error.response['Error'].get('Message', '')}"
        ) from error
    elapsed_ms = (clock() - start) * 1000
    code = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
    if code != 200:
        raise OperatorError(f"Smoke test of {endpoint_name} failed: HTTP {code}.")
    body = response["Body"].read().decode("utf-8", errors="replace")
    try:
        payload.check_answer(body, len(batch), version.task, version.class_count)
    except OperatorError as error:
        raise OperatorError(f"Smoke test of {endpoint_name} failed: {error}") from error
    if elapsed_ms > max_latency_ms:
        raise OperatorError(
            f"Smoke test of {endpoint_name} failed: a {len(batch)}-row request took {elapsed_ms:.0f} ms, "
            f"limit {max_latency_ms:.0f} ms."
        )
    return elapsed_ms


def smoke_test(
    ctx: Context,
    env_name: str,
    max_latency_ms: float,
    *,
    sample: Path | None = None,
    clock: Callable[[], float] = time.perf_counter,
    requested_config: str | None = None,
) -> dict[str, Any]:
    """Sends the served version's own sample rows (or `sample`) and checks each answer by its task.

    With `requested_config` (the pipeline's check), first the endpoint must serve ENV's release on it.
    """
    env = ctx.env(env_name)
    # A sample file that cannot be read is refused before any AWS call.
    given_rows = payload.load_sample(sample) if sample is not None else None
    endpoint_name = ctx.cfg.names.endpoint(env.name)
    live = _smoke_tested_state(ctx, env, requested_config)
    if live.model_package_arn is None:
        raise OperatorError(f"Endpoint {endpoint_name} serves no registered version; not smoke-tested.")
    version = served_version(ctx, live.model_package_arn, given_rows)
    rows = version.rows
    runtime = ctx.in_env("sagemaker-runtime", env)
    # One single-row request per sample plus one batch: both shapes the serving code must accept.
    requests = [[row] for row in rows] + [rows]
    latencies = [
        _smoke_request(
            runtime, batch, endpoint_name=endpoint_name, version=version, clock=clock, max_latency_ms=max_latency_ms
        )
        for batch in requests
    ]
    return {
        "endpoint_name": endpoint_name,
        "requests": len(requests),
        "rows": len(rows),
        "model_package_arn": live.model_package_arn,
        "max_latency_ms": round(max(latencies), 1),
        "limit_ms": max_latency_ms,
    }
