"""A stack that runs a spec's AWS services on the mesh backend it names, through the MeshBackend interface.

Observability is the same on every backend: Container Insights on the clusters, one log group per service,
the Logs Insights queries, X-Ray (a daemon sidecar next to each container when defaults.tracing is on).
EKS clusters are not built here (the App Mesh stack owns them); on lattice an EKS service still gets its
Lattice service, rules and target groups, which its pods join through the AWS Gateway API Controller.
"""
from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations, aws_ec2 as ec2, aws_ecs as ecs, aws_iam as iam, aws_logs as logs
from aws_cdk import aws_secretsmanager as sm, aws_ssm as ssm, Environment
from constructs import Construct

from constructs_lib.mesh.base import MeshBackend
from infra import naming
from infra.spec.model import Spec

from .mesh_backends import allow_callers, deploys, make_backend, mesh_service_props

XRAY_IMAGE = "public.ecr.aws/xray/aws-xray-daemon:3.3.14"
RETENTION = {d: getattr(logs.RetentionDays, n) for d, n in (
    (1, "ONE_DAY"), (3, "THREE_DAYS"), (5, "FIVE_DAYS"), (7, "ONE_WEEK"), (14, "TWO_WEEKS"), (30, "ONE_MONTH"),
    (60, "TWO_MONTHS"), (90, "THREE_MONTHS"), (120, "FOUR_MONTHS"), (150, "FIVE_MONTHS"), (180, "SIX_MONTHS"),
    (365, "ONE_YEAR"), (400, "THIRTEEN_MONTHS"), (545, "EIGHTEEN_MONTHS"), (731, "TWO_YEARS"),
    (1096, "THREE_YEARS"), (1827, "FIVE_YEARS"), (2192, "SIX_YEARS"), (2557, "SEVEN_YEARS"),
    (2922, "EIGHT_YEARS"), (3288, "NINE_YEARS"), (3653, "TEN_YEARS"))}
BUILTIN_QUERIES = {
    "errors-by-service": "fields @timestamp, @logStream, @message | filter @message like /(?i)error|5\\d\\d/ "
                         "| stats count() as errors by @logStream | sort errors desc",
    "p99-latency-by-version": "fields @timestamp, version, duration | stats pct(duration, 99) as p99 by version",
    "trace-lookup": "fields @timestamp, @message | filter @message like /Root=1-/ | sort @timestamp desc | limit 100",
}


class MeshBackendStack(Stack):
    def __init__(self, scope: Construct, id: str, *, spec: Spec, **kwargs) -> None:
        aws = spec.aws
        env = Environment(account=aws.account, region=aws.region) if aws.account else Environment(region=aws.region)
        super().__init__(scope, id, env=env, **kwargs)
        self.spec = spec
        azs = aws.availability_zones or [f"{aws.region}a", f"{aws.region}b"]
        self.vpc = ec2.Vpc(self, "Vpc", availability_zones=azs, nat_gateways=1)
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=RETENTION[spec.defaults.log_retention_days],
                                  removal_policy=self._removal())
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        self.clusters: dict[str, ecs.Cluster] = {}
        for c in aws.clusters:
            if c.platform == "ecs":
                insights = {"off": ecs.ContainerInsights.DISABLED, "on": ecs.ContainerInsights.ENABLED,
                            "enhanced": ecs.ContainerInsights.ENHANCED}[c.container_insights]
                self.clusters[c.name] = ecs.Cluster(self, f"Cluster-{c.name}", vpc=self.vpc,
                                                    container_insights_v2=insights)
        self.log_groups = {name: logs.LogGroup(
            self, f"Logs-{name}", log_group_name=naming.log_group(spec.project, name),
            retention=RETENTION[svc.log_retention_days or spec.defaults.log_retention_days],
            removal_policy=self._removal()) for name, svc in spec.aws_services().items()}
        self.roles = {name: iam.Role(self, f"TaskRole-{name}",
                                     assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                                     description=f"{name}: the identity its callers' auth policies name")
                      for name in spec.aws_services()}
        if spec.defaults.tracing:
            xray = iam.ManagedPolicy.from_aws_managed_policy_name("AWSXrayWriteOnlyAccess")
            for role in self.roles.values():
                role.add_managed_policy(xray)
        self.backend: MeshBackend = make_backend(spec, self, vpc=self.vpc, log_group=self.log_groups.get)
        self.bindings = {name: self.backend.add_service(self, f"Mesh-{name}", mesh_service_props(spec, name))
                         for name in spec.aws_services()}
        self.services: dict[str, ecs.FargateService] = {}
        for name, svc in spec.aws_services().items():
            if spec.cluster(svc.cluster).platform != "ecs":
                continue  # EKS workloads belong to the App Mesh stack's cluster constructs
            for v in svc.versions:
                if deploys(self.bindings[name], v.name):
                    self._ecs_version(name, v.name)
        allow_callers(spec, self.bindings, self.roles)
        self._queries()
        self._nag_suppressions()

    def _removal(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.spec.defaults.log_removal_policy == "retain" else RemovalPolicy.DESTROY

    def _ecs_version(self, name: str, version: str) -> None:
        """One code version on ECS. On Service Connect the construct id and ECS service name do not carry the
        version, so a new version is a new revision of the same ECS service: that is what ECS canaries."""
        svc = self.spec.services[name]
        binding = self.bindings[name]
        v = next(x for x in svc.versions if x.name == version)
        one_revision = self.backend.kind == "service-connect"
        cid = name if one_revision else f"{name}-{version}"
        if binding.proxy(version) is not None:
            raise ValueError(f"{self.backend.kind} asks for a sidecar proxy; this stack runs sidecar-free backends")
        task = ecs.FargateTaskDefinition(self, f"Task-{cid}", cpu=svc.cpu, memory_limit_mib=svc.memory,
                                         task_role=self.roles[name])
        container = task.add_container(
            "app", image=ecs.ContainerImage.from_registry(v.image), essential=True,
            environment={k: str(val).lower() if isinstance(val, bool) else str(val) for k, val in svc.env.items()}
            | {"MESHSPEC_SERVICE": name, "MESHSPEC_VERSION": version},
            secrets={k: self._secret(name, k, ref) for k, ref in svc.secrets.items()},
            port_mappings=[ecs.PortMapping(container_port=svc.port, name="app")],
            logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{version}/app", log_group=self.log_groups[name]))
        if self.spec.defaults.tracing:
            task.add_container("xray-daemon", image=ecs.ContainerImage.from_registry(XRAY_IMAGE), essential=False,
                               cpu=32, memory_reservation_mib=256, port_mappings=[
                                   ecs.PortMapping(container_port=2000, protocol=ecs.Protocol.UDP)],
                               logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{version}/xray",
                                                               log_group=self.log_groups[name]))
        service = ecs.FargateService(
            self, f"Service-{cid}", cluster=self.clusters[svc.cluster], task_definition=task,
            desired_count=svc.desired_count, service_name=name if one_revision else f"{name}-{version}",
            min_healthy_percent=100, max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True))
        service.connections.allow_from(ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.tcp(svc.port),
                                       f"{name} app port")
        binding.bind_ecs_service(version, service, container)
        self.services[f"{name}/{version}"] = service

    def _secret(self, service: str, key: str, ref: str) -> ecs.Secret:
        if ":secretsmanager:" in ref:
            return ecs.Secret.from_secrets_manager(sm.Secret.from_secret_complete_arn(self, f"Secret-{service}-{key}", ref))
        name = ref.split(":parameter", 1)[1]
        return ecs.Secret.from_ssm_parameter(ssm.StringParameter.from_secure_string_parameter_attributes(
            self, f"Param-{service}-{key}", parameter_name=name))

    def _queries(self) -> None:
        """Logs Insights queries over the services' log groups (L1: a spec's query is one raw string)."""
        names = {n: g.log_group_name for n, g in self.log_groups.items()}
        for q in self.spec.queries.builtin:
            logs.CfnQueryDefinition(self, f"Query-{q}", name=f"{self.spec.project}/{q}",
                                    query_string=BUILTIN_QUERIES[q], log_group_names=list(names.values()))
        for cq in self.spec.queries.custom:
            chosen = [names[s] for s in (cq.services or names) if s in names] or list(names.values())
            logs.CfnQueryDefinition(self, f"Query-custom-{cq.name}", name=f"{self.spec.project}/{cq.name}",
                                    query_string=cq.query, log_group_names=chosen)

    def _nag_suppressions(self) -> None:
        """cdk-nag 3 acknowledgments: each finding by its own id, each with the reason it is accepted."""
        for finding, reason in NAG_ACKNOWLEDGED.items():
            Validations.of(self).acknowledge(Acknowledgment(id=finding, reason=reason))


NAG_ACKNOWLEDGED: dict[str, str] = {
    "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSXrayWriteOnlyAccess]":
        "the X-Ray daemon sidecar needs exactly this AWS-maintained write-only policy",
    "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
    "AmazonECSInfrastructureRolePolicyForVpcLattice]":
        "ECS's documented role for registering tasks in VPC Lattice target groups; AWS keeps it in step with the API",
    "AwsSolutions::AwsSolutions-ECS2":
        "only non-secret settings are environment variables: meshspec validate refuses secret-looking names and "
        "secrets are injected through `secrets`",
    "AwsSolutions::AwsSolutions-EC23":
        "the service network's client security group admits only the VPC's own CIDR, a token cdk-nag cannot resolve",
}
