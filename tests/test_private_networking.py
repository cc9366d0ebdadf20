"""VPC, private networking and network isolation: from config to every job, the model and the roles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

import config
from constructs.monitoring import model_monitor_schedule
from constructs.network import job_network
from constructs.network.private_endpoints import INTERFACE_SERVICES
from constructs.training.model_build_pipeline import DEFINITION_FILE as BUILD_DEFINITION
from tests.aws_contract import check, check_request
from tests.conftest import EXAMPLE_RELEASE_ARN, Assembly, cdk_json_context, configured_features, raw_config
from tests.support import DEPLOY_POLICIES, DEV_VPC, ISOLATED, ROUTE_TABLES, STAGING_VPC, as_list, vpc_config

FEATURES = configured_features()


@pytest.fixture
def vpc_assembly(variant_assembly: Assembly) -> Assembly:
    """The whole app with cdk-nag and the Control Tower rules, dev and staging in VPCs (prod runs a shadow test)."""
    return variant_assembly


def resources(template: Template, kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources(kind).values()]


def pipeline_definition(template: Template) -> dict[str, Any]:
    (pipeline,) = resources(template, "AWS::SageMaker::Pipeline")
    text, _ = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return dict(json.loads(text))


def job_steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Job steps by name, those inside the quality gate's branches included."""
    steps: dict[str, dict[str, Any]] = {}
    for step in definition["Steps"]:
        if step["Type"] == "Condition":
            steps.update(job_steps({"Steps": step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]}))
        elif step["Type"] in ("Processing", "Training"):
            steps[step["Name"]] = step
    return steps


def sagemaker_vpc(settings: dict[str, Any]) -> dict[str, list[str]]:
    return {"SecurityGroupIds": settings["security_group_ids"], "Subnets": settings["subnet_ids"]}


def policy_statements(template: Template, role_description_start: str) -> list[dict[str, Any]]:
    roles = {
        logical_id
        for logical_id, role in template.find_resources("AWS::IAM::Role").items()
        if role["Properties"].get("Description", "").startswith(role_description_start)
    }
    assert len(roles) == 1, roles
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy")
        if {"Ref": next(iter(roles))} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def ec2_statements(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Statements that allow an EC2 action, by Sid."""
    return {
        statement["Sid"]: statement
        for statement in statements
        if any(action.startswith("ec2:") for action in as_list(statement["Action"]))
    }


def in_region(value: Any) -> str:
    """A template string with the stack's region filled in, as CloudFormation resolves it."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return str(separator).join("eu-west-1" if part == {"Ref": "AWS::Region"} else part for part in parts)


def ec2_arn(resource: str) -> str:
    return f"arn:aws:ec2:eu-west-1:222222222222:{resource}"


# --- config ----------------------------------------------------------------------------------


def load_with(env: str, network: dict[str, Any]) -> config.AppConfig:
    raw = raw_config()
    raw["environments"][env]["network"] = network
    return config.load({config.CONTEXT_KEY: raw})


def test_without_network_settings_nothing_changes() -> None:
    for env in config.load_cdk_json().environments:
        assert env.network == config.NetworkConfig()
        assert env.network.vpc is None and env.network.endpoint_isolation and not env.network.isolated_steps


def test_network_settings_are_read_per_environment() -> None:
    settings = config.load({config.CONTEXT_KEY: vpc_config()})
    dev, staging = settings.environment("dev").network, settings.environment("staging").network
    assert dev.vpc and dev.vpc.sagemaker_vpc_config == sagemaker_vpc(DEV_VPC)
    assert dev.vpc.endpoint_subnet_ids == tuple(DEV_VPC["subnet_ids"])
    assert dev.private_networking and dev.route_table_ids == tuple(ROUTE_TABLES)
    assert set(dev.isolated_steps) == ISOLATED and dev.endpoint_isolation
    assert staging.vpc and staging.vpc.vpc_id == STAGING_VPC["vpc_id"] and not staging.private_networking
    assert not staging.endpoint_isolation
    assert settings.environment("prod").network == config.NetworkConfig()


@pytest.mark.parametrize(
    ("env", "network", "key", "allowed"),
    [
        ("dev", {"vpc_id": "vpc-0123456789abcdef0"}, "dev.network.subnet_ids", "vpc_id, subnet_ids and"),
        ("dev", {**DEV_VPC, "vpc_id": "vpc-123"}, "dev.network.vpc_id", "a VPC ID"),
        ("dev", {**DEV_VPC, "subnet_ids": ["subnet-x"]}, "dev.network.subnet_ids", "1 to 16 distinct subnet"),
        ("dev", {**DEV_VPC, "subnet_ids": ["subnet-1234abcd"]}, "dev.network.subnet_ids", "2 to 16 distinct subnet"),
        ("dev", {**DEV_VPC, "private_networking": True, "vpc_endpoints": ["sts"]}, "vpc_endpoints", "s3 | sagemaker"),
        (
            "dev",
            {**DEV_VPC, "private_networking": True, "route_table_ids": ["rtb-1234abcd"], "vpc_endpoints": ["kms"] * 2},
            "dev.network.vpc_endpoints",
            "distinct names",
        ),
        ("dev", {**DEV_VPC, "endpoint_client_cidrs": ["10.0.0.0/16"]}, "endpoint_client_cidrs", "private_networking"),
        (
            "dev",
            {
                **DEV_VPC,
                "private_networking": True,
                "vpc_endpoints": ["logs"],
                "endpoint_client_cidrs": ["10.0.0.0/33"],
            },
            "dev.network.endpoint_client_cidrs",
            "IPv4 CIDR",
        ),
        ("dev", {**DEV_VPC, "subnet_ids": [f"subnet-{i:08x}" for i in range(17)]}, "subnet_ids", "1 to 16"),
        ("dev", {**DEV_VPC, "subnet_ids": ["subnet-1234abcd"] * 2}, "subnet_ids", "distinct"),
        ("dev", {**DEV_VPC, "security_group_ids": [f"sg-{i:08x}" for i in range(6)]}, "security_group_ids", "1 to 5"),
        ("dev", {**DEV_VPC, "security_group_ids": "sg-1234abcd"}, "security_group_ids", "1 to 5"),
        ("dev", {"private_networking": True}, "dev.network.private_networking", "false unless vpc_id"),
        ("dev", {**DEV_VPC, "private_networking": True}, "dev.network.route_table_ids", "route table"),
        ("dev", {"endpoint_subnet_ids": ["subnet-1234abcd"]}, "endpoint_subnet_ids", "only with vpc_id"),
        ("dev", {"network_isolation": {"evaluate": True}}, "network_isolation.evaluate", "champion model"),
        ("dev", {"network_isolation": {"drift_check": True}}, "network_isolation.drift_check", "allowed:"),
        ("dev", {"network_isolation": {"train": True}}, "network_isolation.train", "source directory"),
        ("prod", {"network_isolation": {"baseline": True}}, "prod.network.network_isolation.baseline", "model-build"),
        ("dev", {"vpc": "vpc-1234abcd"}, "dev.network.vpc", "did you mean 'vpc_id'"),
    ],
)
def test_bad_network_settings_fail_with_one_line_naming_the_key(
    env: str, network: dict[str, Any], key: str, allowed: str
) -> None:
    with pytest.raises(config.ConfigError) as error:
        load_with(env, network)
    message = str(error.value)
    assert "\n" not in message
    assert key in message and allowed in message, message


def test_the_limits_config_accepts_are_sagemakers() -> None:
    """16 subnets and 5 security groups pass config and SageMaker's VpcConfig contract."""
    network = {
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": [f"subnet-{i:017x}" for i in range(config.MAX_SUBNETS)],
        "security_group_ids": [f"sg-{i:017x}" for i in range(config.MAX_SECURITY_GROUPS)],
    }
    vpc = load_with("dev", network).environment("dev").network.vpc
    assert vpc is not None
    for operation, path in (
        ("CreateTrainingJob", "VpcConfig"),
        ("CreateModel", "VpcConfig"),
        ("CreateProcessingJob", "NetworkConfig.VpcConfig"),
        ("CreateDataQualityJobDefinition", "NetworkConfig.VpcConfig"),
    ):
        for member in ("Subnets", "SecurityGroupIds"):
            check("sagemaker", operation, f"{path}.{member}", vpc.sagemaker_vpc_config[member])
            for item in vpc.sagemaker_vpc_config[member]:
                check("sagemaker", operation, f"{path}.{member}[]", item)
    one_more = {**network, "subnet_ids": [*network["subnet_ids"], "subnet-1234abcd"]}
    with pytest.raises(config.ConfigError):
        load_with("dev", one_more)


def test_the_isolation_keys_are_the_job_steps_of_the_checked_in_definition() -> None:
    names = job_network.job_step_names(BUILD_DEFINITION.read_text())
    assert sorted(name.lower() for name in names) == sorted(config.MODEL_BUILD_JOB_STEPS)


def test_isolating_a_step_the_definition_lacks_fails() -> None:
    with pytest.raises(ValueError, match="No processing or training step named \\['tune'\\]"):
        job_network.with_network(BUILD_DEFINITION.read_text(), None, ["Tune"])


def with_step(step: dict[str, Any]) -> str:
    definition = json.loads(BUILD_DEFINITION.read_text())
    definition["Steps"].append(step)
    return json.dumps(definition)


@pytest.mark.parametrize("step_type", ["Transform", "Tuning", "QualityCheck", "Model", "EMR"])
def test_a_job_step_type_it_does_not_know_fails_instead_of_escaping_the_vpc(step_type: str) -> None:
    vpc = load_with("dev", DEV_VPC).environment("dev").network.vpc
    text = with_step({"Name": "Later", "Type": step_type, "Arguments": {}})
    with pytest.raises(ValueError, match=f"'Later' has type '{step_type}'"):
        job_network.with_network(text, vpc, ())


def test_existing_network_settings_of_a_processing_step_are_kept() -> None:
    vpc = load_with("dev", DEV_VPC).environment("dev").network.vpc
    assert vpc is not None
    text = with_step(
        {
            "Name": "Encrypted",
            "Type": "Processing",
            "Arguments": {"NetworkConfig": {"EnableInterContainerTrafficEncryption": True}},
        }
    )
    steps = job_steps(json.loads(job_network.with_network(text, vpc, ())))
    assert steps["Encrypted"]["Arguments"]["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": False,
        "VpcConfig": vpc.sagemaker_vpc_config,
    }


def test_no_network_settings_leave_the_definition_text_as_generated() -> None:
    text = BUILD_DEFINITION.read_text()
    assert job_network.with_network(text, None, ()) is text


# --- the synthesized app with VPCs ------------------------------------------------------------


@pytest.mark.template
def test_every_model_build_job_runs_in_the_vpc_isolated_as_configured(vpc_assembly: Assembly) -> None:
    steps = job_steps(pipeline_definition(vpc_assembly.template("mlops-delivery-dev-model-build")))
    assert {name.lower() for name in steps} == set(config.MODEL_BUILD_JOB_STEPS)
    for name, step in steps.items():
        arguments = step["Arguments"]
        isolated = name.lower() in ISOLATED
        if step["Type"] == "Processing":
            network = {"NetworkConfig": {"EnableNetworkIsolation": isolated, "VpcConfig": sagemaker_vpc(DEV_VPC)}}
            assert arguments["NetworkConfig"] == network["NetworkConfig"], name
            check_request("sagemaker", "CreateProcessingJob", network)
        else:
            network = {"VpcConfig": sagemaker_vpc(DEV_VPC), "EnableNetworkIsolation": isolated}
            assert {k: arguments[k] for k in network} == network, name
            check_request("sagemaker", "CreateTrainingJob", network)
    assert not steps["Evaluate"]["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"]


@pytest.mark.template
def test_drift_check_runs_in_the_vpc_without_isolation(vpc_assembly: Assembly) -> None:
    for env, vpc in (("dev", DEV_VPC), ("staging", STAGING_VPC)):
        steps = job_steps(pipeline_definition(vpc_assembly.template(f"mlops-delivery-{env}-serving")))
        assert steps, env
        for step in steps.values():
            network = step["Arguments"]["NetworkConfig"]
            assert network == {"EnableNetworkIsolation": False, "VpcConfig": sagemaker_vpc(vpc)}
            check_request("sagemaker", "CreateProcessingJob", {"NetworkConfig": network})


@pytest.mark.template
def test_the_model_runs_in_the_vpc_with_the_configured_isolation(vpc_assembly: Assembly) -> None:
    for env, vpc, isolated in (("dev", DEV_VPC, True), ("staging", STAGING_VPC, False)):
        (model,) = resources(vpc_assembly.template(f"mlops-delivery-{env}-serving"), "AWS::SageMaker::Model")
        assert model["VpcConfig"] == sagemaker_vpc(vpc)
        assert model["EnableNetworkIsolation"] is isolated
        check_request("sagemaker", "CreateModel", {"VpcConfig": model["VpcConfig"]})


@pytest.mark.template
def test_private_networking_creates_the_endpoints_only_where_asked(vpc_assembly: Assembly) -> None:
    assert [name for name in vpc_assembly.templates if name.endswith("-network")] == ["mlops-delivery-dev-network"]
    template = vpc_assembly.template("mlops-delivery-dev-network")
    endpoints = resources(template, "AWS::EC2::VPCEndpoint")
    (gateway,) = [e for e in endpoints if e["VpcEndpointType"] == "Gateway"]
    assert in_region(gateway["ServiceName"]) == "com.amazonaws.eu-west-1.s3"
    assert gateway["RouteTableIds"] == ROUTE_TABLES and gateway["VpcId"] == DEV_VPC["vpc_id"]
    interfaces = [e for e in endpoints if e["VpcEndpointType"] == "Interface"]
    assert sorted(in_region(e["ServiceName"]) for e in interfaces) == sorted(
        f"com.amazonaws.eu-west-1.{service}"
        for service in ("sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", "logs", "monitoring", "kms")
    )
    assert len(interfaces) == len(INTERFACE_SERVICES) == len(config.VPC_ENDPOINT_SERVICES) - 1
    (group_id,) = template.find_resources("AWS::EC2::SecurityGroup")
    (group,) = resources(template, "AWS::EC2::SecurityGroup")
    for endpoint in interfaces:
        assert endpoint["PrivateDnsEnabled"] is True
        assert endpoint["SubnetIds"] == DEV_VPC["subnet_ids"] and endpoint["VpcId"] == DEV_VPC["vpc_id"]
        assert endpoint["SecurityGroupIds"] == [{"Fn::GetAtt": [group_id, "GroupId"]}]
    assert group["VpcId"] == DEV_VPC["vpc_id"]
    assert [
        (r["IpProtocol"], r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in group["SecurityGroupIngress"]
    ] == [("tcp", 443, 443, group) for group in DEV_VPC["security_group_ids"]]
    # No way out: CDK's rule that matches no traffic replaces EC2's default allow-all egress.
    (egress,) = group["SecurityGroupEgress"]
    assert egress["CidrIp"] == "255.255.255.255/32"


def test_one_subnet_is_refused_with_the_hosting_rule() -> None:
    with pytest.raises(config.ConfigError) as error:
        load_with("dev", {**DEV_VPC, "subnet_ids": ["subnet-1234abcd"]})
    assert "different Availability Zones" in str(error.value)


def test_without_the_s3_gateway_no_route_tables_are_needed() -> None:
    network = load_with("dev", {**DEV_VPC, "private_networking": True, "vpc_endpoints": ["sagemaker.api"]})
    assert network.environment("dev").network.vpc_endpoints == ("sagemaker.api",)


def test_two_environments_cannot_create_the_same_endpoints_in_one_vpc() -> None:
    raw = raw_config()
    private = {**DEV_VPC, "private_networking": True, "route_table_ids": ROUTE_TABLES}
    raw["environments"]["dev"]["network"] = private
    raw["environments"]["staging"]["network"] = {**private, "vpc_endpoints": ["s3", "kms"]}
    with pytest.raises(config.ConfigError) as error:
        config.load({config.CONTEXT_KEY: raw})
    assert "environments.staging.network.vpc_endpoints" in str(error.value)
    assert "none of ['kms', 's3']: environment 'dev'" in str(error.value)
    raw["environments"]["staging"]["network"] = {**private, "vpc_endpoints": []}
    raw["environments"]["dev"]["network"]["vpc_endpoints"] = list(config.VPC_ENDPOINT_SERVICES)
    assert config.load({config.CONTEXT_KEY: raw}).environment("staging").network.vpc_endpoints == ()


@pytest.mark.template
def test_teams_choose_the_endpoints_and_who_may_use_them() -> None:
    """A shared VPC: only some endpoints (others exist already), and its other workloads admitted."""
    import aws_cdk as cdk

    from stacks.network_stack import NetworkStack

    network = (
        load_with(
            "dev",
            {
                **DEV_VPC,
                "private_networking": True,
                "vpc_endpoints": ["sagemaker.api", "monitoring"],
                "endpoint_client_cidrs": ["10.0.0.0/16", "192.168.1.0/24"],
            },
        )
        .environment("dev")
        .network
    )
    template = Template.from_stack(NetworkStack(cdk.App(), "Network", network=network))
    endpoints = resources(template, "AWS::EC2::VPCEndpoint")
    assert sorted(in_region(e["ServiceName"]) for e in endpoints) == [
        "com.amazonaws.eu-west-1.monitoring",
        "com.amazonaws.eu-west-1.sagemaker.api",
    ]
    assert {e["VpcEndpointType"] for e in endpoints} == {"Interface"}
    (group,) = resources(template, "AWS::EC2::SecurityGroup")
    assert [
        (r.get("SourceSecurityGroupId"), r.get("CidrIp"), r["FromPort"]) for r in group["SecurityGroupIngress"]
    ] == [
        *((sg, None, 443) for sg in DEV_VPC["security_group_ids"]),
        (None, "10.0.0.0/16", 443),
        (None, "192.168.1.0/24", 443),
    ]


@pytest.mark.template
def test_jobs_and_endpoint_deploy_after_the_endpoints() -> None:
    import aws_cdk as cdk

    from stacks.environment_stage import EnvironmentStage

    settings = config.load({config.CONTEXT_KEY: vpc_config(), "release.dev": EXAMPLE_RELEASE_ARN})
    flags = {k: v for k, v in cdk_json_context().items() if k.startswith("@aws-cdk")}
    stage = EnvironmentStage(
        cdk.App(context=flags), "Dev", app_config=settings, environment=settings.environment("dev")
    )
    assert stage.network and stage.model_build and stage.serving
    assert stage.network in stage.model_build.dependencies
    assert stage.network in stage.serving.dependencies


PROCESSING_ROLES = [
    ("mlops-delivery-dev-model-build", "Runs the mlops-delivery-model-build pipeline"),
    ("mlops-delivery-dev-serving", "mlops-delivery-dev: runs the drift check"),
]
ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
]


@pytest.mark.template
@pytest.mark.parametrize(("stack", "role"), PROCESSING_ROLES)
def test_roles_that_run_processing_jobs_get_unscoped_network_interface_permissions(
    vpc_assembly: Assembly, stack: str, role: str
) -> None:
    """SageMaker's processing-job validation fails on any resource or condition scoping (sagemaker-roles.md)."""
    statements = ec2_statements(policy_statements(vpc_assembly.template(stack), role))
    assert set(statements) == {"ManageJobNetworkInterfaces", "DescribeVpcNetwork"}
    manage = statements["ManageJobNetworkInterfaces"]
    assert sorted(manage["Action"]) == ENI_ACTIONS
    assert manage["Resource"] == "*" and "Condition" not in manage
    assert sorted(statements["DescribeVpcNetwork"]["Action"]) == [
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
    ]


@pytest.mark.template
def test_the_endpoint_role_creates_network_interfaces_only_in_the_configured_vpc(vpc_assembly: Assembly) -> None:
    template = vpc_assembly.template("mlops-delivery-dev-serving")
    statements = ec2_statements(policy_statements(template, "mlops-delivery-dev: pulls the released model"))
    assert set(statements) == {
        "AttachToConfiguredSubnetsAndGroups",
        "ManageNetworkInterfacesInVpc",
        "DescribeVpcNetwork",
    }
    attach = statements["AttachToConfiguredSubnetsAndGroups"]
    assert attach["Action"] == "ec2:CreateNetworkInterface"
    assert sorted(attach["Resource"]) == sorted(
        [
            *(ec2_arn(f"subnet/{subnet}") for subnet in DEV_VPC["subnet_ids"]),
            *(ec2_arn(f"security-group/{group}") for group in DEV_VPC["security_group_ids"]),
        ]
    )
    manage = statements["ManageNetworkInterfacesInVpc"]
    assert sorted(manage["Action"]) == ENI_ACTIONS
    assert manage["Resource"] == ec2_arn("network-interface/*")
    assert manage["Condition"] == {"ArnEquals": {"ec2:Vpc": ec2_arn(f"vpc/{DEV_VPC['vpc_id']}")}}
    describe = statements["DescribeVpcNetwork"]
    assert describe["Resource"] == "*"
    # host-vpc.md lists it for models in a VPC.
    assert "ec2:DescribeVpcEndpoints" in describe["Action"]
    assert all(action.startswith("ec2:Describe") for action in describe["Action"])


def create_job_statements(template: Template, role: str) -> dict[str, dict[str, Any]]:
    """Statements that allow sagemaker:Create*Job, by action; there must be exactly one per action."""
    found: dict[str, dict[str, Any]] = {}
    for statement in policy_statements(template, role):
        for action in as_list(statement["Action"]):
            if action.startswith("sagemaker:Create") and action.endswith("Job"):
                assert action not in found, action
                found[action] = statement
    return found


def vpc_conditions(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "ForAllValues:StringEquals": {
            "sagemaker:VpcSubnets": settings["subnet_ids"],
            "sagemaker:VpcSecurityGroupIds": settings["security_group_ids"],
        },
        "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
    }


@pytest.mark.template
def test_the_pipeline_role_creates_jobs_only_in_the_vpc(vpc_assembly: Assembly) -> None:
    creates = create_job_statements(
        vpc_assembly.template("mlops-delivery-dev-model-build"), "Runs the mlops-delivery-model-build pipeline"
    )
    assert set(creates) == {"sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"}
    # Evaluate and Train can't be isolated (they reach S3 themselves), so neither job type requires it.
    assert creates["sagemaker:CreateProcessingJob"]["Condition"] == vpc_conditions(DEV_VPC)
    assert creates["sagemaker:CreateTrainingJob"]["Condition"] == vpc_conditions(DEV_VPC)


@pytest.mark.template
def test_the_drift_role_creates_jobs_only_in_the_vpc(vpc_assembly: Assembly) -> None:
    creates = create_job_statements(
        vpc_assembly.template("mlops-delivery-staging-serving"), "mlops-delivery-staging: runs the drift check"
    )
    assert list(creates) == ["sagemaker:CreateProcessingJob"]
    assert creates["sagemaker:CreateProcessingJob"]["Condition"] == vpc_conditions(STAGING_VPC)


def test_without_a_vpc_job_creation_has_no_network_conditions(assembly: Assembly) -> None:
    creates = create_job_statements(
        assembly.template("mlops-delivery-dev-model-build"), "Runs the mlops-delivery-model-build pipeline"
    )
    assert all("Condition" not in statement for statement in creates.values())


# --- the shipped config (no VPC): as before -----------------------------------------------------


def test_without_a_vpc_nothing_of_it_reaches_the_templates(assembly: Assembly) -> None:
    assert not [name for name in assembly.templates if name.endswith("-network")]
    build = assembly.template("mlops-delivery-dev-model-build")
    (pipeline,) = resources(build, "AWS::SageMaker::Pipeline")
    assert pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0] == BUILD_DEFINITION.read_text()
    for env in ("dev", "staging", "prod"):
        serving = assembly.template(f"mlops-delivery-{env}-serving")
        (model,) = resources(serving, "AWS::SageMaker::Model")
        assert model["EnableNetworkIsolation"] is True and "VpcConfig" not in model
        assert all(
            "NetworkConfig" not in step["Arguments"] for step in job_steps(pipeline_definition(serving)).values()
        )
    for name in assembly.templates:
        template = assembly.template(name)
        assert not template.find_resources("AWS::EC2::VPCEndpoint"), name
        for policy in resources(template, "AWS::IAM::Policy"):
            assert "ec2:CreateNetworkInterface" not in json.dumps(policy), name


@pytest.mark.template
def test_model_monitor_jobs_run_in_the_vpc_without_isolation(tmp_path: Path) -> None:
    import aws_cdk as cdk

    from stacks.environment_stage import EnvironmentStage

    raw = vpc_config()
    raw["environments"]["staging"]["drift"].update(use_model_monitor=True, model_monitor_features=[FEATURES[0]])
    baseline = "s3://build-artifacts/pipelines/model-build/exec-1/baseline"
    (tmp_path / "staging.json").write_text(
        json.dumps(
            {
                "model_package_arn": EXAMPLE_RELEASE_ARN,
                "baseline_statistics_uri": f"{baseline}/statistics.json",
                "baseline_constraints_uri": f"{baseline}/constraints.json",
            }
        )
    )
    settings = config.load({config.CONTEXT_KEY: raw}, releases_dir=tmp_path)
    flags = {k: v for k, v in cdk_json_context().items() if k.startswith("@aws-cdk")}
    stage = EnvironmentStage(
        cdk.App(context=flags), "Staging", app_config=settings, environment=settings.environment("staging")
    )
    assert stage.serving is not None
    (job,) = resources(Template.from_stack(stage.serving), "AWS::SageMaker::DataQualityJobDefinition")
    assert job["NetworkConfig"] == {"EnableNetworkIsolation": False, "VpcConfig": sagemaker_vpc(STAGING_VPC)}
    check_request("sagemaker", "CreateDataQualityJobDefinition", {"NetworkConfig": job["NetworkConfig"]})
    staging = settings.environment("staging")
    assert staging.release is not None
    assert job["JobDefinitionName"] == model_monitor_schedule.job_definition_name(
        "mlops-delivery-staging", staging.release.version, staging.network.vpc
    )


def test_a_network_change_renames_the_model_monitor_job_definition() -> None:
    """Its NetworkConfig is create-only and its name custom: a changed network needs a new name."""
    vpc = load_with("dev", DEV_VPC).environment("dev").network.vpc
    other_subnets = load_with("dev", {**DEV_VPC, "subnet_ids": DEV_VPC["subnet_ids"][::-1]}).environment("dev")
    other_groups = load_with("dev", {**DEV_VPC, "security_group_ids": ["sg-0a1b2c3d4e5f60009"]}).environment("dev")
    name = model_monitor_schedule.job_definition_name
    assert name("ml-dev", 3, None) == "ml-dev-dq-v3"
    assert name("ml-dev", 3, vpc) == name("ml-dev", 3, vpc) != name("ml-dev", 3, None)
    assert name("ml-dev", 3, vpc).startswith("ml-dev-dq-v3-")
    assert len({name("ml-dev", 3, vpc), name("ml-dev", 3, other_subnets.network.vpc)}) == 2
    assert len({name("ml-dev", 3, vpc), name("ml-dev", 3, other_groups.network.vpc)}) == 2
    assert name("ml-dev", 3, vpc) != name("ml-dev", 4, vpc)


def test_the_model_monitor_job_definition_name_fits_at_the_longest_endpoint_name() -> None:
    vpc = load_with("dev", DEV_VPC).environment("dev").network.vpc
    longest = "p" * 31 + "-" + "e" * 16  # project_name and environment at their limits (config.names)
    names = {model_monitor_schedule.job_definition_name(longest[:-1] + last, 999_999, vpc) for last in "ef"}
    assert len(names) == 2
    for job_name in names:
        check("sagemaker", "CreateDataQualityJobDefinition", "JobDefinitionName", job_name)


def test_the_deploy_policy_changes_only_security_groups_and_endpoints_of_the_network_stacks() -> None:
    """Deletes, rule changes and endpoint changes need the CloudFormation stack-name tag, which the
    registry handlers of both resource types put on at create (cloudFormationSystemTags, tagOnCreate)."""
    mutating = ("ec2:Authorize", "ec2:Revoke", "ec2:Delete", "ec2:Modify", "ec2:Update", "ec2:CreateTags")
    own_kinds = ("security-group/", "vpc-endpoint/")
    for policy in DEPLOY_POLICIES:
        for statement in json.loads(policy.read_text())["Statement"]:
            if not any(action.startswith(mutating) for action in statement["Action"]):
                continue
            owned = [arn for arn in statement["Resource"] if any(kind in arn for kind in own_kinds)]
            assert "*" not in statement["Resource"], statement["Sid"]
            if not owned:
                continue
            condition = statement.get("Condition", {})
            tagged = condition.get("StringLike", {}).get("aws:ResourceTag/aws:cloudformation:stack-name")
            on_create = condition.get("StringEquals", {}).get("ec2:CreateAction")
            only_attachments = statement["Action"] == ["ec2:ModifyVpcEndpoint"] and not any(
                "vpc-endpoint/" in arn for arn in owned
            )
            assert tagged == "mlops-delivery-*-network" or on_create or only_attachments, statement["Sid"]
