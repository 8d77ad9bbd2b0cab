"""The interface every mesh backend implements, so a stack composes services the same way on App Mesh,
ECS Service Connect and Amazon VPC Lattice. Typed props only; nothing here knows the meshspec spec.

A stack, for each meshed service:
1. ``versions_to_run(props)``: the code versions that get their own ECS service or EKS workload;
2. for each of them on ECS: ``prepare_task_definition`` (named port, sidecars), then creates the ECS service with
   ``service_options(props, version)`` merged into its props, then ``bind_ecs_service``;
3. once every service exists (so consumers' task roles are known): ``add_service(props)`` for the routing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

from aws_cdk import aws_ecs as ecs, aws_iam as iam

BackendKind = Literal["appmesh", "service-connect", "lattice"]
AppProtocol = Literal["http", "http2", "grpc"]


@dataclass(frozen=True)
class MeshRoute:
    """One API major: its path prefix, each code version's weight (percent), and who may call it."""

    name: str
    path_prefix: str
    weights: Mapping[str, int]
    consumers: Sequence[iam.IRole] = field(default_factory=tuple)
    """Task or pod roles of the services that declared they call this major. Default: nobody."""


@dataclass(frozen=True)
class MeshServiceProps:
    """What a backend needs to know about one service."""

    name: str
    port: int
    versions: Sequence[str]
    routes: Sequence[MeshRoute]
    dns_name: str
    """The name consumers call (App Mesh virtual service name, Service Connect alias)."""
    protocol: AppProtocol = "http"
    health_check_path: str = "/healthz"
    platform: Literal["ecs", "eks"] = "ecs"
    desired_count: int = 2

    def taking_traffic(self) -> list[str]:
        """Versions with a weight above 0 on any route, in declaration order."""
        return [v for v in self.versions if any(r.weights.get(v, 0) > 0 for r in self.routes)]


@runtime_checkable
class MeshBackend(Protocol):
    kind: BackendKind

    def versions_to_run(self, props: MeshServiceProps) -> list[str]:
        """App Mesh and Lattice run every version side by side; Service Connect runs one revision per service."""

    def prepare_task_definition(self, props: MeshServiceProps, version: str, task_definition: ecs.TaskDefinition,
                                container: ecs.ContainerDefinition) -> None:
        """Name the port (and add sidecars, on App Mesh) before the ECS service is created."""

    def service_options(self, props: MeshServiceProps, version: str) -> dict[str, Any]:
        """Extra keyword arguments for ``ecs.FargateService`` / ``ecs.Ec2Service``."""

    def bind_ecs_service(self, props: MeshServiceProps, version: str, service: ecs.BaseService) -> None:
        """Register the ECS service in the mesh after it exists."""

    def add_service(self, props: MeshServiceProps) -> None:
        """Routing for the service: routes or rules per major, weighted by version, consumers' access."""


def port_mapping(props: MeshServiceProps, name: str) -> ecs.PortMapping:
    """The container's named port, as Service Connect and Lattice's ECS integration refer to it."""
    proto = {"http": ecs.AppProtocol.http, "http2": ecs.AppProtocol.http2, "grpc": ecs.AppProtocol.grpc}
    return ecs.PortMapping(container_port=props.port, name=name, app_protocol=proto[props.protocol])
