"""Shadow test wiring: config, the pipeline step before the deployment, the verifier's access, the dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import config
from config import ConfigError
from tests.conftest import Assembly, raw_config
from tests.support import buildspec, cicd, project_of, stage, statements_of_role, verifier_arn

PROD_SERVING = "mlops-delivery-prod-serving"


@pytest.fixture
def shadowed(variant_assembly: Assembly) -> Assembly:
    """The app with a 45-minute shadow test before prod (dev and staging also run in VPCs there)."""
    return variant_assembly


def _load(raw: dict[str, Any], tmp_path: Path) -> config.AppConfig:
    return config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)


def test_shadow_test_is_off_by_default(tmp_path: Path) -> None:
    assert not any(env.shadow.enabled for env in _load(raw_config(), tmp_path).environments)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("sampling_percent", 0, "a whole number from 1 to 100 percent"),
        ("duration_minutes", 5, "a whole number from 10 to 1440 minutes"),
        ("max_disagreement_percent", 120, "a number from 0.0 to 100.0"),
        ("enabled", "yes", "true or false"),
    ],
)
def test_invalid_shadow_settings_fail_with_key_value_and_allowed(
    tmp_path: Path, key: str, value: Any, allowed: str
) -> None:
    raw = raw_config()
    raw["environments"]["prod"]["shadow"] = {"enabled": True, key: value}
    with pytest.raises(ConfigError) as error:
        _load(raw, tmp_path)
    message = str(error.value)
    assert f"'mlops.environments.prod.shadow.{key}'" in message and repr(value) in message
    assert allowed in message or key == "enabled"


def test_unknown_shadow_key_is_refused(tmp_path: Path) -> None:
    raw = raw_config()
    raw["environments"]["prod"]["shadow"] = {"enabeld": True}
    with pytest.raises(ConfigError, match=r"mlops\.environments\.prod\.shadow"):
        _load(raw, tmp_path)


def test_shadow_test_runs_after_the_approval_and_before_the_deployment(shadowed: Assembly) -> None:
    template = cicd(shadowed)
    prod = stage(template, "Prod")
    approval = next(a for a in prod if a["ActionTypeId"]["Category"] == "Approval")
    shadow = next(a for a in prod if a["Name"] == "ShadowTest")
    deploys = [a for a in prod if a["ActionTypeId"]["Category"] == "Deploy"]
    assert approval["RunOrder"] < shadow["RunOrder"] < min(a["RunOrder"] for a in deploys)
    assert buildspec(template, shadow)["phases"]["build"]["commands"] == [
        f".venv/bin/python -m mlopsctl --role-arn {verifier_arn('prod')} shadow-test --env prod --skip-without-release"
    ]
    # Install, three updates of prod's longest deployment (120 + 15 + 10 minutes each), 45 minutes of
    # test, twice the capture delay and the replay: every phase's limit, so the restore always fits.
    assert project_of(template, shadow)["Properties"]["TimeoutInMinutes"] == 15 + 3 * (120 + 15 + 10) + 45 + 10 + 10
    for other in ("Dev", "Staging"):
        assert "ShadowTest" not in {a["Name"] for a in stage(template, other)}


def test_default_config_has_no_shadow_step(assembly: Assembly) -> None:
    template = cicd(assembly)
    assert all(a["Name"] != "ShadowTest" for name in ("Dev", "Staging", "Prod") for a in stage(template, name))


def _verifier_statements(template: Any) -> dict[str, dict[str, Any]]:
    (role_id,) = template.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": "mlops-delivery-prod-deploy-verifier"}}
    )
    return {s.get("Sid", json.dumps(s["Action"])): s for s in statements_of_role(template, role_id)}


def test_verifier_may_create_only_shadow_named_models_and_configs(shadowed: Assembly) -> None:
    statements = _verifier_statements(shadowed.template(PROD_SERVING))
    create = statements["CreateShadowModelAndConfig"]
    assert sorted(create["Action"]) == ["sagemaker:AddTags", "sagemaker:CreateEndpointConfig", "sagemaker:CreateModel"]
    resources = json.dumps(create["Resource"])
    assert ":model/mlops-delivery-prod-s*" in resources
    assert ":endpoint-config/mlops-delivery-prod-s*" in resources
    update = statements["SwitchEndpointToShadowAndBack"]
    assert update["Action"] == "sagemaker:UpdateEndpoint"
    assert ":endpoint/mlops-delivery-prod" in json.dumps(update["Resource"])
    pass_role = statements["PassEndpointExecutionRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert "Fn::GetAtt" in json.dumps(pass_role["Resource"])
    assert statements["ReadVariantMetrics"]["Action"] == "cloudwatch:GetMetricData"
    key = statements["UseEnvironmentKeyForEndpointUpdate"]
    assert key["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert "*" not in json.dumps(key["Resource"])
    assert any("data-capture/prod/*" in json.dumps(s.get("Resource")) for s in statements.values())


def test_verifier_without_shadow_test_cannot_change_the_endpoint(assembly: Assembly) -> None:
    statements = _verifier_statements(assembly.template(PROD_SERVING))
    actions = json.dumps([s["Action"] for s in statements.values()])
    assert "UpdateEndpoint" not in actions and "CreateModel" not in actions and "PassRole" not in actions


def test_dashboard_shows_both_variants_side_by_side(shadowed: Assembly) -> None:
    (dashboard,) = shadowed.template(PROD_SERVING).find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Shadow test: model latency p99" in body and "Shadow test: 5XX errors" in body
    assert '\\"VariantName\\",\\"Shadow\\"' in body and '\\"VariantName\\",\\"AllTraffic\\"' in body


def test_a_shadow_test_on_a_rolling_environment_is_refused(tmp_path: Path) -> None:
    """SageMaker's rolling deployments exclude endpoints with a shadow variant."""
    raw = raw_config()
    raw["environments"]["prod"]["rollout"]["type"] = "ROLLING"
    raw["environments"]["prod"]["shadow"] = {"enabled": True}
    with pytest.raises(config.ConfigError, match=r"environments\.prod\.shadow\.enabled.*ROLLING"):
        config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)


def test_a_shadow_test_that_cannot_restore_within_codebuilds_limit_is_refused(tmp_path: Path) -> None:
    """Three updates of up to 480 + 60 + 10 minutes, install, capture and replay leave 475 minutes of test."""
    raw = raw_config()
    raw["environments"]["prod"]["rollout"].update(max_execution_timeout_minutes=480, termination_wait_minutes=60)
    raw["environments"]["prod"]["shadow"] = {"enabled": True, "duration_minutes": 476}
    with pytest.raises(ConfigError) as error:
        _load(raw, tmp_path)
    message = str(error.value)
    assert message.startswith(
        "Invalid config 'mlops.environments.prod.shadow.duration_minutes': got 476; allowed: at most 475 minutes"
    )
    for key in ("rollout.max_execution_timeout_minutes", "rollout.termination_wait_minutes", "2160"):
        assert key in message
    raw["environments"]["prod"]["shadow"]["duration_minutes"] = 475
    assert _load(raw, tmp_path).environment("prod").shadow_budget.total == 2160


def test_codebuilds_longest_build_is_the_api_models_and_cloudformations() -> None:
    """The limit a shadow test's budget is checked against, from CodeBuild's API model and the resource schema."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    from config.shadow import CODEBUILD_MAX_TIMEOUT_MINUTES
    from tests import aws_contract

    api = aws_contract.rule("codebuild", "CreateProject", "timeoutInMinutes")
    assert api.max_value == CODEBUILD_MAX_TIMEOUT_MINUTES
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", "AWS::CodeBuild::Project").schema
    assert schema["properties"]["TimeoutInMinutes"]["maximum"] == CODEBUILD_MAX_TIMEOUT_MINUTES


def test_a_regression_or_multiclass_model_may_be_shadow_tested(tmp_path: Path) -> None:
    """Each task has its own disagreement (mlopsctl/shadow_compare.py); the tolerance is validated."""
    raw = raw_config()
    raw["environments"]["prod"]["shadow"] = {"enabled": True, "max_relative_error_percent": -1}
    with pytest.raises(ConfigError, match=r"shadow\.max_relative_error_percent': got -1; allowed: a number from 0"):
        _load(raw, tmp_path)
