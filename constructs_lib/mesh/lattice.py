"""The VPC Lattice implementation of :class:`~constructs_lib.mesh.base.MeshBackend`.

Per service: a Lattice service in the backend's service network, an IP target group per code version, a
listener rule per API major with the versions' weights (the counterpart of App Mesh's weighted routes), and an
IAM auth policy naming only the callers the stack allows. No sidecar: ``proxy()`` is None.
"""
from __future__ import annotations

from typing import Callable

from aws_cdk import aws_ec2 as ec2, aws_ecs as ecs, aws_iam as iam, aws_logs as logs
from constructs import Construct

from ..lattice import LatticeEcsTarget, LatticeRoute, LatticeService, LatticeServiceNetwork
from .base import MeshBackend, MeshServiceProps, PropsError, ProxyRequirements


class LatticeServiceBinding(Construct):
    """One meshed service on Lattice; implements :class:`~constructs_lib.mesh.base.MeshServiceBinding`."""

    def __init__(self, scope: Construct, id: str, *, backend: "LatticeBackend", props: MeshServiceProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self._backend = backend
        routes = [LatticeRoute(name=props.route_name(m.name), path_prefix=m.path_prefix, weights=dict(m.weights))
                  for m in props.majors]
        self._route_of_major = {m.name: props.route_name(m.name) for m in props.majors}
        try:
            self.service = LatticeService(
                self, "Resource", network=backend.network, name=backend.service_name(props.name), vpc=backend.vpc,
                port=props.port, versions=props.versions, routes=routes, protocol=props.protocol,
                health_check_path=props.health_check_path, listener_name=backend.listener_name(props.name),
                target_group_names={v: backend.target_group_name(props.name, v) for v in props.versions},
                access_log_group=backend.access_log_group(props.name))
        except ValueError as exc:
            raise PropsError(f"{props.name}: {exc}") from None

    def proxy(self, version: str) -> ProxyRequirements | None:
        """Lattice needs no sidecar: the VPC's Lattice endpoint routes, authenticates and balances."""
        self.service.target_group(version)
        return None

    def deploys(self, version: str) -> bool:
        """Every code version runs side by side behind its own weighted target group."""
        return version in self.props.versions

    def bind_ecs_service(self, version: str, service: ecs.BaseService, container: ecs.ContainerDefinition) -> None:
        """ECS registers the service's tasks in the version's target group (by the container's named port)."""
        mapping = next((pm for pm in container.port_mappings if pm.container_port == self.props.port), None)
        if mapping is None or not mapping.name:
            raise PropsError(f"{self.props.name}/{version}: the container needs a named port mapping for port "
                             f"{self.props.port} (ECS registers Lattice targets by port name)")
        LatticeEcsTarget(self, f"EcsTarget-{version}", service=service, target_group=self.service.target_group(version),
                         port_mapping_name=mapping.name, infrastructure_role=self._backend.infrastructure_role())

    def allow(self, major: str, principal: iam.IPrincipal) -> None:
        """Let a caller (its task or pod role) call ``major``; without it the auth policy refuses the caller."""
        try:
            route = self._route_of_major[major]
        except KeyError:
            raise PropsError(f"{self.props.name} has no major {major!r} (majors: {list(self._route_of_major)})") from None
        self.service.allow(route, principal)

    @property
    def dns_name(self) -> str:
        return self.service.dns_name


class LatticeBackend(MeshBackend):
    """A VPC Lattice service network and its services, behind the common mesh-backend interface."""

    kind = "lattice"

    def __init__(self, scope: Construct, id: str, *, network_name: str, vpc: ec2.IVpc,
                 service_name: Callable[[str], str] | None = None,
                 target_group_name: Callable[[str, str], str] | None = None,
                 listener_name: Callable[[str], str] | None = None,
                 access_log_group: Callable[[str], logs.ILogGroup | None] | None = None) -> None:
        """
        :param scope: where the service network and the shared ECS infrastructure role go.
        :param network_name: the service network's name.
        :param service_name: Lattice service name per meshed service. Default: the service's name.
        :param target_group_name: per (service, version). Default: ``<service>-<version>``.
        :param listener_name: per service. Default: ``<service>-http``.
        :param access_log_group: per service, where Lattice writes access logs. Default: no access logs.
        """
        self.scope = scope
        self.vpc = vpc
        self.network = LatticeServiceNetwork(scope, id, name=network_name, vpc=vpc)
        self.service_name = service_name or (lambda s: s)
        self.target_group_name = target_group_name or (lambda s, v: f"{s}-{v}")
        self.listener_name = listener_name or (lambda s: f"{s}-http")
        self.access_log_group = access_log_group or (lambda s: None)
        self._role: iam.Role | None = None

    def add_service(self, scope: Construct, id: str, props: MeshServiceProps) -> LatticeServiceBinding:
        return LatticeServiceBinding(scope, id, backend=self, props=props)

    def infrastructure_role(self) -> iam.IRole:
        """One role for all services: ECS assumes it to register and deregister Lattice targets."""
        if self._role is None:
            self._role = iam.Role(
                self.network, "EcsInfrastructureRole", assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
                description="ECS registers tasks in VPC Lattice target groups",
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                    "AmazonECSInfrastructureRolePolicyForVpcLattice")])
        return self._role


__all__ = ["LatticeBackend", "LatticeServiceBinding"]
