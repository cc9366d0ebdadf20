"""What a SageMaker job or serving role is granted: its images, its container logs, and reads of
the model-building account's objects. The endpoint, the model-build pipeline and the drift check
grant through these, so each rule is written once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam

from config import ECR_IMAGE_FORMAT, parse_ecr_image
from constructs import Construct

PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
# GetAuthorizationToken returns a registry login token and supports no resource-level
# permissions (ECR's "Actions, resources, and condition keys"): constructs/security/wildcard_resources.py.


def repository_arn(scope: Construct, image_uri: str) -> str:
    """The ECR repository of an image URI, in the account and region the URI names."""
    image = parse_ecr_image(image_uri)
    if image is None:
        raise ValueError(f"Not an ECR image URI: {image_uri!r}; expected {ECR_IMAGE_FORMAT}.")
    return Stack.of(scope).format_arn(
        service="ecr", account=image.account, region=image.region, resource="repository", resource_name=image.repository
    )


def grant_image_pull(role: iam.IRole, scope: Construct, image_uris: Iterable[str], *, sid: str = "PullImages") -> None:
    """Pull the layers of exactly these images' repositories, and log in to ECR.

    A repository in another account also needs that repository's policy to allow the role's
    account (docs/bring-your-own-data-and-model.md): this grants only the caller's side.
    """
    repositories = sorted({repository_arn(scope, uri) for uri in image_uris})
    role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=list(PULL_ACTIONS), resources=repositories))
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])
    )


# What a SageMaker container writes its CloudWatch logs with; SageMaker names the groups
# /aws/sagemaker/<ProcessingJobs|TrainingJobs|Endpoints/<name>> (SageMaker developer guide,
# "CloudWatch Logs for Amazon SageMaker AI").
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def grant_container_logs(role: iam.IRole, scope: Construct, log_groups: Sequence[str], *, sid: str) -> list[str]:
    """Write to exactly these log groups (any of their streams); returns their ARNs to acknowledge."""
    stack = Stack.of(scope)
    arns = [
        stack.format_arn(
            service="logs", resource="log-group", resource_name=f"{group}:*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        for group in log_groups
    ]
    role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=list(LOG_ACTIONS), resources=arns))
    return arns


def grant_build_account_reads(
    role: iam.IRole, scope: Construct, *, what: str, pattern: str, actions: Sequence[str], account: str, region: str
) -> tuple[str, str]:
    """Read objects matching `pattern` in buckets the model-building `account` owns, and decrypt them.

    Their bucket's name is not known in the reading account, so the grant is scoped by the owning
    account (s3:ResourceAccount) and decryption to requests through S3 (kms:ViaService) with that
    account's keys. Returns the two wildcard resources, for their acknowledgements.
    """
    partition = Stack.of(scope).partition
    objects = f"arn:{partition}:s3:::*/{pattern}"
    keys = f"arn:{partition}:kms:{region}:{account}:key/*"
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=f"Read{what}OfBuildAccount",
            actions=list(actions),
            resources=[objects],
            conditions={"StringEquals": {"s3:ResourceAccount": account}},
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=f"Decrypt{what}OfBuildAccount",
            actions=["kms:Decrypt"],
            resources=[keys],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        )
    )
    return objects, keys
