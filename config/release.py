"""The approved model version an environment serves, resolved outside synth (releases/<env>.json or -c)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import model_validator

from config.ecr_images import ECR_IMAGE_FORMAT, parse_ecr_image
from config.errors import invalid
from config.fields import PACKAGE_ARN, S3_URI, Text
from config.schema import Schema


class Release(Schema):
    """Which approved model version an environment serves, resolved outside synth."""

    model_package_arn: Annotated[str, Text(PACKAGE_ARN, "a model package version ARN")]
    baseline_statistics_uri: Annotated[str | None, Text(S3_URI, "an s3:// URI")] = None
    baseline_constraints_uri: Annotated[str | None, Text(S3_URI, "an s3:// URI")] = None
    # The version's inference image (InferenceSpecification), recorded by resolve-release: the
    # endpoint's role may pull it even when the model config has moved on to another image.
    image_uri: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.image_uri is not None and parse_ecr_image(self.image_uri) is None:
            raise invalid("image_uri", self.image_uri, f"an Amazon ECR image URI: {ECR_IMAGE_FORMAT}")
        return self

    @property
    def version(self) -> int:
        return int(self.model_package_arn.rsplit("/", 1)[1])

    @property
    def registry_account(self) -> str:
        """Account of the registry (the model-building environment) that holds the version."""
        return self.model_package_arn.split(":")[4]

    @property
    def registry_region(self) -> str:
        return self.model_package_arn.split(":")[3]

    @property
    def package_arn_pattern(self) -> str:
        """ARN pattern of every version of the released model package group."""
        return self.model_package_arn.rsplit("/", 1)[0] + "/*"
