"""VPC endpoints through which an environment's SageMaker jobs and endpoint reach AWS without internet."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2

from config import VpcSettings
from constructs import Construct

# The interface endpoints config's `vpc_endpoints` may name, by construct ID (unchanged, so
# logical IDs stay put). What the containers call: SageMaker (the drift check's
# DescribeModelPackage), CloudWatch metrics (PutMetricData); sagemaker.runtime serves clients
# of the endpoint inside the VPC, admitted by `endpoint_client_cidrs`. ECR, CloudWatch Logs and
# KMS serve anything else in the VPC that the team points at them. No STS: SageMaker hands the
# role's credentials to the container itself.
INTERFACE_SERVICES = {
    "sagemaker.api": ("SageMakerApi", ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API),
    "sagemaker.runtime": ("SageMakerRuntime", ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME),
    "ecr.api": ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
    "ecr.dkr": ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
    "logs": ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
    "monitoring": ("Monitoring", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING),
    "kms": ("Kms", ec2.InterfaceVpcEndpointAwsService.KMS),
}
HTTPS = 443


class PrivateEndpoints(Construct):
    """An S3 gateway endpoint on the job subnets' route tables and one interface endpoint per
    service, of those `services` names.

    The interface endpoints resolve the services' public names privately for the whole VPC
    (private DNS) and accept HTTPS from the security groups the jobs and the endpoint run with
    and from `client_cidrs`. The VPC, subnets, route tables and security groups are the team's
    own and are referenced by ID: synth looks nothing up.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: VpcSettings,
        route_table_ids: tuple[str, ...],
        services: tuple[str, ...],
        client_cidrs: tuple[str, ...],
    ) -> None:
        super().__init__(scope, id_)
        self.security_group = ec2.CfnSecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc_id=vpc.vpc_id,
            group_description="HTTPS from the SageMaker jobs and endpoint to the VPC endpoints",
            security_group_ingress=[
                ec2.CfnSecurityGroup.IngressProperty(
                    ip_protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    source_security_group_id=group,
                    description=f"HTTPS from SageMaker jobs in {group}",
                )
                for group in vpc.security_group_ids
            ]
            + [
                ec2.CfnSecurityGroup.IngressProperty(
                    ip_protocol="tcp", from_port=HTTPS, to_port=HTTPS, cidr_ip=cidr, description=f"HTTPS from {cidr}"
                )
                for cidr in client_cidrs
            ],
            # Endpoints only answer (security groups are stateful). A rule that matches no traffic
            # replaces the allow-all egress EC2 adds to a group created without egress rules.
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="icmp",
                    from_port=252,
                    to_port=86,
                    cidr_ip="255.255.255.255/32",
                    description="No outbound traffic",
                )
            ],
        )
        self.gateway = (
            ec2.CfnVPCEndpoint(
                self,
                "S3",
                vpc_id=vpc.vpc_id,
                service_name=ec2.GatewayVpcEndpointAwsService.S3.name,
                vpc_endpoint_type="Gateway",
                route_table_ids=list(route_table_ids),
            )
            if "s3" in services
            else None
        )
        self.interfaces = {
            name: ec2.CfnVPCEndpoint(
                self,
                name,
                vpc_id=vpc.vpc_id,
                service_name=service.name,
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=list(vpc.endpoint_subnet_ids),
                security_group_ids=[self.security_group.attr_group_id],
            )
            for key, (name, service) in INTERFACE_SERVICES.items()
            if key in services
        }
