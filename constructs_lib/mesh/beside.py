"""One service on two backends at once, for a migration's "beside" step (meshspec migrate).

The workloads keep the primary backend's sidecar and are registered in both: the primary still carries the
callers' traffic while the incoming backend already routes to the same tasks, so callers can move one at a time.
Only a sidecar-free incoming backend can join this way: two sidecars would both claim the task's traffic.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Sequence

from aws_cdk import aws_ecs as ecs

from .base import MeshServiceBinding, PodRegistration, PropsError, ProxyRequirements

if TYPE_CHECKING:
    from ..dashboard import DashboardSeries


class BesideBinding:
    """Implements :class:`~meshspec.constructs_lib.mesh.base.MeshServiceBinding` over a primary and an incoming binding."""

    def __init__(self, primary: MeshServiceBinding, incoming: MeshServiceBinding, *,
                 proxy_bypass: Sequence[str] = ()) -> None:
        """``proxy_bypass``: addresses or CIDR ranges the primary's sidecar lets through untouched, so the app's
        calls to them reach the incoming backend (a caller that has moved: the incoming backend's
        ``client_cidrs``). Default: none, every call goes through the primary backend's sidecar."""
        self.primary = primary
        self.incoming = incoming
        self.proxy_bypass = tuple(proxy_bypass)

    def proxy(self, version: str) -> ProxyRequirements | None:
        if self.incoming.proxy(version) is not None:
            raise PropsError("the incoming backend asks for a sidecar of its own; only a sidecar-free backend "
                             "can run beside the current one in the same tasks")
        proxy = self.primary.proxy(version)
        if proxy is None or not self.proxy_bypass:
            return proxy
        extra = tuple(ip for ip in self.proxy_bypass if ip not in proxy.egress_ignored_ips)
        return dataclasses.replace(proxy, egress_ignored_ips=proxy.egress_ignored_ips + extra)

    def pod_registration(self, version: str) -> PodRegistration | None:
        """Pods register in both backends: one registrar with both sets of parameters and permissions."""
        primary = self.primary.pod_registration(version)
        incoming = self.incoming.pod_registration(version)
        if primary is None:
            return incoming
        return primary.merged(incoming)

    def deploys(self, version: str) -> bool:
        return self.primary.deploys(version)

    def bind_ecs_service(self, version: str, service: ecs.BaseService, container: ecs.ContainerDefinition) -> None:
        self.primary.bind_ecs_service(version, service, container)
        self.incoming.bind_ecs_service(version, service, container)

    def allow(self, major: str, caller: str) -> None:
        self.primary.allow(major, caller)
        self.incoming.allow(major, caller)

    def dashboard_series(self, cluster_name: str | None) -> "DashboardSeries | None":
        """The primary's: it carries the traffic until the migration retires it."""
        return self.primary.dashboard_series(cluster_name)


__all__ = ["BesideBinding"]
