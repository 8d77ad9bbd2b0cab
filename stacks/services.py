"""A service stack: one shard of one cluster's services. It only composes constructs."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from aws_cdk import Annotations, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from meshspec.constructs_lib.dashboard import ServiceDashboard, ServiceDashboardProps
from meshspec.constructs_lib.ecs import MeshedFargateService, MeshedFargateServiceProps
from meshspec.constructs_lib.eks import KubernetesWorkload, KubernetesWorkloadProps, WorkloadVersion
from meshspec.constructs_lib.logs import CustomQuery, ServiceLogs, ServiceLogsProps, imported_key
from meshspec.constructs_lib.mesh.base import MeshBackend, MeshServiceBinding
from meshspec.constructs_lib.mesh.beside import BesideBinding
from meshspec.constructs_lib.metrics import ServiceMetricFilters
from meshspec.constructs_lib.slo import ServiceLevelObjective
from meshspec.infra import naming
from meshspec.infra.dependencies import DASHBOARD_ROWS
from meshspec.infra.mesh import registry
from meshspec.infra.spec.model import Spec, live_majors

from . import convert
from .cluster import ClusterStack
from .shared import VPC_CIDR

if TYPE_CHECKING:
    from .shared import SharedStack


class ServicesStack(Stack):
    """The spec's mesh backend (``aws.mesh.backend``, through the registry) connects the services; during a
    migration the incoming backend joins too: in the same tasks (a :class:`BesideBinding`) or as a second
    workload per ECS service (``Backend.joins``)."""

    def __init__(self, scope: Construct, id: str, *, spec: Spec, cluster: ClusterStack, services: list[str],
                 namespace: sd.INamespace, shared: "SharedStack | None" = None, beneath: tuple = (),
                 **kwargs) -> None:
        """``beneath``: the dashboard's rows of the services beneath the stack's service (its view's fact,
        ``meshspec.infra.dependencies.rows``). Default: none."""
        super().__init__(scope, id, **kwargs)
        self._beneath = beneath
        parts = shared.backend_parts if shared is not None else {}
        primary = registry.primary(spec)
        backend = primary.mesh_backend(spec, self, shared=parts.get(primary.name), vpc=cluster.vpc,
                                       namespace=namespace)
        coming = registry.incoming(spec)
        self.incoming: MeshBackend | None = None  # joins the same tasks (a migration's "beside" step)
        self.twins: MeshBackend | None = None  # runs a second workload per ECS service
        if coming is not None and coming.joins == "same-tasks":
            self.incoming = coming.mesh_backend(spec, self, shared=parts.get(coming.name), vpc=cluster.vpc,
                                                namespace=namespace)
        elif coming is not None and coming.joins == "twin":
            self.twins = coming.mesh_backend(spec, self, shared=parts.get(coming.name), vpc=cluster.vpc,
                                             namespace=namespace, twin=True)
        self.workloads: list[KubernetesWorkload] = []  # kept for write_manifests (no walk over the tree)
        self._vpc_peer = ec2.Peer.ipv4(VPC_CIDR)  # one for every version's ingress rule
        self._registrar_parts = None  # every backend's part of the pod registrar, read once if an EKS service needs it
        self._log_key = imported_key(self, "LogsKey", shared.log_key_arn if shared else spec.defaults.log_kms_key)
        for name in services:
            self._service(spec, name, cluster, backend)

    def _service(self, spec: Spec, name: str, cluster: ClusterStack, backend: MeshBackend) -> None:
        svc = spec.services[name]
        scope = Construct(self, name)
        own_queries = tuple(CustomQuery(q.name, q.query) for q in spec.queries.custom if q.services == [name])
        logs = ServiceLogs(scope, "Logs", ServiceLogsProps(
            service_name=name, log_group_name=naming.log_group(spec.project, name),
            retention_days=convert.retention_days(spec, svc), removal_policy=spec.defaults.log_removal_policy,
            builtin_queries=tuple(spec.queries.builtin), custom_queries=own_queries,
            query_folder=naming.query_folder(spec.project, name), encryption_key=self._log_key))
        if (filters := convert.metric_filters_props(spec, name, logs.log_group)) is not None:
            ServiceMetricFilters(scope, "Metrics", filters)  # publishes what the dashboard and the canary read
        binding: MeshServiceBinding = backend.add_service(scope, "Mesh", convert.mesh_service_props(spec, name))
        moved = convert.moved(spec, name)
        if self.incoming is not None:  # a migration's "beside" step: the service joins the new backend too
            incoming = self.incoming.add_service(scope, "Incoming", convert.mesh_service_props(spec, name))
            binding = BesideBinding(binding, incoming, proxy_bypass=self.incoming.client_cidrs if moved else ())
        allow_callers(spec, name, binding)
        for warning, text in registry.primary(spec).synth_warnings(spec, name):
            Annotations.of(scope).add_warning_v2(warning, text)
        tracing = spec.defaults.tracing
        telemetry = convert.telemetry(spec, name)
        env = {**convert.environment(svc), **convert.upstream_environment(spec, name)}
        if cluster.ecs is not None:
            single = backend.single_revision
            # a service moved to a backend that runs its own workload stops its tasks on the host: its twin serves
            # every caller (they have all moved before it: `meshspec validate` checks the order)
            count = 0 if self.twins is not None and moved else svc.desired_count
            for v in svc.versions:
                if not binding.deploys(v.name):
                    continue  # a single-revision backend runs only the version that takes the traffic
                MeshedFargateService(scope, "Current" if single else f"Version-{v.name}", MeshedFargateServiceProps(
                    cluster=cluster.ecs.cluster, service_name=name, version=v.name, image=v.image, port=svc.port,
                    log_group=logs.log_group, binding=binding, cpu=svc.cpu, memory_mib=svc.memory,
                    desired_count=count, environment=env,
                    secrets=dict(svc.secrets), tracing=tracing, telemetry=replace(telemetry, version=v.name),
                    ecs_service_name=name if single else naming.ecs_service(name, v.name),
                    ingress_peer=self._vpc_peer, **convert.ecs_placement(spec, svc)))
            if self.twins is not None:  # a migration: the workload the service keeps once the host retires
                twin = self.twins.add_service(scope, "Incoming", convert.mesh_service_props(spec, name))
                v = next(v for v in svc.versions if twin.deploys(v.name))
                MeshedFargateService(scope, "Current", MeshedFargateServiceProps(
                    cluster=cluster.ecs.cluster, service_name=name, version=v.name, image=v.image, port=svc.port,
                    log_group=logs.log_group, binding=twin, cpu=svc.cpu, memory_mib=svc.memory,
                    desired_count=svc.desired_count, environment=env, secrets=dict(svc.secrets), tracing=tracing,
                    telemetry=replace(telemetry, version=v.name), ecs_service_name=name, ingress_peer=self._vpc_peer,
                    **convert.ecs_placement(spec, svc)))
        else:
            self.workloads.append(KubernetesWorkload(scope, "Workload", cluster=cluster.eks, props=KubernetesWorkloadProps(
                service_name=name, port=svc.port, binding=binding, replicas=svc.desired_count,
                versions=tuple(WorkloadVersion(v.name, v.image) for v in svc.versions),
                cpu_millicores=svc.cpu, memory_mib=svc.memory, environment=env,
                tracing=tracing, telemetry=telemetry, secrets=dict(svc.secrets),
                log_group_name=naming.log_group(spec.project, name), registrar_parts=self.registrar_parts())))
        for cid, objective in convert.objectives(spec, name):  # with their burn-rate alarms
            ServiceLevelObjective(scope, f"Slo-{cid}", objective)
        ServiceDashboard(scope, "Dashboard", ServiceDashboardProps(
            service_name=name, versions=tuple(v.name for v in svc.versions), majors=tuple(live_majors(svc)),
            dashboard_name=naming.dashboard(spec.project, name),
            series=binding.dashboard_series(cluster.ecs.cluster.cluster_name if cluster.ecs is not None else None),
            dependencies=convert.dependency_panels(self._beneath), alarms=convert.slo_alarms(spec, name),
            max_dependency_rows=DASHBOARD_ROWS))

    def registrar_parts(self) -> tuple:
        """Every installed backend's part of the EKS pod registrar, so its script is the same on every backend."""
        if self._registrar_parts is None:
            self._registrar_parts = tuple(p for b in registry.all_backends() if (p := b.registrar_part()) is not None)
        return self._registrar_parts


def allow_callers(spec: Spec, name: str, binding: MeshServiceBinding) -> None:
    """Backends with an auth policy admit exactly the AWS services that declare ``uses: name/<major>``."""
    for caller, svc in spec.aws_services().items():
        for ref in svc.uses:
            target, major = ref.split("/", 1)
            if target == name:
                binding.allow(major, caller)
