"""Helpers for the operator CLI tests: moto state for what moto has, Stubber for the rest.

The build environment (dev) holds the registry; moto runs as its account so the ARNs the CLI
derives from cdk.json (account 222222222222) are the ARNs moto hands out.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import boto3

ACCOUNT = "222222222222"
REGION = "eu-west-1"
GROUP = "mlops-delivery"
BUCKET = "mlops-delivery-artifacts"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-execution"
ENDPOINT = "mlops-delivery-dev"
LEDGER = "/mlops-delivery/dev/known-good"


def version_arn(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{version}"


@functools.cache
def moto_client(service: str) -> Any:
    """One client per service for the tests' own moto state (buckets, groups, versions), shared by every test:
    moto answers each client's requests while a test's mock_aws is active, from that test's fresh state.
    Clients a test wraps in a Stubber or adds handlers to are its own (Clients.stub, boto3.client)."""
    return boto3.client(service, region_name=REGION)


class Clients:
    """The factory the CLI uses: moto clients, except (service, scope) pairs a test stubs.

    `operations` lists every AWS operation the clients it hands out make, in order across
    services and accounts ("sagemaker:UpdateEndpoint"), whether moto or a Stubber answers it.
    """

    def __init__(self) -> None:
        self.stubbed: dict[tuple[str, str], Any] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.operations: list[str] = []
        self._cache: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str, scope: str) -> Any:
        self.calls.append((service, region, scope))
        if (service, scope) in self.stubbed:
            return self.stubbed[(service, scope)]
        if (service, region) not in self._cache:
            self._cache[(service, region)] = self._recorded(boto3.client(service, region_name=region))
        return self._cache[(service, region)]

    def stub(self, service: str, scope: str) -> Any:
        """A real client (never sent anywhere) for a test to wrap in a Stubber."""
        client = self._recorded(boto3.client(service, region_name=REGION))
        self.stubbed[(service, scope)] = client
        return client

    def _recorded(self, client: Any) -> Any:
        service = client.meta.service_model.service_name

        # botocore emits before-parameter-build for every call, before a Stubber answers it.
        def record(model: Any, **_: Any) -> None:
            self.operations.append(f"{service}:{model.name}")

        client.meta.events.register("before-parameter-build", record)
        return client


def evaluation(auc: float, accuracy: float, f1: float, champion: dict[str, Any] | None = None) -> dict[str, Any]:
    def metrics(a: float, b: float, c: float) -> dict[str, Any]:
        return {
            "auc": {"value": a, "standard_deviation": 0.01},
            "accuracy": {"value": b, "standard_deviation": 0.01},
            "f1": {"value": c, "standard_deviation": 0.01},
        }

    return {
        "binary_classification_metrics": metrics(auc, accuracy, f1),
        "champion": None
        if champion is None
        else {"model_package_arn": champion["arn"], "binary_classification_metrics": metrics(*champion["metrics"])},
        "comparison": {
            "metric": "auc",
            "candidate": auc,
            "champion": None if champion is None else champion["metrics"][0],
            "delta": None if champion is None else auc - champion["metrics"][0],
        },
    }


def register(
    *,
    status: str,
    auc: float,
    accuracy: float = 0.9,
    f1: float = 0.9,
    trigger: str = "schedule",
    champion: tuple[int, tuple[float, float, float]] | None = None,
) -> str:
    """Registers one version with a hand-written report (metrics chosen by the test); returns its ARN."""
    champion_data = None if champion is None else {"arn": version_arn(champion[0]), "metrics": champion[1]}
    return register_evaluation(
        status=status,
        evaluation=json.dumps(evaluation(auc, accuracy, f1, champion_data)).encode(),
        # The API rejects empty metadata values; this fake leaves the key out (the pipeline writes "none").
        metadata={
            "trigger_reason": trigger,
            "metric_name": "auc",
            "metric_value": str(auc),
            **({"champion_model_package_arn": champion_data["arn"]} if champion_data else {}),
        },
    )


def register_evaluation(*, status: str, evaluation: bytes, metadata: dict[str, str]) -> str:
    """Registers one version the way the model-build pipeline does: its evaluation.json as
    ModelQuality statistics, its metadata strings as CustomerMetadataProperties. Returns the ARN."""
    sm, s3 = moto_client("sagemaker"), moto_client("s3")
    number = len(sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]) + 1
    prefix = f"pipelines/run-{number}"
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/evaluation.json", Body=evaluation)
    statistics = {"S3Uri": f"s3://{BUCKET}/{prefix}/baseline/statistics.json", "ContentType": "application/json"}
    constraints = {"S3Uri": f"s3://{BUCKET}/{prefix}/baseline/constraints.json", "ContentType": "application/json"}
    response = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                    "ModelDataUrl": f"s3://{BUCKET}/models/run-{number}/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"S3Uri": f"s3://{BUCKET}/{prefix}/evaluation.json", "ContentType": "application/json"}
            },
            "ModelDataQuality": {"Statistics": statistics, "Constraints": constraints},
        },
        DriftCheckBaselines={"ModelDataQuality": {"Statistics": statistics, "Constraints": constraints}},
        CustomerMetadataProperties=metadata,
    )
    assert response["ModelPackageArn"] == version_arn(number)
    return str(response["ModelPackageArn"])


KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
DATA_CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": f"s3://{BUCKET}/data-capture/dev",
    "KmsKeyId": KMS_KEY,
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}
NOW = "2026-11-27T03:00:00Z"


def endpoint_description(
    status: str, config: str, failure: str | None = None, *, desired: int | None = None, current: int | None = None
) -> dict[str, Any]:
    """DescribeEndpoint; `desired`/`current` add the variant's instance counts as autoscaling leaves them."""
    description: dict[str, Any] = {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }
    if failure:
        description["FailureReason"] = failure
    if desired is not None or current is not None:
        variant: dict[str, Any] = {"VariantName": "AllTraffic"}
        if desired is not None:
            variant["DesiredInstanceCount"] = desired
        if current is not None:
            variant["CurrentInstanceCount"] = current
        description["ProductionVariants"] = [variant]
    return description


def config_description(config: str, model: str) -> dict[str, Any]:
    return {
        "EndpointConfigName": config,
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{config.lower()}",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 2,
                "InitialVariantWeight": 1.0,
            }
        ],
        "KmsKeyId": KMS_KEY,
        "DataCaptureConfig": DATA_CAPTURE,
        "CreationTime": NOW,
    }


def model_description(model: str, package_arn: str) -> dict[str, Any]:
    return {
        "ModelName": model,
        "ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/{model.lower()}",
        "PrimaryContainer": {"ModelPackageName": package_arn},
        "ExecutionRoleArn": ROLE,
        "EnableNetworkIsolation": True,
        "CreationTime": NOW,
    }


def expect_live(
    stubber: Any, *, status: str, config: str, model: str, package_arn: str, desired: int | None = None
) -> None:
    """DescribeEndpoint -> its current EndpointConfig -> that config's Model (which names the package)."""
    stubber.add_response(
        "describe_endpoint", endpoint_description(status, config, desired=desired), {"EndpointName": ENDPOINT}
    )
    stubber.add_response("describe_endpoint_config", config_description(config, model), {"EndpointConfigName": config})
    stubber.add_response("describe_model", model_description(model, package_arn), {"ModelName": model})


def package_description(package_arn: str, status: str = "Approved") -> dict[str, Any]:
    """DescribeModelPackage of a registered version, as a serving account reads it."""
    group, version = package_arn.rsplit("/", 2)[-2:]
    return {
        "ModelPackageName": group,
        "ModelPackageGroupName": group,
        "ModelPackageVersion": int(version),
        "ModelPackageArn": package_arn,
        "CreationTime": NOW,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                    "ModelDataUrl": f"s3://{BUCKET}/models/run-{version}/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    }


def expect_deployable(stubber: Any, package_arn: str) -> None:
    """The rollback's check that the serving account can read the target version (CreateModel needs it)."""
    stubber.add_response("describe_model_package", package_description(package_arn), {"ModelPackageName": package_arn})


def expect_release(
    stubber: Any,
    *,
    live_config: str,
    live_model: str,
    live_package_arn: str,
    new_name: str,
    package_arn: str,
    alarms: list[str],
    network_isolation: bool = True,
    update_policy: dict[str, Any] | None = None,
    instance_count: int = 2,
) -> None:
    """What releasing `package_arn` must send: a copy of the live config for it, then a guarded update.

    The new Model keeps the live one's network isolation (`network_isolation`); the new config
    starts with `instance_count` (the live config has 2); the update keeps the variant's current
    count, shifts traffic the way cdk.json configures dev (CANARY), or by `update_policy`, and
    rolls back on `alarms`.
    """
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 300,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            },
            "TerminationWaitInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": 3600,
        }
    }
    stubber.add_response(
        "describe_endpoint_config", config_description(live_config, live_model), {"EndpointConfigName": live_config}
    )
    live = model_description(live_model, live_package_arn)
    isolation: dict[str, Any] = {"EnableNetworkIsolation": True} if network_isolation else {}
    if not network_isolation:
        del live["EnableNetworkIsolation"]
    stubber.add_response("describe_model", live, {"ModelName": live_model})
    stubber.add_response(
        "create_model",
        {"ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/{new_name}"},
        {"ModelName": new_name, "PrimaryContainer": {"ModelPackageName": package_arn}, "ExecutionRoleArn": ROLE}
        | isolation,
    )
    stubber.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{new_name}"},
        {
            "EndpointConfigName": new_name,
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": instance_count,
                    "InitialVariantWeight": 1.0,
                    "ModelName": new_name,
                }
            ],
            "KmsKeyId": KMS_KEY,
            "DataCaptureConfig": DATA_CAPTURE,
        },
    )
    stubber.add_response(
        "update_endpoint",
        {"EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"},
        {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": new_name,
            "RetainAllVariantProperties": True,
            "DeploymentConfig": (update_policy or canary)
            | {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms]}},
        },
    )


def record(version: int, config: str, source: str = "pipeline") -> None:
    """Appends one known-good entry the way record-deployment does."""
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=LEDGER,
        Type="String",
        Overwrite=True,
        Value=json.dumps(
            {
                "model_package_arn": version_arn(version),
                "model_version": version,
                "endpoint_config_name": config,
                "recorded_at": NOW,
                "source": source,
                "reason": "deployed by the delivery pipeline",
            }
        ),
    )


def ledger_entries() -> list[dict[str, Any]]:
    history = boto3.client("ssm", region_name=REGION).get_parameter_history(Name=LEDGER)["Parameters"]
    return [json.loads(p["Value"]) for p in sorted(history, key=lambda p: p["Version"])]


WHOLE_ENDPOINT_ALARMS = ("endpoint-5xx-rate", "endpoint-model-error-rate")
NEW_FLEET_ALARMS = ("new-fleet-5xx-rate", "new-fleet-p99-latency")


def rollback_alarms(
    whole_endpoint: tuple[str, ...] = WHOLE_ENDPOINT_ALARMS,
    new_fleet: tuple[str, ...] = NEW_FLEET_ALARMS,
    *,
    env: str = "dev",
    fleet_config: str = "cfg-v2",
) -> None:
    """The serving stack's rollback alarms: on the whole endpoint, and on the fleet of `fleet_config`."""
    cw = boto3.client("cloudwatch", region_name=REGION)
    endpoint_name = f"mlops-delivery-{env}"
    dimensions = [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": "AllTraffic"}]
    for suffix in (*whole_endpoint, *new_fleet):
        fleet = [{"Name": "EndpointConfigName", "Value": fleet_config}] if suffix.startswith("new-fleet-") else []
        cw.put_metric_alarm(
            AlarmName=f"mlops-delivery-{env}-rollback-{suffix}",
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Dimensions=dimensions + fleet,
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=2,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"],
        )
    # Another environment's alarm must not end up in this endpoint's AutoRollbackConfiguration.
    cw.put_metric_alarm(
        AlarmName="mlops-delivery-staging-rollback-endpoint-5xx-rate",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )


def guarded_by(new_config: str, env: str = "dev") -> list[str]:
    """The AutoRollbackConfiguration alarms of an update to `new_config`: whole endpoint, then its guard copies."""
    return [f"mlops-delivery-{env}-rollback-{suffix}" for suffix in WHOLE_ENDPOINT_ALARMS] + [
        f"mlops-delivery-{env}-rollback-for-{new_config}-{suffix.removeprefix('new-fleet-')}"
        for suffix in NEW_FLEET_ALARMS
    ]


def alarm_names(prefix: str = "mlops-delivery-dev-rollback-") -> list[str]:
    cw = boto3.client("cloudwatch", region_name=REGION)
    return sorted(a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"])
