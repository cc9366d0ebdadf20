"""What a SageMaker job or serving role needs to pull its container images, and nothing more."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from constructs import Construct
from pipeline_steps.images import ECR_IMAGE_FORMAT, parse_ecr_image

PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
# GetAuthorizationToken returns a registry login token and supports no resource-level
# permissions (ECR's "Actions, resources, and condition keys"); acknowledged where it is granted.
LOGIN_FINDING = "Resource::*"


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
    account (docs/bring-your-own-model.md): this grants only the caller's side.
    """
    repositories = sorted({repository_arn(scope, uri) for uri in image_uris})
    role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=list(PULL_ACTIONS), resources=repositories))
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])
    )
