"""One service on two backends at once, for a migration's "beside" step (meshspec migrate).

The workloads keep the primary backend's sidecar (App Mesh's Envoy) and are registered in both: App Mesh still
carries the callers' traffic while the incoming backend (VPC Lattice) already routes to the same tasks, so callers
can move one at a time. Only a sidecar-free incoming backend can join this way: two sidecars would both claim the
task's traffic.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from aws_cdk import aws_ecs as ecs

from .base import MeshServiceBinding, PodRegistration, PropsError, ProxyRequirements, pod_registration_of


class BesideBinding:
    """Implements :class:`~meshspec.constructs_lib.mesh.base.MeshServiceBinding` over a primary and an incoming binding."""

    def __init__(self, primary: MeshServiceBinding, incoming: MeshServiceBinding, *,
                 proxy_bypass: Sequence[str] = ()) -> None:
        """``proxy_bypass``: addresses or CIDR ranges the primary's sidecar lets through untouched, so the app's
        calls to them reach the incoming backend (a caller that has moved: Lattice's link-local range). Default:
        none, every call goes through the primary backend's sidecar."""
        self.primary = primary
        self.incoming = incoming
        self.proxy_bypass = tuple(proxy_bypass)

    def proxy(self, version: str) -> ProxyRequirements | None:
        if self.incoming.proxy(version) is not None:
            raise PropsError("the incoming backend asks for a sidecar of its own; only a sidecar-free backend "
                             "(lattice) can run beside the current one in the same tasks")
        proxy = self.primary.proxy(version)
        if proxy is None or not self.proxy_bypass:
            return proxy
        extra = tuple(ip for ip in self.proxy_bypass if ip not in proxy.egress_ignored_ips)
        return dataclasses.replace(proxy, egress_ignored_ips=proxy.egress_ignored_ips + extra)

    def pod_registration(self, version: str) -> PodRegistration | None:
        """Pods register in both backends: one registrar with both sets of parameters and permissions."""
        primary = pod_registration_of(self.primary, version)
        incoming = pod_registration_of(self.incoming, version)
        if primary is None:
            return incoming
        return primary.merged(incoming)

    def deploys(self, version: str) -> bool:
        check = getattr(self.primary, "deploys", None)
        return True if check is None else bool(check(version))

    def bind_ecs_service(self, version: str, service: ecs.BaseService, container: ecs.ContainerDefinition) -> None:
        self.primary.bind_ecs_service(version, service, container)
        self.incoming.bind_ecs_service(version, service, container)

    def allow(self, major: str, caller: str) -> None:
        for binding in (self.primary, self.incoming):
            allow = getattr(binding, "allow", None)
            if allow is not None:
                allow(major, caller)


__all__ = ["BesideBinding"]
