"""Stateful resources keep their logical IDs: a changed ID is a resource CloudFormation replaces.

A renamed construct gives its resources new logical IDs, and CloudFormation then creates new ones
and deletes (or, retained, abandons) the old: an empty bucket, a new key that cannot decrypt what
the old one encrypted, an empty registry, a new queue without the messages waiting in the old.
A resource with a name of our choosing cannot be replaced at all: CloudFormation creates the new
one before it deletes the old, and the name is taken ("You can't perform an update that causes a
custom-named resource to be replaced", CloudFormation template reference, "Resource custom naming";
the deploy stops with "CloudFormation cannot update a stack when a custom-named resource requires
replacing"): a pipeline, an alarm, a role, a KMS alias. A bucket policy, identified by its bucket,
would be written anew and then deleted with the old one. Those are in the snapshot too: a resource
whose registry schema's primary identifier is a create-only property the template sets.

This snapshot of every layout's stateful and custom-named resources is a tripwire: a change fails
here first, and the message says what CloudFormation would replace. When that is intended (and the
data is moved by hand), update tests/stateful_logical_ids.json with the JSON the message shows.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from tests.conftest import ROOT, Assembly

pytestmark = pytest.mark.template

SNAPSHOT = ROOT / "tests" / "stateful_logical_ids.json"
# Resources whose replacement loses what they hold: data, keys, the registry, logs, queued
# messages, parameters, subscriptions, and the endpoint serving live traffic.
STATEFUL = (
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::SSM::Parameter",
    "AWS::SNS::Topic",
    "AWS::SageMaker::Endpoint",
)
LAYOUTS = {"default": "assembly", "variant": "variant_assembly", "sandbox": "sandbox_assembly"}


@functools.cache
def name_property(resource_type: str) -> str | None:
    """The property that names a resource of this type when the template sets it (None: no such property)."""
    if resource_type.startswith("Custom::") or resource_type.startswith("AWS::CDK::"):
        return None
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", resource_type).schema
    identifier = schema.get("primaryIdentifier", [])
    if len(identifier) == 1 and identifier[0] in schema.get("createOnlyProperties", []):
        return str(identifier[0]).removeprefix("/properties/")
    return None


def kept(resource: dict[str, Any]) -> bool:
    """Stateful, or named by the template (so it cannot be replaced)."""
    name = name_property(resource["Type"])
    return resource["Type"] in STATEFUL or (name is not None and name in resource.get("Properties", {}))


def stateful_ids(assembly: Assembly) -> dict[str, dict[str, list[str]]]:
    """stack name -> resource type -> the logical IDs of its stateful resources."""
    found: dict[str, dict[str, list[str]]] = {}
    for stack, template in sorted(assembly.templates.items()):
        by_type: dict[str, list[str]] = {}
        for logical_id, resource in sorted(template.get("Resources", {}).items()):
            if kept(resource):
                by_type.setdefault(resource["Type"], []).append(logical_id)
        if by_type:
            found[stack] = dict(sorted(by_type.items()))
    return found


def _changes(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    lines = []
    for stack in sorted(set(expected) | set(found)):
        for kind in sorted({*expected.get(stack, {}), *found.get(stack, {})}):
            before = set(expected.get(stack, {}).get(kind, []))
            after = set(found.get(stack, {}).get(kind, []))
            if before - after:
                lines.append(f"{stack} {kind}: replaced or removed {sorted(before - after)}")
            if after - before:
                lines.append(f"{stack} {kind}: new {sorted(after - before)}")
    return lines


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stateful_resources_keep_their_logical_ids(layout: str, request: pytest.FixtureRequest) -> None:
    found = stateful_ids(request.getfixturevalue(LAYOUTS[layout]))
    expected = json.loads(SNAPSHOT.read_text())[layout]
    assert found == expected, (
        "\n".join(_changes(expected, found))
        + f"\nIf CloudFormation is meant to replace them, set {SNAPSHOT.name}'s {layout!r} to:\n"
        + json.dumps(found, indent=2)
    )


def test_the_snapshot_covers_the_data_the_registry_and_every_serving_endpoint() -> None:
    """So an emptied snapshot file cannot pass: each layout's data bucket, registry and endpoints are in it."""
    snapshot = json.loads(SNAPSHOT.read_text())
    assert set(snapshot) == set(LAYOUTS)
    for layout, stacks in snapshot.items():
        kinds = [kind for by_type in stacks.values() for kind in by_type]
        assert kinds.count("AWS::SageMaker::ModelPackageGroup") == 1, layout
        assert any(
            i.startswith("DataBucket") for by_type in stacks.values() for i in by_type.get("AWS::S3::Bucket", [])
        )
        endpoints = [s for s, by_type in stacks.items() if "AWS::SageMaker::Endpoint" in by_type]
        assert endpoints == sorted(s for s in stacks if s.endswith("-serving")), layout
