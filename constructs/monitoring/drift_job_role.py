"""The role the drift check's jobs run as: what they read, write, pull and publish."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

import contracts
from config import MODEL_MONITOR_NAMESPACE, Release
from constructs import Construct
from constructs.security.nag_acknowledgments import acknowledge_wildcards, objects_in
from constructs.security.sagemaker_role_grants import grant_build_account_reads, grant_container_logs, grant_image_pull

# Where the model-building pipeline writes the baselines it registers (not its training data).
REGISTERED_BASELINES = contracts.REGISTERED_BASELINES_PATTERN


class DriftJobRole(iam.Role):
    """Runs either drift strategy's jobs: the drift-check pipeline's or Model Monitor's.

    Reads the endpoint's captured requests and the baseline registered with the live version
    (in this account or the model-building one), writes drift reports, pulls the job image
    and publishes drift metrics. Each wildcard in its policy is acknowledged where it is granted.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        release: Release,
        capture_prefix: str,
        reports_prefix: str,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        image_uri: str,
        metric_namespace: str,
        baselines_are_local: bool,
    ) -> None:
        super().__init__(
            scope,
            id_,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{endpoint_name}: runs the drift check and publishes its metrics",
        )
        artifacts_bucket.grant_read(self, f"{capture_prefix}*")
        artifacts_bucket.grant_put(self, f"{reports_prefix}*")
        # The check's last step reads the counts its first step wrote there (one per instance).
        artifacts_bucket.grant_read(self, f"{reports_prefix}*")
        # Processing volume and report output are encrypted with the environment's key.
        key.grant_encrypt_decrypt(self)
        acknowledge_wildcards(
            self,
            {
                "Action::s3:GetObject*": "grant_read on the data-capture prefix and the registered baselines only.",
                "Action::s3:GetBucket*": "grant_read: bucket metadata for reading captured data and baselines.",
                "Action::s3:List*": "grant_read: the drift check lists the hourly data-capture folders of its window.",
                "Action::s3:Abort*": "grant_put on the drift-reports prefix: aborts its own multipart uploads.",
                "Action::kms:GenerateDataKey*": "Reports and job volumes are encrypted with the environment's key.",
                "Action::kms:ReEncrypt*": "grant_encrypt_decrypt on the environment's key only.",
                objects_in(self, artifacts_bucket, f"{capture_prefix}*"): "Captured requests of this environment only.",
                objects_in(self, artifacts_bucket, f"{reports_prefix}*"): "Drift reports and the window counts "
                "behind them, of this environment only.",
            },
        )
        self._grant_baseline_read(artifacts_bucket, release, local=baselines_are_local)
        self._grant_job_basics(image_uri, metric_namespace)

    def _grant_baseline_read(self, bucket: s3.IBucket, release: Release, *, local: bool) -> None:
        """The baselines registered with model versions.

        `local`: this environment builds the models, so `bucket` is the one the baselines are written
        to. Any other environment reads the model-building environment's bucket, even in the same account.
        """
        self.add_to_policy(
            iam.PolicyStatement(
                sid="FindRegisteredBaseline",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[release.package_arn_pattern],
            )
        )
        findings = {
            f"Resource::{release.package_arn_pattern}": "Versions of the released model package group: "
            "the drift check looks up the baseline registered with the live version.",
        }
        if local:
            # Baselines only: the training splits beside them under pipelines/ stay out of reach.
            bucket.grant_read(self, REGISTERED_BASELINES)
            findings[objects_in(self, bucket, REGISTERED_BASELINES)] = (
                "Baselines the model-build pipeline registers (its Baseline step's output), not its training data."
            )
        else:
            objects, keys = grant_build_account_reads(
                self,
                self,
                what="Baseline",
                pattern=REGISTERED_BASELINES,
                actions=["s3:GetObject"],
                account=release.registry_account,
                region=release.registry_region,
            )
            findings[f"Resource::{objects}"] = (
                "Registered baselines in buckets owned by the model-building account only (s3:ResourceAccount)."
            )
            findings[f"Resource::{keys}"] = (
                "Decrypt through S3 only (kms:ViaService) with the model-building account's key."
            )
        acknowledge_wildcards(self, findings)

    def _grant_job_basics(self, image_uri: str, metric_namespace: str) -> None:
        grant_image_pull(self, self, [image_uri], sid="PullJobImages")
        self.add_to_policy(
            iam.PolicyStatement(
                sid="PublishDriftMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": [metric_namespace, MODEL_MONITOR_NAMESPACE]}},
            )
        )
        (logs,) = grant_container_logs(self, self, ["/aws/sagemaker/ProcessingJobs"], sid="JobLogs")
        acknowledge_wildcards(
            self,
            {
                f"Resource::{logs}": "Streams of SageMaker's processing-job log group, where jobs log.",
            },
        )
