"""The successor backends (ECS Service Connect, VPC Lattice) as the stacks pick them: a pure choice from the spec,
the shared resources they need, and the per-service wiring (which versions run, who may call)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from aws_cdk import Duration, aws_ec2 as ec2, aws_logs as logs

from meshspec.constructs_lib.mesh.base import MeshBackend, MeshServiceBinding
from meshspec.constructs_lib.mesh.service_connect import ServiceConnectBackend
from meshspec.constructs_lib.service_connect import ServiceConnectDeploymentStrategy
from meshspec.infra import naming
from meshspec.infra.spec.model import Spec

if TYPE_CHECKING:  # a type only: aws_route53 is imported where a spec uses VPC Lattice
    from aws_cdk import aws_route53 as route53


def deployment_strategy(spec: Spec) -> ServiceConnectDeploymentStrategy:
    d = spec.aws.mesh.effective_deployment
    return ServiceConnectDeploymentStrategy(
        strategy=d.strategy, percent=float(d.effective_percent), step_wait=Duration.minutes(d.step_minutes),
        bake_time=Duration.minutes(d.bake_minutes))


def successor_backend(spec: Spec, *, vpc: ec2.IVpc, service_network_id: str | None = None,
                      namespace_arn: str | None = None, kind: str | None = None,
                      log_group: Callable[[str], logs.ILogGroup | None] = lambda s: None,
                      lattice_zone: route53.IHostedZone | None = None) -> MeshBackend:
    """The backend ``aws.mesh.backend`` names when it is not App Mesh (or ``kind``), on the shared stack's
    network or namespace; Lattice services get the literal names ``convert.upstream_environment`` hands out."""
    kind = kind or spec.backend
    if kind == "lattice":
        from meshspec.constructs_lib.mesh.lattice import LatticeBackend  # aws_vpclattice only for specs that use it

        if service_network_id is None:
            raise ValueError("backend lattice needs the shared stack's service network (service_network_id)")
        return LatticeBackend(
            service_network_id=service_network_id, vpc=vpc,
            service_name=lambda s: naming.lattice_service(spec.project, s),
            target_group_name=lambda s, v: naming.lattice_target_group(spec.project, s, v),
            listener_name=naming.lattice_listener, access_log_group=log_group,
            custom_domain_name=lambda s: naming.lattice_domain(spec.project, s), hosted_zone=lattice_zone,
            certificate_arn=spec.aws.mesh.certificate_arn,
            network_access_log_group_name=naming.lattice_access_log_group(spec.project),
            query_folder=lambda s: naming.query_folder(spec.project, s))
    if kind == "service-connect":
        if namespace_arn is None:
            raise ValueError("backend service-connect needs the shared stack's namespace (namespace_arn)")
        return ServiceConnectBackend(
            namespace_arn=namespace_arn, deployment=deployment_strategy(spec),
            rollback_on_5xx=spec.aws.mesh.effective_deployment.rollback_on_alarm, proxy_log_group=log_group)
    raise ValueError(f"{kind} is not a successor backend")


def deploys(binding: MeshServiceBinding, version: str) -> bool:
    """Whether ``version`` gets a workload: every version on App Mesh and Lattice, one on Service Connect."""
    check = getattr(binding, "deploys", None)
    return True if check is None else bool(check(version))


def single_revision(backend: MeshBackend) -> bool:
    """Service Connect: one ECS service per meshspec service whose name and construct id carry no version, so a
    new version is a new revision of the same ECS service (what ECS canaries), not a replacement."""
    return backend.kind == "service-connect"


def allow_callers(spec: Spec, name: str, binding: MeshServiceBinding) -> None:
    """Backends with an auth policy (Lattice) admit exactly the AWS services that declare ``uses: name/<major>``."""
    allow = getattr(binding, "allow", None)
    if allow is None:
        return
    for caller, svc in spec.aws_services().items():
        for ref in svc.uses:
            target, major = ref.split("/", 1)
            if target == name:
                allow(major, caller)


def incoming_backend(spec: Spec, *, vpc: ec2.IVpc, service_network_id: str | None,
                     lattice_zone: route53.IHostedZone | None = None) -> MeshBackend | None:
    """During a migration to Lattice, the backend the services also join (beside App Mesh, in the same tasks).
    A migration to Service Connect gets none here: ECS's proxy cannot share a task with App Mesh's Envoy, so each
    ECS service gets a second workload instead (:func:`twin_backend`, docs/backends.md)."""
    migration = spec.aws.mesh.migration
    if migration is None or migration.to != "lattice" or spec.backend != "appmesh":
        return None
    return successor_backend(spec, vpc=vpc, service_network_id=service_network_id, kind="lattice",
                             lattice_zone=lattice_zone)


def proxy_bypass(spec: Spec, name: str, incoming: MeshBackend | None) -> tuple[str, ...]:
    """A moved caller's Envoy lets the incoming backend's addresses through (Lattice's link-local range), so the
    calls to the names ``convert.upstream_environment`` gave it leave the task directly; the others' Envoy
    keeps intercepting everything."""
    if incoming is None or name not in spec.aws.mesh.migration.moved:
        return ()
    return tuple(getattr(incoming, "client_cidrs", ()))


def twin_backend(spec: Spec, *, namespace_arn: str | None) -> MeshBackend | None:
    """During a migration to Service Connect, the backend each ECS service's second workload joins: ECS's proxy
    cannot share a task with App Mesh's Envoy, so every ECS service also runs as ``<service>`` with Service
    Connect and no Envoy (the version taking the traffic), built exactly as the service stays after App Mesh
    retires (construct id ``Current``, no replacement then). Its 5xx rollback alarm comes with the retire step:
    the alarm's name is fixed and its construct path changes then, and CloudFormation cannot create a named
    alarm while the old one still exists."""
    migration = spec.aws.mesh.migration
    if migration is None or migration.to != "service-connect" or spec.backend != "appmesh":
        return None
    if namespace_arn is None:
        raise ValueError("a migration to service-connect needs the shared stack's namespace (namespace_arn)")
    return ServiceConnectBackend(namespace_arn=namespace_arn, deployment=deployment_strategy(spec),
                                 rollback_on_5xx=False)


def app_mesh_count(spec: Spec, name: str, desired: int) -> int:
    """A service moved to Service Connect stops its App Mesh tasks: its twin serves every caller (they have all
    moved before it: ``meshspec validate`` checks the order)."""
    migration = spec.aws.mesh.migration
    if migration is not None and migration.to == "service-connect" and name in migration.moved:
        return 0
    return desired
