"""Every invalid setting fails synth with one message naming the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import config
from config import ApprovalMode, ConfigError, RolloutType
from tests.conftest import EXAMPLE_RELEASE_ARN, cdk_json_context, raw_config


def load(raw: dict[str, Any], tmp_path: Path, **context: Any) -> config.AppConfig:
    return config.load({config.CONTEXT_KEY: raw, **context}, releases_dir=tmp_path)


def test_the_shipped_defaults_load(tmp_path: Path) -> None:
    settings = load(raw_config(), tmp_path)
    assert settings.environment_names == ("dev", "staging", "prod")
    assert settings.build_environment.name == "dev"
    prod = settings.environment("prod")
    assert prod.production and prod.approval is ApprovalMode.MANUAL
    assert settings.consumer_accounts == ("333333333333", "444444444444")
    assert all(env.release is None for env in settings.environments)


def test_default_rollback_detection_is_within_three_periods_and_a_minute(tmp_path: Path) -> None:
    for env in load(raw_config(), tmp_path).environments:
        assert env.alarms.worst_case_detection_seconds <= 3 * env.alarms.period_seconds + 60


def edit(path: str, value: Any) -> dict[str, Any]:
    raw = raw_config()
    *parents, last = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("environments.dev.rollout.type", "BLUE_GREEN", "ALL_AT_ONCE | CANARY | LINEAR"),
        ("environments.dev.rollout.canary_size_percent", 0, "from 1 to 50"),
        ("environments.dev.rollout.canary_size_percent", 60, "from 1 to 50"),
        ("environments.dev.rollout.linear_step_percent", 5, "from 10 to 50"),
        ("environments.dev.rollout.wait_interval_minutes", 61, "from 0 to 60"),
        ("environments.dev.rollout.termination_wait_minutes", 90, "from 0 to 60"),
        ("environments.dev.rollout.max_execution_timeout_minutes", 5, "from 10 to 480"),
        ("environments.prod.approval", "auto", "manual in a production environment"),
        ("environments.prod.removal_policy", "destroy", "retain in a production environment"),
        ("environments.dev.approval", "sometimes", "manual | auto"),
        ("environments.dev.account", "1234", "12-digit AWS account id"),
        ("environments.dev.account", 222222222222, "12-digit AWS account id"),
        ("environments.dev.region", "Europe", "an AWS region"),
        ("toolchain.region", "eu_west_1", "an AWS region"),
        ("toolchain.notification_emails", ["ops-at-example.com"], "e-mail addresses"),
        ("toolchain.notification_emails", "ops@example.com", "e-mail addresses"),
        ("environments.dev.endpoint.instance_type", "m5.large", "ml.* instance type"),
        ("environments.dev.endpoint.data_capture_percent", 0, "from 1 to 100"),
        ("environments.dev.alarms.period_seconds", 45, "10, 30 or a multiple of 60"),
        ("environments.dev.alarms.evaluation_periods", 0, "from 1 to 10"),
        ("environments.dev.alarms.datapoints_to_alarm", 3, "from 1 to 2"),
        ("environments.dev.notification_emails", ["not-an-email"], "e-mail addresses"),
        ("environments.dev.drift.schedule", "every hour", "rate(N minutes|hours|days)"),
        ("model_build.environment", "qa", "one of the configured environments: dev, staging, prod"),
        ("model_build.min_metric", 1.5, "from 0.0 to 1.0"),
        ("model_build.retraining.schedule", "cron(0 3 * *)", "cron(6 fields)"),
        ("model_build.retraining.incoming_prefix", "incoming", "ending in '/'"),
        ("project_name", "ML_Delivery", "lower-case letters"),
        ("source.kind", "svn", "codeconnections | codecommit"),
        ("source.connection_arn", "arn:aws:iam::1:role/x", "connection/<id>"),
        ("environments", {}, "at least one environment"),
        ("operator_principals", ["arn:aws:iam::111111111111:user/alice"], "a list of IAM role ARNs"),
        ("operator_principals", "arn:aws:iam::111111111111:role/Ops", "a list of IAM role ARNs"),
    ],
)
def test_invalid_value_names_key_value_and_allowed(path: str, value: Any, expected: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(edit(path, value), tmp_path)
    message = str(error.value)
    assert f"'mlops.{path}'" in message
    assert repr(value) in message
    assert expected in message


def test_a_canary_on_one_instance_fails_with_the_reason(tmp_path: Path) -> None:
    raw = edit("environments.dev.endpoint.instance_count", 1)
    with pytest.raises(ConfigError, match=r"mlops\.environments\.dev\.rollout\.type.*at least 2 instances.*50%"):
        load(raw, tmp_path)
    raw["environments"]["dev"]["rollout"]["type"] = "ALL_AT_ONCE"
    assert load(raw, tmp_path).environment("dev").rollout.type is RolloutType.ALL_AT_ONCE


def test_missing_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Missing config 'mlops\.environments\.dev\.account'"):
        load(edit("environments.dev.account", _DELETE), tmp_path)


def test_missing_context_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cdk\.json has no 'mlops' context"):
        config.load({}, releases_dir=tmp_path)


def test_dotted_context_overrides_one_value(tmp_path: Path) -> None:
    settings = load(
        raw_config(),
        tmp_path,
        **{
            "mlops.environments.prod.account": "999999999999",
            "mlops.environments.dev.rollout.type": "LINEAR",
            "mlops.environments.dev.endpoint.instance_count": "3",
        },
    )
    assert settings.environment("prod").account == "999999999999"
    assert settings.environment("dev").rollout.type is RolloutType.LINEAR
    assert settings.environment("dev").endpoint.instance_count == 3


def test_override_with_a_bad_value_is_rejected_like_cdk_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'mlops\.environments\.prod\.approval'"):
        load(raw_config(), tmp_path, **{"mlops.environments.prod.approval": "auto"})


def test_release_from_context_and_from_file(tmp_path: Path) -> None:
    (tmp_path / "staging.json").write_text(
        f'{{"model_package_arn": "{EXAMPLE_RELEASE_ARN}", "baseline_statistics_uri": "s3://bucket/baseline/statistics.json"}}'
    )
    settings = load(raw_config(), tmp_path, **{"release.dev": EXAMPLE_RELEASE_ARN})
    dev, staging, prod = settings.environments
    assert dev.release is not None and dev.release.version == 3
    assert staging.release is not None and staging.release.baseline_statistics_uri.endswith("statistics.json")
    assert prod.release is None


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"release.dev": "model-3"}, r"'release\.dev'.*model package version ARN"),
        ({"release.qa": EXAMPLE_RELEASE_ARN}, r"'release\.qa'.*release\.<env> for: dev, staging, prod"),
    ],
)
def test_bad_release_is_rejected(context: dict[str, str], expected: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=expected):
        load(raw_config(), tmp_path, **context)


def test_corrupt_release_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "dev.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"dev\.json"):
        load(raw_config(), tmp_path)


def test_cdk_json_has_offline_settings() -> None:
    context = cdk_json_context()
    assert context["cli-telemetry"] is False


def test_deployment_timeout_shorter_than_its_bake_time_fails_with_the_minimum(tmp_path: Path) -> None:
    raw = edit("environments.prod.rollout.max_execution_timeout_minutes", 30)
    # LINEAR 25% -> 4 steps x 10 min wait + 15 min termination wait = 55 minutes.
    with pytest.raises(
        ConfigError, match=r"'mlops\.environments\.prod\.rollout\.max_execution_timeout_minutes': got 30.*at least 55"
    ):
        load(raw, tmp_path)


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ([], "1 to 10 feature names"),
        ([f"f{i}" for i in range(11)], "1 to 10 feature names"),
        (["mean radius"], "1 to 10 feature names"),
    ],
)
def test_model_monitor_needs_the_features_its_drift_alarm_watches(
    features: list[str], expected: str, tmp_path: Path
) -> None:
    raw = edit("environments.dev.drift.use_model_monitor", True)
    raw["environments"]["dev"]["drift"]["model_monitor_features"] = features
    with pytest.raises(ConfigError, match=r"'mlops\.environments\.dev\.drift\.model_monitor_features'") as error:
        load(raw, tmp_path)
    assert expected in str(error.value)


def test_model_monitor_rejects_sub_hourly_schedules(tmp_path: Path) -> None:
    raw = edit("environments.dev.drift.use_model_monitor", True)
    raw["environments"]["dev"]["drift"].update(model_monitor_features=["mean_radius"], schedule="rate(15 minutes)")
    with pytest.raises(ConfigError, match=r"'mlops\.environments\.dev\.drift\.schedule'.*hourly or daily"):
        load(raw, tmp_path)


def test_model_monitor_needs_a_release_with_both_baseline_files(tmp_path: Path) -> None:
    raw = edit("environments.dev.drift.use_model_monitor", True)
    raw["environments"]["dev"]["drift"]["model_monitor_features"] = ["mean_radius"]
    with pytest.raises(
        ConfigError, match=r"'mlops\.environments\.dev\.drift\.use_model_monitor'.*baseline_constraints_uri"
    ):
        load(raw, tmp_path, **{"release.dev": EXAMPLE_RELEASE_ARN})
    assert load(raw, tmp_path).environment("dev").drift.model_monitor_features == ("mean_radius",)


def test_release_names_its_registry_and_version_pattern() -> None:
    release = config.Release(EXAMPLE_RELEASE_ARN)
    assert (release.registry_account, release.registry_region) == ("222222222222", "eu-west-1")
    assert release.package_arn_pattern == "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/*"


def test_toolchain_emails_default_to_none_and_are_kept_in_order(tmp_path: Path) -> None:
    assert load(edit("toolchain.notification_emails", _DELETE), tmp_path).toolchain.notification_emails == ()
    emails = ["release-managers@example.com", "ml-oncall@example.com"]
    settings = load(edit("toolchain.notification_emails", emails), tmp_path)
    assert settings.toolchain.notification_emails == tuple(emails)
    assert settings.toolchain.target == config.AwsTarget("111111111111", "eu-west-1")


def test_promotion_starts_in_the_model_build_environment_then_follows_cdk_json(tmp_path: Path) -> None:
    assert [e.name for e in load(raw_config(), tmp_path).promotion_order] == ["dev", "staging", "prod"]
    raw = edit("model_build.environment", "staging")
    assert [e.name for e in load(raw, tmp_path).promotion_order] == ["staging", "dev", "prod"]
