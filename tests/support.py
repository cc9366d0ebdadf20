"""Helpers that more than one test module needs: EventBridge events as AWS publishes them, policy checks,
the layouts' settings and stacks, and where things are in the synthesized templates.

Test modules import helpers from here (or from conftest.py's fixtures), never from each other.
The envelopes and details follow the formats AWS documents for EventBridge (S3 "Object
Created", "CloudWatch Alarm State Change"), so the rule-pattern tests and the function
tests exercise the same events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, Assembly, cdk_json_context, raw_config

REGION = "eu-west-1"
EVENT_TIME = "2026-11-27T03:00:00Z"


def as_list(value: Any) -> list[Any]:
    """A template value that CloudFormation allows as one item or a list, as a list."""
    return value if isinstance(value, list) else [value]


def eventbridge_event(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    *,
    account: str,
    event_id: str = "17793124-05d4-b198-2fde-7ededc63b103",
    resources: Sequence[str] = (),
) -> dict[str, Any]:
    """An event in the envelope AWS documents for EventBridge, as a rule and its target see it."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": EVENT_TIME,
        "region": REGION,
        "resources": list(resources),
        "detail": detail,
    }


def object_created_event(bucket: str, key: str, *, account: str, event_id: str = "17793124-05d4") -> dict[str, Any]:
    detail = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": {"key": key, "size": 5576, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "00617F08"},
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": account,
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    }
    return eventbridge_event(
        "aws.s3", "Object Created", detail, account=account, event_id=event_id, resources=[f"arn:aws:s3:::{bucket}"]
    )


def alarm_state_change_event(name: str, state: str, *, account: str, event_id: str = "c4c1c1c9") -> dict[str, Any]:
    """A CloudWatch alarm's state change, published in (and forwarded from) the alarm's account."""
    detail = {
        "alarmName": name,
        "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2026-11-27T02:59:00.000+0000"},
        "previousState": {"value": "OK", "reason": "", "timestamp": "2026-11-27T01:59:00.000+0000"},
        "configuration": {"description": "Feature drift above threshold", "metrics": []},
    }
    arn = f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}"
    return eventbridge_event(
        "aws.cloudwatch", "CloudWatch Alarm State Change", detail, account=account, event_id=event_id, resources=[arn]
    )


ALARMS_OF = "arn:aws:cloudwatch:eu-west-1:{account}:alarm:*"
RULES_OF = "arn:aws:events:eu-west-1:{account}:rule/*"
PUBLISHERS = {"cloudwatch.amazonaws.com", "events.amazonaws.com", "codestar-notifications.amazonaws.com"}


def assert_topic_admits_only_this_accounts_publishers(template: Any, account: str) -> None:
    """The alerts topic of a template: each AWS publisher only for `account`'s own resources."""
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    by_service = {s["Principal"]["Service"]: s for s in allows}
    assert set(by_service) == PUBLISHERS and len(allows) == len(PUBLISHERS), allows
    for statement in allows:
        assert statement["Action"] == "sns:Publish"
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    assert by_service["cloudwatch.amazonaws.com"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": ALARMS_OF.format(account=account)
    }
    assert by_service["events.amazonaws.com"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": RULES_OF.format(account=account)
    }
    (key,) = [
        k
        for k in template.find_resources("AWS::KMS::Key").values()
        if k["Properties"].get("Description") == "Encrypts the alerts topic"
    ]
    services = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]
    by_service = {s["Principal"]["Service"]: s for s in services}
    assert set(by_service) == PUBLISHERS and len(services) == len(PUBLISHERS), services
    assert by_service["cloudwatch.amazonaws.com"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": ALARMS_OF.format(account=account)},
    }
    assert by_service["codestar-notifications.amazonaws.com"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}
    }
    # EventBridge passes no source keys to KMS; the topic policy above is what limits it.
    assert "Condition" not in by_service["events.amazonaws.com"]


def model_source(model: str, module: str) -> Any:
    """`models/<model>/src/<module>.py` imported as the training toolkit would run it: its folder first on the path.

    The source directories are not packages (they ship as the job's code); each module is
    imported under a name of its own so both examples' train.py can be loaded in one session.
    """
    import importlib.util
    import sys

    source = ROOT / "models" / model / "src"
    name = f"{model}_{module}"
    if name in sys.modules:
        return sys.modules[name]
    if str(source) not in sys.path:
        sys.path.insert(0, str(source))
    spec = importlib.util.spec_from_file_location(name, source / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded


def write_contract(model: Any, directory: Path) -> Path:
    """The model's data contract as the pipeline ships it to the Preprocess step: one JSON file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "data_contract.json"
    path.write_text(json.dumps(model.data.as_document(model.task_type.value)))
    return path


def preprocessed(model: Any, table: Any, root: Path, *extra: str) -> Path:
    """`table` written as the model's raw CSV under root/raw and run through the Preprocess step into root/splits."""
    from pipeline_steps import sample_data
    from pipeline_steps.scripts import preprocess

    sample_data.write_csv(table, root / "raw" / "data.csv", model.data)
    contract = write_contract(model, root / "contract")
    preprocess.main(
        ["--contract", str(contract), "--input-dir", str(root / "raw"), "--output-dir", str(root / "splits"), *extra]
    )
    return root / "splits"


def mlopsctl_problems(args: Sequence[str]) -> list[str]:
    """What mlopsctl's parser refuses in the arguments after `mlopsctl` (none: the command parses).

    Parsed as Click parses a command group: the options every command takes, then the command's
    name, then that command's arguments and options. Nothing runs.
    """
    import typer

    from mlopsctl.cli import app

    # Typer bundles its own Click and exports its errors' common base only through its subclasses.
    usage_errors: type[Exception] = next(
        base for base in typer.BadParameter.__mro__ if base.__name__ == "ClickException"
    )
    group: Any = typer.main.get_command(app)
    shared = {name: param for param in group.params for name in param.opts}
    words = iter(args)
    before: list[str] = []
    name = ""
    for word in words:
        param = shared.get(word.split("=", 1)[0])
        if param is None:
            name = word
            break
        before.append(word)
        if not param.is_flag and "=" not in word:
            before.append(next(words, ""))
    rest = list(words)
    try:
        with group.make_context("mlopsctl", [*before, name, *rest]) as context:
            subcommand = group.get_command(context, name)
            if subcommand is None:
                return [f"mlopsctl has no command {name!r}"]
            subcommand.make_context(name, rest, parent=context)
    except usage_errors as error:
        return [str(error)]
    return []


# --- the layouts and their stacks --------------------------------------------------------------

EXPECTED_STACKS = {
    "mlops-delivery-toolchain-cicd",
    *(f"mlops-delivery-{env}-{unit}" for env in ("dev", "staging", "prod") for unit in ("storage", "serving")),
    "mlops-delivery-dev-model-build",
    "mlops-delivery-dev-retraining",
}
# The deploy policies docs/bootstrap/ ships (tests/test_deploy_policies.py checks them against CloudFormation).
DEPLOY_POLICIES = sorted((ROOT / "docs" / "bootstrap").glob("*.json"))

DEV_VPC = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
    "security_group_ids": ["sg-0a1b2c3d4e5f60001"],
}
STAGING_VPC = {
    "vpc_id": "vpc-1234abcd",
    "subnet_ids": ["subnet-1234abcd", "subnet-5678abcd"],
    "security_group_ids": ["sg-1234abcd", "sg-5678abcd"],
}
ROUTE_TABLES = ["rtb-0a1b2c3d4e5f60001", "rtb-0a1b2c3d4e5f60002"]
ISOLATED = {"preprocess", "baseline"}


def vpc_config() -> dict[str, Any]:
    """cdk.json's settings with dev private (endpoints, isolated steps) and staging in a VPC without isolation."""
    raw = raw_config()
    raw["environments"]["dev"]["network"] = {
        **DEV_VPC,
        "private_networking": True,
        "route_table_ids": ROUTE_TABLES,
        "network_isolation": {step: True for step in ISOLATED},
    }
    raw["environments"]["staging"]["network"] = {**STAGING_VPC, "network_isolation": {"endpoint": False}}
    return raw


def stage_for(raw: dict[str, Any], releases_dir: Path, env: str, **context: Any) -> Any:
    """One environment's stage built from edited settings (no cdk-nag: cheap, one stack pair)."""
    import aws_cdk as cdk

    import config
    from stacks.environment_stage import EnvironmentStage

    settings = config.load({config.CONTEXT_KEY: raw, **context}, releases_dir=releases_dir)
    flags = {k: v for k, v in cdk_json_context().items() if k.startswith("@aws-cdk")}
    app = cdk.App(context=flags)
    return EnvironmentStage(app, env.capitalize(), app_config=settings, environment=settings.environment(env))


# --- where things are in the templates ---------------------------------------------------------


def serving(assembly: Assembly, env: str) -> Any:
    return assembly.template(f"mlops-delivery-{env}-serving")


def resources(template: Any, kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources(kind).values()]


def endpoint(template: Any) -> dict[str, Any]:
    (props,) = resources(template, "AWS::SageMaker::Endpoint")
    return props


CICD = "mlops-delivery-toolchain-cicd"
ACCOUNTS = {"dev": "222222222222", "staging": "333333333333", "prod": "444444444444"}


def verifier_arn(env: str) -> str:
    return f"arn:aws:iam::{ACCOUNTS[env]}:role/mlops-delivery-{env}-deploy-verifier"


def cicd(assembly: Assembly) -> Any:
    return assembly.template(CICD)


def pipeline_props(template: Any) -> dict[str, Any]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]


def stage(template: Any, name: str) -> list[dict[str, Any]]:
    stages = {s["Name"]: s["Actions"] for s in pipeline_props(template)["Stages"]}
    return sorted(stages[name], key=lambda action: action["RunOrder"])


def project_of(template: Any, action: dict[str, Any]) -> dict[str, Any]:
    return template.find_resources("AWS::CodeBuild::Project")[action["Configuration"]["ProjectName"]["Ref"]]


def buildspec(template: Any, action: dict[str, Any]) -> dict[str, Any]:
    return json.loads(project_of(template, action)["Properties"]["Source"]["BuildSpec"])


def action_named(actions: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(a for a in actions if a["Name"] == name)


def statements_of_role(template: Any, role_logical_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def exported(assembly: Any, reference: Any) -> tuple[str, str]:
    """(stack, logical ID) of the resource a cross-stack reference ({"Fn::ImportValue": name}) reads."""
    name = reference["Fn::ImportValue"]
    for stack, template in assembly.templates.items():
        for output in template.get("Outputs", {}).values():
            if output.get("Export", {}).get("Name") == name:
                value = output["Value"]
                return stack, value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    raise AssertionError(f"no stack of the assembly exports {name}")


def imported_resources(assembly: Any, value: Any) -> set[tuple[str, str]]:
    """Every (stack, logical ID) that the cross-stack references anywhere inside `value` read."""
    if isinstance(value, dict):
        if set(value) == {"Fn::ImportValue"}:
            return {exported(assembly, value)}
        return {found for item in value.values() for found in imported_resources(assembly, item)}
    if isinstance(value, list):
        return {found for item in value for found in imported_resources(assembly, item)}
    return set()


def data_bucket(assembly: Any, env: str = "dev") -> tuple[str, str]:
    """(stack, logical ID) of `env`'s data bucket: the one whose name the storage stack outputs for uploads."""
    storage = f"mlops-delivery-{env}-storage"
    return storage, assembly.templates[storage]["Outputs"]["DataBucketName"]["Value"]["Ref"]


def synth_warnings(directory: Path, code: str) -> list[str]:
    """The warnings of one kind (`add_warning_v2`'s id) that synth kept in an assembly's metadata files."""
    return [
        entry["data"]
        for path in directory.rglob("*.metadata.json")
        for entries in json.loads(path.read_text()).values()
        for entry in entries
        if entry["type"] == "aws:cdk:warning" and f"[ack: {code}]" in entry["data"]
    ]
