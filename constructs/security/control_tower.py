"""The AWS Control Tower proactive controls (cfn-guard) as a synth-time validation plugin.

The validator reports a finding under its plugin name and the guard rule's name; CDK's
`Validations.of(scope).acknowledge` takes that id, `guard_rule` spells it. What a control asks
of a resource lives with the resource (e.g. kms_keys.py for CT.KMS.PR.3).

Only the rules that can find something run. Each bundled rule selects the resources it checks by
type, with string constants (`let S3_BUCKET_TYPE = "AWS::S3::Bucket"`, then
`let buckets = Resources.*[ Type == %S3_BUCKET_TYPE ]`), and follows references from them by
logical id (`%doc.Resources[ keys == %key ]`). A rule none of whose types (every type constant in
its code) is in the templates selects nothing and SKIPs, so it is passed to the validator's
`disabled_rules`. A rule that selects resources any other way, or names no type, always runs.
`cfn-guard`'s time grows with each rule times each template (docs/benchmarks.md): about 50 of the
237 rules name a type this app deploys.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import jsii
from aws_cdk import (
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
)
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

# The name CfnGuardValidator reports under; CDK uses it as the acknowledgement prefix.
GUARD_PLUGIN = "cdk-validator-cfnguard"
# The Python distribution that ships the validator, and where its npm package (the jsii archive the
# runtime loads) keeps the Control Tower rules: the folder CfnGuardValidator reads them from.
DISTRIBUTION = "cdklabs.cdk-validator-cfnguard"
RULES_FOLDER = PurePosixPath("package/rules/control-tower/cfn-guard")
_TYPE = r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+"
# A selection of the template's resources (`let x = Resources.*[ filter ]`).
SELECTION = re.compile(r"let\s+\w+\s*=\s*(?:%\w+\.)?Resources(?:\.\*)?\[(?P<filter>[^\]]*)\]")
# Filters a selection may have: by type (one or several, `or`), or by logical id (a reference followed).
_BY_TYPE = re.compile(rf'\s*Type\s*==\s*(?:%\w+|"{_TYPE}")\s*(?:or\s+Type\s*==\s*(?:%\w+|"{_TYPE}")\s*)*')
_BY_KEY = re.compile(r"\s*keys\s*==\s*%\w+\s*")


def rule_code(rule: str) -> str:
    """A guard rule's text without its comments."""
    return "\n".join(line.split("#", 1)[0] for line in rule.splitlines())


def selected_types(rule: str) -> frozenset[str]:
    """The resource types a guard rule's code names (comments aside); none when any of its selections
    of the template's resources filters other than by type or logical id: such a rule always runs."""
    code = rule_code(rule)
    for selection in SELECTION.finditer(code):
        if not (_BY_TYPE.fullmatch(selection["filter"]) or _BY_KEY.fullmatch(selection["filter"])):
            return frozenset()
    return frozenset(re.findall(_TYPE, code))


# A folder of rules, as CfnGuardValidator reads it: each entry a file (None) or a folder.
Tree = dict[str, "Tree | None"]


@dataclass(frozen=True)
class BundledRules:
    """The bundled Control Tower rules: each by the name `disabled_rules` takes (its file's stem,
    `ct-s3-pr-1`) with the CloudFormation types its code names (`selected_types`) and its text, and
    the folders they are in."""

    types: Mapping[str, frozenset[str]]
    tree: Tree
    texts: Mapping[str, str]


@functools.cache
def bundled_rules() -> BundledRules:
    archives = [path for path in importlib.metadata.files(DISTRIBUTION) or () if path.name.endswith(".jsii.tgz")]
    types: dict[str, frozenset[str]] = {}
    texts: dict[str, str] = {}
    tree: Tree = {}
    for archive in archives:
        with tarfile.open(str(archive.locate())) as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if not (member.isfile() and RULES_FOLDER in path.parents):
                    continue
                *folders, name = path.relative_to(RULES_FOLDER).parts
                node = tree
                for folder in folders:
                    node = node.setdefault(folder, {})  # type: ignore[assignment]
                node[name] = None
                if path.suffix == ".guard":
                    text = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
                    types[path.stem], texts[path.stem] = selected_types(text), text
    return BundledRules(types=types, tree=tree, texts=texts)


def rules_that_select_nothing(rules: Mapping[str, frozenset[str]], present: Iterable[str]) -> set[str]:
    """The rules that name resource types, none of them among `present`: they SKIP on these templates."""
    present = set(present)
    return {name for name, types in rules.items() if types and not types & present}


def resource_types(template_paths: Iterable[str]) -> set[str]:
    """Every resource type the synthesized templates hold."""
    return {
        resource["Type"]
        for path in template_paths
        for resource in json.loads(Path(path).read_text()).get("Resources", {}).values()
    }


def _passed(tree: Tree, disabled: Set[str]) -> list[tuple[str, ...]]:
    """The paths, as parts, CfnGuardValidator hands cfn-guard for a folder (its getRules): each enabled
    file, or the folder itself when as many paths come back from it as it has entries."""
    passed: list[tuple[str, ...]] = []
    for name, node in sorted(tree.items()):
        if node is None:
            passed.extend([(name,)] if PurePosixPath(name).stem not in disabled else [])
        else:
            passed.extend((name, *path) for path in _passed(node, disabled))
    return [()] if len(passed) == len(tree) else passed


def _files(tree: Tree) -> Iterator[str]:
    for name, node in tree.items():
        yield from [name] if node is None else _files(node)


def running_rules(tree: Tree, disabled: Set[str]) -> set[str]:
    """The rules cfn-guard runs when CfnGuardValidator is given `disabled` (every rule in a folder it passes whole)."""
    running: set[str] = set()
    for path in _passed(tree, disabled):
        node: Tree | None = tree
        for part in path:
            node = node[part] if node is not None else None
        running |= {PurePosixPath(name).stem for name in ([path[-1]] if node is None else _files(node))}
    return running


def disabled_rules(rules: BundledRules, present: Iterable[str]) -> list[str]:
    """The rules to disable for templates holding these types: those that select nothing, less any that
    CfnGuardValidator would run anyway. It passes a folder whole when as many paths come back from it
    as it has entries, which also happens by coincidence with rules disabled: the root's 39 service
    folders, some whole and some as a few files, can add up to 39 (cdklabs/cdk-validator-cfnguard#140,
    "Disabled rules are ignored"), and then all 237 run. Keeping one more rule enabled, which SKIPs
    like the others, breaks the tie."""
    disabled = rules_that_select_nothing(rules.types, present)
    while swallowed := running_rules(rules.tree, disabled) & disabled:
        disabled.discard(min(swallowed))
    return sorted(disabled)


def rule_id(name: str) -> str:
    """The id CfnGuardValidator lists for a bundled rule file (`rule_ids`): `ct-s3-pr-1` -> `s3pr1`."""
    return name.replace("ct-", "", 1).replace("-", "")


@jsii.implements(IPolicyValidationPlugin)
class ControlTowerRules:
    """The bundled Control Tower rules (CfnGuardValidator), every finding reported as an error.

    CfnGuardValidator leaves a finding's severity unset. As soon as one of its findings is
    acknowledged, CDK decides whether the rest still fail from their severities, and an unset
    one passes: without this, a single acknowledgement would turn every other finding into a
    message that no longer fails synth (tests/test_app_gates.py proves it fails).
    """

    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self._guard = CfnGuardValidator()
        self._progress = progress

    @property
    def name(self) -> str:
        return GUARD_PLUGIN

    @property
    def rule_ids(self) -> list[str] | None:
        return self._guard.rule_ids

    @property
    def version(self) -> str | None:
        return self._guard.version

    def skipped_rules(self, template_paths: Iterable[str]) -> list[str]:
        """The bundled rules that select nothing in these templates, to disable. None while the rules read
        from the package are not exactly the ones the validator lists (a package laid out otherwise), so
        that every rule runs then."""
        rules = bundled_rules()
        if sorted(map(rule_id, rules.types)) != sorted(self._guard.rule_ids or ()):
            return []
        return disabled_rules(rules, resource_types(template_paths))

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        skipped = self.skipped_rules(context.template_paths)
        running = len(self._guard.rule_ids or ()) - len(skipped)
        if self._progress is not None:
            self._progress(
                f"checking {len(context.template_paths)} templates with the Control Tower rules (cfn-guard): "
                f"the {running} of {len(self._guard.rule_ids or ())} that name a resource type they hold"
            )
        if not running:
            return PolicyValidationPluginReport(success=True, violations=[], plugin_version=self._guard.version)
        guard = CfnGuardValidator(disabled_rules=skipped) if skipped else self._guard
        report = guard.validate(context)
        violations = [
            PolicyViolation(
                rule_name=violation.rule_name,
                description=violation.description,
                fix=violation.fix,
                rule_metadata=violation.rule_metadata,
                severity="error",
                violating_resources=[
                    PolicyViolatingResource(
                        locations=resource.locations,
                        resource_logical_id=resource.resource_logical_id,
                        template_path=resource.template_path,
                    )
                    for resource in violation.violating_resources
                ],
            )
            for violation in report.violations
        ]
        return PolicyValidationPluginReport(
            success=report.success, violations=violations, plugin_version=self._guard.version
        )


def guard_rule(name: str) -> str:
    """The acknowledgement id of a guard rule, e.g. `s3_bucket_object_lock_enabled_check`."""
    return f"{GUARD_PLUGIN}::{name}"
