"""The artifact bucket CDK Pipelines creates, held to our buckets' rules: access logged, versioned,
expired, its key's grants restricted, the SSL-only policy retained with it."""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs.security.control_tower import guard_rule
from constructs.security.kms_keys import restrict_grants_to_aws_services

# How long replaced artifacts and unfinished uploads are kept, in days.
_ARTIFACT_NONCURRENT_DAYS = 30
_ABORT_UPLOAD_DAYS = 7
_ACCESS_LOG_PREFIX = "pipeline-artifacts/"


def harden_artifact_bucket(pipeline: codepipeline.Pipeline, access_logs: s3.IBucket) -> None:
    """Server access logs into `access_logs`, then versioning and expiry like our own buckets."""
    _log_access(pipeline, access_logs)
    _version_and_expire(pipeline.artifact_bucket)


def _log_access(pipeline: codepipeline.Pipeline, access_logs: s3.IBucket) -> None:
    """Server access logs for the artifact bucket (cdk-nag S1)."""
    bucket = pipeline.artifact_bucket
    cfn = bucket.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    cfn.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=access_logs.bucket_name, log_file_prefix=_ACCESS_LOG_PREFIX
    )
    # CDK Pipelines retains the artifact bucket; its SSL-only policy stays with it.
    if bucket.policy is not None:
        bucket.policy.apply_removal_policy(RemovalPolicy.RETAIN)
    access_logs.add_to_resource_policy(
        iam.PolicyStatement(
            sid="S3ServerAccessLogsForPipelineArtifacts",
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[access_logs.arn_for_objects(f"{_ACCESS_LOG_PREFIX}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": pipeline.env.account},
            },
        )
    )


def _version_and_expire(bucket: s3.IBucket) -> None:
    """Versioned, replaced versions and unfinished uploads expired; the key's grants restricted."""
    cfn = bucket.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    cfn.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
    cfn.lifecycle_configuration = s3.CfnBucket.LifecycleConfigurationProperty(
        rules=[
            s3.CfnBucket.RuleProperty(
                id="ExpireOldVersionsAndUploads",
                status="Enabled",
                noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(
                    noncurrent_days=_ARTIFACT_NONCURRENT_DAYS
                ),
                abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                    days_after_initiation=_ABORT_UPLOAD_DAYS
                ),
            )
        ]
    )
    if bucket.encryption_key is not None:
        restrict_grants_to_aws_services(bucket.encryption_key)
    Validations.of(bucket).acknowledge(
        Acknowledgment(
            id=guard_rule("s3_bucket_object_lock_enabled_check"),
            reason="Build artifacts are versioned and expire; Object Lock, which S3 never lets a bucket "
            "turn off again, would keep every build's output forever.",
        ),
        Acknowledgment(
            id=guard_rule("s3_event_notifications_enabled_check"),
            reason="Only CodePipeline reads its artifacts, by key; S3 events would go unread.",
        ),
    )
