"""The Control Tower rules run only where they can find something, and find what all of them find.

constructs/security/control_tower.py disables the bundled rules that name no resource type the
templates hold; these tests check that choice against the package's own rules and cfn-guard's
findings, and against CfnGuardValidator's handling of `disabled_rules`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsii
from aws_cdk import IPolicyValidationContext

from constructs.security.control_tower import (
    SELECTION,
    BundledRules,
    ControlTowerRules,
    bundled_rules,
    disabled_rules,
    resource_types,
    rule_code,
    rule_id,
    rules_that_select_nothing,
    running_rules,
    selected_types,
)
from tests.conftest import Assembly, InsecureSynth


def test_a_rule_is_skipped_only_when_no_type_it_names_is_in_the_templates() -> None:
    rules = {
        "bucket": frozenset({"AWS::S3::Bucket"}),
        # Reports on a bucket policy, follows references to buckets.
        "bucket-policy": frozenset({"AWS::S3::BucketPolicy", "AWS::S3::Bucket"}),
        "queue": frozenset({"AWS::SQS::Queue"}),
        "any-resource": frozenset(),
    }
    assert rules_that_select_nothing(rules, {"AWS::S3::Bucket", "AWS::SNS::Topic"}) == {"queue"}
    assert rules_that_select_nothing(rules, {"AWS::S3::BucketPolicy"}) == {"bucket", "queue"}
    assert rules_that_select_nothing(rules, set()) == {"bucket", "bucket-policy", "queue"}


def test_a_rule_that_selects_resources_other_than_by_type_names_no_type_so_it_always_runs() -> None:
    by_type = """
    # Reports on: AWS::SQS::Queue (comments do not count)
    let BUCKET = "AWS::S3::Bucket"
    let KEY = "AWS::KMS::Key"
    let buckets = Resources.*[ Type == %BUCKET ]
    let principals = Resources[
        Type == %BUCKET or
        Type == "AWS::IAM::Role"
    ]
    let referenced = %doc.Resources[ keys == %key ]
    """
    assert selected_types(by_type) == {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::IAM::Role"}
    by_property = by_type + "let public = Resources.*[ Properties.PublicAccess exists ]\n"
    assert selected_types(by_property) == frozenset()
    assert selected_types("rule any { Resources exists }") == frozenset()


def test_every_bundled_rule_selects_the_templates_resources_only_in_the_forms_read_here() -> None:
    """Every place a bundled rule's code reaches into the template's resources is a selection by type or
    by logical id that selected_types reads (or the one property named Resources, EKS's encryption
    config): a package whose rules select otherwise fails here before any rule is skipped wrongly."""
    import re

    texts = bundled_rules().texts
    assert texts.keys() == bundled_rules().types.keys()
    for name, text in texts.items():
        code = rule_code(text)
        reaches = len(re.findall(r"\bResources(?:\.\*)?\[", code))
        property_of_a_resource = len(re.findall(r"some\s+Resources\[\*\]\s*==", code))
        assert reaches == len(SELECTION.findall(code)) + property_of_a_resource, name
        assert selected_types(text), f"{name} would always run"


def _layout(tree: dict[str, Any]) -> BundledRules:
    files = [name for folder in tree.values() for name in folder]
    return BundledRules(
        types={name.removesuffix(".guard"): frozenset({f"AWS::X::{name}"}) for name in files}, tree=tree, texts={}
    )


def test_a_folder_passed_whole_by_coincidence_gets_one_rule_back() -> None:
    """CfnGuardValidator passes a folder whole when as many paths come back from it as it has entries:
    here a/ gives none, b/ two files, c/ itself, three paths for three entries, and every rule would run."""
    rules = _layout(
        {
            "a": {"a1.guard": None, "a2.guard": None},
            "b": {f"b{i}.guard": None for i in (1, 2, 3)},
            "c": {"c1.guard": None},
        }
    )
    present = {"AWS::X::b2.guard", "AWS::X::b3.guard", "AWS::X::c1.guard"}
    assert rules_that_select_nothing(rules.types, present) == {"a1", "a2", "b1"}
    assert running_rules(rules.tree, {"a1", "a2", "b1"}) == {"a1", "a2", "b1", "b2", "b3", "c1"}
    chosen = disabled_rules(rules, present)
    assert chosen == ["a2", "b1"]
    assert running_rules(rules.tree, set(chosen)) == {"a1", "b2", "b3", "c1"}


def test_without_a_coincidence_exactly_the_rules_that_can_find_something_run() -> None:
    """a/ gives one file, b/ itself, c/ nothing: two paths for three entries."""
    rules = _layout(
        {
            "a": {"a1.guard": None, "a2.guard": None, "a3.guard": None},
            "b": {"b1.guard": None, "b2.guard": None},
            "c": {"c1.guard": None, "c2.guard": None},
        }
    )
    present = {"AWS::X::a1.guard", "AWS::X::b1.guard", "AWS::X::b2.guard"}
    assert disabled_rules(rules, present) == ["a2", "a3", "c1", "c2"]
    assert running_rules(rules.tree, {"a2", "a3", "c1", "c2"}) == {"a1", "b1", "b2"}


def test_every_rule_the_validator_lists_is_read_from_the_package_with_the_types_it_names() -> None:
    """If the package were laid out otherwise, every rule would run (correct, and slow): this fails first."""
    rules = bundled_rules()
    assert len(rules.types) > 200
    assert all(types for types in rules.types.values()), "a rule naming no type always runs"
    plugin = ControlTowerRules()
    assert sorted(map(rule_id, rules.types)) == sorted(plugin.rule_ids or ())
    assert rule_id("ct-s3-pr-10") == "s3pr10"
    # CT.S3.PR.10 reports on buckets; CT.S3.PR.8 on bucket policies, and follows them to their buckets.
    assert rules.types["ct-s3-pr-10"] == {"AWS::S3::Bucket"}
    assert rules.types["ct-s3-pr-8"] == {"AWS::S3::BucketPolicy", "AWS::S3::Bucket"}


def test_on_the_apps_templates_only_the_rules_naming_their_types_run(assembly: Assembly) -> None:
    paths = [str(path) for path in assembly.directory.rglob("*.template.json")]
    rules = bundled_rules()
    present = resource_types(paths)
    skipped = ControlTowerRules().skipped_rules(paths)
    running = running_rules(rules.tree, set(skipped))
    can_find = {name for name, types in rules.types.items() if types & present}
    # At most one more, to break CfnGuardValidator's tie (see disabled_rules).
    assert can_find <= running and len(running - can_find) <= 1
    assert len(running) < len(rules.types) / 3, (len(running), len(rules.types))
    assert set(skipped) == set(rules.types) - running


@jsii.implements(IPolicyValidationContext)
class _Templates:
    def __init__(self, paths: list[str]) -> None:
        self._paths = paths

    @property
    def template_paths(self) -> list[str]:
        return self._paths


def _findings(report: Any) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {
        (
            violation.rule_name,
            Path(resource.template_path).name,
            resource.resource_logical_id,
            tuple(resource.locations),
        )
        for violation in report.violations
        for resource in violation.violating_resources
    }


def test_the_rules_that_run_find_what_all_237_find(insecure_prod_synth: InsecureSynth) -> None:
    """On templates with findings (the production storage stack with an unencrypted bucket, and the
    retraining stack's function, queue and rules): the same findings, resource and location, as the
    validator with every rule."""
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    paths = sorted(
        str(path)
        for path in insecure_prod_synth.outdir.rglob("*.template.json")
        if path.name.startswith(("ProdStorage", "DevRetraining"))
    )
    assert len(paths) == 2
    context = _Templates(paths)
    plugin = ControlTowerRules()
    assert plugin.skipped_rules(paths), "some rules are skipped"
    everything, pruned = CfnGuardValidator().validate(context), plugin.validate(context)
    assert _findings(everything) and _findings(pruned) == _findings(everything)
    assert {v.severity for v in pruned.violations} == {"error"}


def test_the_validator_runs_none_of_the_rules_disabled_for_absent_types(insecure_prod_synth: InsecureSynth) -> None:
    """Through CfnGuardValidator itself: told the templates hold only queues, it reports no bucket rule on
    the production storage stack, whose unencrypted bucket every run with the bucket rules flags."""
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    (path,) = [str(p) for p in insecure_prod_synth.outdir.rglob("ProdStorage*.template.json")]
    queues_only = disabled_rules(bundled_rules(), {"AWS::SQS::Queue"})
    report = CfnGuardValidator(disabled_rules=queues_only).validate(_Templates([path]))
    rules = {violation.rule_name for violation in report.violations}
    assert rules and all(rule.startswith("sqs_") for rule in rules), rules


def test_templates_no_rule_names_pass_without_running_cfn_guard(tmp_path: Path) -> None:
    template = tmp_path / "Topic.template.json"
    template.write_text('{"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}')
    plugin = ControlTowerRules()
    assert len(plugin.skipped_rules([str(template)])) == len(plugin.rule_ids or ())
    report = plugin.validate(_Templates([str(template)]))
    assert report.success and report.violations == []
