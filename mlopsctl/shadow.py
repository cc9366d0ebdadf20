"""Shadow test: the candidate beside the champion on live traffic, before the blue/green canary.

Why UpdateEndpoint with a shadow variant, and not SageMaker's inference experiments
(CreateInferenceExperiment with ShadowModeConfig): an inference experiment changes the endpoint
itself, through a role SageMaker assumes, and neither CreateInferenceExperiment nor
StopInferenceExperiment takes a DeploymentConfig (botocore's sagemaker model), so its updates of
the production fleet, adding the shadow and removing it, could not be rolled back by alarms.
UpdateEndpoint takes one. What AWS documents, and what it does not: the guardrails' "Exclusions"
(SageMaker developer guide) exclude multi-variant endpoints from rolling deployments only (config
refuses a shadow test where the rollout is ROLLING) and ask a blue/green update to keep the old
config's variant name, which the production variant does; neither they nor "Shadow variants" say
whether a blue/green update may add or remove a shadow variant. Should SageMaker refuse it,
UpdateEndpoint fails before anything changes and so does the test, which stops the pipeline
before the deployment: there is no fallback to an unguarded update. Likewise undocumented: whether
RetainAllVariantProperties (used on the way back with autoscaling, for the instance count) also
keeps the shadow phase's 100 % data capture until the deployment that follows; VariantPropertyType
lists DataCaptureConfig, "not currently supported".

Why a CLI step and not a CloudFormation phase: the serving stack holds one EndpointConfig and its
rollback alarms watch that config's fleet; the delivery pipeline runs `mlopsctl shadow-test`
before the environment's deployment:

1. a shadow variant an earlier run left (its config is tagged with the config to return to) is
   removed first, through the same guarded update as below;
2. from the live EndpointConfig (the champion) it creates one with the same production variant,
   the candidate as the one ShadowProductionVariant and data capture of every request, and updates
   the endpoint to it, guarded (mlopsctl/guard.py); the champion keeps answering;
3. waits `duration_minutes`, then compares both variants: 5XX rate and p99 ModelLatency per
   variant from CloudWatch, and the answers to the same requests from captured data
   (mlopsctl/shadow_compare.py). With too few pairs it replays captured champion requests through
   the endpoint, whose shadow receives its share of them, and compares again;
4. always returns the endpoint to the config it ran before, guarded, so CloudFormation's deployment
   starts from the state it deployed. A failed comparison exits non-zero, which stops the pipeline
   before the deployment.

Every phase keeps to the minutes config.ShadowBudget gives it; their sum is the pipeline step's
timeout, so the step cannot end before the endpoint is restored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from config import EnvironmentConfig, Generated, ResourceNames
from contracts import INVOCATION_5XX_ERRORS_METRIC, INVOCATIONS_METRIC, MODEL_LATENCY_METRIC, SAGEMAKER_NAMESPACE
from endpoint_deployment import deployment_config
from mlopsctl import endpoint, guard, registry
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from mlopsctl.shadow_compare import (
    Captured,
    VariantMetrics,
    Verdict,
    captured,
    compare,
    judge,
    pairs,
    replay_plan,
)

# ModelLatency is reported in microseconds (SageMaker "Invocation metrics").
_MICROSECONDS_PER_MS = 1000
# At most this many captured objects are read per variant; enough for a test window.
_MAX_CAPTURE_OBJECTS = 500
# Replayed requests carry this InferenceId prefix, which data capture records ("InferenceId" of InvokeEndpoint).
REPLAY_ID_PREFIX = "shadow-replay-"

Report = Callable[[str, str], None]
"""(stage, what is awaited or found) -> shown to the person running the test."""


def _silent(stage: str, detail: str) -> None:
    return None


def shadow_config_request(
    live_config: dict[str, Any],
    *,
    name: str,
    production_variant: str,
    shadow_variant: str,
    model_name: str,
    sampling_percent: int,
    tags: list[dict[str, str]],
    instance_count: int | None = None,
    shadow_instance_count: int | None = None,
) -> dict[str, Any]:
    """CreateEndpointConfig: the live production variant unchanged plus the candidate as shadow.

    `instance_count` (the live DesiredInstanceCount) replaces the live config's starting count, so
    the shadow phase never shrinks a fleet that autoscaling has grown; the shadow gets
    `shadow_instance_count` (default: as many).

    The shadow's share of copied requests is its InitialVariantWeight relative to the production
    variant's ("Testing models with shadow variants": a weight of 0.5 beside 1.0 samples 50 %).
    Data capture keeps the live destination and key but captures every request while the test
    runs, so each copied request is captured on both variants and can be paired.
    """
    production = endpoint.variant_of(live_config, production_variant)
    kept = (
        "VariantName",
        "ModelName",
        "InstanceType",
        "InitialInstanceCount",
        "InitialVariantWeight",
        "VolumeSizeInGB",
    )
    production = {key: production[key] for key in kept if key in production}
    if instance_count is not None:
        production["InitialInstanceCount"] = instance_count
    weight = float(production.get("InitialVariantWeight", 1.0))
    shadow = {
        "VariantName": shadow_variant,
        "ModelName": model_name,
        "InstanceType": production["InstanceType"],
        "InitialInstanceCount": shadow_instance_count or production["InitialInstanceCount"],
        "InitialVariantWeight": weight * sampling_percent / 100,
    }
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [production],
        "ShadowProductionVariants": [shadow],
        "Tags": tags,
    }
    if "KmsKeyId" in live_config:
        request["KmsKeyId"] = live_config["KmsKeyId"]
    if "DataCaptureConfig" in live_config:
        request["DataCaptureConfig"] = {**live_config["DataCaptureConfig"], "InitialSamplingPercentage": 100}
    return request


def shadow_instances(env: EnvironmentConfig, production_now: int) -> int:
    """The shadow fleet: sized for its share of the largest production fleet the test can meet.

    With autoscaling, production may grow to max_instances during the test while the shadow keeps
    the count it started with; sizing it for that peak keeps it from failing on load alone.
    """
    scaling = env.endpoint.autoscaling
    peak = max(production_now, scaling.max_instances) if scaling.enabled else production_now
    return max(1, math.ceil(peak * env.shadow.sampling_percent / 100))


def variant_metrics(cw: Any, endpoint_name: str, variant: str, start: datetime, end: datetime) -> VariantMetrics:
    """Sum of Invocations and Invocation5XXErrors, p99 ModelLatency, of one variant over the window."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": variant}]
    seconds = max(60, int((end - start).total_seconds()) // 60 * 60)
    queries = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": SAGEMAKER_NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                "Period": seconds,
                "Stat": stat,
            },
        }
        for query_id, metric, stat in (
            ("invocations", INVOCATIONS_METRIC, "Sum"),
            ("errors", INVOCATION_5XX_ERRORS_METRIC, "Sum"),
            ("latency", MODEL_LATENCY_METRIC, "p99"),
        )
    ]
    response = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    values = {result["Id"]: result.get("Values", []) for result in response["MetricDataResults"]}
    latency = values.get("latency") or []
    return VariantMetrics(
        invocations=float(sum(values.get("invocations") or [])),
        errors_5xx=float(sum(values.get("errors") or [])),
        p99_latency_ms=max(latency) / _MICROSECONDS_PER_MS if latency else None,
    )


def captured_lines(s3: Any, capture_uri: str, endpoint_name: str, variant: str, since: datetime) -> list[str]:
    """Captured JSON Lines of one variant written since `since` (its own S3 prefix)."""
    parsed = urlparse(capture_uri)
    prefix = f"{parsed.path.lstrip('/').rstrip('/')}/{endpoint_name}/{variant}/".lstrip("/")
    keys: list[str] = []
    request: dict[str, Any] = {"Bucket": parsed.netloc, "Prefix": prefix}
    while len(keys) < _MAX_CAPTURE_OBJECTS:
        page = s3.list_objects_v2(**request)
        keys += [item["Key"] for item in page.get("Contents", []) if item["LastModified"] >= since]
        if not page.get("IsTruncated"):
            break
        request["ContinuationToken"] = page["NextContinuationToken"]
    lines: list[str] = []
    for key in sorted(keys)[:_MAX_CAPTURE_OBJECTS]:
        body = s3.get_object(Bucket=parsed.netloc, Key=key)["Body"].read().decode("utf-8", errors="replace")
        lines += body.splitlines()
    return lines


@dataclass
class Window:
    """What the comparison reads: the endpoint, its capture destination, and the time window."""

    endpoint_name: str
    capture_uri: str
    since: datetime
    until: datetime


def _window(ctx: Context, env: EnvironmentConfig, since: datetime, until: datetime) -> Window:
    sm = ctx.in_env("sagemaker", env)
    endpoint_name = ctx.cfg.names.endpoint(env.name)
    described = endpoint.describe(sm, endpoint_name)
    if described is None:
        raise OperatorError(f"Endpoint {endpoint_name} does not exist in {env.region}; no shadow to compare.")
    live_config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    capture = live_config.get("DataCaptureConfig") or {}
    if not capture.get("DestinationS3Uri"):
        raise OperatorError(f"{described['EndpointConfigName']} captures no data; predictions cannot be compared.")
    return Window(endpoint_name, capture["DestinationS3Uri"], since, until)


Records = tuple[list[Captured], list[Captured]]
"""The captured (production, shadow) records of a window."""


def _records(ctx: Context, env: EnvironmentConfig, window: Window) -> Records:
    s3, names = ctx.in_env("s3", env), ctx.cfg.names
    read = [
        captured(captured_lines(s3, window.capture_uri, window.endpoint_name, variant, window.since))
        for variant in (names.variant, names.shadow_variant)
    ]
    return read[0], read[1]


def _verdict(
    ctx: Context, env: EnvironmentConfig, window: Window, records: Records, replayed: list[Captured] | None = None
) -> Verdict:
    cw, names = ctx.in_env("cloudwatch", env), ctx.cfg.names
    matched = pairs(*records)
    replayed_bodies = {record.request for record in replayed or []}
    comparison = compare(
        matched,
        ctx.cfg.model_build.model.task_type,
        env.shadow,
        replayed=sum(1 for champion, _ in matched if champion.request in replayed_bodies),
    )
    return judge(
        variant_metrics(cw, window.endpoint_name, names.variant, window.since, window.until),
        variant_metrics(cw, window.endpoint_name, names.shadow_variant, window.since, window.until),
        comparison,
        env.shadow,
    )


def compare_online(ctx: Context, env_name: str, *, since: datetime, until: datetime | None = None) -> Verdict:
    """The comparison of the shadow and production variants of ENV's endpoint since `since`."""
    env = ctx.env(env_name)
    window = _window(ctx, env, since, until or datetime.now(UTC))
    return _verdict(ctx, env, window, _records(ctx, env, window))


def replay(
    runtime: Any,
    endpoint_name: str,
    requests: list[Captured],
    *,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> list[Captured]:
    """Sends captured requests to the endpoint again (within `seconds`); returns those it answered."""
    start, sent = clock(), []
    for number, record in enumerate(requests):
        if clock() - start >= seconds:
            break
        try:
            runtime.invoke_endpoint(
                EndpointName=endpoint_name,
                ContentType=record.content_type,
                Body=record.request.encode("utf-8"),
                InferenceId=f"{REPLAY_ID_PREFIX}{number}",
            )
        except (ClientError, BotoCoreError):
            continue  # the production variant's errors count in CloudWatch; the pair is simply missing
        sent.append(record)
    return sent


def _create_candidate_model(
    sm: Any, live_model_name: str, name: str, package_arn: str, tags: list[dict[str, str]]
) -> None:
    """A Model of the candidate with the champion's execution role and network settings."""
    live_model = sm.describe_model(ModelName=live_model_name)
    request: dict[str, Any] = {
        "ModelName": name,
        "PrimaryContainer": {"ModelPackageName": package_arn},
        "ExecutionRoleArn": live_model["ExecutionRoleArn"],
        "Tags": tags,
    }
    for key in ("VpcConfig", "EnableNetworkIsolation"):
        if key in live_model:
            request[key] = live_model[key]
    sm.create_model(**request)


@dataclass
class _Updater:
    """Guarded endpoint updates of one environment (mlopsctl/guard.py), each within its time budget."""

    ctx: Context
    env: EnvironmentConfig
    report: Report
    poll_seconds: float
    sleep: Callable[[float], None]

    def __call__(self, target: str, *, retain_count: bool = False) -> None:
        ctx, env, names = self.ctx, self.env, self.ctx.cfg.names
        sm, cw = ctx.in_env("sagemaker", env), ctx.in_env("cloudwatch", env)
        endpoint_name = names.endpoint(env.name)
        fleet = guard.new_fleet_alarms(cw, names, env.name)
        watching = [alarm["AlarmName"] for alarm in fleet if target in guard.watched_configs(alarm)]
        whole = guard.whole_endpoint_alarms(cw, names, env.name)
        # Refused before any copy exists; the copies are as many as the deployed new-fleet alarms.
        guard.rollback_alarm_set(whole, watching or [alarm["AlarmName"] for alarm in fleet], env=env.name)
        copies = [] if watching else guard.put_guard_alarms(cw, names, env.name, fleet, target)
        alarms = [*whole, *(watching or copies)]
        # Back on CloudFormation's config, which starts at `instance_count`: with autoscaling, keep the
        # count it reached instead (SageMaker developer guide, "Update endpoints that use auto scaling").
        retain = {"RetainAllVariantProperties": True} if retain_count else {}
        minutes = env.update_wait_minutes
        self.report("update", f"{endpoint_name} -> {target}, rolled back by {len(alarms)} alarms (up to {minutes} min)")
        accepted = False
        try:
            sm.update_endpoint(
                EndpointName=endpoint_name,
                EndpointConfigName=target,
                DeploymentConfig=deployment_config(env.rollout, alarms),
                **retain,
            )
            accepted = True
            final = endpoint.wait_until_settled(
                sm,
                endpoint_name,
                timeout_seconds=minutes * 60,
                poll_seconds=self.poll_seconds,
                sleep=self.sleep,
                expected_config=target,
                on_poll=lambda status, elapsed: self.report("update", f"endpoint {status}"),
            )
        except (endpoint.StillInFlight, ClientError, BotoCoreError) as error:
            if isinstance(error, ClientError) and not accepted:
                guard.delete_alarms(cw, copies)  # refused: nothing is deploying
                raise
            # Accepted (or unanswered) and maybe still deploying: SageMaker may yet need the copies.
            kept = f"; its guard alarms stay until it settles: {', '.join(copies)}" if copies else ""
            raise OperatorError(
                f"The update of {endpoint_name} to {target} may still complete ({error}){kept}."
            ) from error
        guard.delete_alarms(cw, copies)
        if final["EndpointStatus"] != endpoint.IN_SERVICE or final["EndpointConfigName"] != target:
            why = f": {final['FailureReason']}" if final.get("FailureReason") else ""
            raise OperatorError(
                f"Endpoint {endpoint_name} is {final['EndpointStatus']} on {final['EndpointConfigName']}, not on "
                f"{target}{why}."
            )


def _restore_leftover(ctx: Context, env: EnvironmentConfig, update: _Updater) -> str | None:
    """Removes a shadow variant an earlier test left (its config names the one to return to); that config."""
    names = ctx.cfg.names
    sm = ctx.in_env("sagemaker", env)
    described = endpoint.describe(sm, names.endpoint(env.name))
    if described is None:
        return None
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    if not config.get("ShadowProductionVariants"):
        return None
    tags = sm.list_tags(ResourceArn=config["EndpointConfigArn"]).get("Tags", [])
    target = next((t["Value"] for t in tags if t["Key"] == names.restores_to_tag), None)
    if target is None:
        raise OperatorError(
            f"Endpoint {names.endpoint(env.name)} runs {config['EndpointConfigName']}, which has a shadow variant but "
            f"no {names.restores_to_tag} tag: it was not made by a shadow test, so nothing was changed."
        )
    if described["EndpointStatus"] != endpoint.IN_SERVICE:
        raise OperatorError(
            f"Endpoint {names.endpoint(env.name)} still has the shadow variant of {config['EndpointConfigName']} "
            f"and is {described['EndpointStatus']}; run the shadow test again once it is InService, and it "
            f"restores {target}."
        )
    update.report("restore", f"a shadow variant an earlier test left: back to {target} first")
    update(target, retain_count=env.endpoint.autoscaling.enabled)
    return str(target)


def _refuse_unless_settled(ctx: Context, env: EnvironmentConfig, live: endpoint.LiveState) -> None:
    """No shadow test starts on an endpoint that is updating or whose rollback alarms are firing."""
    if live.status != endpoint.IN_SERVICE:
        endpoint_name = ctx.cfg.names.endpoint(env.name)
        raise OperatorError(f"Endpoint {endpoint_name} is {live.status}, not InService; no shadow test started.")
    _refuse_when_alarming(ctx, env)


def _restore(
    make_ctx: Callable[[], Context], env: EnvironmentConfig, update: _Updater, live_config: str, report: Report
) -> None:
    """The endpoint back on `live_config`, unless it is there already.

    The deployment that follows starts from what CloudFormation deployed, pass or fail; a shadow
    update that SageMaker rolled back already left the endpoint there.
    """
    ctx = make_ctx()
    update.ctx = ctx
    current = endpoint.describe(ctx.in_env("sagemaker", env), ctx.cfg.names.endpoint(env.name))
    if current is None or current["EndpointConfigName"] != live_config:
        report("restore", f"back to {live_config}")
        update(live_config, retain_count=env.endpoint.autoscaling.enabled)


def _refuse_when_alarming(ctx: Context, env: EnvironmentConfig) -> None:
    firing = [
        alarm["AlarmName"]
        for alarm in guard.metric_alarms(ctx.in_env("cloudwatch", env), ctx.cfg.names.rollback_alarm_prefix(env.name))
        if alarm.get("StateValue") == "ALARM"
    ]
    if firing:
        raise OperatorError(
            f"Refusing the shadow test of {env.name}: rollback alarms in ALARM ({', '.join(firing)}); a guarded update "
            "would be rolled back at once. Nothing was changed."
        )


def _prepare_shadow(
    sm: Any, *, env: EnvironmentConfig, names: ResourceNames, live: endpoint.LiveState, shadow_name: str, candidate: str
) -> None:
    """The candidate's Model and the EndpointConfig that runs it as shadow beside the live production variant."""
    live_config = sm.describe_endpoint_config(EndpointConfigName=live.endpoint_config_name)
    assert live.model_name is not None  # variant_of found the production variant's model
    endpoint_name = names.endpoint(env.name)
    # The endpoint tag lets `mlopsctl cleanup` delete them once no endpoint uses them; the other
    # names the config to return to, for a later run that finds this shadow left behind.
    tags = [
        {"Key": names.endpoint_resource_tag, "Value": endpoint_name},
        {"Key": names.restores_to_tag, "Value": live.endpoint_config_name},
    ]
    _create_candidate_model(sm, live.model_name, shadow_name, candidate, tags[:1])
    production_count = live.desired_instance_count
    sm.create_endpoint_config(
        **shadow_config_request(
            live_config,
            name=shadow_name,
            production_variant=names.variant,
            shadow_variant=names.shadow_variant,
            model_name=shadow_name,
            sampling_percent=env.shadow.sampling_percent,
            tags=tags,
            instance_count=production_count,
            shadow_instance_count=shadow_instances(env, production_count or 1),
        )
    )


def shadow_test(
    make_ctx: Callable[[], Context],
    env_name: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    poll_seconds: float = 30.0,
    report: Report = _silent,
) -> dict[str, Any]:
    """Runs the shadow test of ENV's release against its live endpoint; see the module docstring.

    `make_ctx` is called again after the wait: credentials of a chained role (the pipeline's check
    role assuming the verifier role) last at most one hour (IAM "Role chaining").
    """
    if not poll_seconds > 0:
        raise OperatorError(f"poll_seconds must be above 0, got {poll_seconds}; nothing was changed.")
    ctx = make_ctx()
    env = ctx.env(env_name)
    names = ctx.cfg.names
    endpoint_name = names.endpoint(env.name)
    update = _Updater(ctx, env, report, poll_seconds, sleep)
    restored_leftover = _restore_leftover(ctx, env, update)
    if env.release is None:
        return {"skipped": True, "message": f"{env.name}: no release, nothing to shadow-test."}
    sm = ctx.in_env("sagemaker", env)
    candidate = env.release.model_package_arn
    live = endpoint.live_state(sm, endpoint_name, names.variant)
    if live is None:
        return {"skipped": True, "message": f"{env.name}: no endpoint yet (first release), nothing to compare with."}
    if live.model_package_arn == candidate:
        return {"skipped": True, "message": f"{env.name}: v{env.release.version} already serves; no candidate."}
    _refuse_unless_settled(ctx, env, live)

    shadow_name = names.generated(env.name, Generated.SHADOW, now())
    report("prepare", f"candidate v{env.release.version} as {shadow_name}")
    _prepare_shadow(sm, env=env, names=names, live=live, shadow_name=shadow_name, candidate=candidate)
    try:
        update(shadow_name)
        verdict = _observe(make_ctx, env, update, now=now, sleep=sleep)
    finally:
        _restore(make_ctx, env, update, live.endpoint_config_name, report)
    result = {
        "skipped": False,
        "environment": env.name,
        "endpoint_name": endpoint_name,
        "champion": live.model_package_arn,
        "candidate": candidate,
        "shadow_endpoint_config": shadow_name,
        "restored_endpoint_config": live.endpoint_config_name,
        "restored_leftover_to": restored_leftover,
        "verdict": verdict.as_dict(),
    }
    if not verdict.passed:
        raise OperatorError(
            f"Shadow test of v{env.release.version} against v{registry.version_of(live.model_package_arn)} on "
            f"{endpoint_name} failed: {'; '.join(verdict.failures)}. The endpoint is back on "
            f"{live.endpoint_config_name}; the candidate is not deployed."
        )
    return result


def _observe(
    make_ctx: Callable[[], Context],
    env: EnvironmentConfig,
    update: _Updater,
    *,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> Verdict:
    """Live traffic for `duration_minutes`, then the verdict; replays captured requests when too few pairs."""
    budget, report = env.shadow_budget, update.report
    start = now()
    minutes = env.shadow.duration_minutes
    for elapsed in range(0, minutes, 10):
        report("observe", f"candidate as shadow on live traffic: {elapsed} of {minutes} min")
        sleep(min(10, minutes - elapsed) * 60)
    report("observe", f"waiting {budget.capture_delay} min for capture files and metrics")
    sleep(budget.capture_delay * 60)
    ctx = make_ctx()
    update.ctx = ctx
    window = _window(ctx, env, start, start + timedelta(minutes=minutes))
    records = _records(ctx, env, window)
    verdict = _verdict(ctx, env, window, records)
    needed = env.shadow.min_compared_requests
    report("compare", f"{verdict.comparison.compared} distinct requests compared, {needed} needed")
    plan = replay_plan(*records, env.shadow)
    if not plan:
        return verdict
    report("replay", f"{len(plan)} captured requests sent again (up to {budget.replay} min)")
    sent = replay(ctx.in_env("sagemaker-runtime", env), window.endpoint_name, plan, seconds=budget.replay * 60)
    sleep(budget.capture_delay * 60)
    window.until = now()
    ctx = make_ctx()
    verdict = _verdict(ctx, env, window, _records(ctx, env, window), replayed=sent)
    compared = verdict.comparison
    report("compare", f"{compared.compared} distinct requests compared ({compared.replayed} replayed)")
    return verdict
