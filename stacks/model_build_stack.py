"""The model-building environment's SageMaker pipeline (train, compare, gate, register)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config import NetworkConfig
from constructs import Construct
from constructs.storage.model_registry import ModelRegistry
from constructs.training.model_build_pipeline import ModelBuildPipeline
from pipeline_steps.checked_in import BuildSettings


class ModelBuildStack(Stack):
    """Composes the model-build pipeline with the environment's storage and registry.

    Stateless: the pipeline and its role can be replaced on any deploy; the data, the
    artifacts and the registry it writes to live in the storage stack.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        pipeline_name: str,
        definition_settings: BuildSettings,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        registry: ModelRegistry,
        network: NetworkConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.model_build = ModelBuildPipeline(
            self,
            "ModelBuildPipeline",
            pipeline_name=pipeline_name,
            definition_settings=definition_settings,
            data_bucket=data_bucket,
            artifacts_bucket=artifacts_bucket,
            key=key,
            registry=registry,
            network=network,
        )
        self.pipeline = self.model_build.pipeline
        self.pipeline_name = self.model_build.pipeline_name
        self.pipeline_arn = self.model_build.pipeline_arn
        self.role = self.model_build.role
