"""cdk-nag acknowledgments that name the exact wildcard they accept, each with its reason.

cdk-nag v3 reports an IAM5 finding per wildcard, as `AwsSolutions-IAM5[Action::...]` or
`AwsSolutions-IAM5[Resource::...]` with the resource as it appears in the template. A
bucket from the storage stack appears as that stack's export; `objects_in` asks CDK for the
export's name (`Stack.export_value`, which names it as the automatic cross-stack reference
does), so each acknowledgment stays tied to one bucket prefix instead of the rule.
"""

from __future__ import annotations

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
    owner = Stack.of(bucket)
    if owner is Stack.of(scope):
        return f"Resource::{_arn_in_own_stack(bucket)}/{pattern}"
    return f"Resource::{_arn_in_other_stacks(bucket)}/{pattern}"


# Per bucket (CDK objects hash by identity): every grant on a bucket is acknowledged, and
# each lookup below is several round trips to the CDK runtime.
_IN_OWN_STACK: dict[s3.IBucket, str] = {}
_IN_OTHER_STACKS: dict[s3.IBucket, str] = {}


def _arn_in_own_stack(bucket: s3.IBucket) -> str:
    """How cdk-nag shows the bucket's ARN in its own stack: `<logical id.Arn>`."""
    if bucket not in _IN_OWN_STACK:
        cfn = bucket.node.default_child
        if not isinstance(cfn, CfnResource):
            raise TypeError(f"{bucket.node.path} is not a bucket defined in this app")
        _IN_OWN_STACK[bucket] = f"<{Stack.of(bucket).resolve(cfn.logical_id)}.Arn>"
    return _IN_OWN_STACK[bucket]


def _arn_in_other_stacks(bucket: s3.IBucket) -> str:
    """How cdk-nag shows the bucket's ARN in other stacks: the name of the export they import.

    Stack.export_value without a name returns the import of the very export CDK creates for
    an automatic cross-stack reference to the attribute (so it adds no output of its own).
    """
    if bucket not in _IN_OTHER_STACKS:
        owner = Stack.of(bucket)
        imported = owner.resolve(owner.export_value(bucket.bucket_arn))
        _IN_OTHER_STACKS[bucket] = imported["Fn::ImportValue"]
    return _IN_OTHER_STACKS[bucket]
