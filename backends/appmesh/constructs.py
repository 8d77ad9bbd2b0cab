"""App Mesh: a mesh, and per service a virtual node per code version, a router, a route per major.

AWS ends support for App Mesh on 2026-09-30 (docs.aws.amazon.com/app-mesh/latest/userguide/what-is-app-mesh.html);
the same ``MeshBackend`` interface takes ECS Service Connect and VPC Lattice backends instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from aws_cdk import Aws, Stack, Token
from aws_cdk import aws_appmesh as appmesh
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from meshspec.constructs_lib.mesh.base import (CohortRoute, MeshBackend, MeshServiceProps, PodRegistration,
                                               PropsError, ProxyRequirements)

from .names import cookie_regex
from .quotas import END_OF_SUPPORT
from .registrar import CLOUD_MAP_REGISTRAR, CLOUDMAP_NAMESPACE, CLOUDMAP_SERVICE

# Any address works: Envoy's iptables rules intercept the connection before it leaves the task or pod.
PLACEHOLDER_IP = "10.10.10.10"
DEFAULT_ENVOY_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"
PROXY_INIT_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-proxy-route-manager:v7-prod"
# What the app reaches past Envoy on each platform: ECS's task metadata endpoint and IMDS; on EKS IMDS and the Pod
# Identity agent.
ECS_PLATFORM_IPS = ("169.254.170.2", "169.254.169.254")
EKS_PLATFORM_IPS = ("169.254.169.254", "169.254.170.23")


class EnvoyRedirect:
    """How App Mesh's Envoy gets the app's traffic: ECS's App Mesh proxy configuration (the task's CNI plugin
    sets the iptables rules; EgressIgnoredIPs takes addresses and CIDR blocks), and on EKS App Mesh's
    proxy-route-manager init container with the same parameters. Implements
    :class:`~meshspec.constructs_lib.mesh.base.TrafficRedirect`."""

    def ecs_proxy_configuration(self, proxy: ProxyRequirements, container_name: str,
                                app_ports: Sequence[int]) -> ecs.ProxyConfiguration:
        return ecs.AppMeshProxyConfiguration(container_name=container_name, properties=ecs.AppMeshProxyConfigurationProps(
            app_ports=list(app_ports), proxy_ingress_port=proxy.ingress_port, proxy_egress_port=proxy.egress_port,
            ignored_uid=proxy.ignored_uid, ignored_gid=proxy.ignored_gid,
            egress_ignored_i_ps=[*ECS_PLATFORM_IPS, *proxy.egress_ignored_ips]))

    def pod_init_container(self, proxy: ProxyRequirements, app_ports: Sequence[int]) -> dict[str, Any]:
        env = {"APPMESH_START_ENABLED": "1", "APPMESH_IGNORE_UID": str(proxy.ignored_uid),
               "APPMESH_ENVOY_INGRESS_PORT": str(proxy.ingress_port),
               "APPMESH_ENVOY_EGRESS_PORT": str(proxy.egress_port),
               "APPMESH_APP_PORTS": ",".join(str(p) for p in app_ports),
               "APPMESH_EGRESS_IGNORED_IP": ",".join([*EKS_PLATFORM_IPS, *proxy.egress_ignored_ips])}
        if proxy.ignored_gid is not None:  # the workload's telemetry agent goes past Envoy
            env["APPMESH_IGNORE_GID"] = str(proxy.ignored_gid)
        return {"name": "proxyinit", "image": PROXY_INIT_IMAGE,
                "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
                "env": [{"name": k, "value": v} for k, v in sorted(env.items())]}


ENVOY_REDIRECT = EnvoyRedirect()


@dataclass(frozen=True)
class MeshProps:
    """- ``mesh_name``: Default: a name CloudFormation generates.
    - ``egress_filter``: ``DROP_ALL`` (default: services reach only mesh backends) or ``ALLOW_ALL``.
    """

    mesh_name: str | None = None
    egress_filter: Literal["DROP_ALL", "ALLOW_ALL"] = "DROP_ALL"

    def __post_init__(self) -> None:
        if self.egress_filter not in ("DROP_ALL", "ALLOW_ALL"):
            raise PropsError(f"egress_filter is {self.egress_filter!r}: allowed DROP_ALL or ALLOW_ALL")


class Mesh(Construct):
    """An App Mesh mesh that drops traffic leaving the mesh unless told otherwise."""

    def __init__(self, scope: Construct, id: str, props: MeshProps = MeshProps()) -> None:
        super().__init__(scope, id)
        self.mesh = appmesh.Mesh(self, "Resource", mesh_name=props.mesh_name,
                                 egress_filter=appmesh.MeshFilterType[props.egress_filter])


def access_log_format(service: str, version: str) -> dict[str, str]:
    """Envoy's JSON access log line; service and version are literals so Logs Insights can group by them, and
    ``upstream_cluster`` tells the service's own requests (``cds_ingress_*``) from its calls to backends."""
    return {
        "start_time": "%START_TIME%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
        "protocol": "%PROTOCOL%",
        "response_code": "%RESPONSE_CODE%",
        "response_flags": "%RESPONSE_FLAGS%",
        "duration": "%DURATION%",
        "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
        "trace_id": "%REQ(X-AMZN-TRACE-ID)%",
        "request_id": "%REQ(X-REQUEST-ID)%",
        "upstream_cluster": "%UPSTREAM_CLUSTER%",
        "service": service,
        "version": version,
    }


def _listener(props: MeshServiceProps) -> appmesh.VirtualNodeListener:
    if props.protocol == "grpc":
        return appmesh.VirtualNodeListener.grpc(port=props.port, health_check=appmesh.HealthCheck.grpc())
    check_cls = appmesh.HealthCheck.http2 if props.protocol == "http2" else appmesh.HealthCheck.http
    listener = appmesh.VirtualNodeListener.http2 if props.protocol == "http2" else appmesh.VirtualNodeListener.http
    return listener(port=props.port, health_check=check_cls(path=props.health_check_path))


def _router_listener(props: MeshServiceProps) -> appmesh.VirtualRouterListener:
    return {"http": appmesh.VirtualRouterListener.http, "http2": appmesh.VirtualRouterListener.http2,
            "grpc": appmesh.VirtualRouterListener.grpc}[props.protocol](props.port)


def _route_spec(props: MeshServiceProps, major_index: int, targets: list[appmesh.WeightedTarget],
                priority: int) -> appmesh.RouteSpec:
    """HTTP routes match the major's path prefix. gRPC has no path prefix: with several majors each route
    matches the ``x-api-major`` header; a single major matches every gRPC request (content-type)."""
    major = props.majors[major_index]
    if props.protocol == "grpc":
        header = (appmesh.HeaderMatch.value_is("x-api-major", major.name) if len(props.majors) > 1
                  else appmesh.HeaderMatch.value_starts_with("content-type", "application/grpc"))
        return appmesh.RouteSpec.grpc(match=appmesh.GrpcRouteMatch(metadata=[header]),
                                      weighted_targets=targets, priority=priority)
    spec = appmesh.RouteSpec.http2 if props.protocol == "http2" else appmesh.RouteSpec.http
    return spec(match=appmesh.HttpRouteMatch(path=appmesh.HttpRoutePathMatch.starts_with(major.path_prefix)),
                weighted_targets=targets, priority=priority)


def _cohort_header(c: CohortRoute) -> appmesh.HeaderMatch:
    """A cohort's header match: its value exactly; a cookie among the cookie header's (a regular expression);
    a header that is present (a regular expression any value matches: Envoy fails it when the header is absent)."""
    if c.cookie is not None:
        return appmesh.HeaderMatch.value_matches_regex("cookie", cookie_regex(c.cookie, c.value))
    if c.value is not None:
        return appmesh.HeaderMatch.value_is(c.header, c.value)
    return appmesh.HeaderMatch.value_matches_regex(c.header, ".*")


def _cohort_spec(props: MeshServiceProps, major_index: int, cohort: CohortRoute, target: appmesh.WeightedTarget,
                 priority: int) -> appmesh.RouteSpec:
    """The major's own match (path prefix, or its gRPC header) and the cohort's header, to the cohort's version."""
    major = props.majors[major_index]
    if props.protocol == "grpc":
        header = (appmesh.HeaderMatch.value_is("x-api-major", major.name) if len(props.majors) > 1
                  else appmesh.HeaderMatch.value_starts_with("content-type", "application/grpc"))
        return appmesh.RouteSpec.grpc(match=appmesh.GrpcRouteMatch(metadata=[header, _cohort_header(cohort)]),
                                      weighted_targets=[target], priority=priority)
    spec = appmesh.RouteSpec.http2 if props.protocol == "http2" else appmesh.RouteSpec.http
    return spec(match=appmesh.HttpRouteMatch(path=appmesh.HttpRoutePathMatch.starts_with(major.path_prefix),
                                             headers=[_cohort_header(cohort)]),
                weighted_targets=[target], priority=priority)


class MeshedService(Construct):
    """One service in an App Mesh mesh; implements :class:`MeshServiceBinding`.

    Per code version a Cloud Map service and a virtual node (listener with health check, backends, Envoy
    access logs as JSON on stdout); one virtual router; per major a route with weighted targets; one virtual
    service provided by the router. Construct ids are stable: renaming one replaces the resource.
    """

    def __init__(self, scope: Construct, id: str, *, mesh: appmesh.IMesh, namespace: sd.INamespace,
                 props: MeshServiceProps, envoy_image: str = DEFAULT_ENVOY_IMAGE, register_dns: bool = True) -> None:
        """``envoy_image``: Default: the App Mesh Envoy image ``DEFAULT_ENVOY_IMAGE``.

        ``register_dns``: when the virtual service's name lies in ``namespace`` (``pricing.shop.local`` in
        ``shop.local``), register it there with a placeholder address, because the app resolves the name before
        Envoy intercepts the connection (docs.aws.amazon.com/app-mesh/latest/userguide/virtual_services.html).
        Default: True.
        """
        super().__init__(scope, id)
        self.props = props
        self._envoy_image = envoy_image
        self._arn_prefix: str | None = None  # node ARNs' common part, when the mesh name is known at synth
        self._mesh = mesh
        self._namespace_name = namespace.namespace_name
        backends = [appmesh.Backend.virtual_service(appmesh.VirtualService.from_virtual_service_attributes(
            self, f"Backend{i}", mesh=mesh, virtual_service_name=name)) for i, name in enumerate(props.backends)]
        self.discovery: dict[str, sd.Service] = {}
        self.nodes: dict[str, appmesh.VirtualNode] = {}
        listener = _listener(props)  # the same for every version (a listener only renders config): built once
        for version in props.versions:
            vid = _cid(version)
            node_name = props.node_name(version)
            self.discovery[version] = sd.Service(
                self, f"Discovery{vid}", namespace=namespace, name=node_name,
                dns_record_type=sd.DnsRecordType.A, custom_health_check=sd.HealthCheckCustomConfig(failure_threshold=1),
                description=f"{props.name} code version {version}")
            self.nodes[version] = appmesh.VirtualNode(
                self, f"Node{vid}", mesh=mesh, virtual_node_name=node_name,
                service_discovery=appmesh.ServiceDiscovery.cloud_map(self.discovery[version]),
                listeners=[listener], backends=backends,
                access_log=appmesh.AccessLog.from_file_path(
                    "/dev/stdout", appmesh.LoggingFormat.from_json(access_log_format(props.name, version))))
        self.router = appmesh.VirtualRouter(self, "Router", mesh=mesh, listeners=[_router_listener(props)],
                                            virtual_router_name=props.router_name or f"{props.name}-router")
        ordered = sorted(range(len(props.majors)), key=lambda i: -len(props.majors[i].path_prefix))
        self.routes: dict[str, appmesh.Route] = {}
        self.cohort_routes: dict[str, appmesh.Route] = {}
        priority = 0  # longest prefix first (/a/v1/ before /); a major's cohorts just before its weights
        for i in ordered:
            major = props.majors[i]
            for cohort in major.cohorts:
                target = appmesh.WeightedTarget(virtual_node=self.nodes[cohort.version], weight=100)
                self.cohort_routes[cohort.name] = appmesh.Route(
                    self, f"Cohort{_cid(cohort.name)}", mesh=mesh, virtual_router=self.router,
                    route_spec=_cohort_spec(props, i, cohort, target, priority), route_name=cohort.name)
                priority += 1
            targets = [appmesh.WeightedTarget(virtual_node=self.nodes[v], weight=w)
                       for v, w in major.weights.items() if v in self.nodes]
            spec = _route_spec(props, i, targets, priority)
            self.routes[major.name] = appmesh.Route(
                self, f"Route{_cid(major.name)}", mesh=mesh, virtual_router=self.router, route_spec=spec,
                route_name=props.route_name(major.name))
            priority += 1
        dns = props.dns_name or props.name
        self.virtual_service = appmesh.VirtualService(
            self, "VirtualService", virtual_service_name=dns,
            virtual_service_provider=appmesh.VirtualServiceProvider.virtual_router(self.router))
        self.dns_service: sd.Service | None = None
        label = _label_in(dns, namespace.namespace_name)
        if register_dns and label is not None:
            self.dns_service = sd.Service(self, "VirtualServiceDns", namespace=namespace, name=label,
                                          dns_record_type=sd.DnsRecordType.A,
                                          description=f"{dns}: resolves so Envoy can intercept; routed by the mesh")
            self.dns_service.register_ip_instance("Placeholder", ipv4=PLACEHOLDER_IP)

    # -- MeshServiceBinding --------------------------------------------------------------------------------
    def proxy(self, version: str) -> ProxyRequirements:
        arn = self.node_arn(version)
        return ProxyRequirements(
            image=self._envoy_image,
            environment={"APPMESH_RESOURCE_ARN": arn, "ENABLE_ENVOY_XRAY_TRACING": "1", "ENVOY_LOG_LEVEL": "info"},
            policy_statements=(iam.PolicyStatement(actions=["appmesh:StreamAggregatedResources"],
                                                   resources=[arn]),),
            redirect=ENVOY_REDIRECT)

    def deploys(self, version: str) -> bool:
        """Every code version runs side by side behind its own virtual node."""
        return version in self.props.versions

    def allow(self, major: str, caller: str) -> None:
        """App Mesh lets any node that lists this service as a backend call it (``MeshServiceProps.backends``)."""

    def dashboard_series(self, cluster_name: str | None) -> None:
        """Envoy's access log feeds the service's metric filters: the dashboard's default series."""
        return None

    def pod_registration(self, version: str) -> PodRegistration:
        """Pods register themselves in the version's Cloud Map service (the registrar sidecar), found by the
        namespace's and service's names since Cloud Map generates their IDs.

        Cloud Map changes the namespace's Route 53 records with the caller's permissions, so the role may change
        the version's own A record and nothing else (condition keys of route53:ChangeResourceRecordSets,
        docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html). The service has a
        custom health check, so no Route 53 health check is created and a new instance starts HEALTHY
        (AWS_INIT_HEALTH_STATUS, docs.aws.amazon.com/cloud-map/latest/api/API_RegisterInstance.html)."""
        self._node(version)
        stack = Stack.of(self)
        record = f"{self.props.node_name(version)}.{self._namespace_name}".lower()
        zones = stack.format_arn(service="route53", region="", account="", resource="hostedzone", resource_name="*")
        return PodRegistration(
            environment={"AWS_REGION": stack.region, CLOUDMAP_NAMESPACE: self._namespace_name,
                         CLOUDMAP_SERVICE: self.props.node_name(version)},
            parts=(CLOUD_MAP_REGISTRAR,),
            policy_statements=(
                iam.PolicyStatement(actions=["servicediscovery:RegisterInstance", "servicediscovery:DeregisterInstance",
                                             "servicediscovery:ListInstances"],
                                    resources=[self.discovery[version].service_arn]),
                iam.PolicyStatement(actions=["servicediscovery:ListNamespaces", "servicediscovery:ListServices"],
                                    resources=["*"]),
                iam.PolicyStatement(actions=["route53:ChangeResourceRecordSets"], resources=[zones], conditions={
                    "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": [record],
                                                  "route53:ChangeResourceRecordSetsRecordTypes": ["A"]}}),
                iam.PolicyStatement(actions=["route53:GetHostedZone"], resources=[zones])))

    def node_arn(self, version: str) -> str:
        """The virtual node's ARN, built from names when the mesh name is known at synth (so Kubernetes
        manifests written as files need no deploy-time value), else the resource's attribute."""
        node = self._node(version)
        if self._arn_prefix is None:  # once per service: each of these reads is a jsii round trip
            mesh_name = self._mesh.mesh_name
            if Token.is_unresolved(mesh_name):
                self._arn_prefix = ""
            else:
                stack = Stack.of(self)
                region = stack.region
                self._arn_prefix = f"arn:{_partition(region)}:appmesh:{region}:{stack.account}:mesh/{mesh_name}"
        if not self._arn_prefix:
            return node.virtual_node_arn
        return f"{self._arn_prefix}/virtualNode/{self.props.node_name(version)}"

    def bind_ecs_service(self, version: str, service: ecs.BaseService, container: ecs.ContainerDefinition,
                         ) -> None:
        self._node(version)
        service.associate_cloud_map_service(service=self.discovery[version], container=container,
                                            container_port=self.props.port)

    def _node(self, version: str) -> appmesh.VirtualNode:
        try:
            return self.nodes[version]
        except KeyError:
            raise PropsError(f"version {version!r} is not a code version of {self.props.name!r} "
                             f"(versions: {list(self.props.versions)})") from None


class AppMeshBackend(MeshBackend):
    """The App Mesh implementation of :class:`MeshBackend`: a mesh plus the Cloud Map namespace to register in."""

    def __init__(self, mesh: appmesh.IMesh, namespace: sd.INamespace, *, envoy_image: str = DEFAULT_ENVOY_IMAGE):
        """``envoy_image``: Default: ``DEFAULT_ENVOY_IMAGE``."""
        self.mesh = mesh
        self.namespace = namespace
        self.envoy_image = envoy_image

    def add_service(self, scope: Construct, id: str, props: MeshServiceProps) -> MeshedService:
        return MeshedService(scope, id, mesh=self.mesh, namespace=self.namespace, props=props,
                             envoy_image=self.envoy_image)


def _label_in(name: str, zone: str) -> str | None:
    """``pricing`` for ``pricing.shop.local`` in ``shop.local``; None when the name is not directly in the zone."""
    if Token.is_unresolved(zone) or not name.endswith("." + zone):
        return None
    label = name[: -len(zone) - 1]
    return label if label and "." not in label else None


def _partition(region: str) -> str:
    """The ARN partition: known from a literal region, else CloudFormation's pseudo parameter."""
    if Token.is_unresolved(region):
        return Aws.PARTITION
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _cid(name: str) -> str:
    """The construct id part for a resource name: the name itself (CDK hashes the path into the logical id,
    so p-41 and p41 stay distinct); stable, so a logical id never changes while the name does not."""
    return "-" + name


__all__ = ["AppMeshBackend", "END_OF_SUPPORT", "ENVOY_REDIRECT", "Mesh", "MeshProps", "MeshedService",
           "access_log_format"]
