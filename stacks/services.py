"""A service stack: one shard of one cluster's services. It only composes constructs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Annotations, Stack
from aws_cdk import aws_appmesh as appmesh
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from meshspec.constructs_lib.dashboard import ServiceDashboard, ServiceDashboardProps
from meshspec.constructs_lib.ecs import MeshedFargateService, MeshedFargateServiceProps
from meshspec.constructs_lib.eks import KubernetesWorkload, KubernetesWorkloadProps, WorkloadVersion
from meshspec.constructs_lib.logs import CustomQuery, ServiceLogs, ServiceLogsProps, imported_key
from meshspec.constructs_lib.mesh.appmesh import AppMeshBackend
from meshspec.constructs_lib.mesh.base import MeshBackend
from meshspec.constructs_lib.mesh.beside import BesideBinding
from meshspec.constructs_lib.metrics import ServiceMetricFilters
from meshspec.infra import naming
from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Spec, live_majors

from . import convert
from .cluster import ClusterStack
from .mesh_backends import (allow_callers, app_mesh_count, deploys, incoming_backend, proxy_bypass, single_revision,
                            successor_backend, twin_backend)
from .shared import VPC_CIDR

if TYPE_CHECKING:
    from .shared import SharedStack


def backend_for(spec: Spec, scope: Construct, namespace: sd.INamespace, shared: "SharedStack | None" = None,
                vpc: ec2.IVpc | None = None) -> MeshBackend:
    """The mesh backend ``aws.mesh.backend`` names: App Mesh, or a successor on the shared stack's resources."""
    kind = spec.aws.mesh.backend
    if kind == "appmesh":
        return AppMeshBackend(appmesh.Mesh.from_mesh_name(scope, "Mesh", spec.mesh_name), namespace)
    if shared is None or vpc is None:
        raise UserError(f"mesh backend {kind!r} needs the shared stack (its service network or namespace)")
    return successor_backend(
        spec, vpc=vpc,
        service_network_id=shared.lattice_network.network_id if shared.lattice_network else None,
        namespace_arn=shared.service_connect_namespace.arn if shared.service_connect_namespace else None,
        lattice_zone=shared.lattice_zone)


class ServicesStack(Stack):
    def __init__(self, scope: Construct, id: str, *, spec: Spec, cluster: ClusterStack, services: list[str],
                 namespace: sd.INamespace, shared: "SharedStack | None" = None, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        backend = backend_for(spec, self, namespace, shared, cluster.vpc)
        self.incoming = incoming_backend(
            spec, vpc=cluster.vpc,
            service_network_id=shared.lattice_network.network_id if shared and shared.lattice_network else None,
            lattice_zone=shared.lattice_zone if shared else None)
        self.twins = twin_backend(spec, namespace_arn=shared.service_connect_namespace.arn
                                  if shared and shared.service_connect_namespace else None)
        self.workloads: list[KubernetesWorkload] = []  # kept for write_manifests (no walk over the tree)
        self._vpc_peer = ec2.Peer.ipv4(VPC_CIDR)  # one for every version's ingress rule
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
        binding = backend.add_service(scope, "Mesh", convert.mesh_service_props(spec, name))
        if self.incoming is not None:  # a migration's "beside" step: the service joins the new backend too
            incoming = self.incoming.add_service(scope, "Incoming", convert.mesh_service_props(spec, name))
            binding = BesideBinding(binding, incoming, proxy_bypass=proxy_bypass(spec, name, self.incoming))
        allow_callers(spec, name, binding)
        outside = convert.outside_mesh_uses(spec, name)
        if outside and spec.aws.mesh.egress_filter == "DROP_ALL" and backend.kind == "appmesh":
            Annotations.of(scope).add_warning_v2(
                "meshspec:uses-outside-mesh",
                f"{name} uses {', '.join(outside)} outside the mesh; the mesh's egress filter DROP_ALL blocks "
                "those calls (set aws.mesh.egressFilter: ALLOW_ALL, or reach them through an egress gateway)")
        tracing = spec.defaults.tracing
        env = {**convert.environment(svc), **convert.upstream_environment(spec, name)}
        if cluster.ecs is not None:
            single = single_revision(backend)
            for v in svc.versions:
                if not deploys(binding, v.name):
                    continue  # Service Connect runs only the version that takes the traffic
                MeshedFargateService(scope, "Current" if single else f"Version-{v.name}", MeshedFargateServiceProps(
                    cluster=cluster.ecs.cluster, service_name=name, version=v.name, image=v.image, port=svc.port,
                    log_group=logs.log_group, binding=binding, cpu=svc.cpu, memory_mib=svc.memory,
                    desired_count=app_mesh_count(spec, name, svc.desired_count), environment=env,
                    secrets=dict(svc.secrets), tracing=tracing,
                    ecs_service_name=name if single else naming.ecs_service(name, v.name),
                    ingress_peer=self._vpc_peer, **convert.ecs_placement(spec, svc)))
            if self.twins is not None:  # a migration to Service Connect: the workload it keeps after App Mesh
                twin = self.twins.add_service(scope, "Incoming", convert.mesh_service_props(spec, name))
                v = next(v for v in svc.versions if deploys(twin, v.name))
                MeshedFargateService(scope, "Current", MeshedFargateServiceProps(
                    cluster=cluster.ecs.cluster, service_name=name, version=v.name, image=v.image, port=svc.port,
                    log_group=logs.log_group, binding=twin, cpu=svc.cpu, memory_mib=svc.memory,
                    desired_count=svc.desired_count, environment=env, secrets=dict(svc.secrets), tracing=tracing,
                    ecs_service_name=name, ingress_peer=self._vpc_peer, **convert.ecs_placement(spec, svc)))
        else:
            self.workloads.append(KubernetesWorkload(scope, "Workload", cluster=cluster.eks, props=KubernetesWorkloadProps(
                service_name=name, port=svc.port, binding=binding, replicas=svc.desired_count,
                versions=tuple(WorkloadVersion(v.name, v.image) for v in svc.versions),
                cpu_millicores=svc.cpu, memory_mib=svc.memory, environment=env,
                tracing=tracing, secrets=dict(svc.secrets), log_group_name=naming.log_group(spec.project, name))))
        ServiceDashboard(scope, "Dashboard", ServiceDashboardProps(
            service_name=name, versions=tuple(v.name for v in svc.versions), majors=tuple(live_majors(svc)),
            dashboard_name=naming.dashboard(spec.project, name),
            target_groups=getattr(binding, "target_group_ids", None),  # Lattice: its own series
            service_connect=convert.service_connect_series(backend.kind, cluster.ecs.cluster.cluster_name, name)
            if cluster.ecs is not None else None))
