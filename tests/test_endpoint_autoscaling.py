"""Autoscaling of the production variant: config rules, the template, and its life across updates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Template

import config
from config import ConfigError
from constructs.serving.endpoint_autoscaling import PREDEFINED_METRIC, SCALABLE_DIMENSION, SERVICE_NAMESPACE
from tests.conftest import EXAMPLE_RELEASE_ARN, Assembly, raw_config
from tests.support import resources, serving, stage_for

SETTINGS = config.load_cdk_json()
NAMES = SETTINGS.names
AUTOSCALING_MODEL = botocore.session.get_session().get_service_model("application-autoscaling")
TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
POLICY = "AWS::ApplicationAutoScaling::ScalingPolicy"


def load(raw: dict[str, Any], tmp_path: Path) -> config.AppConfig:
    return config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)


def scaling(raw: dict[str, Any], env: str) -> dict[str, Any]:
    return raw["environments"][env]["endpoint"].setdefault("autoscaling", {})


def serving_resources(tmp_path: Path, raw: dict[str, Any], env: str = "prod") -> dict[str, Any]:
    stage = stage_for(raw, tmp_path, env, **{f"release.{env}": EXAMPLE_RELEASE_ARN})
    resources_: dict[str, Any] = Template.from_stack(stage.serving).to_json()["Resources"]
    return resources_


def of_type(template_resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template_resources.items() if v["Type"] == kind}


# ---------------------------------------------------------------- config


def test_autoscaling_is_on_by_default_in_production_and_off_elsewhere(tmp_path: Path) -> None:
    raw = raw_config()
    for env in raw["environments"].values():
        env["endpoint"].pop("autoscaling", None)
    settings = load(raw, tmp_path)
    enabled = {env.name: env.endpoint.autoscaling.enabled for env in settings.environments}
    assert enabled == {"dev": False, "staging": False, "prod": True}
    # Defaults keep the configured count inside the range: the endpoint starts where autoscaling allows.
    prod = settings.environment("prod").endpoint
    assert prod.autoscaling.min_instances <= prod.instance_count <= prod.autoscaling.max_instances


def test_cdk_json_scales_staging_and_prod_but_not_dev() -> None:
    scaled = {env.name: env.endpoint.autoscaling.enabled for env in SETTINGS.environments}
    assert scaled == {"dev": False, "staging": True, "prod": True}


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("min_instances", 0, "from 1 to 100"),
        ("max_instances", 3, "from 4 to 100"),  # below prod's min_instances 4
        ("target_invocations_per_instance", 0, "from 1.0 to 1000000.0"),
        ("scale_in_cooldown_seconds", -1, "from 0 to 86400 seconds"),
        ("scale_out_cooldown_seconds", "soon", "from 0 to 86400 seconds"),
        ("enabled", "maybe", "true or false"),
    ],
)
def test_invalid_autoscaling_value_names_key_value_and_allowed(
    key: str, value: Any, allowed: str, tmp_path: Path
) -> None:
    raw = raw_config()
    scaling(raw, "prod")[key] = value
    with pytest.raises(ConfigError) as error:
        load(raw, tmp_path)
    message = str(error.value)
    assert f"'mlops.environments.prod.endpoint.autoscaling.{key}'" in message
    assert repr(value) in message and allowed in message
    assert "\n" not in message


def test_instance_count_outside_the_scaling_range_is_refused(tmp_path: Path) -> None:
    raw = raw_config()
    raw["environments"]["prod"]["endpoint"]["instance_count"] = 13
    with pytest.raises(
        ConfigError,
        match=r"'mlops\.environments\.prod\.endpoint\.instance_count': got 13; .*from "
        r"mlops\.environments\.prod\.endpoint\.autoscaling\.min_instances=4 to .*max_instances=12",
    ):
        load(raw, tmp_path)
    scaling(raw, "prod")["enabled"] = False
    assert load(raw, tmp_path).environment("prod").endpoint.instance_count == 13


def test_unknown_autoscaling_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    raw = raw_config()
    scaling(raw, "prod")["max_instance"] = 8
    with pytest.raises(ConfigError, match=r"did you mean 'max_instances'"):
        load(raw, tmp_path)


def test_canary_rule_holds_for_the_fleet_autoscaling_may_shrink_to(tmp_path: Path) -> None:
    """A deployment can start at min_instances, so the at-least-2-instances rule is checked there."""
    raw = raw_config()
    staging = raw["environments"]["staging"]
    staging["endpoint"]["autoscaling"]["min_instances"] = 1
    with pytest.raises(
        ConfigError,
        match=r"'mlops\.environments\.staging\.rollout\.type': got 'CANARY' with "
        r"mlops\.environments\.staging\.endpoint\.autoscaling\.min_instances=1; allowed: ALL_AT_ONCE, or at least 2",
    ):
        load(raw, tmp_path)
    staging["endpoint"]["autoscaling"]["enabled"] = False
    assert load(raw, tmp_path).environment("staging").endpoint.fewest_instances == 2


# ---------------------------------------------------------------- template


def test_names_match_application_auto_scaling_contract() -> None:
    """The namespace, dimension and metric are values the Application Auto Scaling API accepts."""
    assert SERVICE_NAMESPACE in AUTOSCALING_MODEL.shape_for("ServiceNamespace").enum
    assert SCALABLE_DIMENSION in AUTOSCALING_MODEL.shape_for("ScalableDimension").enum
    assert PREDEFINED_METRIC in AUTOSCALING_MODEL.shape_for("MetricType").enum


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_scaled_environments_register_the_variant_and_track_invocations_per_instance(
    assembly: Assembly, env: str
) -> None:
    template = serving(assembly, env)
    scaled = SETTINGS.environment(env).endpoint.autoscaling
    (target,) = resources(template, TARGET)
    assert target["ServiceNamespace"] == "sagemaker"
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["ResourceId"] == f"endpoint/{NAMES.endpoint(env)}/variant/{NAMES.variant}"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (scaled.min_instances, scaled.max_instances)
    # No RoleARN: the service-linked role AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint is used.
    assert "RoleARN" not in target
    (policy,) = resources(template, POLICY)
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": scaled.target_invocations_per_instance,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "ScaleInCooldown": scaled.scale_in_cooldown_seconds,
        "ScaleOutCooldown": scaled.scale_out_cooldown_seconds,
    }
    (target_id,) = template.find_resources(TARGET)
    assert policy["ScalingTargetId"] == {"Ref": target_id}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_scalable_target_waits_for_the_endpoint_which_keeps_the_scaled_count(assembly: Assembly, env: str) -> None:
    template = serving(assembly, env)
    (endpoint_id,) = template.find_resources("AWS::SageMaker::Endpoint")
    (target,) = template.find_resources(TARGET).values()
    assert endpoint_id in target["DependsOn"]
    endpoint = template.find_resources("AWS::SageMaker::Endpoint")[endpoint_id]["Properties"]
    # Every update (release) starts the new fleet at the current DesiredInstanceCount.
    assert endpoint["RetainAllVariantProperties"] is True
    assert "ExcludeRetainedVariantProperties" not in endpoint


def test_unscaled_environment_has_no_target_and_takes_the_configured_count(assembly: Assembly) -> None:
    template = serving(assembly, "dev")
    assert template.find_resources(TARGET) == {} and template.find_resources(POLICY) == {}
    (endpoint,) = resources(template, "AWS::SageMaker::Endpoint")
    assert "RetainAllVariantProperties" not in endpoint


@pytest.mark.template
def test_a_release_keeps_the_scaling_resources_and_changes_only_the_model(tmp_path: Path) -> None:
    """A release swaps the model, the one change SageMaker allows on a registered variant."""

    def synth(version: int) -> dict[str, Any]:
        arn = EXAMPLE_RELEASE_ARN.rsplit("/", 1)[0] + f"/{version}"
        stage = stage_for(raw_config(), tmp_path, "prod", **{"release.prod": arn})
        resources_: dict[str, Any] = Template.from_stack(stage.serving).to_json()["Resources"]
        return resources_

    before, after = synth(3), synth(4)
    for kind in (TARGET, POLICY):
        assert of_type(before, kind) == of_type(after, kind) != {}
    (config_before,) = of_type(before, "AWS::SageMaker::EndpointConfig").values()
    (config_after,) = of_type(after, "AWS::SageMaker::EndpointConfig").values()
    variant_before = config_before["Properties"]["ProductionVariants"][0]
    variant_after = config_after["Properties"]["ProductionVariants"][0]
    assert variant_before["InstanceType"] == variant_after["InstanceType"]
    assert variant_before["VariantName"] == variant_after["VariantName"]


@pytest.mark.template
def test_instance_type_change_takes_two_deploys_that_deregister_first(tmp_path: Path) -> None:
    """UpdateEndpoint refuses a new instance type on a registered variant (README: Scaling).

    Step 1 turns autoscaling off with the instance type unchanged: the template drops the
    target and its policy (CloudFormation deregisters them) and leaves the EndpointConfig
    as it was. Step 2 changes the type and registers again, after the endpoint update.
    """
    raw = raw_config()
    current = serving_resources(tmp_path, raw)

    scaling(raw, "prod")["enabled"] = False
    step_1 = serving_resources(tmp_path, raw)
    assert of_type(step_1, TARGET) == {} and of_type(step_1, POLICY) == {}
    assert of_type(step_1, "AWS::SageMaker::EndpointConfig") == of_type(current, "AWS::SageMaker::EndpointConfig")

    raw["environments"]["prod"]["endpoint"]["instance_type"] = "ml.c5.xlarge"
    scaling(raw, "prod")["enabled"] = True
    step_2 = serving_resources(tmp_path, raw)
    (config_2,) = of_type(step_2, "AWS::SageMaker::EndpointConfig").values()
    assert config_2["Properties"]["ProductionVariants"][0]["InstanceType"] == "ml.c5.xlarge"
    (endpoint_id,) = of_type(step_2, "AWS::SageMaker::Endpoint")
    (target,) = of_type(step_2, TARGET).values()
    assert endpoint_id in target["DependsOn"]


# ---------------------------------------------------------------- dashboard


def widgets(template: Any) -> list[dict[str, Any]]:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard")
    body = dashboard["DashboardBody"]
    # The body is a Fn::Join of literal JSON and tokens (region, alarm ARNs) that sit inside JSON strings.
    text = "".join(part if isinstance(part, str) else "token" for part in body["Fn::Join"][1])
    parsed: list[dict[str, Any]] = json.loads(text)["widgets"]
    return parsed


def test_dashboard_shows_instances_and_invocations_per_instance_against_the_target(assembly: Assembly) -> None:
    scaled = SETTINGS.environment("prod").endpoint.autoscaling
    by_title = {w["properties"].get("title", ""): w["properties"] for w in widgets(serving(assembly, "prod"))}
    instances = next(p for t, p in by_title.items() if t.startswith("Instances"))
    assert instances["metrics"][0][:2] == ["/aws/sagemaker/Endpoints", "CPUUtilization"]
    assert instances["metrics"][0][-1]["stat"] == "SampleCount"
    assert {(a["value"], a["label"]) for a in instances["annotations"]["horizontal"]} == {
        (scaled.min_instances, "autoscaling minimum"),
        (scaled.max_instances, "autoscaling maximum"),
    }
    per_instance = next(p for t, p in by_title.items() if t.startswith("Scaling"))
    assert per_instance["metrics"][0][:2] == ["AWS/SageMaker", "InvocationsPerInstance"]
    assert [(a["value"], a["label"]) for a in per_instance["annotations"]["horizontal"]] == [
        (scaled.target_invocations_per_instance, "autoscaling target")
    ]


def test_dashboard_of_an_unscaled_endpoint_shows_instances_without_scaling_bounds(assembly: Assembly) -> None:
    titles = [w["properties"].get("title", "") for w in widgets(serving(assembly, "dev"))]
    assert any(re.match("Instances", t) for t in titles)
    body = json.dumps(widgets(serving(assembly, "dev")))
    assert "autoscaling" not in body
