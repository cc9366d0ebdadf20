"""How CloudFormation names what a template leaves unnamed, and what that means for the deploy policies.

AWS documents the shape of a generated name (`MyStack-MyBucket-abcdefghijk1`, CloudFormation user
guide, "Name type") but not how one longer than its type allows is cut. AWS's CloudFormation CLI
Java plugin, on which resource handlers are built, does it in code (aws-cloudformation/
cloudformation-cli-java-plugin, IdentifierUtils.generateResourceIdentifier with a stack id): 13
characters for the random tail and its dash, one for the dash between the parts, the rest split
fairly between the stack name and the logical ID. Names CloudFormation produced agree. The stack
name is cut too, and the deploy policies match generated names by the project prefix
(`arn:aws:iam::*:role/mlops-delivery-*`), so the prefix must fit in the part that is kept.
"""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.deployed_names import NAMINGS, generated_name

# Three names CloudFormation generated for one stack named `ChineseboostAnalyticsStack`, reported
# in KensioSoftware/yulin#1113 (2026): an S3 bucket (63 characters at most), an IAM role (64) and a
# log group (512, no cut). Each logical ID here starts with what the real name kept of its own.
OBSERVED = [
    ("RainlyticsLogsBucket8DF4E2A1", 63, True, "chineseboostanalyticsstac-rainlyticslogsbucket8df4-"),
    ("RainlyticsSummariesJobFunctionRoleB1C2", 64, False, "ChineseboostAnalyticsStac-RainlyticsSummariesJobFun-"),
    (
        "RainlyticsSummariesJobLogs1C6CB09C",
        512,
        False,
        "ChineseboostAnalyticsStack-RainlyticsSummariesJobLogs1C6CB09C-",
    ),
]

# docs/deploy.md: with another project_name, the policies' prefix is the first this many
# characters of `<project_name>-`, all of which the shortest generated name type (S3's 63) keeps.
POLICY_PREFIX_CHARACTERS = 24
# Every stack the app makes (config/names.py ResourceNames.stack) and the longest project name
# config accepts (config/fields.py PROJECT: 3-32 characters).
STACK_KINDS = [("dev", kind) for kind in ("storage", "network", "model-build", "retraining", "serving")] + [
    ("toolchain", "cicd")
]
PROJECTS = ["mlops-delivery", "a-project-name-of-32-characters0"]


@pytest.mark.parametrize(("logical_id", "max_length", "lower", "kept"), OBSERVED)
def test_a_generated_name_is_cut_as_cloudformation_cuts_it(
    logical_id: str, max_length: int, lower: bool, kept: str
) -> None:
    name = generated_name("ChineseboostAnalyticsStack", logical_id, max_length, lower=lower)
    # What is kept of the stack name and the logical ID, then a 12-character random tail.
    assert name[:-12] == kept
    assert len(name) == min(max_length, len(kept) + 12)


@pytest.mark.parametrize("project", PROJECTS)
def test_the_deploy_policies_prefix_is_kept_in_every_generated_name(project: str) -> None:
    prefix = f"{project}-"[:POLICY_PREFIX_CHARACTERS]
    long_logical_id = "A" * 80
    for env, kind in STACK_KINDS:
        for resource_type, naming in NAMINGS.items():
            if naming.name_property is None or naming.made_up_id is not None:
                continue
            name = generated_name(f"{project}-{env}-{kind}", long_logical_id, naming.max_length, lower=naming.lower)
            assert name.startswith(prefix), f"{resource_type} in {project}-{env}-{kind}: {name}"
    if project == "mlops-delivery":
        assert prefix == "mlops-delivery-", "the shipped policies' prefix"


def test_the_runbook_gives_the_prefix_rule_for_a_long_project_name() -> None:
    runbook = " ".join((ROOT / "docs" / "deploy.md").read_text().split())
    assert f"first {POLICY_PREFIX_CHARACTERS} characters of `<project_name>-`" in runbook
