"""The one CDK interface every mesh backend implements, so stacks never depend on which mesh they build.

A backend (``meshspec.backends.<name>``) turns plain, typed props (``MeshServiceProps``) into its resources
(a mesh's virtual nodes, router and routes; a service network's services, rules and target groups; …) and hands
back a ``MeshServiceBinding``, which workloads and stacks ask everything they need of:

- ``proxy(version)``: what a task or pod of that code version needs to join the mesh (a sidecar proxy
  with its environment, IAM statements and how the platform sends the app's traffic through it), or ``None``
  when the backend needs no sidecar;
- ``bind_ecs_service(version, service, container)``: wire an ECS service into the backend (register its tasks
  where the backend discovers them, or configure the service's own proxy);
- ``pod_registration(version)``: how a Kubernetes pod of that version registers itself where the backend
  discovers it (ECS registers tasks; nothing registers pods unless a controller is installed), or ``None``;
- ``deploys(version)``: whether that version gets a workload at all;
- ``allow(major, caller)``: let a service call one major (backends with an auth policy; others allow anyone in
  the mesh, or filter by their own means);
- ``dashboard_series(cluster_name)``: the series the service's dashboard graphs, or ``None`` for the Envoy
  access log's series (``meshspec.constructs_lib.metrics``).

Props are frozen dataclasses and know nothing of the meshspec spec. Names come from the caller.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

if TYPE_CHECKING:
    from ..dashboard import DashboardSeries
    from ..eks.registration import RegistrarPart

AppProtocol = Literal["http", "http2", "grpc"]


class PropsError(ValueError):
    """Contradictory or impossible props: raised in the constructor, naming the props and the value."""


@dataclass(frozen=True)
class CohortRoute:
    """An A/B cohort of a major: its requests that carry a header (or a cookie) go to one code version, before the
    major's weights apply.

    - ``name``: the route's name (App Mesh route, Lattice listener rule), unique in the service.
    - ``version``: the code version its requests go to.
    - ``header``: the request header matched, in lower case; ``cookie`` when ``cookie`` is given.
    - ``value``: the header's (or the cookie's) value, matched exactly. Default: None, the header is present,
      whatever its value (a cookie needs a value).
    - ``cookie``: the cookie's name, when a cookie among the ``cookie`` header's is matched. Default: None.
    """

    name: str
    version: str
    header: str
    value: str | None = None
    cookie: str | None = None


@dataclass(frozen=True)
class MajorRoute:
    """One API major: requests whose path starts with ``path_prefix`` go to the code versions by weight.

    ``weights`` maps code version name → integer weight 0–100 (App Mesh: at most 10 targets per route).
    ``cohorts``: routes matched before the weights, in this order. Default: none.
    """

    name: str
    path_prefix: str
    weights: Mapping[str, int]
    cohorts: tuple[CohortRoute, ...] = ()


@dataclass(frozen=True)
class MeshServiceProps:
    """One service in the mesh, in plain terms every backend understands.

    - ``name``: the service name (DNS label).
    - ``port``: the port the app listens on, in every code version.
    - ``protocol``: ``http`` (default), ``http2`` or ``grpc``.
    - ``health_check_path``: the app's health path. Default: ``/healthz``.
    - ``versions``: code version names; each gets its own workload. At least one.
    - ``majors``: the routes; every version named in a major's weights must be in ``versions``.
    - ``backends``: DNS names of the services this one calls (App Mesh: virtual service names).
      Default: none; with an egress filter of DROP_ALL the service then reaches nothing in the mesh.
    - ``node_names``: version → backend resource name (App Mesh virtual node). Default: ``{name}-{version}``.
    - ``router_name``: Default: ``{name}-router``.
    - ``route_names``: major → route name. Default: ``{name}-{major}``.
    - ``dns_name``: the name consumers call (App Mesh virtual service). Default: ``name``.
    """

    name: str
    port: int
    versions: tuple[str, ...]
    majors: tuple[MajorRoute, ...]
    protocol: AppProtocol = "http"
    health_check_path: str = "/healthz"
    backends: tuple[str, ...] = ()
    node_names: Mapping[str, str] = field(default_factory=dict)
    router_name: str | None = None
    route_names: Mapping[str, str] = field(default_factory=dict)
    dns_name: str | None = None

    def __post_init__(self) -> None:
        if not self.versions:
            raise PropsError(f"versions of {self.name!r} is empty: give at least one code version")
        if len(set(self.versions)) != len(self.versions):
            raise PropsError(f"versions of {self.name!r} lists a name twice: {list(self.versions)}")
        if not self.majors:
            raise PropsError(f"majors of {self.name!r} is empty: give at least one route")
        if not 1 <= self.port <= 65535:
            raise PropsError(f"port of {self.name!r} is {self.port}: allowed 1 to 65535")
        for m in self.majors:
            unknown = sorted(set(m.weights) - set(self.versions))
            if unknown:
                raise PropsError(f"majors[{m.name!r}].weights names {unknown}, which versions does not list "
                                 f"(versions: {list(self.versions)})")
            bad = {k: w for k, w in m.weights.items() if not (isinstance(w, int) and 0 <= w <= 100)}
            if bad:
                raise PropsError(f"majors[{m.name!r}].weights must be integers 0-100, got {bad}")
            if not sum(m.weights.values()):
                raise PropsError(f"majors[{m.name!r}].weights sum to 0: at least one version needs weight")
            if not m.path_prefix.startswith("/"):
                raise PropsError(f"majors[{m.name!r}].path_prefix must start with '/', got {m.path_prefix!r}")
            for c in m.cohorts:
                if c.version not in self.versions:
                    raise PropsError(f"majors[{m.name!r}].cohorts[{c.name!r}].version is {c.version!r}, which versions "
                                     f"does not list (versions: {list(self.versions)})")
                if c.cookie is not None and (c.header != "cookie" or c.value is None):
                    raise PropsError(f"majors[{m.name!r}].cohorts[{c.name!r}] matches cookie {c.cookie!r} with "
                                     f"header {c.header!r} and value {c.value!r}: a cookie is matched in the cookie "
                                     "header, with a value")
        names = [c.name for m in self.majors for c in m.cohorts] + [self.route_name(m.name) for m in self.majors]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise PropsError(f"routes of {self.name!r} are named {twice} twice: route names are unique per service")

    def node_name(self, version: str) -> str:
        return self.node_names.get(version, f"{self.name}-{version}")

    def route_name(self, major: str) -> str:
        return self.route_names.get(major, f"{self.name}-{major}")


@dataclass(frozen=True)
class ProxyRequirements:
    """What one code version's task or pod needs to join the mesh through a sidecar proxy.

    - ``image``: the proxy container image.
    - ``environment``: variables of the proxy container (App Mesh: ``APPMESH_RESOURCE_ARN``).
    - ``policy_statements``: IAM statements the task or pod role needs (least privilege, own resource only).
    - ``ingress_port`` / ``egress_port`` / ``ignored_uid`` / ``admin_port``: the proxy's ports and user,
      for the ECS proxy configuration or the pod's init container.
    - ``egress_ignored_ips``: addresses or CIDR ranges the app reaches directly, past the proxy, besides the
      platform's own (task metadata, IMDS). Default: none.
    - ``ignored_gid``: a group whose traffic goes past the proxy (the workload's telemetry agent, which calls
      CloudWatch and X-Ray). Default: none.
    - ``redirect``: how ECS and Kubernetes send the app's traffic through the proxy (the task's proxy
      configuration, the pod's init container). Default: none; a workload then refuses the proxy.
    """

    image: str
    environment: Mapping[str, str]
    policy_statements: tuple[iam.PolicyStatement, ...]
    ingress_port: int = 15000
    egress_port: int = 15001
    ignored_uid: int = 1337
    admin_port: int = 9901
    egress_ignored_ips: tuple[str, ...] = ()
    ignored_gid: int | None = None
    redirect: "TrafficRedirect | None" = None

    def ecs_proxy_configuration(self, container_name: str, app_ports: Sequence[int]) -> ecs.ProxyConfiguration:
        """The task definition's proxy configuration for a sidecar container named ``container_name``."""
        return self._redirect().ecs_proxy_configuration(self, container_name, app_ports)

    def pod_init_container(self, app_ports: Sequence[int]) -> dict[str, Any]:
        """The init container that redirects a pod's traffic through the proxy (a manifest's dict)."""
        return self._redirect().pod_init_container(self, app_ports)

    def _redirect(self) -> "TrafficRedirect":
        if self.redirect is None:
            raise PropsError(f"the proxy {self.image} says nothing of how the app's traffic reaches it: give "
                             "ProxyRequirements.redirect")
        return self.redirect


class TrafficRedirect(Protocol):
    """How a platform sends a workload's traffic through a sidecar proxy: the backend that brings the proxy knows
    the mechanism (the iptables rules its proxy expects, which ports and users they leave alone)."""

    def ecs_proxy_configuration(self, proxy: ProxyRequirements, container_name: str,
                                app_ports: Sequence[int]) -> ecs.ProxyConfiguration:
        """An ECS task definition's proxy configuration."""
        ...

    def pod_init_container(self, proxy: ProxyRequirements, app_ports: Sequence[int]) -> dict[str, Any]:
        """A Kubernetes init container (as a manifest's dict) that sets the pod's redirection up."""
        ...


@dataclass(frozen=True)
class PodRegistration:
    """What a pod of one code version needs to register its own IP where the backend discovers it, through
    the registrar sidecar (``constructs_lib/eks/registration.py``).

    - ``environment``: the registrar's parameters, literals only (manifests are written as files): which Cloud
      Map service or Lattice target group, found at runtime by name since their IDs are generated by AWS.
    - ``policy_statements``: IAM statements the pod role needs (own service or target group only).
    - ``role_tags``: tags the pod role carries, e.g. the caller identity an auth policy admits by.
      Default: none.
    - ``parts``: the registrar's parts that act on this environment (one per discovery API the backend
      registers pods in). Default: none, the registrar's own parts must cover the environment.
    """

    environment: Mapping[str, str]
    policy_statements: tuple[iam.PolicyStatement, ...]
    role_tags: Mapping[str, str] = field(default_factory=dict)
    parts: "tuple[RegistrarPart, ...]" = ()

    def __post_init__(self) -> None:
        if not self.environment:
            raise PropsError("environment of a PodRegistration is empty: the registrar would not know where to "
                             "register")

    def merged(self, other: "PodRegistration | None") -> "PodRegistration":
        """Both registrations in one registrar (a migration's beside step registers pods in two backends);
        a variable both set must agree."""
        if other is None:
            return self
        clash = {k: (v, other.environment[k]) for k, v in self.environment.items()
                 if k in other.environment and other.environment[k] != v}
        if clash:
            raise PropsError(f"two pod registrations set the same registrar variables differently: {clash}")
        return PodRegistration(environment={**self.environment, **other.environment},
                               policy_statements=(*self.policy_statements, *other.policy_statements),
                               role_tags={**self.role_tags, **other.role_tags},
                               parts=(*self.parts, *(p for p in other.parts if p not in self.parts)))


@runtime_checkable
class MeshServiceBinding(Protocol):
    """A service added to a backend: what its workloads need to join.

    A Protocol rather than an ABC, so a construct (whose jsii metaclass clashes with ABCMeta) can implement it.
    """

    def proxy(self, version: str) -> ProxyRequirements | None:
        """The sidecar a workload of ``version`` runs, or None when the backend needs none."""
        ...

    def bind_ecs_service(self, version: str, service: ecs.BaseService, container: ecs.ContainerDefinition,
                         ) -> None:
        """Wire an ECS service running ``version`` into the backend."""
        ...

    def pod_registration(self, version: str) -> PodRegistration | None:
        """How a pod of ``version`` registers itself where the backend discovers it, or None when it need not."""
        ...

    def deploys(self, version: str) -> bool:
        """Whether ``version`` gets a workload (a backend that runs one revision per service deploys one)."""
        ...

    def allow(self, major: str, caller: str) -> None:
        """Let the service ``caller`` call ``major`` (a backend without an auth policy does nothing)."""
        ...

    def dashboard_series(self, cluster_name: str | None) -> "DashboardSeries | None":
        """What the service's dashboard graphs (``cluster_name``: its ECS cluster's, None on EKS), or None for the
        Envoy access log's per-major series."""
        ...


class MeshBackend(abc.ABC):
    """A mesh: whatever connects the services (App Mesh's mesh, a Service Connect namespace, a service network).

    - ``single_revision``: each service runs one revision, replaced in place by a new code version (ECS's own
      deployments shift the traffic), so its workload's name and construct id carry no version. Default: False,
      a workload per code version.
    - ``client_cidrs``: where callers' requests to the backend go; a sidecar proxy beside it must let them through
      (egress-ignored IPs). Default: none.
    """

    single_revision: bool = False
    client_cidrs: tuple[str, ...] = ()

    @abc.abstractmethod
    def add_service(self, scope: Construct, id: str, props: MeshServiceProps) -> MeshServiceBinding:
        """Create the backend's resources for one service under ``scope`` and return its binding."""
