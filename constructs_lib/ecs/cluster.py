"""An ECS cluster with Container Insights, Fargate capacity providers and optional EC2 capacity."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_cdk import Stack, Token
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from ..errors import PropsError, contradiction
from ..nag import suppress

INSIGHTS = {"ENHANCED": ecs.ContainerInsights.ENHANCED, "ENABLED": ecs.ContainerInsights.ENABLED,
            "DISABLED": ecs.ContainerInsights.DISABLED}


@dataclass(frozen=True)
class Ec2Capacity:
    """EC2 capacity through an Auto Scaling group capacity provider.

    - ``instance_type``: Default: ``m6i.large``.
    - ``min_capacity``: Default: 1. ``max_capacity``: Default: 4.
    """

    instance_type: str = "m6i.large"
    min_capacity: int = 1
    max_capacity: int = 4

    def __post_init__(self) -> None:
        if self.min_capacity > self.max_capacity:
            raise contradiction("min_capacity", self.min_capacity, "max_capacity", self.max_capacity,
                                "the minimum must not be above the maximum")


@dataclass(frozen=True)
class EcsClusterProps:
    """- ``vpc``: the VPC the cluster's tasks run in.
    - ``cluster_name``: Default: a name CloudFormation generates.
    - ``container_insights``: ``ENHANCED`` (default), ``ENABLED`` or ``DISABLED``.
    - ``namespace``: an existing Cloud Map namespace to use for service discovery. Default: none is used
      unless ``namespace_name`` is given.
    - ``namespace_name``: create a private DNS namespace with this name in ``vpc``. Default: none is created.
    - ``fargate``: add the FARGATE and FARGATE_SPOT capacity providers. Default: True.
    - ``ec2_capacity``: add EC2 capacity (an Auto Scaling group capacity provider). Default: no EC2 capacity.
    """

    vpc: ec2.IVpc
    cluster_name: str | None = None
    container_insights: Literal["ENHANCED", "ENABLED", "DISABLED"] = "ENHANCED"
    namespace: sd.INamespace | None = None
    namespace_name: str | None = None
    fargate: bool = True
    ec2_capacity: Ec2Capacity | None = None

    def __post_init__(self) -> None:
        if self.container_insights not in INSIGHTS:
            raise PropsError(f"container_insights is {self.container_insights!r}: allowed {', '.join(INSIGHTS)}")
        if self.namespace is not None and self.namespace_name is not None:
            raise contradiction("namespace", "<given>", "namespace_name", self.namespace_name,
                                "give an existing namespace or a name for a new one, not both")
        if not self.fargate and self.ec2_capacity is None:
            raise contradiction("fargate", False, "ec2_capacity", None, "the cluster would have no capacity")


class EcsCluster(Construct):
    """The cluster, its capacity providers and (optionally) its Cloud Map namespace."""

    def __init__(self, scope: Construct, id: str, props: EcsClusterProps) -> None:
        super().__init__(scope, id)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=props.vpc, cluster_name=props.cluster_name,
                                   container_insights_v2=INSIGHTS[props.container_insights],
                                   enable_fargate_capacity_providers=props.fargate)
        self.namespace: sd.INamespace | None = props.namespace
        if props.namespace_name is not None:
            self.namespace = sd.PrivateDnsNamespace(self, "Namespace", name=props.namespace_name, vpc=props.vpc)
        self.capacity_provider: ecs.AsgCapacityProvider | None = None
        if props.ec2_capacity is not None:
            cap = props.ec2_capacity
            template = ec2.LaunchTemplate(
                self, "LaunchTemplate", instance_type=ec2.InstanceType(cap.instance_type),
                machine_image=ecs.EcsOptimizedImage.amazon_linux2023(), require_imdsv2=True,
                role=iam.Role(self, "InstanceRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com")),
                user_data=ec2.UserData.for_linux(),
                block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                    30, encrypted=True))])
            group = autoscaling.AutoScalingGroup(
                self, "Asg", vpc=props.vpc, launch_template=template, min_capacity=cap.min_capacity,
                max_capacity=cap.max_capacity,
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))
            self.capacity_provider = ecs.AsgCapacityProvider(self, "Ec2Capacity", auto_scaling_group=group,
                                                             enable_managed_termination_protection=False)
            self.cluster.add_asg_capacity_provider(self.capacity_provider)
            self._acknowledge_ec2_findings(group, template)

    def _acknowledge_ec2_findings(self, group: autoscaling.AutoScalingGroup, template: ec2.LaunchTemplate) -> None:
        """cdk-nag findings on what aws-cdk-lib generates for EC2 capacity, each with its reason."""
        stack = Stack.of(self)
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        asg_id = stack.resolve(stack.get_logical_id(group.node.default_child))
        ecs_agent = ("the ECS container agent needs these actions on the instance role as aws-cdk-lib grants them "
                     "(docs.aws.amazon.com/AmazonECS/latest/developerguide/instance_IAM_role.html)")
        suppress(template.role, "AwsSolutions-IAM5", ecs_agent, applies_to=["Action::ecs:Submit*", "Resource::*"])
        drain = ("aws-cdk-lib's instance drain hook (Lambda, SNS topic, lifecycle hook) drains tasks before an "
                 "instance terminates; its role, runtime and topic are generated by the library")
        hook = group.node.find_child("DrainECSHook")
        suppress(hook, "AwsSolutions-IAM4", drain,
                 applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"])
        suppress(hook, "AwsSolutions-IAM5", drain, applies_to=[
            "Resource::*",
            f"Resource::arn:<AWS::Partition>:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/<{asg_id}>"])
        suppress(hook, "AwsSolutions-L1", drain)
        suppress(group.node.find_child("LifecycleHookDrainHook"), "AwsSolutions-SNS3", drain)
        suppress(group, "AwsSolutions-AS3", "the ECS capacity provider scales this group; its scaling activity is "
                 "in the Auto Scaling activity history and ECS events, no operator acts on notifications")
