"""Amazon ECR image URIs: what the config accepts as a model's image and what a role needs to pull one.

The config validates `images.*.uri` and a release's `image_uri` with it; the constructs grant
pull access to the repository it names, in the account and region it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An Amazon ECR image URI: <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>(:<tag>|@sha256:<digest>).
# Repository names and tags as ECR allows them (CreateRepository repositoryName; image tag rules
# in the ECR user guide, "Pushing an image"); SageMaker's ContainerImage allows 255 characters.
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
CONTAINER_IMAGE_MAX = 255
ECR_IMAGE_FORMAT = "<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:<tag> or @sha256:<digest>]"


@dataclass(frozen=True)
class EcrImage:
    """Where an image lives: what a role needs to pull it (its repository, in its account and region)."""

    uri: str
    account: str
    region: str
    repository: str


def parse_ecr_image(uri: str) -> EcrImage | None:
    """The account, region and repository of an ECR image URI; None when `uri` is not one."""
    found = _ECR_IMAGE.match(uri) if len(uri) <= CONTAINER_IMAGE_MAX else None
    if found is None:
        return None
    return EcrImage(uri, found["account"], found["region"], found["repository"])
