"""The alarm copies that guard an update to a config mlopsctl made (mlopsctl/guard.py): valid for
PutMetricAlarm as the serving stack's metric-math alarms come back from DescribeAlarms, all or none,
and never deleted while the update they guard may still be deploying."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from config import load_cdk_json
from mlopsctl import endpoint, guard, shadow
from mlopsctl.context import Context
from mlopsctl.errors import OperatorError
from tests.operator_cli.support import ENDPOINT, REGION, Clients, alarm_names, rollback_alarms

NEW = "mlops-delivery-dev-s261201100000"
RATE_ALARM = "mlops-delivery-dev-rollback-new-fleet-5xx-rate"


def _rate(metric: str, query_id: str) -> dict[str, Any]:
    dimensions = [
        {"Name": "EndpointName", "Value": ENDPOINT},
        {"Name": "VariantName", "Value": "AllTraffic"},
        {"Name": "EndpointConfigName", "Value": "cfg-v2"},
    ]
    stat = {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dimensions}}
    return {"Id": query_id, "MetricStat": {**stat, "Period": 60, "Stat": "Sum"}, "ReturnData": False}


def _put_rate_alarm() -> dict[str, Any]:
    """A new-fleet 5XX rate alarm as constructs/monitoring/rollback_alarms.py makes it: metric math over two metrics."""
    cw = boto3.client("cloudwatch", region_name=REGION)
    cw.put_metric_alarm(
        AlarmName=RATE_ALARM,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[f"arn:aws:sns:{REGION}:222222222222:alerts"],
        Metrics=[
            {
                "Id": "expr",
                "Expression": "IF(invocations >= 10, 100 * invocation5XXErrors / invocations, 0)",
                "ReturnData": True,
            },
            _rate("Invocation5XXErrors", "invocation5XXErrors"),
            _rate("Invocations", "invocations"),
        ],
    )
    (alarm,) = cw.describe_alarms(AlarmNames=[RATE_ALARM])["MetricAlarms"]
    return dict(alarm)


def test_a_metric_math_alarm_is_copied_without_the_fields_of_a_single_metric(clients: Clients) -> None:
    """DescribeAlarms answers `Dimensions: []` for it; PutMetricAlarm refuses Dimensions beside Metrics."""
    alarm = _put_rate_alarm()
    assert alarm["Dimensions"] == []
    request = guard.copy_request(alarm, name="copy", config_name=NEW)
    assert not {"Dimensions", "Namespace", "MetricName", "Period", "Statistic", "Unit"} & set(request)
    model = botocore.session.get_session().get_service_model("cloudwatch")
    report = ParamValidator().validate(request, model.operation_model("PutMetricAlarm").input_shape)
    assert not report.has_errors(), report.generate_report()
    watched = [q["MetricStat"]["Metric"]["Dimensions"] for q in request["Metrics"] if "MetricStat" in q]
    assert all({"Name": "EndpointConfigName", "Value": NEW} in dimensions for dimensions in watched)
    assert request["Metrics"][0]["Expression"] == alarm["Metrics"][0]["Expression"]


class _FailingSecondPut:
    """A CloudWatch client whose second PutMetricAlarm is refused."""

    def __init__(self, client: Any) -> None:
        self._client, self._puts = client, 0

    def put_metric_alarm(self, **request: Any) -> Any:
        self._puts += 1
        if self._puts == 2:
            raise ClientError({"Error": {"Code": "LimitExceeded", "Message": "too many alarms"}}, "PutMetricAlarm")
        return self._client.put_metric_alarm(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_copies_are_made_all_or_none(clients: Clients) -> None:
    rollback_alarms()
    cw = boto3.client("cloudwatch", region_name=REGION)
    names = load_cdk_json(overrides={}).names
    templates = guard.new_fleet_alarms(cw, names, "dev")
    with pytest.raises(ClientError, match="too many alarms"):
        guard.put_guard_alarms(_FailingSecondPut(cw), names, "dev", templates, NEW)
    assert alarm_names("mlops-delivery-dev-rollback-for-") == []


def _updater(clients: Clients) -> shadow._Updater:
    ctx = Context(cfg=load_cdk_json(overrides={}), clients=clients)
    return shadow._Updater(ctx, ctx.cfg.environment("dev"), lambda stage, detail: None, 30.0, lambda s: None)


def test_an_update_with_too_many_alarms_is_refused_before_any_copy_exists(clients: Clients) -> None:
    """Five whole-endpoint and six new-fleet alarms: eleven, one more than AutoRollbackConfiguration takes."""
    whole = tuple(f"endpoint-{i}" for i in range(5))
    rollback_alarms(whole, tuple(f"new-fleet-{i}" for i in range(6)))
    with Stubber(clients.stub("sagemaker", "dev")) as sm:
        with pytest.raises(OperatorError, match="11 rollback alarms, and SageMaker watches at most 10"):
            _updater(clients)(NEW)
        sm.assert_no_pending_responses()
    assert alarm_names("mlops-delivery-dev-rollback-for-") == []


def test_an_update_still_in_flight_keeps_its_copies(clients: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    """SageMaker may still roll it back: the new-fleet copies it names must outlive the wait."""
    rollback_alarms()

    def still_updating(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise endpoint.StillInFlight(f"endpoint {ENDPOINT} was still Updating after 8700 s")

    monkeypatch.setattr(endpoint, "wait_until_settled", still_updating)
    with Stubber(clients.stub("sagemaker", "dev")) as sm:
        sm.add_response("update_endpoint", {"EndpointArn": f"arn:aws:sagemaker:{REGION}:2:endpoint/{ENDPOINT}"})
        with pytest.raises(OperatorError, match=r"may still complete .*its guard alarms stay until it settles"):
            _updater(clients)(NEW)
        sm.assert_no_pending_responses()
    assert alarm_names("mlops-delivery-dev-rollback-for-") == [
        f"mlops-delivery-dev-rollback-for-{NEW}-{watch}" for watch in ("5xx-rate", "p99-latency")
    ]


def test_an_update_sagemaker_refuses_leaves_no_copies(clients: Clients) -> None:
    rollback_alarms()
    with Stubber(clients.stub("sagemaker", "dev")) as sm:
        sm.add_client_error("update_endpoint", "ValidationException", "Cannot update in-progress endpoint")
        with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
            _updater(clients)(NEW)
        sm.assert_no_pending_responses()
    assert alarm_names("mlops-delivery-dev-rollback-for-") == []
