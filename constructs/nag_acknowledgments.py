"""cdk-nag acknowledgments that name the exact wildcard they accept, each with its reason.

cdk-nag v3 reports an IAM5 finding per wildcard, as `AwsSolutions-IAM5[Action::...]` or
`AwsSolutions-IAM5[Resource::...]` with the resource as it appears in the template. A
bucket from the storage stack appears as that stack's export, whose name CDK derives
from the exporting stack's name and the bucket's logical id; `objects_in` spells it the
same way so each acknowledgment stays tied to one bucket prefix instead of the rule.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_s3 as s3

from constructs import Construct, IConstruct

_RULE = "AwsSolutions-IAM5"


def acknowledge_wildcards(scope: IConstruct, findings: Mapping[str, str]) -> None:
    """`findings` maps "Action::..." or "Resource::..." to the reason it is acceptable."""
    # One call for all of them: each jsii round trip costs synth time.
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=f"{_RULE}[{finding}]", reason=why) for finding, why in findings.items())
    )


def objects_in(scope: Construct, bucket: s3.IBucket, pattern: str) -> str:
    """The `Resource::` finding text of `bucket.arn_for_objects(pattern)` in `scope`'s stack."""
    owner, in_own_stack, in_other_stacks = _bucket_arn_findings(bucket)
    return f"Resource::{in_own_stack if owner is Stack.of(scope) else in_other_stacks}/{pattern}"


# Per bucket (CDK objects hash by identity): every grant on a bucket is acknowledged, and
# each lookup below is several round trips to the CDK runtime.
_ARN_FINDINGS: dict[s3.IBucket, tuple[Stack, str, str]] = {}


def _bucket_arn_findings(bucket: s3.IBucket) -> tuple[Stack, str, str]:
    """The bucket's stack and how its ARN reads in that stack and in the others."""
    if bucket not in _ARN_FINDINGS:
        _ARN_FINDINGS[bucket] = _describe_bucket_arn(bucket)
    return _ARN_FINDINGS[bucket]


def _describe_bucket_arn(bucket: s3.IBucket) -> tuple[Stack, str, str]:
    owner = Stack.of(bucket)
    cfn = bucket.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{bucket.node.path} is not a bucket defined in this app")
    logical_id = owner.resolve(cfn.logical_id)
    # CDK names a cross-stack export "<stack>:ExportsOutput<readable id><hash of its path>".
    output_id = "Output" + json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, separators=(",", ":"))
    digest = hashlib.md5(f"Exports/{output_id}".encode(), usedforsecurity=False).hexdigest()[:8].upper()
    readable = re.sub(r"[^A-Za-z0-9]", "", f"Exports{output_id}")
    return owner, f"<{logical_id}.Arn>", f"{owner.stack_name}:{readable}{digest}"
