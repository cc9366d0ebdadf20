"""Shadow test: the candidate beside the champion on live traffic, before the blue/green canary.

Why a CLI step and not a CloudFormation phase: the serving stack holds one EndpointConfig
and its rollback alarms watch that config's fleet; a second deployment of the stack with a
shadow config would need its own alarms and would leave CloudFormation believing the
endpoint runs a config that the next phase replaces again. Instead the delivery pipeline
runs `mlopsctl shadow-test` before the environment's deployment:

1. from the live EndpointConfig (the champion, deployed by CloudFormation) it creates a
   config with the same production variant plus the candidate release as the one
   ShadowProductionVariant, and updates the endpoint to it (the champion keeps answering);
2. waits `duration_minutes`, then compares both variants on the same requests (5XX rate and
   p99 ModelLatency per VariantName from CloudWatch; label disagreement from captured data);
3. always returns the endpoint to the config it ran before, so CloudFormation's blue/green
   deployment starts from the state it deployed. A failed comparison exits non-zero, which
   stops the pipeline before the deployment and notifies through the pipeline's failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from config import EnvironmentConfig
from contracts import INVOCATION_5XX_ERRORS_METRIC, INVOCATIONS_METRIC, MODEL_LATENCY_METRIC, SAGEMAKER_NAMESPACE
from mlopsctl import endpoint, registry
from mlopsctl.errors import OperatorError
from mlopsctl.operations import Context
from mlopsctl.shadow_compare import VariantMetrics, Verdict, disagreement, judge, predictions

# ModelLatency is reported in microseconds (SageMaker "Invocation metrics").
_MICROSECONDS_PER_MS = 1000
# At most this many captured objects are read per variant; enough for a test window.
_MAX_CAPTURE_OBJECTS = 500


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
) -> dict[str, Any]:
    """CreateEndpointConfig: the live production variant unchanged plus the candidate as shadow.

    `instance_count` (the live DesiredInstanceCount) replaces the live config's starting count, so
    the shadow phase never shrinks a fleet that autoscaling has grown; the shadow gets as many.

    The shadow's share of copied requests is its InitialVariantWeight relative to the production
    variant's ("Testing models with shadow variants": a weight of 0.5 beside 1.0 samples 50 %).
    Data capture and the volume key are those of the live config, so both variants are captured.
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
        "InitialInstanceCount": production["InitialInstanceCount"],
        "InitialVariantWeight": weight * sampling_percent / 100,
    }
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [production],
        "ShadowProductionVariants": [shadow],
        "Tags": tags,
    }
    for key in ("KmsKeyId", "DataCaptureConfig"):
        if key in live_config:
            request[key] = live_config[key]
    return request


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


def compare_online(ctx: Context, env_name: str, *, since: datetime, until: datetime | None = None) -> Verdict:
    """The comparison of the shadow and production variants of ENV's endpoint since `since`."""
    env = ctx.env(env_name)
    names = ctx.cfg.names
    endpoint_name = names.endpoint(env.name)
    until = until or datetime.now(UTC)
    sm = ctx.in_env("sagemaker", env)
    described = endpoint.describe(sm, endpoint_name)
    if described is None:
        raise OperatorError(f"Endpoint {endpoint_name} does not exist in {env.region}; no shadow to compare.")
    live_config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    capture = live_config.get("DataCaptureConfig") or {}
    if not capture.get("DestinationS3Uri"):
        raise OperatorError(f"{described['EndpointConfigName']} captures no data; predictions cannot be compared.")
    cw, s3 = ctx.in_env("cloudwatch", env), ctx.in_env("s3", env)
    production = variant_metrics(cw, endpoint_name, names.variant, since, until)
    shadow = variant_metrics(cw, endpoint_name, names.shadow_variant, since, until)
    uri = capture["DestinationS3Uri"]
    compared, differing = disagreement(
        predictions(captured_lines(s3, uri, endpoint_name, names.variant, since)),
        predictions(captured_lines(s3, uri, endpoint_name, names.shadow_variant, since)),
    )
    return judge(production, shadow, compared, differing, env.shadow)


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


def _update_and_wait(
    sm: Any, env: EnvironmentConfig, endpoint_name: str, config_name: str, *, retain_count: bool = False, **wait: Any
) -> None:
    # Back on CloudFormation's config, which starts at `instance_count`: with autoscaling, keep the
    # count it reached instead (SageMaker developer guide, "Update endpoints that use auto scaling").
    retain = {"RetainAllVariantProperties": True} if retain_count else {}
    sm.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name, **retain)
    timeout = (env.rollout.max_execution_timeout_minutes + 10) * 60
    final = endpoint.wait_until_settled(sm, endpoint_name, timeout_seconds=timeout, **wait)
    if final["EndpointStatus"] != endpoint.IN_SERVICE or final["EndpointConfigName"] != config_name:
        why = f": {final['FailureReason']}" if final.get("FailureReason") else ""
        raise OperatorError(
            f"Endpoint {endpoint_name} is {final['EndpointStatus']} on {final['EndpointConfigName']}, not on "
            f"{config_name}{why}."
        )


def shadow_test(
    make_ctx: Callable[[], Context],
    env_name: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    poll_seconds: float = 30.0,
) -> dict[str, Any]:
    """Runs the shadow test of ENV's release against its live endpoint; see the module docstring.

    `make_ctx` is called again after the wait: credentials of a chained role (the pipeline's check
    role assuming the verifier role) last at most one hour (IAM "Role chaining").
    """
    ctx = make_ctx()
    env = ctx.env(env_name)
    names = ctx.cfg.names
    endpoint_name = names.endpoint(env.name)
    sm = ctx.in_env("sagemaker", env)
    if env.release is None:
        return {"skipped": True, "message": f"{env.name}: no release, nothing to shadow-test."}
    candidate = env.release.model_package_arn
    live = endpoint.live_state(sm, endpoint_name, names.variant)
    if live is None:
        return {"skipped": True, "message": f"{env.name}: no endpoint yet (first release), nothing to compare with."}
    if live.model_package_arn == candidate:
        return {"skipped": True, "message": f"{env.name}: v{env.release.version} already serves; no candidate."}
    if live.status != endpoint.IN_SERVICE:
        raise OperatorError(f"Endpoint {endpoint_name} is {live.status}, not InService; no shadow test started.")

    stamp = now().strftime("%Y%m%d%H%M%S")
    # Names are at most 63 characters; the endpoint name is at most 39 (project 32 + env).
    shadow_name = f"{endpoint_name}-shadow-v{env.release.version}-{stamp}"[:63].rstrip("-")
    live_config = sm.describe_endpoint_config(EndpointConfigName=live.endpoint_config_name)
    assert live.model_name is not None  # variant_of found the production variant's model
    # The serving stack's tag, so `mlopsctl cleanup` deletes them once no endpoint uses them.
    tags = [{"Key": names.endpoint_resource_tag, "Value": endpoint_name}]
    _create_candidate_model(sm, live.model_name, shadow_name, candidate, tags)
    sm.create_endpoint_config(
        **shadow_config_request(
            live_config,
            name=shadow_name,
            production_variant=names.variant,
            shadow_variant=names.shadow_variant,
            model_name=shadow_name,
            sampling_percent=env.shadow.sampling_percent,
            tags=tags,
            instance_count=live.desired_instance_count,
        )
    )
    try:
        _update_and_wait(sm, env, endpoint_name, shadow_name, poll_seconds=poll_seconds, sleep=sleep)
        start = now()
        sleep(env.shadow.duration_minutes * 60)
        # CloudWatch publishes a minute's datapoint up to a minute later, capture files after a few.
        sleep(180)
        ctx = make_ctx()
        sm = ctx.in_env("sagemaker", env)
        until = start + timedelta(minutes=env.shadow.duration_minutes)
        verdict = compare_online(ctx, env_name, since=start, until=until)
    finally:
        # The deployment that follows starts from what CloudFormation deployed, pass or fail; a
        # shadow update that SageMaker rolled back already left the endpoint there.
        current = endpoint.describe(sm, endpoint_name)
        if current is None or current["EndpointConfigName"] != live.endpoint_config_name:
            _update_and_wait(
                sm,
                env,
                endpoint_name,
                live.endpoint_config_name,
                retain_count=env.endpoint.autoscaling.enabled,
                poll_seconds=poll_seconds,
                sleep=sleep,
            )
    result = {
        "skipped": False,
        "environment": env.name,
        "endpoint_name": endpoint_name,
        "champion": live.model_package_arn,
        "candidate": candidate,
        "shadow_endpoint_config": shadow_name,
        "restored_endpoint_config": live.endpoint_config_name,
        "verdict": verdict.as_dict(),
    }
    if not verdict.passed:
        raise OperatorError(
            f"Shadow test of v{env.release.version} against v{registry.version_of(live.model_package_arn)} on "
            f"{endpoint_name} failed: {'; '.join(verdict.failures)}. The endpoint is back on "
            f"{live.endpoint_config_name}; the candidate is not deployed."
        )
    return result
