"""The alarms that guard each endpoint update mlopsctl makes (rollback, shadow test).

The serving stack creates two kinds of rollback alarm (constructs/monitoring/rollback_alarms.py): on the
whole endpoint (EndpointName + VariantName), and on the new fleet (plus EndpointConfigName, the
dimension SageMaker adds to the invocation metrics of the fleet a blue/green deployment creates;
"Auto-Rollback Configuration and Monitoring"). The new-fleet alarms name the EndpointConfig of the
serving template. A config mlopsctl creates at run time has a name no alarm made at synth can know,
so before deploying one mlopsctl copies each deployed new-fleet alarm (same metrics, statistics,
thresholds, periods and actions) with that dimension set to the new config, as CloudFormation
updates the new-fleet alarms before a release's deployment. The update's AutoRollbackConfiguration
names the whole-endpoint alarms and these copies; once the update has settled the copies are
deleted (the whole-endpoint alarms go on watching). An update still in flight when mlopsctl stops
waiting keeps its copies: SageMaker may still need them to roll it back.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from config import ResourceNames
from mlopsctl.errors import OperatorError

CONFIG_DIMENSION = "EndpointConfigName"
# AutoRollbackConfiguration.Alarms: at most 10 (SageMaker API reference, botocore's model).
MAX_ROLLBACK_ALARMS = 10
# What DescribeAlarms returns that PutMetricAlarm takes back unchanged (botocore's cloudwatch model).
_COPIED = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "ThresholdMetricId",
)
# The one metric of an alarm without `Metrics`. PutMetricAlarm refuses them beside `Metrics`, and
# DescribeAlarms returns `Dimensions: []` for a metric-math alarm (as all the rate alarms are).
_SINGLE_METRIC = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "Unit")


def metric_alarms(cw: Any, prefix: str) -> list[dict[str, Any]]:
    """Every metric alarm named `prefix`*, as DescribeAlarms returns it, sorted by name."""
    alarms: list[dict[str, Any]] = []
    request: dict[str, Any] = {"AlarmNamePrefix": prefix, "AlarmTypes": ["MetricAlarm"], "MaxRecords": 100}
    while True:
        page = cw.describe_alarms(**request)
        alarms.extend(page.get("MetricAlarms", []))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return sorted(alarms, key=lambda alarm: str(alarm["AlarmName"]))


def _pointed_at(dimensions: list[dict[str, str]], config_name: str) -> list[dict[str, str]]:
    return [
        {"Name": d["Name"], "Value": config_name if d["Name"] == CONFIG_DIMENSION else d["Value"]} for d in dimensions
    ]


def copy_request(alarm: dict[str, Any], *, name: str, config_name: str) -> dict[str, Any]:
    """PutMetricAlarm for a copy of `alarm` (from DescribeAlarms) that watches the fleet of `config_name`."""
    request: dict[str, Any] = {"AlarmName": name, **{key: alarm[key] for key in _COPIED if key in alarm}}
    if alarm.get("Metrics"):
        metrics = copy.deepcopy(alarm["Metrics"])
        for query in metrics:
            stat = query.get("MetricStat")
            if stat:
                stat["Metric"]["Dimensions"] = _pointed_at(stat["Metric"].get("Dimensions", []), config_name)
        request["Metrics"] = metrics
    else:
        request.update({key: alarm[key] for key in _SINGLE_METRIC if key in alarm})
        request["Dimensions"] = _pointed_at(alarm.get("Dimensions", []), config_name)
    return request


def watched_configs(alarm: dict[str, Any]) -> set[str]:
    """The EndpointConfigName values an alarm's metrics name (empty for a whole-endpoint alarm)."""
    dimensions = list(alarm.get("Dimensions", []))
    for query in alarm.get("Metrics", []):
        dimensions += (query.get("MetricStat") or {}).get("Metric", {}).get("Dimensions", [])
    return {d["Value"] for d in dimensions if d["Name"] == CONFIG_DIMENSION}


def whole_endpoint_alarms(cw: Any, names: ResourceNames, env: str) -> list[str]:
    return [alarm["AlarmName"] for alarm in metric_alarms(cw, names.whole_endpoint_alarm_prefix(env))]


def new_fleet_alarms(cw: Any, names: ResourceNames, env: str) -> list[dict[str, Any]]:
    return metric_alarms(cw, names.new_fleet_alarm_prefix(env))


def put_guard_alarms(
    cw: Any, names: ResourceNames, env: str, templates: list[dict[str, Any]], config_name: str
) -> list[str]:
    """Copies of the new-fleet alarms `templates` that watch `config_name`'s fleet; returns their names.

    All or none: when one cannot be created, those made before it are deleted and the error raised.
    """
    prefix = names.new_fleet_alarm_prefix(env)
    created: list[str] = []
    try:
        for alarm in templates:
            watch = str(alarm["AlarmName"]).removeprefix(prefix)
            name = names.guard_alarm(env, config_name, watch)
            cw.put_metric_alarm(**copy_request(alarm, name=name, config_name=config_name))
            created.append(name)
    except (ClientError, BotoCoreError):
        with contextlib.suppress(ClientError, BotoCoreError):  # the first error is the one to report
            delete_alarms(cw, created)
        raise
    return created


def delete_alarms(cw: Any, alarm_names: list[str]) -> None:
    # DeleteAlarms takes up to 100 names per call (CloudWatch API reference).
    for start in range(0, len(alarm_names), 100):
        cw.delete_alarms(AlarmNames=alarm_names[start : start + 100])


def rollback_alarm_set(whole_endpoint: list[str], new_fleet: list[str], *, env: str) -> list[str]:
    """The AutoRollbackConfiguration alarms of one update: refused when a kind is missing or too many."""
    if not whole_endpoint or not new_fleet:
        kind = "whole-endpoint" if not whole_endpoint else "new-fleet"
        raise OperatorError(
            f"Refusing to update the endpoint of {env}: it has no {kind} rollback alarms; the serving stack creates "
            "them, and mlopsctl never updates an endpoint without guardrails."
        )
    alarms = [*whole_endpoint, *new_fleet]
    if len(alarms) > MAX_ROLLBACK_ALARMS:
        raise OperatorError(
            f"Refusing to update the endpoint of {env}: {len(alarms)} rollback alarms, and SageMaker watches at most "
            f"{MAX_ROLLBACK_ALARMS} in one deployment."
        )
    return alarms
