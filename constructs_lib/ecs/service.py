"""One code version of a meshed service on Fargate or on EC2 capacity: task definition with sidecars, ECS
service, IAM."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Mapping

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .. import observability
from ..errors import PropsError, contradiction
from ..mesh.base import MeshServiceBinding
from ..nag import suppress
from ..secret_refs import parse_ref
from .images import container_image

ENVOY_HEALTH = ["CMD-SHELL", "curl -s http://localhost:9901/server_info | grep state | grep -q LIVE"]


@dataclass(frozen=True)
class MeshedFargateServiceProps:
    """One code version of one service.

    - ``cluster``, ``service_name``, ``version``, ``image``, ``port``, ``log_group``: required.
    - ``binding``: the service's mesh binding (:class:`MeshServiceBinding`). Its ``proxy(version)`` decides
      whether an Envoy sidecar runs.
    - ``cpu``: Default: 256. ``memory_mib``: Default: 512. ``desired_count``: Default: 2.
    - ``environment``: plain variables. Default: none.
    - ``secrets``: variable → Secrets Manager secret ARN (``ARN:key`` selects one JSON key) or SSM parameter
      ARN, injected by ECS at start;
      a literal value is refused. Default: none.
    - ``tracing``: traces from Envoy and the app (shorthand for ``telemetry.tracing``). Default: True.
    - ``telemetry``: the agent and instrumentation (:class:`~meshspec.constructs_lib.observability.TelemetryProps`).
      Default: the CloudWatch agent with Application Signals, Python, environment ``ecs:<cluster name>``,
      ``version`` as the service version, 5 % of traces kept.
    - ``ecs_service_name``: Default: ``{service_name}-{version}``.
    - ``ingress_peer``: who may connect to the app port. Default: the VPC's CIDR block.
    - ``capacity_provider``: ``FARGATE`` (default) or ``FARGATE_SPOT``.
    - ``ec2_capacity_provider``: run on this EC2 capacity provider (an ``AsgCapacityProvider``'s name) instead of
      Fargate: an EC2-compatible task definition in awsvpc mode (every task its own network interface, as the
      mesh's proxy and Cloud Map's A records need), tasks spread across availability zones, then packed by memory,
      and ``AWS_REGION`` set in every container (IMDS is closed to tasks). Default: Fargate.

    The app's image, when it is in a private ECR repository, grants the task's execution role the pull of that
    repository and ``ecr:GetAuthorizationToken`` (:mod:`.images`); other registries need nothing.
    """

    cluster: ecs.ICluster
    service_name: str
    version: str
    image: str
    port: int
    log_group: logs.ILogGroup
    binding: MeshServiceBinding | None = None
    cpu: int = 256
    memory_mib: int = 512
    desired_count: int = 2
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    tracing: bool = True
    telemetry: observability.TelemetryProps | None = None
    ecs_service_name: str | None = None
    ingress_peer: ec2.IPeer | None = None
    capacity_provider: str = "FARGATE"
    ec2_capacity_provider: str | None = None

    def __post_init__(self) -> None:
        for key, ref in self.secrets.items():
            if parse_ref(ref) is None:
                raise PropsError(f"secrets[{key!r}] is not a Secrets Manager or SSM parameter ARN (value not "
                                 "shown): give a reference, never the secret itself")
        clash = sorted(set(self.secrets) & set(self.environment))
        if clash:
            raise contradiction("environment", clash, "secrets", clash, "a variable comes from one place only")
        if self.telemetry is not None and self.telemetry.tracing != self.tracing:
            raise contradiction("tracing", self.tracing, "telemetry.tracing", self.telemetry.tracing,
                                "give tracing once, in telemetry")
        if self.capacity_provider not in ("FARGATE", "FARGATE_SPOT"):
            raise PropsError(f"capacity_provider is {self.capacity_provider!r}: allowed FARGATE or FARGATE_SPOT")
        if self.ec2_capacity_provider is not None and self.capacity_provider != "FARGATE":
            raise contradiction("capacity_provider", self.capacity_provider, "ec2_capacity_provider",
                                self.ec2_capacity_provider, "a service runs on Fargate or on EC2 capacity, not both")


@functools.cache
def envoy_health_check() -> ecs.HealthCheck:
    """One HealthCheck (and its three Durations) for every Envoy container: each Duration is a jsii round trip."""
    return ecs.HealthCheck(command=ENVOY_HEALTH, interval=Duration.seconds(5), timeout=Duration.seconds(2),
                           retries=3, start_period=Duration.seconds(10))


@functools.cache
def registry_image(name: str) -> ecs.ContainerImage:
    """A public registry image, created once per process (it holds no construct, so every task definition can
    share it): the Envoy and X-Ray images are the same in every task definition."""
    return ecs.ContainerImage.from_registry(name)


class CrossRegionParameter(ecs.Secret):
    """An SSM parameter in another region than the stack's, by its full ARN: ECS reads it at task start
    (docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-ssm-paramstore.html), while CDK's
    ``StringParameter.fromStringParameterArn`` refuses it. Grants what CDK's ``grantRead`` grants on a parameter."""

    def __init__(self, arn: str) -> None:
        super().__init__()
        self._arn = arn

    @property
    def arn(self) -> str:
        return self._arn

    @property
    def has_field(self) -> bool | None:
        return None

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, resource_arns=[self._arn], actions=[
            "ssm:DescribeParameters", "ssm:GetParameters", "ssm:GetParameter", "ssm:GetParameterHistory"])


def ecs_secret(scope: Construct, id: str, ref: str) -> ecs.Secret:
    """An ecs.Secret from an ARN (a secret's, optionally with a JSON key, or a parameter's): ECS resolves it at
    task start, the value never reaches the template."""
    r = parse_ref(ref)
    if r.kind == "ssmparameter":  # by its full ARN, so a parameter in another region or account stays as given
        region = Stack.of(scope).region
        if not Token.is_unresolved(region) and r.region != region:
            return CrossRegionParameter(r.arn)  # CDK's fromStringParameterArn refuses these; ECS reads them
        from aws_cdk import aws_ssm as ssm  # imported only for a spec that has SSM references

        return ecs.Secret.from_ssm_parameter(ssm.StringParameter.from_string_parameter_arn(scope, id, r.arn))
    secret = (secretsmanager.Secret.from_secret_complete_arn(scope, id, r.arn) if r.complete
              else secretsmanager.Secret.from_secret_partial_arn(scope, id, r.arn))  # grants cover the suffix
    return ecs.Secret.from_secrets_manager(secret, field=r.json_key)


class MeshedFargateService(Construct):
    """Task definition (app, Envoy, the CloudWatch agent and ADOT's init container), the ECS service, and a task
    role with only what it needs."""

    def __init__(self, scope: Construct, id: str, props: MeshedFargateServiceProps) -> None:
        super().__init__(scope, id)
        p = props
        telemetry = p.telemetry or observability.TelemetryProps(
            service_name=p.service_name, environment=f"ecs:{p.cluster.cluster_name}", version=p.version,
            tracing=p.tracing)
        proxy = p.binding.proxy(p.version) if p.binding is not None else None
        proxy_config = None
        if proxy is not None:  # the backend that brings the proxy says how the task's traffic reaches it; the
            # telemetry agent's group goes past the proxy (its calls to CloudWatch and X-Ray)
            proxy = replace(proxy, ignored_gid=observability.proxy_ignored_gid(telemetry))
            proxy_config = proxy.ecs_proxy_configuration("envoy", [p.port])
        family = p.ecs_service_name or f"{p.service_name}-{p.version}"
        if p.ec2_capacity_provider is None:
            self.task_definition: ecs.TaskDefinition = ecs.FargateTaskDefinition(
                self, "TaskDefinition", cpu=p.cpu, memory_limit_mib=p.memory_mib, proxy_configuration=proxy_config,
                family=family)
        else:  # awsvpc as on Fargate: the App Mesh proxy configuration and Cloud Map's A records need it
            self.task_definition = ecs.TaskDefinition(
                self, "TaskDefinition", compatibility=ecs.Compatibility.EC2, network_mode=ecs.NetworkMode.AWS_VPC,
                cpu=str(p.cpu), memory_mib=str(p.memory_mib), proxy_configuration=proxy_config, family=family)
        env = observability.app_environment(
            telemetry, {**p.environment, "MESHSPEC_SERVICE": p.service_name, "MESHSPEC_VERSION": p.version})

        def log(container: str) -> ecs.LogDriver:
            return ecs.LogDrivers.aws_logs(stream_prefix=f"{p.version}/{container}", log_group=p.log_group)

        self.app = self.task_definition.add_container(
            "app", image=container_image(p.image), essential=True, environment=env,
            secrets={k: ecs_secret(self, f"Secret-{k}", ref) for k, ref in sorted(p.secrets.items())},
            port_mappings=[ecs.PortMapping(container_port=p.port, name="app")], logging=log("app"))
        if proxy is not None:
            envoy_env = observability.envoy_environment(telemetry, proxy.environment)
            self.envoy = self.task_definition.add_container(
                "envoy", image=registry_image(proxy.image), essential=True, user=str(proxy.ignored_uid),
                environment=envoy_env, memory_reservation_mib=128, logging=log("envoy"),
                health_check=envoy_health_check())
            self.app.add_container_dependencies(ecs.ContainerDependency(
                container=self.envoy, condition=ecs.ContainerDependencyCondition.HEALTHY))
            for statement in proxy.policy_statements:
                # the task definition's method returns nothing; the role's returns a struct that jsii reads
                # back property by property: two more round trips per statement
                self.task_definition.add_to_task_role_policy(statement)
        observability.add_to_task(self.task_definition, self.app, telemetry, log=log)
        suppress(self.task_definition, "AwsSolutions-ECS2",
                 "environment holds only plain settings; secrets are refused as literals in the props and "
                 "injected from Secrets Manager or SSM through ecs.Secret")
        if p.ec2_capacity_provider is not None:
            self._region_everywhere(given=set(p.environment))
        common = dict(cluster=p.cluster, task_definition=self.task_definition, desired_count=p.desired_count,
                      service_name=p.ecs_service_name or f"{p.service_name}-{p.version}", min_healthy_percent=100,
                      max_healthy_percent=200, circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
                      vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))
        if p.ec2_capacity_provider is None:
            self.service: ecs.BaseService = ecs.FargateService(
                self, "Service", capacity_provider_strategies=[
                    ecs.CapacityProviderStrategy(capacity_provider=p.capacity_provider, weight=1)], **common)
        else:
            self.service = ecs.Ec2Service(
                self, "Service", capacity_provider_strategies=[
                    ecs.CapacityProviderStrategy(capacity_provider=p.ec2_capacity_provider, weight=1)],
                placement_strategies=[ecs.PlacementStrategy.spread_across(ecs.BuiltInAttributes.AVAILABILITY_ZONE),
                                      ecs.PlacementStrategy.packed_by_memory()], **common)
        peer = p.ingress_peer or ec2.Peer.ipv4(p.cluster.vpc.vpc_cidr_block)
        self.service.connections.allow_from(peer, ec2.Port.tcp(p.port), f"{p.service_name} app port")
        if p.binding is not None:
            p.binding.bind_ecs_service(p.version, self.service, self.app)

    def _region_everywhere(self, given: set[str]) -> None:
        """ECS on EC2 sets no AWS_REGION in containers (Fargate does; agents before 2026 do not) and the
        instances close IMDS to tasks, so every container (the app's SDK, Envoy, the telemetry agent) gets it;
        a value the app's ``environment`` gives stays."""
        region = Stack.of(self).region
        for container in self.task_definition.node.children:
            if isinstance(container, ecs.ContainerDefinition):
                app = container.node.id == "app"  # jsii hands back another proxy of the same container
                for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
                    if not (app and key in given):
                        container.add_environment(key, region)


# The construct runs on either capacity; the names say so (the Fargate names stay for existing code).
MeshedEcsService = MeshedFargateService
MeshedEcsServiceProps = MeshedFargateServiceProps
