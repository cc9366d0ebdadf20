"""What the templates give the post-deploy checks: retained per-release resources, their tag, the requested config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config import load_cdk_json
from constructs.delivery.release_checks import REQUESTED_ENDPOINT_CONFIG_VARIABLE
from tests.conftest import Assembly

NAMES = load_cdk_json().names
CICD = "mlops-delivery-toolchain-cicd"


def serving(assembly: Assembly, env: str) -> dict[str, Any]:
    return assembly.templates[f"mlops-delivery-{env}-serving"]


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: r for key, r in template["Resources"].items() if r["Type"] == kind}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
@pytest.mark.parametrize("kind", ["AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig"])
def test_replaced_models_and_endpoint_configs_are_retained(assembly: Assembly, env: str, kind: str) -> None:
    """After a guardrail rollback the endpoint runs the replaced pair; CloudFormation must not delete it.

    UpdateReplacePolicy covers a release replacing them, DeletionPolicy the stack going away; both
    are CloudFormation resource attributes, outside Properties.
    """
    (resource,) = of_type(serving(assembly, env), kind).values()
    assert resource["UpdateReplacePolicy"] == "Retain"
    assert resource["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_endpoint_itself_is_not_retained(assembly: Assembly, env: str) -> None:
    """Only the per-release pair is kept; the endpoint's fixed name makes it updated in place, never replaced."""
    (resource,) = of_type(serving(assembly, env), "AWS::SageMaker::Endpoint").values()
    assert "UpdateReplacePolicy" not in resource and "DeletionPolicy" not in resource


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_per_release_resources_carry_the_tag_cleanup_selects_by(assembly: Assembly, env: str) -> None:
    template = serving(assembly, env)
    expected = {"Key": NAMES.endpoint_resource_tag, "Value": NAMES.endpoint(env)}
    for kind in ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig"):
        (resource,) = of_type(template, kind).values()
        assert expected in resource["Properties"]["Tags"], kind
    # SageMaker tag keys: 1-128 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@] (API Tag); "aws:" is reserved.
    assert len(expected["Key"]) <= 128 and not expected["Key"].lower().startswith("aws:")


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_serving_stack_outputs_the_endpoint_config_it_requested(assembly: Assembly, env: str) -> None:
    template = serving(assembly, env)
    (config_id,) = of_type(template, "AWS::SageMaker::EndpointConfig")
    (endpoint,) = of_type(template, "AWS::SageMaker::Endpoint").values()
    requested = {"Fn::GetAtt": [config_id, "EndpointConfigName"]}
    assert endpoint["Properties"]["EndpointConfigName"] == requested
    assert template["Outputs"]["RequestedEndpointConfig"]["Value"] == requested


@pytest.mark.parametrize(
    ("stage_name", "action_name", "env"),
    [
        ("Dev", "RecordDeployment", "dev"),
        ("Staging", "SmokeTest", "staging"),
        ("Staging", "RecordDeployment", "staging"),
        ("Prod", "RecordDeployment", "prod"),
    ],
)
def test_post_deploy_checks_receive_the_requested_config_of_their_own_stage(
    assembly: Assembly, stage_name: str, action_name: str, env: str
) -> None:
    (pipeline,) = of_type(assembly.templates[CICD], "AWS::CodePipeline::Pipeline").values()
    (actions,) = [s["Actions"] for s in pipeline["Properties"]["Stages"] if s["Name"] == stage_name]
    (serving_deploy,) = [a for a in actions if a["Name"] == f"mlops-delivery-{env}-serving.Deploy"]
    (check,) = [a for a in actions if a["Name"] == action_name]
    variables = json.loads(check["Configuration"]["EnvironmentVariables"])
    assert variables == [
        {
            "name": REQUESTED_ENDPOINT_CONFIG_VARIABLE,
            "type": "PLAINTEXT",
            "value": f"#{{{serving_deploy['Namespace']}.RequestedEndpointConfig}}",
        }
    ]
    assert check["RunOrder"] > serving_deploy["RunOrder"]


def test_a_failed_check_fails_the_execution_which_notifies(assembly: Assembly) -> None:
    """The checks are plain pipeline actions (a non-zero exit fails the execution), and a failed
    execution notifies the toolchain topic."""
    template = assembly.templates[CICD]
    (pipeline_id,) = of_type(template, "AWS::CodePipeline::Pipeline")
    (rule,) = of_type(template, "AWS::CodeStarNotifications::NotificationRule").values()
    assert "codepipeline-pipeline-pipeline-execution-failed" in rule["Properties"]["EventTypeIds"]
    assert pipeline_id in json.dumps(rule["Properties"]["Resource"])
    (topic_id,) = of_type(template, "AWS::SNS::Topic")
    assert rule["Properties"]["Targets"] == [{"TargetAddress": {"Ref": topic_id}, "TargetType": "SNS"}]
