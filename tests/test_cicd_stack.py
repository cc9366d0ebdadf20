"""The delivery pipeline: one artifact promoted in order, gated, verified, and started by push or approval."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.conftest import OLD_CONNECTION, ROOT, AppPyRun, Assembly, InsecureSynth
from tests.support import (
    ACCOUNTS,
    CICD,
    action_named,
    as_list,
    assert_topic_admits_only_this_accounts_publishers,
    buildspec,
    cicd,
    mlopsctl_problems,
    pipeline_props,
    project_of,
    stage,
    statements_of_role,
    verifier_arn,
)

TOOLCHAIN_ACCOUNT = "111111111111"
GROUP = "mlops-delivery"


def test_pipeline_is_v2_self_mutating_and_named(assembly: Assembly) -> None:
    props = pipeline_props(cicd(assembly))
    assert props["PipelineType"] == "V2"
    assert props["Name"] == "mlops-delivery-pipeline"
    (self_mutate,) = stage(cicd(assembly), "UpdatePipeline")
    assert self_mutate["ActionTypeId"]["Provider"] == "CodeBuild"


def test_stages_run_build_env_first_then_cdk_json_order_after_synth_and_self_mutation(assembly: Assembly) -> None:
    names = [s["Name"] for s in pipeline_props(cicd(assembly))["Stages"]]
    assert names[:3] == ["Source", "Build", "UpdatePipeline"]
    environments = [n for n in names if n in ("Dev", "Staging", "Prod")]
    assert environments == ["Dev", "Staging", "Prod"]
    assert names.index("Dev") > names.index("UpdatePipeline")


def test_source_is_the_configured_connection_and_branch(assembly: Assembly) -> None:
    (source,) = stage(cicd(assembly), "Source")
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    config = source["Configuration"]
    assert config["FullRepositoryId"] == "example-org/mlops-delivery"
    assert config["BranchName"] == "main"
    assert config["ConnectionArn"].startswith("arn:aws:codeconnections:eu-west-1:111111111111:connection/")
    # A push to the branch starts the pipeline.
    assert config.get("DetectChanges", True) is True


def test_synth_runs_what_developers_run_in_order(assembly: Assembly) -> None:
    template = cicd(assembly)
    (synth_action,) = stage(template, "Build")
    spec = buildspec(template, synth_action)
    assert spec["phases"]["install"]["commands"] == ["make .venv/.installed node_modules/.installed"]
    runtimes = spec["phases"]["install"]["runtime-versions"]
    assert runtimes == {"python": "3.11", "nodejs": "22"}
    # Every project of the pipeline builds on the image whose runtimes include both.
    images = {
        p["Properties"]["Environment"]["Image"] for p in template.find_resources("AWS::CodeBuild::Project").values()
    }
    assert images == {"aws/codebuild/amazonlinux-x86_64-standard:5.0"}
    commands = spec["phases"]["build"]["commands"]
    assert commands[:2] == ["make test", "make test-slow"], "every test tier runs before anything is resolved"
    assert commands[-1] == "make synth", "cdk-nag and cfn-lint gate the assembly that gets deployed"
    resolves = [c for c in commands if "resolve-release" in c]
    assert [c.split("python -m mlopsctl ", 1)[1] for c in resolves] == [
        "resolve-release --env dev --allow-none --own-credentials",
        "resolve-release --env staging --allow-none --own-credentials",
        "resolve-release --env prod --allow-none --own-credentials",
    ]
    assert commands.index(resolves[-1]) < commands.index("make synth")
    assert spec["artifacts"]["secondary-artifacts"][synth_action["OutputArtifacts"][0]["Name"]]["base-directory"] == (
        "cdk.out"
    )


@pytest.mark.template
@pytest.mark.parametrize("layout", ["assembly", "variant_assembly", "sandbox_assembly"])
def test_every_mlopsctl_command_the_pipeline_runs_parses(layout: str, request: pytest.FixtureRequest) -> None:
    """Options every command takes before its name, the command's own after it, as mlopsctl's parser reads them."""
    template = cicd(request.getfixturevalue(layout))
    commands = [
        shlex.split(command)
        for project in template.find_resources("AWS::CodeBuild::Project").values()
        # Inline specs; the asset projects' specs are file assets, and they run no mlopsctl.
        if str(project["Properties"]["Source"].get("BuildSpec", "")).startswith("{")
        for phase in json.loads(project["Properties"]["Source"]["BuildSpec"]).get("phases", {}).values()
        for command in phase.get("commands", [])
        if " -m mlopsctl " in command
    ]
    run = {word for words in commands for word in words if word in ("resolve-release", "record-deployment")}
    assert run == {"resolve-release", "record-deployment"}, commands
    problems = [
        f"{' '.join(words)}: {problem}"
        for words in commands
        for problem in mlopsctl_problems(words[words.index("mlopsctl") + 1 :])
    ]
    assert problems == []


def test_every_step_that_installs_keeps_pips_and_npms_downloads_on_the_build_host(assembly: Assembly) -> None:
    """A local custom cache of pip's and npm's download directories, in every project that runs `make`."""
    template = cicd(assembly)
    installing = {
        logical_id: project
        for logical_id, project in template.find_resources("AWS::CodeBuild::Project").items()
        if "make .venv/.installed" in project["Properties"]["Source"]["BuildSpec"]
    }
    # The synth step and, per environment, its record-deployment step at least.
    assert len(installing) >= 4, sorted(installing)
    for logical_id, project in installing.items():
        # CloudFormation's ProjectCache: LOCAL with the custom mode caches the buildspec's paths.
        assert project["Properties"]["Cache"] == {"Type": "LOCAL", "Modes": ["LOCAL_CUSTOM_CACHE"]}, logical_id
        spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
        # pip's and npm's default cache directories for root, whole directories ("/**/*").
        assert spec["cache"]["paths"] == ["/root/.cache/pip/**/*", "/root/.npm/**/*"], logical_id
    # The installs use those caches: nothing turns them off.
    makefile = (ROOT / "Makefile").read_text()
    assert "--no-cache-dir" not in makefile and "--cache " not in makefile


def test_every_stage_deploys_the_one_synthesized_assembly(assembly: Assembly) -> None:
    template = cicd(assembly)
    (synth_action,) = stage(template, "Build")
    cloud_assembly = synth_action["OutputArtifacts"][0]["Name"]
    for name in ("Dev", "Staging", "Prod"):
        prepares = [a for a in stage(template, name) if a["ActionTypeId"]["Provider"] == "CloudFormation"]
        inputs = {i["Name"] for a in prepares for i in a.get("InputArtifacts", [])}
        assert prepares and inputs == {cloud_assembly}, name


def test_manual_approval_comes_before_production_and_nowhere_else(assembly: Assembly) -> None:
    template = cicd(assembly)
    prod = stage(template, "Prod")
    assert prod[0]["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    deploys = [a for a in prod if a["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys and all(a["RunOrder"] > prod[0]["RunOrder"] for a in deploys)
    for name in ("Dev", "Staging"):
        assert not [a for a in stage(template, name) if a["ActionTypeId"]["Category"] == "Approval"], name


def test_smoke_test_runs_after_staging_deploys_and_before_the_approval(assembly: Assembly) -> None:
    template = cicd(assembly)
    staging = stage(template, "Staging")
    smoke = action_named(staging, "SmokeTest")
    deploys = [a for a in staging if a["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys and smoke["RunOrder"] > max(a["RunOrder"] for a in deploys)
    # The approval lives in the next stage, which CodePipeline starts only after Staging succeeded.
    names = [s["Name"] for s in pipeline_props(template)["Stages"]]
    assert names.index("Staging") < names.index("Prod")
    assert buildspec(template, smoke)["phases"]["build"]["commands"] == [
        f".venv/bin/python -m mlopsctl --role-arn {verifier_arn('staging')} smoke-test --env staging"
        ' --skip-without-release --endpoint-config "$REQUESTED_ENDPOINT_CONFIG"'
    ]
    assert "SmokeTest" not in {a["Name"] for a in stage(template, "Dev") + stage(template, "Prod")}


@pytest.mark.parametrize(("stage_name", "env"), [("Dev", "dev"), ("Staging", "staging"), ("Prod", "prod")])
def test_each_deployment_is_verified_and_recorded_last_in_its_stage(
    assembly: Assembly, stage_name: str, env: str
) -> None:
    template = cicd(assembly)
    actions = stage(template, stage_name)
    record = action_named(actions, "RecordDeployment")
    assert record["RunOrder"] == max(a["RunOrder"] for a in actions), "only a smoke-tested deployment is known-good"
    spec = buildspec(template, record)
    assert spec["phases"]["build"]["commands"] == [
        f".venv/bin/python -m mlopsctl --role-arn {verifier_arn(env)} record-deployment --env {env}"
        ' --skip-without-release --endpoint-config "$REQUESTED_ENDPOINT_CONFIG"'
    ]
    # The releases the synth step resolved are what the ledger records, not a fresh lookup.
    (synth_action,) = stage(template, "Build")
    releases = synth_action["OutputArtifacts"][1]["Name"]
    assert releases in {i["Name"] for i in record["InputArtifacts"]}
    assert "mkdir -p releases && cp -R resolved-releases/. releases/" in spec["phases"]["install"]["commands"]


@pytest.mark.parametrize(
    ("stage_name", "action_name", "env"),
    [
        ("Dev", "RecordDeployment", "dev"),
        ("Staging", "SmokeTest", "staging"),
        ("Staging", "RecordDeployment", "staging"),
        ("Prod", "RecordDeployment", "prod"),
    ],
)
def test_post_deploy_steps_assume_only_their_environments_verifier_role(
    assembly: Assembly, stage_name: str, action_name: str, env: str
) -> None:
    template = cicd(assembly)
    project = project_of(template, action_named(stage(template, stage_name), action_name))
    role = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    assumes = [s for s in statements_of_role(template, role) if "sts:AssumeRole" in as_list(s["Action"])]
    assert assumes == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": verifier_arn(env)}]


def check_role_arn(env: str) -> str:
    return f"arn:aws:iam::{TOOLCHAIN_ACCOUNT}:role/mlops-delivery-{env}-deploy-check"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environments_checks_run_as_its_named_check_role(assembly: Assembly, env: str) -> None:
    """The verifier role in the environment's account trusts this one role by name (see the serving tests)."""
    template = cicd(assembly)
    roles = template.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": f"mlops-delivery-{env}-deploy-check"}}
    )
    (role_id,) = roles
    trust = roles[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "codebuild.amazonaws.com"}]
    stage_name = env.capitalize()
    actions = [a for a in stage(template, stage_name) if a["Name"] in ("SmokeTest", "RecordDeployment")]
    assert actions
    for action in actions:
        assert project_of(template, action)["Properties"]["ServiceRole"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_no_other_role_can_assume_a_deploy_verifier(assembly: Assembly) -> None:
    template = cicd(assembly)
    granted = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "sts:AssumeRole" not in as_list(statement["Action"]):
                continue
            for resource in as_list(statement["Resource"]):
                text = json.dumps(resource)
                if "deploy-verifier" in text:
                    granted.append(resource)
                elif "role/*" in text:
                    # CDK Pipelines' self-mutation: only this account's CDK bootstrap roles, by tag.
                    assert "iam:ResourceTag/aws-cdk:bootstrap-role" in json.dumps(statement["Condition"])
    # One grant per environment, on that environment's check role (shared by its two steps).
    assert sorted(granted) == sorted(verifier_arn(env) for env in ("dev", "staging", "prod"))


def test_synth_role_reads_exactly_our_registry_group_and_versions(assembly: Assembly) -> None:
    template = cicd(assembly)
    (synth_action,) = stage(template, "Build")
    role = project_of(template, synth_action)["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    sagemaker = [
        s for s in statements_of_role(template, role) if any(a.startswith("sagemaker:") for a in as_list(s["Action"]))
    ]
    assert sagemaker == [
        {
            "Action": [
                "sagemaker:DescribeModelPackage",
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:ListModelPackages",
            ],
            "Effect": "Allow",
            "Resource": [
                f"arn:aws:sagemaker:eu-west-1:{ACCOUNTS['dev']}:model-package-group/{GROUP}",
                f"arn:aws:sagemaker:eu-west-1:{ACCOUNTS['dev']}:model-package/{GROUP}/*",
            ],
        }
    ]


def test_artifacts_are_kms_encrypted_with_a_rotating_key_ssl_only_and_logged(assembly: Assembly) -> None:
    template = cicd(assembly)
    store = pipeline_props(template)["ArtifactStore"]
    assert store["EncryptionKey"]["Type"] == "KMS"
    key_id = store["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    assert template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    bucket_id = store["Location"]["Ref"]
    bucket = template.find_resources("AWS::S3::Bucket")[bucket_id]["Properties"]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "aws:kms"
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "pipeline-artifacts/"
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )
    # Every CodeBuild project encrypts its output with the same key.
    for project in template.find_resources("AWS::CodeBuild::Project").values():
        assert project["Properties"]["EncryptionKey"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_model_approval_or_rejection_starts_the_pipeline(assembly: Assembly) -> None:
    template = cicd(assembly)
    (pipeline_id,) = template.find_resources("AWS::CodePipeline::Pipeline")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "account": [ACCOUNTS["dev"]],
                "detail": {"ModelPackageGroupName": [GROUP], "ModelApprovalStatus": ["Approved", "Rejected"]},
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::Join": [
                                "",
                                [f"arn:aws:codepipeline:eu-west-1:{TOOLCHAIN_ACCOUNT}:", {"Ref": pipeline_id}],
                            ]
                        }
                    }
                )
            ],
        },
    )


def test_toolchain_bus_admits_exactly_the_registry_account(assembly: Assembly) -> None:
    template = cicd(assembly)
    (policy,) = template.find_resources("AWS::Events::EventBusPolicy").values()
    props = policy["Properties"]
    assert props["EventBusName"] == "default"
    assert props["Statement"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNTS['dev']}:root"}
    assert props["Statement"]["Action"] == "events:PutEvents"
    assert props["Statement"]["Resource"] == f"arn:aws:events:eu-west-1:{TOOLCHAIN_ACCOUNT}:event-bus/default"
    # Only the approval decisions the pipeline listens to: no pushes, retrains or other events.
    assert props["Statement"]["Condition"] == {
        "ForAllValues:StringEquals": {"events:source": ["aws.sagemaker"]},
        "StringEquals": {"events:detail-type": "SageMaker Model Package State Change"},
    }


def test_registry_account_forwards_approvals_to_the_toolchain_bus(assembly: Assembly) -> None:
    template = assembly.template("mlops-delivery-dev-storage")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": [GROUP], "ModelApprovalStatus": ["Approved", "Rejected"]},
            },
            "Targets": [Match.object_like({"Arn": f"arn:aws:events:eu-west-1:{TOOLCHAIN_ACCOUNT}:event-bus/default"})],
        },
    )
    target_role = template.find_resources("AWS::IAM::Policy")
    statements = [s for p in target_role.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert {
        "Action": "events:PutEvents",
        "Effect": "Allow",
        "Resource": f"arn:aws:events:eu-west-1:{TOOLCHAIN_ACCOUNT}:event-bus/default",
    } in statements
    for env in ("staging", "prod"):
        assembly.template(f"mlops-delivery-{env}-storage").resource_count_is("AWS::Events::Rule", 0)


def test_toolchain_topic_and_key_admit_only_this_accounts_publishers(assembly: Assembly) -> None:
    assert_topic_admits_only_this_accounts_publishers(cicd(assembly), TOOLCHAIN_ACCOUNT)


def test_bucket_policies_are_retained_with_the_retained_buckets(assembly: Assembly) -> None:
    template = cicd(assembly)
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2  # artifacts, access logs
    for logical_id, policy in policies.items():
        bucket = template.find_resources("AWS::S3::Bucket")[policy["Properties"]["Bucket"]["Ref"]]
        assert bucket["DeletionPolicy"] == "Retain"
        assert policy.get("DeletionPolicy") == "Retain", logical_id


def connection_grants(template: Any) -> set[tuple[str, str]]:
    """(action, resource) of every UseConnection the source action's role has."""
    (source,) = stage(template, "Source")
    return {
        (action, resource)
        for statement in statements_of_role(template, source["RoleArn"]["Fn::GetAtt"][0])
        for action in as_list(statement["Action"])
        if action.endswith(":UseConnection")
        for resource in as_list(statement["Resource"])
    }


def test_source_may_use_a_codeconnections_connection(assembly: Assembly) -> None:
    """cdk.json's connection has the codeconnections ARN that connections created since 2024 have."""
    arn = "arn:aws:codeconnections:eu-west-1:111111111111:connection/00000000-0000-0000-0000-000000000000"
    # The service prefix of the action must match the ARN's (CDK itself grants codestar-connections only).
    assert ("codeconnections:UseConnection", arn) in connection_grants(cicd(assembly))


def test_source_may_use_an_older_codestar_connections_connection(variant_assembly: Assembly) -> None:
    """The variant's source is a connection created before the CodeConnections rename."""
    assert connection_grants(variant_assembly.template(CICD)) == {
        ("codestar-connections:UseConnection", OLD_CONNECTION)
    }


def test_failures_and_pending_approvals_notify_an_encrypted_topic(assembly: Assembly) -> None:
    template = cicd(assembly)
    (topic_id,) = template.find_resources("AWS::SNS::Topic", {"Properties": {"KmsMasterKeyId": Match.any_value()}})
    template.has_resource_properties(
        "AWS::CodeStarNotifications::NotificationRule",
        {
            "EventTypeIds": Match.array_equals(
                ["codepipeline-pipeline-pipeline-execution-failed", "codepipeline-pipeline-manual-approval-needed"]
            ),
            "Targets": [{"TargetAddress": {"Ref": topic_id}, "TargetType": "SNS"}],
        },
    )


def test_nag_checks_stacks_inside_the_pipelines_stages(insecure_prod_synth: InsecureSynth) -> None:
    """Stages are synthesized by the pipeline before the app; their stacks must still be checked."""
    assert insecure_prod_synth.insecure_stages == [insecure_prod_synth.prod_promotion]
    assert "AwsSolutions-S10" in insecure_prod_synth.error


def test_file_assets_get_their_stage_before_the_first_environment_and_pass_nag(assembly: Assembly) -> None:
    """The function's code and the step scripts are file assets: CDK Pipelines adds an Assets stage,
    whose generated grants the session assembly's synth (cdk-nag and Control Tower on) accepted."""
    names = [s["Name"] for s in pipeline_props(cicd(assembly))["Stages"]]
    assert names.index("Assets") < names.index("Dev")


def test_the_shared_asset_role_builds_only_the_pipelines_own_asset_projects(assembly: Assembly) -> None:
    """CDK Pipelines grants its asset role codebuild:StartBuild/StopBuild/BatchGetBuilds on '*'
    (constructs/security/wildcard_resources.py accepts that statement); a Deny confines it to its projects."""
    template = cicd(assembly)
    projects = [pid for pid in template.find_resources("AWS::CodeBuild::Project") if "PipelineAssetsFileAsset" in pid]
    (role,) = [rid for rid in template.find_resources("AWS::IAM::Role") if "PipelineAssetsFileRole" in rid]
    statements = statements_of_role(template, role)
    allow = [s for s in statements if s["Effect"] == "Allow" and s["Resource"] == "*"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert [sorted(s["Action"]) for s in allow] == [sorted(s["Action"]) for s in deny]
    assert sorted(deny[0]["Action"]) == ["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"]
    denied_outside = deny[0]["NotResource"]
    arns = [{"Fn::GetAtt": [pid, "Arn"]} for pid in projects]
    assert projects and (denied_outside if isinstance(denied_outside, list) else [denied_outside]) == arns


def test_without_a_release_the_post_deploy_checks_still_run_but_request_no_config(
    app_py_without_releases: AppPyRun,
) -> None:
    """No serving stack, so no requested config; the step itself fails if an endpoint is left serving."""
    template = Assembly(app_py_without_releases.outdir).template(CICD)
    for stage_name, env in (("Dev", "dev"), ("Staging", "staging"), ("Prod", "prod")):
        record = action_named(stage(template, stage_name), "RecordDeployment")
        assert "EnvironmentVariables" not in record["Configuration"]
        (command,) = buildspec(template, record)["phases"]["build"]["commands"]
        assert command.endswith(f"--role-arn {verifier_arn(env)} record-deployment --env {env} --skip-without-release")
