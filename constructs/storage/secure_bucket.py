"""An S3 bucket with the defaults every bucket in this app must have."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.security.checkov_skips import skip_checkov
from constructs.security.control_tower import guard_rule

# CT.S3.PR.9 (Object Lock) is acknowledged on every bucket: Object Lock can never be turned off
# again (S3 user guide, "Configuring S3 Object Lock"), and these buckets are versioned with
# lifecycle expiry instead. WORM retention is a compliance decision for the operator.
_NO_OBJECT_LOCK = (
    "Versioned with lifecycle expiry instead of Object Lock, which S3 never lets a bucket turn off again; "
    "WORM retention is a compliance choice for the operator, not a default."
)
_NO_EVENTS = "Nothing reacts to objects written here: the pipelines read them by key, so S3 events would go unread."

# Lifecycle and retention periods, in days.
_NONCURRENT_DAYS = 90
_ABORT_UPLOAD_DAYS = 7
_LOG_RETENTION_DAYS = 365


def _protected_bucket(scope: Construct, *, removal_policy: RemovalPolicy, **options: Any) -> s3.Bucket:
    """A bucket with what every bucket of the app has: SSL only, TLS 1.2, versioned, never public.

    Its policy (SSL only, log delivery, cross-account reads) is kept or removed with the bucket.
    """
    bucket = s3.Bucket(
        scope,
        "Bucket",
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=removal_policy,
        **options,
    )
    assert bucket.policy is not None  # created by enforce_ssl
    bucket.policy.apply_removal_policy(removal_policy)
    return bucket


class SecureBucket(Construct):
    """KMS-encrypted, versioned, SSL-only, never public, logged to `access_logs`.

    `event_bridge=True` turns on S3's native EventBridge delivery so 'Object Created'
    events reach the default bus. It is set on the CloudFormation resource itself rather
    than through CDK's notifications custom resource, which would add a Lambda function.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        key: kms.IKey,
        access_logs: s3.IBucket,
        removal_policy: RemovalPolicy,
        event_bridge: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        self.key = key
        self.bucket = _protected_bucket(
            self,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{id_.lower()}/",
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersionsAndUploads",
                    noncurrent_version_expiration=Duration.days(_NONCURRENT_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(_ABORT_UPLOAD_DAYS),
                )
            ],
        )
        acknowledgments = [Acknowledgment(id=guard_rule("s3_bucket_object_lock_enabled_check"), reason=_NO_OBJECT_LOCK)]
        if event_bridge:
            cfn = self.bucket.node.default_child
            assert isinstance(cfn, s3.CfnBucket)
            cfn.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
        else:
            acknowledgments.append(
                Acknowledgment(id=guard_rule("s3_event_notifications_enabled_check"), reason=_NO_EVENTS)
            )
        Validations.of(self.bucket).acknowledge(*acknowledgments)

    def share_reads_with_accounts(
        self, accounts: Sequence[str], *, sid_prefix: str, patterns: Mapping[str, str]
    ) -> None:
        """Lets `accounts` read the objects matching `patterns` and decrypt them through S3 only.

        `patterns` maps what is shared (it names the bucket statement `<sid_prefix>Read<what>`)
        to an object-key pattern; the key statement is `<sid_prefix>DecryptViaS3`.
        """
        principals = [iam.AccountPrincipal(account) for account in accounts]
        for what, pattern in patterns.items():
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"{sid_prefix}Read{what}",
                    principals=principals,
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[self.bucket.arn_for_objects(pattern)],
                )
            )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"{sid_prefix}DecryptViaS3",
                principals=principals,
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}},
            )
        )


class AccessLogBucket(Construct):
    """Target of S3 server access logs for the environment's buckets.

    S3 log delivery only writes to buckets encrypted with SSE-S3, so this is the one bucket
    without the customer-managed key.
    """

    def __init__(self, scope: Construct, id_: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id_)
        self.bucket = _protected_bucket(
            self,
            encryption=s3.BucketEncryption.S3_MANAGED,
            removal_policy=removal_policy,
            lifecycle_rules=[s3.LifecycleRule(id="ExpireLogs", expiration=Duration.days(_LOG_RETENTION_DAYS))],
        )
        self_logging = "This is the access-log bucket itself; logging it into itself would loop."
        skip_checkov(self.bucket, {"CKV_AWS_18": self_logging})
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(id="AwsSolutions-S1", reason=self_logging),
            Acknowledgment(id=guard_rule("s3_bucket_logging_enabled_check"), reason=self_logging),
            Acknowledgment(
                id=guard_rule("s3_bucket_default_encryption_kms_check"),
                reason="S3 server access logs are delivered only to buckets whose default encryption is SSE-S3 "
                "(S3 user guide, 'Enabling Amazon S3 server access logging').",
            ),
            Acknowledgment(
                id=guard_rule("s3_bucket_object_lock_enabled_check"),
                reason="A bucket with Object Lock cannot be a destination of server access logs "
                "(S3 user guide, 'Configuring S3 Object Lock').",
            ),
            Acknowledgment(
                id=guard_rule("s3_event_notifications_enabled_check"),
                reason="Nothing reacts to log objects; they are read when an access is investigated.",
            ),
        )
