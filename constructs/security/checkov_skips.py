"""checkov skips, written into the template next to the resource they concern.

checkov reads `Metadata: {checkov: {skip: [{id, comment}]}}` on a resource; every skip here
carries the reason as its comment (tests/test_app_gates.py fails on a skip without one).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnResource

from constructs import IConstruct


def skip_checkov(resource: IConstruct, checks: Mapping[str, str]) -> None:
    """`checks` maps a checkov id (CKV_AWS_...) to the reason it does not apply to `resource`."""
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource to annotate")
    existing = cfn.get_metadata("checkov") or {}
    skips = [*existing.get("skip", []), *({"id": id_, "comment": why} for id_, why in checks.items())]
    cfn.add_metadata("checkov", {"skip": skips})
