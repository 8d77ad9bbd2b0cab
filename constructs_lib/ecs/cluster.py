"""An ECS cluster with Container Insights, Fargate capacity providers and optional EC2 capacity for awsvpc tasks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_cdk import Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from ..errors import PropsError, contradiction
from ..nag import skip_checkov, suppress

# checkov's Lambda checks on aws-cdk-lib's AwsCustomResource function, which makes one ECS call at deploy time.
LAMBDA_SKIPS = {
    "CKV_AWS_115": "invoked by CloudFormation once per deploy of the cluster stack: no concurrency to reserve",
    "CKV_AWS_116": "invoked synchronously by CloudFormation, which reports its failure: a dead-letter queue "
                   "receives only failed asynchronous invocations",
    "CKV_AWS_117": "calls only the public ECS API (PutAccountSettingDefault) and reads no data: in a VPC it would "
                   "need a NAT gateway or an ECS endpoint for the same call",
}
# The construct id aws-cdk-lib gives the one Lambda function behind every AwsCustomResource of a stack.
AWS_CUSTOM_RESOURCE_PROVIDER = "AWS679f53fac002430cb0da5b7982bd2287"
INSIGHTS = {"ENHANCED": ecs.ContainerInsights.ENHANCED, "ENABLED": ecs.ContainerInsights.ENABLED,
            "DISABLED": ecs.ContainerInsights.DISABLED}


@dataclass(frozen=True)
class Ec2Capacity:
    """EC2 capacity through an Auto Scaling group capacity provider, ready for awsvpc tasks.

    - ``instance_type``: Default: ``m6i.large``. Its architecture picks the ECS-optimized Amazon Linux 2023 AMI
      (x86_64 or arm64).
    - ``min_capacity``: Default: 1. ``max_capacity``: Default: 4.
    - ``capacity_provider_name``: a fixed name, so services in other stacks can name the provider without an
      import (it cannot start with ``aws``, ``ecs`` or ``fargate``). Default: a name CloudFormation generates.
    - ``eni_trunking``: turn on ECS's ``awsvpcTrunking`` account setting (the account's default in the stack's
      region, before the instances start), so each instance holds more awsvpc tasks than it has network
      interfaces for. Default: True.
    - ``reserved_memory_mib``: ``ECS_RESERVED_MEMORY``, kept from tasks for the agent and the OS. Default: 256.
    """

    instance_type: str = "m6i.large"
    min_capacity: int = 1
    max_capacity: int = 4
    capacity_provider_name: str | None = None
    eni_trunking: bool = True
    reserved_memory_mib: int = 256

    def __post_init__(self) -> None:
        if self.min_capacity > self.max_capacity:
            raise contradiction("min_capacity", self.min_capacity, "max_capacity", self.max_capacity,
                                "the minimum must not be above the maximum")
        name = self.capacity_provider_name
        if name is not None and (not name or name.lower().startswith(("aws", "ecs", "fargate"))):
            raise PropsError(f"capacity_provider_name is {name!r}: a name that does not start with aws, ecs or "
                             "fargate (ECS reserves them)")
        if self.reserved_memory_mib < 0:
            raise PropsError(f"reserved_memory_mib is {self.reserved_memory_mib}: at least 0")


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
            self._ec2_capacity(props.vpc, props.ec2_capacity)

    def _ec2_capacity(self, vpc: ec2.IVpc, cap: Ec2Capacity) -> None:
        """The Auto Scaling group and its capacity provider: ECS scales the group to the tasks (managed scaling),
        keeps instances that still run tasks (managed termination protection) and drains an instance before it
        goes (managed draining, no Lambda hook); instances block the tasks' access to IMDS, so tasks only get
        their task role."""
        instance_type = ec2.InstanceType(cap.instance_type)
        arm = instance_type.architecture == ec2.InstanceArchitecture.ARM_64
        user_data = ec2.UserData.for_linux()
        # the agent's own settings, before it registers (aws-cdk-lib adds ECS_CLUSTER to the same file)
        user_data.add_commands(*(f"echo {k}={v} >> /etc/ecs/ecs.config" for k, v in (
            ("ECS_RESERVED_MEMORY", cap.reserved_memory_mib),
            ("ECS_AWSVPC_BLOCK_IMDS", "true"))))  # awsvpc tasks: no instance credentials through IMDS
        template = ec2.LaunchTemplate(
            self, "LaunchTemplate", instance_type=instance_type,
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(
                ecs.AmiHardwareType.ARM if arm else ecs.AmiHardwareType.STANDARD),
            require_imdsv2=True, http_put_response_hop_limit=1,  # containers in bridge mode cannot reach IMDS
            role=iam.Role(self, "InstanceRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com")),
            user_data=user_data,
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                30, encrypted=True))])
        group = autoscaling.AutoScalingGroup(
            self, "Asg", vpc=vpc, launch_template=template, min_capacity=cap.min_capacity,
            max_capacity=cap.max_capacity,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))
        if cap.eni_trunking:
            group.node.add_dependency(self._trunking())  # only instances launched after it get a trunk interface
        self.capacity_provider = ecs.AsgCapacityProvider(
            self, "Ec2Capacity", auto_scaling_group=group, capacity_provider_name=cap.capacity_provider_name,
            enable_managed_scaling=True, enable_managed_termination_protection=True, enable_managed_draining=True)
        self.cluster.add_asg_capacity_provider(self.capacity_provider)
        self._acknowledge_ec2_findings(group, template)

    def _trunking(self) -> Construct:
        """ECS's awsvpcTrunking account setting, on as the account's default in this region (PutAccountSettingDefault;
        CloudFormation has no resource for account settings). Left on when the stack goes: other clusters of the
        account may rely on it."""
        from aws_cdk import custom_resources as cr  # only for clusters with EC2 capacity

        call = cr.AwsSdkCall(service="ECS", action="putAccountSettingDefault",
                             parameters={"name": "awsvpcTrunking", "value": "enabled"},
                             physical_resource_id=cr.PhysicalResourceId.of("awsvpcTrunking"))
        setting = cr.AwsCustomResource(
            self, "EniTrunking", on_create=call, on_update=call, install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(
                actions=["ecs:PutAccountSettingDefault"], resources=["*"])]))
        suppress(setting, "AwsSolutions-IAM5", "ecs:PutAccountSettingDefault has no resource-level permissions "
                 "(docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html)",
                 applies_to=["Resource::*"])
        provider = Stack.of(self).node.try_find_child(AWS_CUSTOM_RESOURCE_PROVIDER)  # aws-cdk-lib's singleton
        suppress(provider, "AwsSolutions-IAM4", "aws-cdk-lib's AwsCustomResource provider function logs with the "
                 "AWS managed basic execution policy; it makes one ECS call at deploy time",
                 applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"])
        function = provider.node.default_child
        for check, reason in LAMBDA_SKIPS.items():
            skip_checkov(function, check, reason)
        return setting

    def _acknowledge_ec2_findings(self, group: autoscaling.AutoScalingGroup, template: ec2.LaunchTemplate) -> None:
        """cdk-nag findings on what aws-cdk-lib generates for EC2 capacity, each with its reason."""
        ecs_agent = ("the ECS container agent needs these actions on the instance role as aws-cdk-lib grants them "
                     "(docs.aws.amazon.com/AmazonECS/latest/developerguide/instance_IAM_role.html)")
        suppress(template.role, "AwsSolutions-IAM5", ecs_agent, applies_to=["Action::ecs:Submit*", "Resource::*"])
        skip_checkov(template.role.node.find_child("DefaultPolicy").node.default_child, "CKV_AWS_111",
                     f"{ecs_agent}; ecs:DiscoverPollEndpoint and ecr:GetAuthorizationToken have no resource-level "
                     "permissions, and the agent writes its own log streams")
        suppress(group, "AwsSolutions-AS3", "the ECS capacity provider scales this group; its scaling activity is "
                 "in the Auto Scaling activity history and ECS events, no operator acts on notifications")
