"""Target tracking of the production variant's instance count, safe across blue/green updates.

How it coexists with releases, rollbacks and instance-type changes (SageMaker developer guide,
"Update endpoints that use auto scaling"):

- A release changes only the model of the variant, which SageMaker allows while the variant
  is registered with Application Auto Scaling. The endpoint sets RetainAllVariantProperties,
  so the new fleet starts with the DesiredInstanceCount autoscaling reached, not with the
  EndpointConfig's InitialInstanceCount (which would shrink a scaled-out fleet mid-release).
- `mlopsctl rollback` copies the live variant and sends the same flag (mlopsctl/endpoint.py).
- An instance-type change is refused by UpdateEndpoint while the variant is a scalable target,
  and CloudFormation cannot deregister first: it deletes a removed target only in the cleanup
  phase, after the endpoint update. Such a deploy therefore fails and CloudFormation rolls the
  stack back with the endpoint untouched. The change takes two deploys: first with
  `endpoint.autoscaling.enabled: false` (the target and its policy are deleted, which
  deregisters them), then with the new instance type and autoscaling enabled again (README:
  Scaling). The first deploy also drops RetainAllVariantProperties from the endpoint, so
  CloudFormation updates it with the same EndpointConfig at `instance_count`: set that to the
  count the endpoint needs while it is not scaling.

No role is passed: Application Auto Scaling uses its service-linked role
AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint, which it creates on the first
registration ("Amazon SageMaker AI and Application Auto Scaling").
"""

from __future__ import annotations

from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_sagemaker as sagemaker

from config import AutoscalingConfig
from constructs import Construct

# Application Auto Scaling's names for a SageMaker variant (RegisterScalableTarget, PutScalingPolicy).
SERVICE_NAMESPACE = "sagemaker"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PREDEFINED_METRIC = "SageMakerVariantInvocationsPerInstance"


def variant_resource_id(endpoint_name: str, variant_name: str) -> str:
    """The ResourceId Application Auto Scaling gives a SageMaker production variant."""
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


class EndpointAutoscaling(Construct):
    """A scalable target on the endpoint's variant and a target-tracking policy on invocations per instance."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: sagemaker.CfnEndpoint,
        endpoint_name: str,
        variant_name: str,
        autoscaling: AutoscalingConfig,
    ) -> None:
        super().__init__(scope, id_)
        self.autoscaling = autoscaling
        # Every later update keeps the scaled count instead of the config's starting count.
        endpoint.retain_all_variant_properties = True

        self.target = appscaling.CfnScalableTarget(
            self,
            "Target",
            service_namespace=SERVICE_NAMESPACE,
            scalable_dimension=SCALABLE_DIMENSION,
            resource_id=variant_resource_id(endpoint_name, variant_name),
            min_capacity=autoscaling.min_instances,
            max_capacity=autoscaling.max_instances,
        )
        # The variant exists only once the endpoint does; registering earlier fails.
        self.target.node.add_dependency(endpoint)

        self.policy = appscaling.CfnScalingPolicy(
            self,
            "InvocationsPerInstance",
            policy_name=f"{endpoint_name}-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=autoscaling.target_invocations_per_instance,
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type=PREDEFINED_METRIC
                ),
                scale_in_cooldown=autoscaling.scale_in_cooldown_seconds,
                scale_out_cooldown=autoscaling.scale_out_cooldown_seconds,
            ),
        )
