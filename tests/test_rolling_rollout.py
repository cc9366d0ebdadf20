"""ROLLING rollouts: config rules, the endpoint's RollingUpdatePolicy, and its fit to SageMaker's contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Template
from botocore.model import Shape, StructureShape
from botocore.validate import ParamValidator

import config
from config import BatchSizeType, ConfigError, RolloutType
from endpoint_deployment import deployment_config
from tests.conftest import EXAMPLE_RELEASE_ARN, raw_config
from tests.support import endpoint, stage_for

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
ALARMS = ["mlops-delivery-dev-rollback-5xx", "mlops-delivery-dev-rollback-new-fleet-5xx-rate"]


def rolling(env: str = "prod", **rollout: Any) -> dict[str, Any]:
    """cdk.json's settings with `env` rolled out ROLLING (prod: 4 instances, 10-minute waits)."""
    raw = raw_config()
    raw["environments"][env]["rollout"].update(type="ROLLING", **rollout)
    return raw


def load(raw: dict[str, Any], tmp_path: Path) -> config.AppConfig:
    return config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)


def refused(raw: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load(raw, tmp_path)
    message = str(error.value)
    assert "\n" not in message
    return message


def contract_violations(shape: Shape, value: Any, path: str) -> list[str]:
    """What botocore's request validation leaves out: maximums, enums, and members in both directions.

    Our template goes to CloudFormation, not through botocore, so the test applies the whole
    service model itself; ParamValidator adds required members, types and minimums.
    """
    problems = []
    if isinstance(shape, StructureShape):
        problems += [f"{path}.{name} is required" for name in shape.required_members if name not in value]
        for name, item in value.items():
            if name not in shape.members:
                problems.append(f"{path}.{name} is not a member of {shape.name}")
            else:
                problems += contract_violations(shape.members[name], item, f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            problems += contract_violations(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "integer":
        low, high = shape.metadata.get("min", float("-inf")), shape.metadata.get("max", float("inf"))
        if not low <= value <= high:
            problems.append(f"{path}={value} outside {low}..{high}")
    elif shape.enum and value not in shape.enum:
        problems.append(f"{path}={value!r} not one of {shape.enum}")
    return problems


def assert_fits_sagemaker(payload: dict[str, Any]) -> None:
    shape = SAGEMAKER.shape_for("DeploymentConfig")
    report = ParamValidator().validate(payload, shape)
    assert not report.has_errors(), report.generate_report()
    assert contract_violations(shape, payload, "DeploymentConfig") == []


# --- config: one test per rule ---------------------------------------------------------------


def test_rolling_is_a_fourth_rollout_type_with_a_quarter_of_the_fleet_per_batch_by_default(tmp_path: Path) -> None:
    rollout = load(rolling(), tmp_path).environment("prod").rollout
    assert rollout.type is RolloutType.ROLLING
    assert (rollout.rolling_batch_type, rollout.rolling_batch_size, rollout.rollback_batch_size) == (
        BatchSizeType.CAPACITY_PERCENT,
        25,
        None,
    )


@pytest.mark.parametrize("percent", [4, 51])
def test_a_percentage_batch_outside_5_to_50_is_refused(percent: int, tmp_path: Path) -> None:
    message = refused(rolling(rolling_batch_size=percent), tmp_path)
    assert f"'mlops.environments.prod.rollout.rolling_batch_size': got {percent}" in message
    assert "from 5 to 50 percent" in message


@pytest.mark.parametrize(("count", "batch", "allowed"), [(4, 3, "from 1 to 2"), (40, 1, "from 2 to 20")])
def test_an_instance_batch_outside_5_to_50_percent_of_the_fleet_is_refused(
    count: int, batch: int, allowed: str, tmp_path: Path
) -> None:
    raw = rolling(rolling_batch_type="INSTANCE_COUNT", rolling_batch_size=batch, max_execution_timeout_minutes=480)
    raw["environments"]["prod"]["endpoint"]["instance_count"] = count
    # A fixed fleet: with autoscaling the batch is checked against min_instances instead (next test).
    raw["environments"]["prod"]["endpoint"]["autoscaling"] = {"enabled": False}
    message = refused(raw, tmp_path)
    assert f"'mlops.environments.prod.rollout.rolling_batch_size': got {batch}" in message
    assert f"{allowed} instances, 5% to 50% of mlops.environments.prod.endpoint.instance_count={count}" in message


def test_a_batch_type_sagemaker_does_not_know_is_refused(tmp_path: Path) -> None:
    message = refused(rolling(rolling_batch_type="PERCENT"), tmp_path)
    assert "'mlops.environments.prod.rollout.rolling_batch_type': got 'PERCENT'" in message
    assert "CAPACITY_PERCENT | INSTANCE_COUNT" in message


@pytest.mark.parametrize(
    ("batch_type", "batch", "rollback", "allowed"),
    [("CAPACITY_PERCENT", 25, 101, "from 1 to 100 percent"), ("INSTANCE_COUNT", 1, 5, "from 1 to 4 instances")],
)
def test_a_rollback_batch_beyond_the_old_fleet_is_refused(
    batch_type: str, batch: int, rollback: int, allowed: str, tmp_path: Path
) -> None:
    raw = rolling(rolling_batch_type=batch_type, rolling_batch_size=batch, rollback_batch_size=rollback)
    message = refused(raw, tmp_path)
    assert f"'mlops.environments.prod.rollout.rollback_batch_size': got {rollback}" in message
    assert allowed in message


def test_rolling_on_one_instance_is_refused_because_a_batch_is_at_most_half_the_fleet(tmp_path: Path) -> None:
    raw = rolling("dev")
    raw["environments"]["dev"]["endpoint"]["instance_count"] = 1
    message = refused(raw, tmp_path)
    assert "'mlops.environments.dev.rollout.type': got 'ROLLING'" in message
    assert "at least 2 instances" in message and "rolling batch" in message


def test_the_rolling_wait_must_outlast_the_alarms_detection(tmp_path: Path) -> None:
    message = refused(rolling(wait_interval_minutes=4), tmp_path)
    assert "'mlops.environments.prod.rollout.wait_interval_minutes': got 4" in message
    assert "at least 5 minutes: more than 240 s" in message


def test_rolling_has_no_termination_wait_to_check(tmp_path: Path) -> None:
    """RollingUpdatePolicy has no TerminationWaitInSeconds: every batch, the last one too, bakes instead."""
    rollout = load(rolling(termination_wait_minutes=0), tmp_path).environment("prod").rollout
    assert "TerminationWaitInSeconds" not in str(deployment_config(rollout, ALARMS))


def test_the_timeout_must_cover_every_batch_wait_counting_batches_rounded_down(tmp_path: Path) -> None:
    # 4 instances in 30% batches: 1.2 instances, taken as 1 -> 4 batches x 10 minutes = 40 minutes.
    message = refused(rolling(rolling_batch_size=30, max_execution_timeout_minutes=30), tmp_path)
    assert "'mlops.environments.prod.rollout.max_execution_timeout_minutes': got 30" in message
    assert "at least 40 minutes, the sum of the ROLLING wait intervals (4 x wait_interval_minutes)" in message
    assert load(rolling(rolling_batch_size=30, max_execution_timeout_minutes=40), tmp_path)


def test_instance_count_batches_set_the_number_of_waits(tmp_path: Path) -> None:
    raw = rolling(rolling_batch_type="INSTANCE_COUNT", rolling_batch_size=2, max_execution_timeout_minutes=19)
    assert "at least 20 minutes" in refused(raw, tmp_path)  # 4 instances, 2 a batch: 2 waits of 10 minutes


def test_rolling_keys_of_a_blue_green_environment_are_checked_but_not_against_its_fleet(tmp_path: Path) -> None:
    raw = raw_config()
    raw["environments"]["dev"]["rollout"].update(rolling_batch_type="INSTANCE_COUNT", rolling_batch_size=2)
    assert load(raw, tmp_path).environment("dev").rollout.type is RolloutType.CANARY
    raw["environments"]["dev"]["rollout"]["rolling_batch_size"] = 0
    assert "'mlops.environments.dev.rollout.rolling_batch_size': got 0" in refused(raw, tmp_path)


# --- the DeploymentConfig, against SageMaker's contract ---------------------------------------


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        (
            {},
            {
                "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                "WaitIntervalInSeconds": 600,
                "MaximumExecutionTimeoutInSeconds": 7200,
            },
        ),
        (
            {"rolling_batch_type": "INSTANCE_COUNT", "rolling_batch_size": 1, "rollback_batch_size": 2},
            {
                "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": 600,
                "MaximumExecutionTimeoutInSeconds": 7200,
                "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
            },
        ),
    ],
)
def test_rolling_builds_one_rolling_policy_that_fits_sagemaker(
    rollout: dict[str, Any], expected: dict[str, Any], tmp_path: Path
) -> None:
    built = deployment_config(load(rolling(**rollout), tmp_path).environment("prod").rollout, ALARMS)
    assert built == {
        "RollingUpdatePolicy": expected,
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in ALARMS]},
    }
    assert_fits_sagemaker(built)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_shipped_blue_green_policies_still_fit_sagemaker(env: str, tmp_path: Path) -> None:
    assert_fits_sagemaker(deployment_config(load(raw_config(), tmp_path).environment(env).rollout, ALARMS))


def test_the_contract_check_catches_what_sagemaker_refuses() -> None:
    """The checker itself: a batch of 0, a timeout over 8 hours and both policies at once are each caught."""
    policy = {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 0}, "WaitIntervalInSeconds": 600}
    bad = {"RollingUpdatePolicy": policy | {"MaximumExecutionTimeoutInSeconds": 28_801}}
    shape = SAGEMAKER.shape_for("DeploymentConfig")
    assert contract_violations(shape, bad, "D") == [
        "D.RollingUpdatePolicy.MaximumBatchSize.Value=0 outside 1..inf",
        "D.RollingUpdatePolicy.MaximumExecutionTimeoutInSeconds=28801 outside 600..28800",
    ]
    assert contract_violations(shape, {"RollingUpdatePolicy": {"WaitIntervalInSeconds": 0}}, "D") == [
        "D.RollingUpdatePolicy.MaximumBatchSize is required"
    ]


# --- the synthesized endpoint -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rolling_prod_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """prod's serving template with ROLLING in 1-instance batches, built once for this module."""
    raw = rolling(rolling_batch_type="INSTANCE_COUNT", rolling_batch_size=1, rollback_batch_size=2)
    stage = stage_for(raw, tmp_path_factory.mktemp("releases"), "prod", **{"release.prod": EXAMPLE_RELEASE_ARN})
    yield endpoint(Template.from_stack(stage.serving))


@pytest.mark.template
def test_a_rolling_environment_synthesizes_the_rolling_policy_and_no_blue_green_one(
    rolling_prod_endpoint: dict[str, Any],
) -> None:
    deployment = rolling_prod_endpoint["DeploymentConfig"]
    assert "BlueGreenUpdatePolicy" not in deployment
    assert deployment["RollingUpdatePolicy"] == {
        "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
        "WaitIntervalInSeconds": 600,
        "MaximumExecutionTimeoutInSeconds": 7200,
        "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
    }
    alarms = [alarm["AlarmName"] for alarm in deployment["AutoRollbackConfiguration"]["Alarms"]]
    assert 1 <= len(alarms) <= 10 and all(name.startswith("mlops-delivery-prod-rollback-") for name in alarms)
    assert_fits_sagemaker(deployment)


def test_with_autoscaling_an_instance_batch_is_checked_against_the_smallest_fleet(tmp_path: Path) -> None:
    """A rolling update may start when autoscaling has shrunk the fleet to min_instances."""
    raw = rolling(rolling_batch_type="INSTANCE_COUNT", rolling_batch_size=3, max_execution_timeout_minutes=480)
    message = refused(raw, tmp_path)
    assert "from 1 to 2 instances, 5% to 50% of mlops.environments.prod.endpoint.autoscaling.min_instances=4" in message
