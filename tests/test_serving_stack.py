"""Serving: blue/green rollout from config, rollback alarms wired to the endpoint, capture, drift, dashboard."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aws_cdk.assertions import Match, Template

import config
import contracts
from pipeline_steps.scripts import drift_check
from tests.conftest import EXAMPLE_RELEASE_ARN, ROOT, Assembly, configured_features, raw_config
from tests.support import as_list, endpoint, resources, serving, stage_for

ENVIRONMENTS = ["dev", "staging", "prod"]
SETTINGS = config.load_cdk_json()
NAMES = SETTINGS.names
BASELINE_URI = "s3://build-artifacts/pipelines/model-build/exec-1/baseline/statistics.json"
CONSTRAINTS_URI = "s3://build-artifacts/pipelines/model-build/exec-1/baseline/constraints.json"

FEATURES = configured_features()


def alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads, whether it is a plain metric or metric math."""
    if "MetricName" in alarm:
        return [{"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"], "Dimensions": alarm["Dimensions"]}]
    return [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]


def dimensions(metric: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in metric["Dimensions"]}


@pytest.mark.parametrize(
    ("env", "routing"),
    [
        (
            "dev",
            {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}, "WaitIntervalInSeconds": 300},
        ),
        (
            "prod",
            {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                "WaitIntervalInSeconds": 600,
            },
        ),
    ],
)
def test_rollout_type_from_config_becomes_the_blue_green_policy(
    assembly: Assembly, env: str, routing: dict[str, Any]
) -> None:
    rollout = SETTINGS.environment(env).rollout
    policy = endpoint(serving(assembly, env))["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy == {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": rollout.termination_wait_minutes * 60,
        "MaximumExecutionTimeoutInSeconds": rollout.max_execution_timeout_minutes * 60,
    }


def test_a_canary_of_ten_percent_reaches_the_endpoint_as_configured(variant_assembly: Assembly) -> None:
    """Not the default 50 %: the variant layout's dev canaries 10 % of its fleet (tests/conftest.py)."""
    policy = endpoint(serving(variant_assembly, "dev"))["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}


@pytest.mark.template
def test_all_at_once_on_a_single_instance_shifts_everything_in_one_step(tmp_path: Path) -> None:
    raw = raw_config()
    dev = raw["environments"]["dev"]
    dev["endpoint"]["instance_count"] = 1
    dev["rollout"].update(type="ALL_AT_ONCE", wait_interval_minutes=3)
    stage = stage_for(raw, tmp_path, "dev", **{"release.dev": EXAMPLE_RELEASE_ARN})
    routing = endpoint(Template.from_stack(stage.serving))["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 180}


def rollback_alarms(template: Any, env: str) -> dict[str, dict[str, Any]]:
    """The rollback alarms by name suffix (`new-fleet-5xx-rate`)."""
    prefix = NAMES.rollback_alarm_prefix(env)
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    return {a["AlarmName"][len(prefix) :]: a for a in alarms if a["AlarmName"].startswith(prefix)}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_rollback_alarm_exists_and_measures_this_endpoint(assembly: Assembly, env: str) -> None:
    template = serving(assembly, env)
    named = [a["AlarmName"] for a in endpoint(template)["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert 1 <= len(named) <= 10  # AutoRollbackConfig: 1 to 10 alarms
    alarms = {a["AlarmName"]: a for a in resources(template, "AWS::CloudWatch::Alarm")}
    for name in named:
        assert name.startswith(NAMES.rollback_alarm_prefix(env))
        alarm = alarms[name]  # a rollback alarm that does not exist would never roll anything back
        assert alarm["AlarmActions"], f"{name} notifies nobody"
        for metric in alarm_metrics(alarm):
            assert metric["Namespace"] == "AWS/SageMaker"
            assert {k: v for k, v in dimensions(metric).items() if k != "EndpointConfigName"} == {
                "EndpointName": NAMES.endpoint(env),
                "VariantName": NAMES.variant,
            }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_new_fleet_alarms_watch_the_endpoint_config_a_release_deploys(assembly: Assembly, env: str) -> None:
    """SageMaker publishes a deployment's new-fleet metrics with EndpointConfigName = the new config."""
    template = serving(assembly, env)
    (config_id,) = template.find_resources("AWS::SageMaker::EndpointConfig")
    assert endpoint(template)["EndpointConfigName"] == {"Fn::GetAtt": [config_id, "EndpointConfigName"]}
    alarms = rollback_alarms(template, env)
    new_fleet = {suffix for suffix in alarms if suffix.startswith("new-fleet-")}
    assert new_fleet == {
        "new-fleet-5xx-rate",
        "new-fleet-model-error-rate",
        "new-fleet-4xx-rate",
        "new-fleet-p99-latency",
    }
    # Whole-endpoint alarms stay: a first creation has no new-fleet metrics, and a failing endpoint blocks a release.
    assert set(alarms) - new_fleet == {"endpoint-5xx-rate", "endpoint-model-error-rate"}
    for suffix, alarm in alarms.items():
        for metric in alarm_metrics(alarm):
            watched = dimensions(metric).get("EndpointConfigName")
            if suffix in new_fleet:
                assert watched == {"Fn::GetAtt": [config_id, "EndpointConfigName"]}
            else:
                assert watched is None
    # The endpoint waits for the alarms, so a release updates them to the new config before it deploys.
    (endpoint_resource,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    alarm_ids = set(template.find_resources("AWS::CloudWatch::Alarm"))
    assert {i for i in alarm_ids if "RollbackAlarms" in i} <= set(endpoint_resource["DependsOn"])


def test_rollback_alarms_use_thresholds_and_units_that_can_fire(assembly: Assembly) -> None:
    configured = SETTINGS.environment("prod").alarms
    alarms = rollback_alarms(serving(assembly, "prod"), "prod")
    latency = alarms["new-fleet-p99-latency"]
    # ModelLatency is reported in microseconds; a threshold in ms would never be crossed... or always.
    (stat,) = [q["MetricStat"] for q in latency["Metrics"]]
    assert (stat["Metric"]["MetricName"], stat["Stat"], stat["Period"]) == ("ModelLatency", "p99", 60)
    assert latency["Threshold"] == configured.p99_latency_ms * 1000
    # Error metrics are 1 per failed request: a rate of Sums, counted only with enough requests.
    for suffix, metric, limit in [
        ("new-fleet-5xx-rate", "Invocation5XXErrors", configured.max_5xx_rate_percent),
        ("endpoint-5xx-rate", "Invocation5XXErrors", configured.max_5xx_rate_percent),
        ("new-fleet-model-error-rate", "InvocationModelErrors", configured.max_model_error_rate_percent),
        ("endpoint-model-error-rate", "InvocationModelErrors", configured.max_model_error_rate_percent),
        ("new-fleet-4xx-rate", "Invocation4XXErrors", configured.max_4xx_rate_percent),
    ]:
        alarm = alarms[suffix]
        errors = metric[0].lower() + metric[1:]
        (expression,) = [q for q in alarm["Metrics"] if "Expression" in q]
        assert expression["Expression"] == (
            f"IF(invocations >= {configured.min_invocations}, 100 * {errors} / invocations, 0)"
        )
        stats = {q["Id"]: q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q}
        assert {(i, s["Metric"]["MetricName"], s["Stat"], s["Period"]) for i, s in stats.items()} == {
            (errors, metric, "Sum", 60),
            ("invocations", "Invocations", "Sum", 60),
        }
        assert alarm["Threshold"] == limit
    for alarm in alarms.values():
        assert alarm["TreatMissingData"] == "notBreaching"  # no traffic is not a failed release
        assert alarm["EvaluationPeriods"] == configured.evaluation_periods


@pytest.mark.template
def test_worst_case_time_to_rollback_follows_config_and_is_within_three_periods_and_a_minute(tmp_path: Path) -> None:
    stage = stage_for(raw_config(), tmp_path, "staging", **{"release.staging": EXAMPLE_RELEASE_ARN})
    alarms = stage.serving.rollback_alarms
    staging = SETTINGS.environment("staging")
    seconds = alarms.worst_case_detection.to_seconds()
    assert seconds == staging.alarms.period_seconds * staging.alarms.evaluation_periods + 120
    assert seconds <= 3 * staging.alarms.period_seconds + 60
    policy = endpoint(Template.from_stack(stage.serving))["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert seconds < policy["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"]
    assert seconds < policy["TerminationWaitInSeconds"]


@pytest.mark.template
def test_an_instance_type_with_local_storage_gets_no_volume_key(tmp_path: Path) -> None:
    """CreateEndpointConfig fails when KmsKeyId is given for a type with NVMe instance storage."""
    raw = raw_config()
    raw["environments"]["dev"]["endpoint"]["instance_type"] = "ml.g5.xlarge"
    stage = stage_for(raw, tmp_path, "dev", **{"release.dev": EXAMPLE_RELEASE_ARN})
    (props,) = resources(Template.from_stack(stage.serving), "AWS::SageMaker::EndpointConfig")
    assert "KmsKeyId" not in props
    assert props["ProductionVariants"][0]["InstanceType"] == "ml.g5.xlarge"
    assert "KmsKeyId" in props["DataCaptureConfig"]  # captured data is still encrypted with the key


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_endpoint_config_encrypts_the_volume_and_captures_requests_and_responses(assembly: Assembly, env: str) -> None:
    (props,) = resources(serving(assembly, env), "AWS::SageMaker::EndpointConfig")
    assert "KmsKeyId" in props
    capture = props["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert sorted(o["CaptureMode"] for o in capture["CaptureOptions"]) == ["Input", "Output"]
    assert capture["InitialSamplingPercentage"] == SETTINGS.environment(env).endpoint.data_capture_percent
    assert capture["KmsKeyId"] == props["KmsKeyId"]
    assert capture["DestinationS3Uri"]["Fn::Join"][1][-1] == f"/data-capture/{env}/"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_endpoint_and_variant_have_fixed_names_so_a_release_is_blue_green(
    assembly: Assembly, env: str
) -> None:
    template = serving(assembly, env)
    (model,) = resources(template, "AWS::SageMaker::Model")
    (endpoint_config,) = resources(template, "AWS::SageMaker::EndpointConfig")
    # A fixed Model/EndpointConfig name would block the replacement a new release needs.
    assert "ModelName" not in model and "EndpointConfigName" not in endpoint_config
    assert model["PrimaryContainer"] == {"ModelPackageName": EXAMPLE_RELEASE_ARN}
    assert endpoint_config["ProductionVariants"][0]["VariantName"] == NAMES.variant
    assert endpoint(template)["EndpointName"] == NAMES.endpoint(env)
    assert endpoint(template)["EndpointConfigName"]["Fn::GetAtt"][1] == "EndpointConfigName"


@pytest.mark.template
def test_a_new_release_changes_the_model_but_not_the_endpoint_or_variant(tmp_path: Path) -> None:
    def synth(version: int) -> dict[str, Any]:
        arn = EXAMPLE_RELEASE_ARN.rsplit("/", 1)[0] + f"/{version}"
        stage = stage_for(raw_config(), tmp_path, "dev", **{"release.dev": arn})
        return Template.from_stack(stage.serving).to_json()["Resources"]

    before, after = synth(3), synth(4)
    assert set(before) == set(after)  # same logical ids: CloudFormation updates, never deletes the endpoint
    changed = {k for k in before if before[k] != after[k]}
    kinds = {before[k]["Type"] for k in changed}
    assert "AWS::SageMaker::Model" in kinds
    endpoints = [k for k in before if before[k]["Type"] == "AWS::SageMaker::Endpoint"]
    assert [before[k]["Properties"]["EndpointName"] for k in endpoints] == [
        after[k]["Properties"]["EndpointName"] for k in endpoints
    ]


def statements(template: Any, role_fragment: str) -> list[dict[str, Any]]:
    found = []
    for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
        if role_fragment in logical_id:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def object_suffixes(statement: dict[str, Any]) -> list[str]:
    """The key pattern of each resource of a statement; "<bucket>" for the bucket ARN itself."""
    suffixes = []
    for resource in as_list(statement["Resource"]):
        if isinstance(resource, str):
            suffixes.append(resource)
        else:
            suffixes.append(resource["Fn::Join"][1][-1] if "Fn::Join" in resource else "<bucket>")
    return suffixes


def test_execution_role_reads_models_prefix_and_writes_only_its_capture_prefix(assembly: Assembly) -> None:
    found = statements(serving(assembly, "dev"), "EndpointExecutionRole")
    text = json.dumps(found)
    assert "FullAccess" not in text
    writes = [s for s in found if any(a.startswith("s3:Put") for a in as_list(s["Action"]))]
    assert writes and all(object_suffixes(s) == ["/data-capture/dev/*"] for s in writes)
    reads = [s for s in found if "s3:GetObject*" in as_list(s["Action"])]
    assert reads and all(set(object_suffixes(s)) == {"<bucket>", "/models/*"} for s in reads)
    described = [s for s in found if s["Action"] == "sagemaker:DescribeModelPackage"]
    assert [s["Resource"] for s in described] == [
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/*"
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_execution_role_pulls_only_the_registered_image_of_the_sagemaker_image_account(
    assembly: Assembly, env: str
) -> None:
    """The release was registered in eu-west-1 with the configured inference image (no image_uri recorded)."""
    found = statements(serving(assembly, env), "EndpointExecutionRole")
    pulls = [s for s in found if "ecr:BatchGetImage" in as_list(s["Action"])]
    inference = SETTINGS.model_build.model.images.inference
    checked_in = json.loads((ROOT / "pipeline_steps/definitions/framework_images.json").read_text())
    uri = checked_in[inference.framework][inference.version]["inference"]["eu-west-1"]
    # The SageMaker framework images of eu-west-1 live in the account 141502667606.
    assert uri.startswith("141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-")
    repository = uri.split("/", 1)[1].split(":")[0]
    assert [s["Resource"] for s in pulls] == [f"arn:aws:ecr:eu-west-1:141502667606:repository/{repository}"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_execution_role_may_describe_exactly_the_rollback_alarms(assembly: Assembly, env: str) -> None:
    """SageMaker's auto-rollback asks the execution role for cloudwatch:DescribeAlarms on its alarms."""
    template = serving(assembly, env)
    (described,) = statements(template, "EndpointReadRollbackAlarms")
    (policy,) = [p for i, p in template.find_resources("AWS::IAM::Policy").items() if "EndpointReadRollbackAlarms" in i]
    (role_id,) = [i for i in template.find_resources("AWS::IAM::Role") if i.startswith("EndpointExecutionRole")]
    assert [r["Ref"] for r in policy["Properties"]["Roles"]] == [role_id]
    assert described["Action"] == "cloudwatch:DescribeAlarms"
    deployment = endpoint(template)["DeploymentConfig"]
    rollback_names = {a["AlarmName"] for a in deployment["AutoRollbackConfiguration"]["Alarms"]}
    rollback_alarms = {
        logical_id
        for logical_id, alarm in template.find_resources("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("AlarmName") in rollback_names
    }
    assert len(rollback_alarms) == len(rollback_names)
    assert sorted(r["Fn::GetAtt"][0] for r in described["Resource"]) == sorted(rollback_alarms)
    assert all(r["Fn::GetAtt"][1] == "Arn" for r in described["Resource"])


def test_serving_in_another_account_reads_build_artifacts_scoped_by_account(assembly: Assembly) -> None:
    found = statements(serving(assembly, "prod"), "EndpointExecutionRole")
    foreign = next(s for s in found if s.get("Sid") == "ReadModelArtifactsOfBuildAccount")
    assert foreign["Resource"] == "arn:aws:s3:::*/models/*"
    assert foreign["Condition"] == {"StringEquals": {"s3:ResourceAccount": "222222222222"}}
    decrypt = next(s for s in found if s.get("Sid") == "DecryptModelArtifactsOfBuildAccount")
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    # In the build environment itself the local bucket grant is enough.
    assert not any(s.get("Sid") == "ReadModelArtifactsOfBuildAccount" for s in statements(serving(assembly, "dev"), ""))


def schedule_parameters(template: Any) -> dict[str, str]:
    (rule,) = [r for r in resources(template, "AWS::Events::Rule") if "ScheduleExpression" in r]
    (target,) = rule["Targets"]
    return {p["Name"]: p["Value"] for p in target["SageMakerPipelineParameters"]["PipelineParameterList"]}


def test_drift_check_runs_on_schedule_against_the_released_version(assembly: Assembly) -> None:
    template = serving(assembly, "staging")
    (pipeline,) = resources(template, "AWS::SageMaker::Pipeline")
    assert pipeline["PipelineName"] == NAMES.drift_check_pipeline("staging")
    (rule,) = [r for r in resources(template, "AWS::Events::Rule") if "ScheduleExpression" in r]
    assert rule["ScheduleExpression"] == SETTINGS.environment("staging").drift.schedule
    assert rule["Targets"][0]["Arn"].endswith(f":pipeline/{NAMES.drift_check_pipeline('staging')}")
    assert schedule_parameters(template) == {"ModelPackageArn": EXAMPLE_RELEASE_ARN, "InstanceCount": "1"}


@pytest.mark.template
def test_the_drift_check_shards_over_the_configured_or_sized_instance_count(tmp_path: Path) -> None:
    raw = raw_config()
    raw["environments"]["staging"]["drift"].update(expected_rows_per_hour=500_000_000, window_hours=2)
    (tmp_path / "staging.json").write_text(json.dumps({"model_package_arn": EXAMPLE_RELEASE_ARN}))
    template = Template.from_stack(stage_for(raw, tmp_path, "staging").serving)
    # 10^9 rows in the window, 1.8 * 10^8 rows per instance (config.DRIFT_ROWS_PER_INSTANCE).
    assert schedule_parameters(template)["InstanceCount"] == "6"
    (pipeline,) = resources(template, "AWS::SageMaker::Pipeline")
    body, _ = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    count, check = json.loads(body)["Steps"]
    resources_of = {s["Name"]: s["Arguments"]["ProcessingResources"]["ClusterConfig"] for s in (count, check)}
    assert resources_of == {
        "CountCapture": {**resources_of["CountCapture"], "InstanceCount": {"Get": "Parameters.InstanceCount"}},
        "CheckDrift": {**resources_of["CheckDrift"], "InstanceCount": 1},
    }
    (counts,) = [i for i in check["Arguments"]["ProcessingInputs"] if i["InputName"] == "counts"]
    assert counts["S3Input"]["S3Uri"] == {
        "Get": "Steps.CountCapture.ProcessingOutputConfig.Outputs['counts'].S3Output.S3Uri"
    }
    for step in (count, check):
        assert "--region=${AWS::Region}" in step["Arguments"]["AppSpecification"]["ContainerArguments"]


@pytest.mark.template
def test_release_file_baseline_is_passed_to_the_drift_check(tmp_path: Path) -> None:
    (tmp_path / "staging.json").write_text(
        json.dumps({"model_package_arn": EXAMPLE_RELEASE_ARN, "baseline_statistics_uri": BASELINE_URI})
    )
    stage = stage_for(raw_config(), tmp_path, "staging")
    assert schedule_parameters(Template.from_stack(stage.serving)) == {
        "ModelPackageArn": EXAMPLE_RELEASE_ARN,
        "InstanceCount": "1",
        "BaselineStatisticsUri": BASELINE_URI,
    }


def test_drift_definition_fills_every_placeholder(assembly: Assembly) -> None:
    (pipeline,) = resources(serving(assembly, "dev"), "AWS::SageMaker::Pipeline")
    body, variables = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    used = set(re.findall(r"\$\{([A-Za-z]+)\}", body))
    assert used == set(variables), "an unfilled ${...} would reach SageMaker verbatim"
    definition = json.loads(body)
    assert [p["Name"] for p in definition["Parameters"]] == [
        "ModelPackageArn",
        "BaselineStatisticsUri",
        "WindowHours",
        "EndTime",
        "InstanceCount",
    ]
    for step in definition["Steps"]:
        entrypoint = step["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
        assert entrypoint[1].startswith("/opt/ml/processing/input/code/")


def test_drift_alarm_watches_the_metric_the_drift_check_publishes(assembly: Assembly) -> None:
    (alarm,) = [
        a
        for a in resources(serving(assembly, "prod"), "AWS::CloudWatch::Alarm")
        if a["AlarmName"].startswith(NAMES.drift_alarm_prefix("prod"))
    ]
    (metric,) = alarm_metrics(alarm)
    assert alarm["Threshold"] == 0, "any drifted feature"
    report = drift_check.DriftReport(
        endpoint_name=NAMES.endpoint("prod"),
        window_start="",
        window_end="",
        baseline_uri="",
        threshold=0.2,
        captured_records=100,
        rejected_records=0,
        status="drift",
        max_psi=0.5,
        features=[drift_check.FeatureDrift(FEATURES[0], 0.5, True, 100, 0, checked=True)],
        drifted_features=[FEATURES[0]],
    )
    from datetime import UTC, datetime

    published = drift_check.metric_data(report, datetime(2026, 1, 1, tzinfo=UTC))
    watched = [
        d for d in published if d["MetricName"] == metric["MetricName"] and d["Dimensions"] == metric["Dimensions"]
    ]
    assert metric["Namespace"] == NAMES.drift_metric_namespace
    assert [d["Value"] for d in watched] == [1], "the alarm must watch a metric the drift check really writes"


def test_drift_alarm_events_reach_the_model_build_bus_from_other_accounts_only(assembly: Assembly) -> None:
    (rule,) = [r for r in resources(serving(assembly, "prod"), "AWS::Events::Rule") if "EventPattern" in r]
    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": [{"prefix": NAMES.drift_alarm_prefix("prod")}]},
    }
    assert rule["Targets"][0]["Arn"] == "arn:aws:events:eu-west-1:222222222222:event-bus/default"
    assert not [r for r in resources(serving(assembly, "dev"), "AWS::Events::Rule") if "EventPattern" in r]


def test_drift_role_publishes_only_to_the_drift_namespaces(assembly: Assembly) -> None:
    found = statements(serving(assembly, "dev"), "DriftMonitorRole")
    (publish,) = [s for s in found if s["Action"] == "cloudwatch:PutMetricData"]
    assert NAMES.drift_metric_namespace in publish["Condition"]["StringEquals"]["cloudwatch:namespace"]
    reports = [s for s in found if "s3:PutObject" in as_list(s["Action"])]
    assert reports and all(object_suffixes(s) == ["/drift-reports/dev/*"] for s in reports)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_dashboard_shows_traffic_errors_latency_drift_and_the_alarms(assembly: Assembly, env: str) -> None:
    template = serving(assembly, env)
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    for needle in ("Invocations", "Invocation5XXErrors", "ModelLatency", "PSI", NAMES.endpoint(env)):
        assert needle in body
    for alarm in template.find_resources("AWS::CloudWatch::Alarm"):
        assert alarm in body, f"alarm {alarm} missing from the dashboard"


CHECK_ROLE_ARN = f"arn:aws:iam::111111111111:role/{NAMES.deploy_check_role('staging')}"


def test_deploy_verifier_role_is_trusted_by_the_pipelines_check_role_only_and_scoped(assembly: Assembly) -> None:
    template = serving(assembly, "staging")
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": NAMES.deploy_verifier_role("staging"),
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        # Not every principal of the toolchain account: the staging checks' CodeBuild role.
                        "Condition": {"ArnEquals": {"aws:PrincipalArn": CHECK_ROLE_ARN}},
                    }
                ]
            },
        },
    )
    found = {s["Sid"]: s for s in statements(template, "DeployVerifier")}
    assert (
        found["VerifyEndpoint"]["Resource"]
        == "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/mlops-delivery-staging"
    )
    assert set(found["KnownGoodLedger"]["Action"]) == {
        "ssm:GetParameter",
        "ssm:PutParameter",
        "ssm:GetParameterHistory",
    }
    assert found["KnownGoodLedger"]["Resource"] == (
        "arn:aws:ssm:eu-west-1:333333333333:parameter/mlops-delivery/staging/known-good"
    )
    assert found["ReadRegisteredVersions"]["Resource"].endswith(":model-package/mlops-delivery/*")


def test_the_deploy_verifier_reads_the_sample_payloads_and_nothing_else_of_the_build_bucket(assembly: Assembly) -> None:
    """The smoke test's rows: in the model-build account's bucket, only the Preprocess step's sample output."""
    dev = {s.get("Sid"): s for s in statements(serving(assembly, "dev"), "DeployVerifier")}
    assert dev["ReadSamplePayloads"]["Action"] == "s3:GetObject"
    assert object_suffixes(dev["ReadSamplePayloads"]) == [f"/{contracts.SAMPLE_PAYLOADS_PATTERN}"]
    staging = {s["Sid"]: s for s in statements(serving(assembly, "staging"), "DeployVerifier")}
    cross = staging["ReadSamplePayloadOfBuildAccount"]
    assert cross["Action"] == "s3:GetObject"
    assert cross["Resource"] == f"arn:aws:s3:::*/{contracts.SAMPLE_PAYLOADS_PATTERN}"
    assert cross["Condition"] == {"StringEquals": {"s3:ResourceAccount": "222222222222"}}
    assert staging["DecryptSamplePayloadOfBuildAccount"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }


@pytest.mark.template
@pytest.mark.parametrize(
    ("role", "what", "pattern"),
    [
        ("DeployVerifier", "SamplePayload", contracts.SAMPLE_PAYLOADS_PATTERN),
        ("DriftMonitorRole", "Baseline", contracts.REGISTERED_BASELINES_PATTERN),
    ],
    ids=["smoke-test-payloads", "drift-baselines"],
)
def test_a_serving_environment_sharing_the_build_account_reads_what_the_build_registers_in_its_bucket(
    tmp_path: Path, role: str, what: str, pattern: str
) -> None:
    """One account for every environment: staging's own bucket holds no sample payload or baseline, the
    build environment's does (the versions' SamplePayloadUrl and drift-check baselines point there)."""
    raw = raw_config()
    build_account = raw["environments"][raw["model_build"]["environment"]]["account"]
    for settings in raw["environments"].values():
        settings["account"] = build_account
    stage = stage_for(raw, tmp_path, "staging", **{"release.staging": EXAMPLE_RELEASE_ARN})
    granted = statements(Template.from_stack(stage.serving), role)
    found = {s.get("Sid"): s for s in granted}
    reads = found[f"Read{what}OfBuildAccount"]
    assert [s for s in granted if pattern in json.dumps(s["Resource"])] == [reads], "no read of staging's own bucket"
    assert reads["Resource"] == f"arn:aws:s3:::*/{pattern}"
    assert reads["Condition"] == {"StringEquals": {"s3:ResourceAccount": build_account}}
    assert found[f"Decrypt{what}OfBuildAccount"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }


@pytest.mark.template
def test_synth_without_a_release_skips_serving_with_one_notice_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aws_cdk.assertions import Annotations

    stages = [stage_for(raw_config(), tmp_path, env) for env in ENVIRONMENTS]
    assert all(stage.serving is None for stage in stages)
    # Synth prints nothing itself (the CDK CLI shows the annotations); CDK reports each bundled
    # asset (the start-retraining function's) on a line of its own.
    printed = [line for line in capsys.readouterr().err.splitlines() if line and not line.startswith("Bundling asset ")]
    assert not printed
    for env, stage in zip(ENVIRONMENTS, stages, strict=True):
        (notice,) = Annotations.from_stack(stage.storage).find_info("*", Match.any_value())
        assert f"mlops-delivery-{env}-serving: skipped, no release for {env}" in notice.entry.data
        assert f"-c release.{env}=" in notice.entry.data


@pytest.mark.template
def test_model_monitor_option_feeds_the_same_drift_alarm_prefix(tmp_path: Path) -> None:
    raw = raw_config()
    raw["environments"]["prod"]["drift"].update(
        use_model_monitor=True, model_monitor_features=[FEATURES[0], FEATURES[-1]]
    )
    (tmp_path / "prod.json").write_text(
        json.dumps(
            {
                "model_package_arn": EXAMPLE_RELEASE_ARN,
                "baseline_statistics_uri": BASELINE_URI,
                "baseline_constraints_uri": CONSTRAINTS_URI,
            }
        )
    )
    template = Template.from_stack(stage_for(raw, tmp_path, "prod").serving)
    template.resource_count_is("AWS::SageMaker::Pipeline", 0)
    (schedule,) = resources(template, "AWS::SageMaker::MonitoringSchedule")
    assert schedule["MonitoringScheduleName"] == NAMES.drift_check_pipeline("prod")
    assert schedule["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    (job,) = resources(template, "AWS::SageMaker::DataQualityJobDefinition")
    baseline = job["DataQualityBaselineConfig"]
    assert baseline["StatisticsResource"]["S3Uri"] == BASELINE_URI
    assert baseline["ConstraintsResource"]["S3Uri"] == CONSTRAINTS_URI
    (alarm,) = [
        a
        for a in resources(template, "AWS::CloudWatch::Alarm")
        if a["AlarmName"].startswith(NAMES.drift_alarm_prefix("prod"))
    ]
    metrics = alarm_metrics(alarm)
    assert {m["MetricName"] for m in metrics} == {
        f"feature_baseline_drift_{FEATURES[0]}",
        f"feature_baseline_drift_{FEATURES[-1]}",
    }
    for metric in metrics:
        assert metric["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
        assert dimensions(metric) == {
            "Endpoint": NAMES.endpoint("prod"),
            "MonitoringSchedule": NAMES.drift_check_pipeline("prod"),
        }


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_checked_in_drift_check_definition_is_current() -> None:
    """`python -m pipeline_steps.drift_check_pipeline --check`, in this process: it shares the worker's SDK
    import and the run's botocore loader (tests/conftest.py)."""
    from pipeline_steps import drift_check_pipeline

    # The offline SDK session sets region variables; the other tests expect conftest's.
    with mock.patch.dict(os.environ):
        assert drift_check_pipeline.main(["--check"]) == 0
