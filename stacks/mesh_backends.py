"""Spec → mesh-backend props, and the one place that picks the backend a spec asks for.

Pure conversions (``mesh_service_props``) beside a small factory (``make_backend``); the stacks compose.
"""
from __future__ import annotations

from typing import Callable, Mapping

from aws_cdk import Duration, aws_ec2 as ec2, aws_iam as iam, aws_logs as logs
from constructs import Construct

from constructs_lib.mesh.base import MajorRoute, MeshBackend, MeshServiceBinding, MeshServiceProps
from constructs_lib.mesh.lattice import LatticeBackend
from constructs_lib.mesh.service_connect import ServiceConnectBackend
from constructs_lib.service_connect import ServiceConnectDeploymentStrategy
from infra import naming
from infra.spec.model import Spec, live_majors, major_path, shares


def mesh_service_props(spec: Spec, name: str) -> MeshServiceProps:
    """One meshed service as every backend sees it: a route per live major, integer weights per version."""
    svc = spec.services[name]
    aws = spec.aws_services()
    majors = tuple(MajorRoute(name=major, path_prefix=major_path(name, major, m),
                              weights={v: int(share) for v, share in shares(svc, major).items()})
                   for major, m in live_majors(svc).items())
    called = tuple(dict.fromkeys(naming.virtual_service(u.split("/")[0], spec.project)
                                 for u in svc.uses if u.split("/")[0] in aws))
    return MeshServiceProps(
        name=name, port=svc.port, versions=tuple(v.name for v in svc.versions), majors=majors,
        protocol=svc.protocol, health_check_path=svc.health_check, backends=called,
        node_names={v.name: naming.virtual_node(name, v.name) for v in svc.versions},
        router_name=naming.virtual_router(name), route_names={m.name: naming.route(name, m.name) for m in majors},
        dns_name=naming.virtual_service(name, spec.project))


def deployment_strategy(spec: Spec) -> ServiceConnectDeploymentStrategy:
    d = spec.aws.mesh.effective_deployment
    return ServiceConnectDeploymentStrategy(
        strategy=d.strategy, percent=float(d.effective_percent), step_wait=Duration.minutes(d.step_minutes),
        bake_time=Duration.minutes(d.bake_minutes))


def make_backend(spec: Spec, scope: Construct, *, vpc: ec2.IVpc, kind: str | None = None,
                 log_group: Callable[[str], logs.ILogGroup | None] = lambda s: None,
                 appmesh: Callable[[], MeshBackend] | None = None) -> MeshBackend:
    """The backend ``aws.mesh.backend`` names (or ``kind``: during a migration, the one coming in). App Mesh's
    constructs need the mesh and namespace its stack owns: pass ``appmesh`` to build them."""
    kind = kind or spec.backend
    if kind == "lattice":
        return LatticeBackend(
            scope, "Lattice", network_name=naming.lattice_service_network(spec.mesh_name), vpc=vpc,
            service_name=lambda s: naming.lattice_service(spec.project, s),
            target_group_name=lambda s, v: naming.lattice_target_group(spec.project, s, v),
            listener_name=naming.lattice_listener, access_log_group=log_group)
    if kind == "service-connect":
        return ServiceConnectBackend(
            scope, "ServiceConnect", namespace_name=naming.service_connect_namespace(spec.project),
            deployment=deployment_strategy(spec), rollback_on_5xx=spec.aws.mesh.effective_deployment.rollback_on_alarm,
            proxy_log_group=log_group)
    if appmesh is None:
        raise ValueError("backend appmesh: pass the App Mesh constructs' factory (appmesh=...)")
    return appmesh()


def deploys(binding: MeshServiceBinding, version: str) -> bool:
    """Whether ``version`` gets a workload: every version on App Mesh and Lattice, one on Service Connect."""
    check = getattr(binding, "deploys", None)
    return True if check is None else bool(check(version))


def allow_callers(spec: Spec, bindings: Mapping[str, MeshServiceBinding], roles: Mapping[str, iam.IRole]) -> None:
    """Backends with an auth policy (Lattice) admit exactly the callers each service declares in ``uses``."""
    for caller, svc in spec.aws_services().items():
        for ref in svc.uses:
            target, major = ref.split("/", 1)
            allow = getattr(bindings.get(target), "allow", None)
            if allow is not None and caller in roles:
                allow(major, roles[caller])
