"""Every invalid setting fails synth with one message naming the key, the value and what is allowed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import config
from config import ApprovalMode, ConfigError, RolloutType
from pipeline_steps import checked_in
from pipeline_steps.checked_in import CheckedInError
from tests.conftest import EXAMPLE_RELEASE_ARN, ROOT, Assembly, cdk_json_context, configured_features, raw_config
from tests.support import synth_warnings

FEATURES = configured_features()


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


def test_retraining_reserves_no_concurrency_unless_asked(tmp_path: Path) -> None:
    assert load(raw_config(), tmp_path).model_build.retraining.one_trigger_at_a_time is False
    asked = edit("model_build.retraining.one_trigger_at_a_time", True)
    assert load(asked, tmp_path).model_build.retraining.one_trigger_at_a_time is True


def test_default_rollback_detection_is_four_minutes_and_shorter_than_every_default_bake(tmp_path: Path) -> None:
    for env in load(raw_config(), tmp_path).environments:
        assert env.alarms.worst_case_detection_seconds == 2 * 60 + 120
        assert env.alarms.worst_case_detection_seconds < 60 * min(
            env.rollout.wait_interval_minutes, env.rollout.termination_wait_minutes
        )


@pytest.mark.parametrize("percent", [1, 10, 50])
def test_a_canary_from_one_to_half_the_fleet_is_accepted(percent: int, tmp_path: Path) -> None:
    """SageMaker's canary is at most 50 % of the new fleet; the config's bounds are both inclusive."""
    rollout = load(edit("environments.dev.rollout.canary_size_percent", percent), tmp_path).environment("dev").rollout
    assert rollout.canary_size_percent == percent


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
        ("environments.dev.rollout.canary_size_percent", 51, "from 1 to 50"),
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
        ("environments.dev.alarms.period_seconds", 300, "60, the interval at which SageMaker publishes"),
        ("environments.dev.alarms.period_seconds", 10, "60, the interval at which SageMaker publishes"),
        ("environments.dev.alarms.evaluation_periods", 1441, "from 1 to 1440"),
        ("environments.dev.alarms.evaluation_periods", 0, "from 1 to 1440"),
        ("environments.dev.alarms.datapoints_to_alarm", 3, "from 1 to 2"),
        ("environments.dev.notification_emails", ["not-an-email"], "e-mail addresses"),
        ("environments.dev.drift.schedule", "every hour", "rate(N minutes|hours|days)"),
        ("environments.dev.drift.false_alarm_rate", 0.5, "from 0.0001 to 0.2"),
        ("environments.dev.drift.detection_power", 0.3, "from 0.5 to 0.999"),
        ("environments.dev.drift.instance_count", 0, "from 1 to 100"),
        ("model_build.preprocess_instance_count", 0, "from 1 to 100"),
        ("model_build.training_instance_count", 101, "from 1 to 100"),
        ("model_build.environment", "qa", "one of the configured environments: dev, staging, prod"),
        (
            "model_build.model",
            "models/none",
            "a directory holding model.json (models/diabetes, models/sklearn, models/wine, models/xgboost)",
        ),
        ("model_build.model", 42, "a directory holding model.json"),
        ("model_build.retraining.schedule", "cron(0 3 * *)", "cron(6 fields)"),
        ("model_build.retraining.incoming_prefix", "incoming", "ending in '/'"),
        ("model_build.retraining.one_trigger_at_a_time", "yes", "true or false"),
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
    raw["environments"]["dev"]["drift"].update(model_monitor_features=[FEATURES[0]], schedule="rate(15 minutes)")
    with pytest.raises(ConfigError, match=r"'mlops\.environments\.dev\.drift\.schedule'.*hourly or daily"):
        load(raw, tmp_path)


def test_model_monitor_needs_a_release_with_both_baseline_files(tmp_path: Path) -> None:
    raw = edit("environments.dev.drift.use_model_monitor", True)
    raw["environments"]["dev"]["drift"]["model_monitor_features"] = [FEATURES[0]]
    with pytest.raises(
        ConfigError, match=r"'mlops\.environments\.dev\.drift\.use_model_monitor'.*baseline_constraints_uri"
    ):
        load(raw, tmp_path, **{"release.dev": EXAMPLE_RELEASE_ARN})
    assert load(raw, tmp_path).environment("dev").drift.model_monitor_features == (FEATURES[0],)


def test_release_names_its_registry_and_version_pattern() -> None:
    release = config.Release(model_package_arn=EXAMPLE_RELEASE_ARN)
    assert (release.registry_account, release.registry_region) == ("222222222222", "eu-west-1")
    assert release.package_arn_pattern == "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/*"


def test_toolchain_emails_default_to_none_and_are_kept_in_order(tmp_path: Path) -> None:
    assert load(edit("toolchain.notification_emails", _DELETE), tmp_path).toolchain.notification_emails == ()
    emails = ["release-managers@example.com", "ml-oncall@example.com"]
    settings = load(edit("toolchain.notification_emails", emails), tmp_path)
    assert settings.toolchain.notification_emails == tuple(emails)
    assert settings.toolchain.target == config.AwsTarget(account="111111111111", region="eu-west-1")


def test_promotion_starts_in_the_model_build_environment_then_follows_cdk_json(tmp_path: Path) -> None:
    assert [e.name for e in load(raw_config(), tmp_path).promotion_order] == ["dev", "staging", "prod"]
    raw = edit("model_build.environment", "staging")
    raw["retained_names"]["migrate_to"] = {"model_build_environment": "staging"}
    assert [e.name for e in load(raw, tmp_path).promotion_order] == ["staging", "dev", "prod"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("projct_name", r"'mlops\.projct_name'.*did you mean 'project_name'"),
        ("toolchain.acount", r"'mlops\.toolchain\.acount'.*did you mean 'account'"),
        ("source.brnch", r"'mlops\.source\.brnch'.*did you mean 'branch'"),
        ("model_build.retraining.schedul", r"'mlops\.model_build\.retraining\.schedul'.*did you mean 'schedule'"),
        ("environments.prod.producton", r"'mlops\.environments\.prod\.producton'.*did you mean 'production'"),
        ("environments.prod.endpoint.instance_typ", r"did you mean 'instance_type'"),
        ("environments.prod.rollout.wait_minutes", r"'mlops\.environments\.prod\.rollout\.wait_minutes'"),
        ("environments.prod.alarms.max_5xx_errors", r"did you mean 'max_5xx_rate_percent'"),
        ("environments.prod.drift.treshold", r"did you mean 'threshold'"),
        ("retained_names.project", r"'mlops\.retained_names\.project'.*did you mean 'project_name'"),
    ],
)
def test_an_unknown_key_is_refused_with_the_closest_known_key(path: str, expected: str, tmp_path: Path) -> None:
    """A typo such as `producton` would otherwise leave prod without its approval or retention."""
    with pytest.raises(ConfigError, match=expected) as error:
        load(edit(path, True), tmp_path)
    assert "\n" not in str(error.value)


def test_an_unknown_key_from_a_dotted_override_or_a_release_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'mlops\.environments\.prod\.producton'.*'production'"):
        load(raw_config(), tmp_path, **{"mlops.environments.prod.producton": "true"})
    (tmp_path / "dev.json").write_text(
        json.dumps({"model_package_arn": EXAMPLE_RELEASE_ARN, "baseline_uri": "s3://b/k"})
    )
    with pytest.raises(ConfigError, match=r"dev\.json\.baseline_uri'.*did you mean 'baseline_statistics_uri'"):
        load(raw_config(), tmp_path)


@pytest.mark.parametrize(
    ("env", "rollout", "key", "value"),
    [
        # dev: CANARY; 60 s x 2 periods + 120 s = 240 s of detection, longer than a 4-minute wait.
        ("dev", {"wait_interval_minutes": 4}, "wait_interval_minutes", 4),
        ("dev", {"termination_wait_minutes": 3}, "termination_wait_minutes", 3),
        ("prod", {"wait_interval_minutes": 0}, "wait_interval_minutes", 0),
    ],
)
def test_every_bake_outlasts_the_worst_case_alarm_detection(
    env: str, rollout: dict[str, int], key: str, value: int, tmp_path: Path
) -> None:
    raw = raw_config()
    raw["environments"][env]["rollout"].update(rollout)
    with pytest.raises(ConfigError) as error:
        load(raw, tmp_path)
    message = str(error.value)
    assert f"'mlops.environments.{env}.rollout.{key}': got {value}" in message
    assert "at least 5 minutes: more than 240 s" in message and "evaluation_periods 2" in message


def test_more_evaluation_periods_need_longer_bakes_and_all_at_once_has_only_the_termination_wait(
    tmp_path: Path,
) -> None:
    raw = edit("environments.dev.alarms.evaluation_periods", 4)
    raw["environments"]["dev"]["alarms"]["datapoints_to_alarm"] = 3
    with pytest.raises(ConfigError, match=r"dev\.rollout\.wait_interval_minutes': got 5.*at least 7 minutes"):
        load(raw, tmp_path)
    raw["environments"]["dev"]["rollout"].update(wait_interval_minutes=7, termination_wait_minutes=7)
    assert load(raw, tmp_path).environment("dev").alarms.worst_case_detection_seconds == 360
    all_at_once = edit("environments.dev.rollout.type", "ALL_AT_ONCE")
    all_at_once["environments"]["dev"]["rollout"]["wait_interval_minutes"] = 0
    assert load(all_at_once, tmp_path).environment("dev").rollout.type is RolloutType.ALL_AT_ONCE


def test_an_inf1_endpoint_is_refused_because_guardrails_exclude_it(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"'mlops\.environments\.prod\.endpoint\.instance_type': got 'ml\.inf1\.xlarge'"
    ):
        load(edit("environments.prod.endpoint.instance_type", "ml.inf1.xlarge"), tmp_path)


@pytest.mark.parametrize("instance_type", ["ml.g5.xlarge", "ml.m5d.large", "ml.g4dn.xlarge", "ml.p4d.24xlarge"])
def test_local_storage_instances_serve_without_a_volume_key_but_never_run_jobs(
    instance_type: str, tmp_path: Path
) -> None:
    """KmsKeyId / VolumeKmsKeyId are refused by SageMaker for types with NVMe instance storage."""
    serving = load(edit("environments.prod.endpoint.instance_type", instance_type), tmp_path)
    assert serving.environment("prod").endpoint.volume_kms_key_allowed is False
    for key in ("processing_instance_type", "training_instance_type"):
        # Refused for its storage, or before that because SageMaker does not offer it for jobs at all.
        refused = r"(without local instance storage|SageMaker offers as (Training|Processing)InstanceType)"
        with pytest.raises(ConfigError, match=rf"'mlops\.model_build\.{key}'.*{refused}"):
            load(edit(f"model_build.{key}", instance_type), tmp_path)
    assert load(raw_config(), tmp_path).environment("prod").endpoint.volume_kms_key_allowed is True


def test_a_serving_region_other_than_the_model_build_region_is_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(edit("environments.prod.region", "us-east-1"), tmp_path)
    assert str(error.value) == (
        "Invalid config 'mlops.environments.prod.region': got 'us-east-1'; allowed: 'eu-west-1', the region of "
        "the model-build environment 'dev': the registry and model artifacts are not copied across regions."
    )


def test_a_region_without_a_pinned_image_is_refused_by_key(tmp_path: Path) -> None:
    """The config holds no image map: the checked-in maps say where each image exists, once."""
    raw = raw_config()
    for env in raw["environments"].values():
        env["region"] = "eu-west-9"
    with pytest.raises(
        CheckedInError, match=r"'mlops\.model_build\.model\.images\.processing'.*'eu-west-9'.*framework"
    ):
        checked_in.check_images(load(raw, tmp_path))
    # Model Monitor's image exists in fewer regions than the drift check's scikit-learn image.
    raw = raw_config()
    for env in raw["environments"].values():
        env["region"] = "ap-south-2"
    checked_in.check_images(load(raw, tmp_path))
    raw["environments"]["prod"]["drift"].update(use_model_monitor=True, model_monitor_features=[FEATURES[0]])
    with pytest.raises(CheckedInError, match=r"'mlops\.environments\.prod\.region'.*pinned model-monitor image"):
        checked_in.check_images(load(raw, tmp_path))


def test_a_codecommit_repository_name_with_a_slash_is_refused(tmp_path: Path) -> None:
    raw = raw_config()
    raw["source"] = {"kind": "codecommit", "repository": "example-org/mlops-delivery", "branch": "main"}
    with pytest.raises(ConfigError, match=r"'mlops\.source\.repository': got 'example-org/mlops-delivery'.*CodeCommit"):
        load(raw, tmp_path)
    raw["source"]["repository"] = "mlops-delivery"
    assert load(raw, tmp_path).source.repository == "mlops-delivery"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:us-east-1:222222222222:model-package/mlops-delivery/3",  # another region
        "arn:aws:sagemaker:eu-west-1:444444444444:model-package/mlops-delivery/3",  # another account
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package/other-project/3",  # another group
    ],
)
def test_a_release_outside_the_configured_registry_group_is_refused(arn: str, tmp_path: Path) -> None:
    expected = r"'release\.prod'.*model package group 'mlops-delivery' in account 222222222222, region eu-west-1"
    with pytest.raises(ConfigError, match=expected):
        load(raw_config(), tmp_path, **{"release.prod": arn})
    (tmp_path / "staging.json").write_text(json.dumps({"model_package_arn": arn}))
    with pytest.raises(ConfigError, match=r"staging\.json\.model_package_arn'.*model package group 'mlops-delivery'"):
        load(raw_config(), tmp_path)


@pytest.mark.parametrize(
    ("path", "value", "migrate", "expected"),
    [
        ("project_name", "fraud-model", "project_name", r"'mlops-delivery' \(mlops\.retained_names\.project_name\)"),
        ("model_build.environment", "prod", "model_build_environment", r"model package group 'mlops-delivery'"),
    ],
)
def test_renaming_what_names_retained_resources_needs_an_explicit_migration(
    path: str, value: str, migrate: str, expected: str, tmp_path: Path
) -> None:
    """The registry group and the known-good ledgers are retained; a silent rename would orphan them."""
    raw = edit(path, value)
    with pytest.raises(ConfigError, match=rf"'mlops\.{re.escape(path)}': got '{value}'.*{expected}") as error:
        load(raw, tmp_path)
    assert f"set mlops.retained_names.migrate_to.{migrate} to '{value}'" in str(error.value)
    raw["retained_names"]["migrate_to"] = {migrate: value}
    assert load(raw, tmp_path)
    raw["retained_names"]["migrate_to"] = {migrate: "something-else"}
    with pytest.raises(ConfigError, match=rf"'mlops\.{re.escape(path)}'"):
        load(raw, tmp_path)


def test_retained_names_are_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Missing config 'mlops\.retained_names\.project_name'"):
        load(edit("retained_names", _DELETE), tmp_path)


def test_an_override_is_reported_as_read_and_settings_are_frozen(tmp_path: Path) -> None:
    """`-c ...=3` is the number 3 in the message, as it would be in cdk.json; a loaded setting cannot change."""
    with pytest.raises(ConfigError) as error:
        load(raw_config(), tmp_path, **{"mlops.environments.dev.rollout.linear_step_percent": "3"})
    assert str(error.value) == (
        "Invalid config 'mlops.environments.dev.rollout.linear_step_percent': got 3; "
        "allowed: a whole number from 10 to 50 percent."
    )
    rollout = load(raw_config(), tmp_path).environment("prod").rollout
    with pytest.raises(ValidationError, match="frozen"):
        rollout.wait_interval_minutes = 0  # type: ignore[misc]


def test_a_section_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(edit("environments.prod.alarms", "strict"), tmp_path)
    assert str(error.value) == "Invalid config 'mlops.environments.prod.alarms': got 'strict'; allowed: an object."


def test_a_setting_the_code_builds_refuses_unknown_fields_too() -> None:
    with pytest.raises(ValidationError, match="sampling"):
        config.ShadowConfig(enabled=True, sampling=5)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("key", "value", "use"),
    [
        ("environments.prod.endpoint.instance_type", "ml.m5.huge", "ProductionVariantInstanceType"),
        ("environments.prod.endpoint.instance_type", "ml.t3.nano", "ProductionVariantInstanceType"),
        ("model_build.training_instance_type", "ml.t2.medium", "TrainingInstanceType"),
        ("model_build.processing_instance_type", "ml.inf2.xlarge", "ProcessingInstanceType"),
    ],
)
def test_an_instance_type_sagemaker_does_not_offer_for_its_use_is_refused(
    key: str, value: str, use: str, tmp_path: Path
) -> None:
    """Each use has its own list in botocore's sagemaker model: ml.t2.medium hosts but never trains."""
    with pytest.raises(ConfigError) as error:
        load(edit(key, value), tmp_path)
    assert str(error.value).startswith(f"Invalid config 'mlops.{key}': got {value!r}; allowed: an instance type")
    assert use in str(error.value)


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("model_build.retraining.schedule", "rate(1 hours)", "the unit is singular only for 1"),
        ("model_build.retraining.schedule", "rate(0 days)", "at least 1"),
        ("model_build.retraining.schedule", "cron(0 3 * * MON *)", "'?' in exactly one of Day-of-month"),
        ("model_build.retraining.schedule", "cron(0 25 ? * MON *)", "Hours field of 0-23"),
        ("environments.dev.drift.schedule", "rate(2 hour)", "the unit is singular only for 1"),
        ("environments.dev.drift.schedule", "cron(0 * ? * MOX *)", "Day-of-week field of 1-7 or SUN-SAT"),
        ("model_build.retraining.schedule", "cron(0 9 ? * 3#1,6#3 *)", "one expression in the cron Day-of-week"),
    ],
)
def test_a_schedule_eventbridge_would_refuse_fails_synth_naming_the_key(
    key: str, value: str, why: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as error:
        load(edit(key, value), tmp_path)
    assert str(error.value).startswith(f"Invalid config 'mlops.{key}': got {value!r}; allowed: ")
    assert why in str(error.value)


@pytest.mark.parametrize(
    "expression",
    [
        # The examples of EventBridge's "Using cron and rate expressions to schedule rules".
        "cron(0 10 * * ? *)",
        "cron(15 12 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0/10 * ? * MON-FRI *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 3W * ? *)",
        "rate(1 minute)",
        "rate(5 minutes)",
    ],
)
def test_schedules_eventbridge_documents_are_accepted(expression: str) -> None:
    from config.schedules import schedule_problem

    assert schedule_problem(expression) is None


def test_settings_that_lower_safety_outside_production_are_warned_naming_the_key(tmp_path: Path) -> None:
    """A sandbox may end in a non-production environment: synth warns rather than refuses."""
    raw = raw_config()
    raw["environments"]["prod"]["production"] = False
    raw["environments"]["staging"].update(approval="auto", removal_policy="destroy")
    warnings = load(raw, tmp_path).warnings
    assert [w.split(" ", 1)[0] for w in warnings] == [
        "mlops.environments.prod.production",
        "mlops.environments.staging.approval",
        "mlops.environments.staging.removal_policy",
    ]
    assert "last environment the pipeline promotes to" in warnings[0]
    assert load(raw_config(), tmp_path).warnings == ()


def test_synth_shows_the_warnings_on_the_pipelines_stack(variant_assembly: Assembly) -> None:
    """The variant layout auto-approves in staging (tests/conftest.py): synth keeps that warning, once, on /Cicd."""
    (warning,) = synth_warnings(variant_assembly.directory, "mlops:config")
    assert "mlops.environments.staging.approval is auto" in warning
    metadata = json.loads((variant_assembly.directory / "Cicd.metadata.json").read_text())
    assert warning in [entry["data"] for entry in metadata["/Cicd"] if entry["type"] == "aws:cdk:warning"]


def test_a_key_written_twice_in_cdk_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cdk.json"
    path.write_text('{"context": {"mlops": {"project_name": "a", "project_name": "b"}}}')
    with pytest.raises(ConfigError, match="the key 'project_name' appears twice in one object"):
        config.read_cdk_json(path)
    assert config.read_cdk_json(ROOT / "cdk.json")["mlops"]["project_name"] == "mlops-delivery"


def test_training_on_several_instances_needs_a_model_that_trains_across_them() -> None:
    raw = raw_config()
    raw["model_build"].update(model="models/sklearn", training_instance_count=2)
    with pytest.raises(ConfigError, match=r"'mlops\.model_build\.training_instance_count'.*distributed_training: true"):
        config.load({config.CONTEXT_KEY: raw}, releases_dir=ROOT / "releases")
    raw["model_build"].update(model="models/xgboost")
    assert (
        config.load({config.CONTEXT_KEY: raw}, releases_dir=ROOT / "releases").model_build.training_instance_count == 2
    )


@pytest.mark.parametrize(
    ("drift", "instances"),
    [
        ({}, 1),
        ({"instance_count": 4, "expected_rows_per_hour": 10**12}, 4),
        ({"expected_rows_per_hour": config.DRIFT_ROWS_PER_INSTANCE}, 1),
        ({"expected_rows_per_hour": config.DRIFT_ROWS_PER_INSTANCE + 1}, 2),
        ({"expected_rows_per_hour": config.DRIFT_ROWS_PER_INSTANCE, "window_hours": 24}, 24),
        ({"expected_rows_per_hour": 10**12, "window_hours": 168}, 100),
    ],
)
def test_drift_check_instances_come_from_the_count_or_the_windows_expected_rows(
    drift: dict[str, Any], instances: int
) -> None:
    raw = raw_config()
    raw["environments"]["staging"]["drift"].update(drift)
    settings = config.load({config.CONTEXT_KEY: raw}, releases_dir=ROOT / "releases")
    assert settings.environment("staging").drift.instances == instances
