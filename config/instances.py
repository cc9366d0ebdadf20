"""What an instance type's name tells about its hardware, as SageMaker's rules need it."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache

import botocore.session

# Families whose instances carry local NVMe instance storage although their name has no "d"
# (EC2 "Instance store volumes"); every family with a "d" in its suffix (m5d, g4dn, p4de) has it.
_INSTANCE_STORE_FAMILIES = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})
# Deployment guardrails exclude Inferentia 1: such an endpoint falls back to all-at-once traffic
# shifting with no baking period, so no alarm could roll it back (SageMaker "Exclusions").
GUARDRAIL_EXCLUDED_FAMILIES = frozenset({"inf1"})


def instance_family(instance_type: str) -> str:
    """`g4dn` of `ml.g4dn.xlarge`."""
    return instance_type.split(".")[1]


def has_instance_storage(instance_type: str) -> bool:
    """Whether the type has local NVMe storage, which SageMaker encrypts in hardware.

    CreateEndpointConfig (KmsKeyId) and the job APIs (VolumeKmsKeyId) refuse a KMS key for
    such types: "You can't request a KmsKeyId when using an instance type with local storage."
    """
    family = instance_family(instance_type)
    suffix = re.sub(r"^[a-z]+\d+", "", family)
    return "d" in suffix or family in _INSTANCE_STORE_FAMILIES


class InstanceUse(StrEnum):
    """What an instance type runs, by the botocore shape that lists the types SageMaker accepts for it."""

    ENDPOINT = "ProductionVariantInstanceType"
    TRAINING = "TrainingInstanceType"
    PROCESSING = "ProcessingInstanceType"


@cache
def instance_types(use: InstanceUse) -> frozenset[str]:
    """The instance types SageMaker accepts for `use` (the enum of its shape in botocore's sagemaker model)."""
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for(use.value)
    return frozenset(shape.enum)


def instance_type_problem(instance_type: str, use: InstanceUse) -> str | None:
    """Why SageMaker would refuse `instance_type` for `use`, or None."""
    if instance_type in instance_types(use):
        return None
    family = f"ml.{instance_family(instance_type)}." if instance_type.count(".") == 2 else "ml."
    same_family = sorted(t for t in instance_types(use) if t.startswith(family))[:6]
    examples = ", ".join(same_family) if same_family else "ml.m5.large, ml.m5.xlarge"
    return f"an instance type SageMaker offers as {use.value} (botocore's sagemaker model), e.g. {examples}"
