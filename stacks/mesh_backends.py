"""Spec → mesh-backend props, and the one place that picks the backend a spec asks for.

Pure conversions (``mesh_service_props``) beside a small factory (``make_backend``); the stacks compose.
"""
from __future__ import annotations

from typing import Callable, Mapping

from aws_cdk import Duration, aws_ec2 as ec2, aws_iam as iam, aws_logs as logs
from constructs import Construct

from constructs_lib.lattice import LatticeMeshBackend
from constructs_lib.mesh_backend import MeshBackend, MeshRoute, MeshServiceProps
from constructs_lib.service_connect import ServiceConnectDeploymentStrategy, ServiceConnectMeshBackend
from infra import naming
from infra.spec.model import Spec, live_majors, major_path, shares


def consumers_of(spec: Spec, service: str, major: str) -> list[str]:
    """AWS services that declare ``uses: <service>/<major>``, in spec order."""
    return [n for n, s in spec.aws_services().items() if f"{service}/{major}" in s.uses]


def mesh_service_props(spec: Spec, name: str, roles: Mapping[str, iam.IRole] | None = None) -> MeshServiceProps:
    """One meshed service as the backends see it: a route per live major with integer weights per version."""
    svc = spec.services[name]
    roles = roles or {}
    routes = []
    for major, m in live_majors(svc).items():
        split = shares(svc, major)
        routes.append(MeshRoute(
            name=naming.route(name, major), path_prefix=major_path(name, major, m),
            weights={v: int(share) for v, share in split.items()},
            consumers=tuple(roles[c] for c in consumers_of(spec, name, major) if c in roles)))
    cluster = spec.cluster(svc.cluster)
    return MeshServiceProps(
        name=name, port=svc.port, versions=[v.name for v in svc.versions], routes=routes,
        dns_name=naming.virtual_service(name, spec.project), protocol=svc.protocol,
        health_check_path=svc.health_check, platform=cluster.platform if cluster else "ecs",
        desired_count=svc.desired_count)


def deployment_strategy(spec: Spec) -> ServiceConnectDeploymentStrategy:
    d = spec.aws.mesh.effective_deployment
    return ServiceConnectDeploymentStrategy(
        strategy=d.strategy, percent=float(d.effective_percent), step_wait=Duration.minutes(d.step_minutes),
        bake_time=Duration.minutes(d.bake_minutes))


def make_backend(spec: Spec, scope: Construct, *, vpc: ec2.IVpc,
                 log_group: Callable[[str], logs.ILogGroup | None],
                 appmesh: Callable[[], MeshBackend] | None = None) -> MeshBackend:
    """The backend ``aws.mesh.backend`` names. App Mesh's constructs live in their own module; pass ``appmesh``
    to build them (the App Mesh stack does), so this module does not depend on them."""
    kind = spec.backend
    if kind == "lattice":
        return LatticeMeshBackend(
            scope, "Lattice", network_name=naming.lattice_service_network(spec.mesh_name), vpc=vpc,
            service_name=lambda s: naming.lattice_service(spec.project, s),
            target_group_name=lambda s, v: naming.lattice_target_group(spec.project, s, v),
            rule_name=lambda s, r: r, listener_name=naming.lattice_listener, access_log_group=log_group)
    if kind == "service-connect":
        return ServiceConnectMeshBackend(
            scope, "ServiceConnect", namespace_name=naming.service_connect_namespace(spec.project),
            deployment=deployment_strategy(spec), rollback_on_5xx=spec.aws.mesh.effective_deployment.rollback_on_alarm,
            proxy_log_group=log_group)
    if appmesh is None:
        raise ValueError("backend appmesh: pass the App Mesh constructs' factory (appmesh=...)")
    return appmesh()
