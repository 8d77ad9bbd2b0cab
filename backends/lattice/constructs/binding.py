"""The VPC Lattice implementation of :class:`~meshspec.constructs_lib.mesh.base.MeshBackend`.

Per service: a Lattice service in the backend's service network, an IP target group per code version, a
listener rule per API major with the versions' weights (the counterpart of App Mesh's weighted routes), and an
IAM auth policy naming only the callers the stack allows. No proxy sidecar: ``proxy()`` is None; EKS pods register
themselves in their version's target group (``pod_registration``) and their role carries the caller tag.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Mapping

from aws_cdk import Stack, aws_ec2 as ec2, aws_ecs as ecs, aws_iam as iam, aws_logs as logs
from aws_cdk import aws_route53 as route53
from constructs import Construct

from meshspec.constructs_lib.dashboard import Graphs, ServiceDashboardProps, metric_row
from meshspec.constructs_lib.mesh.base import (MajorRoute, MeshBackend, MeshServiceProps, PodRegistration,
                                               PropsError, ProxyRequirements)
from meshspec.constructs_lib.nag import suppress

from .. import metrics as m
from ..quotas import cookie_needle
from ..registrar import PORT, TARGET_GROUP, TARGET_GROUP_REGISTRAR

from .service import (CALLER_TAG, LINK_LOCAL_IPV4, LatticeAccessLogQueries, LatticeEcsTarget, LatticeRoute,
                      LatticeService, tag_caller)


INFRA_ROLE_REASON = ("ECS's documented role for registering tasks in VPC Lattice target groups "
                     "(docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-vpc-lattice.html); AWS keeps the "
                     "managed policy in step with the Lattice API")


def grpc_header(props: MeshServiceProps, major: str) -> tuple[str, str, str] | None:
    """gRPC: several majors are told apart by the ``x-api-major`` header, one major takes every gRPC request
    (content-type), as App Mesh's routes do; other protocols match the path prefix."""
    if props.protocol != "grpc":
        return None
    if len(props.majors) > 1:
        return ("x-api-major", "exact", major)
    return ("content-type", "prefix", "application/grpc")


def cohort_rules(props: MeshServiceProps, major: MajorRoute) -> list[LatticeRoute]:
    """A major's A/B cohorts, each a rule matched before the major's own: its match and the cohort's header (a
    value exactly, or a cookie as "the cookie header contains NAME=VALUE"), to the cohort's version at 100 (the
    others at 0, so a runtime shift needs no new target group)."""
    out = []
    for c in major.cohorts:
        if c.value is None:
            raise PropsError(f"cohort {c.name}: VPC Lattice matches a header's value, not whether {c.header} is present")
        match = ("cookie", "contains", cookie_needle(c.cookie, c.value)) if c.cookie is not None else (
            c.header, "exact", c.value)
        out.append(LatticeRoute(name=c.name, path_prefix=major.path_prefix, weights={c.version: 100},
                                header=grpc_header(props, major.name), cohort_match=match))
    return out


class LatticeServiceBinding(Construct):
    """One meshed service on Lattice; implements :class:`~meshspec.constructs_lib.mesh.base.MeshServiceBinding`."""

    def __init__(self, scope: Construct, id: str, *, backend: "LatticeBackend", props: MeshServiceProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self._backend = backend
        routes = [r for m in props.majors for r in (*cohort_rules(props, m), LatticeRoute(
            name=props.route_name(m.name), path_prefix=m.path_prefix, weights=dict(m.weights),
            header=grpc_header(props, m.name)))]
        self._route_of_major = {m.name: props.route_name(m.name) for m in props.majors}
        self._ingress: set[str] = set()
        try:
            self.service = LatticeService(
                self, "Resource", service_network_id=backend.service_network_id,
                name=backend.service_name(props.name), vpc=backend.vpc,
                port=props.port, versions=props.versions, routes=routes, protocol=props.protocol,
                health_check_path=props.health_check_path, listener_name=backend.listener_name(props.name),
                target_group_names={v: backend.target_group_name(props.name, v) for v in props.versions},
                access_log_group=backend.access_log_group(props.name),
                custom_domain_name=backend.custom_domain_name(props.name), hosted_zone=backend.hosted_zone,
                certificate_arn=backend.certificate_arn if props.protocol != "http" else None)
        except PropsError as exc:
            raise PropsError(f"{props.name}: {exc}") from None
        if backend.network_access_log_group_name is not None:
            LatticeAccessLogQueries(self, "AccessLogQueries", service=self.service,
                                    log_group_name=backend.network_access_log_group_name,
                                    folder=backend.query_folder(props.name))

    def proxy(self, version: str) -> ProxyRequirements | None:
        """Lattice needs no sidecar: the VPC's Lattice endpoint routes, authenticates and balances."""
        self.service.target_group(version)
        return None

    def pod_registration(self, version: str) -> PodRegistration:
        """Pods register their IP on the app port in the version's target group (the registrar sidecar, which
        finds the group by name), and the pod role is tagged as this service's caller identity, as ECS task
        roles are."""
        group = self.service.target_group(version)
        return PodRegistration(
            environment={"AWS_REGION": Stack.of(self).region, TARGET_GROUP: group.name, PORT: str(self.props.port)},
            parts=(TARGET_GROUP_REGISTRAR,),
            policy_statements=(
                iam.PolicyStatement(actions=["vpc-lattice:RegisterTargets", "vpc-lattice:DeregisterTargets",
                                             "vpc-lattice:ListTargets"], resources=[group.attr_arn]),
                iam.PolicyStatement(actions=["vpc-lattice:ListTargetGroups"], resources=["*"])),
            role_tags={CALLER_TAG: self.props.name})

    def deploys(self, version: str) -> bool:
        """Every code version runs side by side behind its own weighted target group."""
        return version in self.props.versions

    def bind_ecs_service(self, version: str, service: ecs.BaseService, container: ecs.ContainerDefinition) -> None:
        """ECS registers the service's tasks in the version's target group (by the container's named port); the
        task role is tagged as this service's identity, which other services' auth policies admit by. Lattice's
        requests and health checks reach the tasks from its link-local range, not from the VPC's CIDR."""
        mapping = next((pm for pm in container.port_mappings if pm.container_port == self.props.port), None)
        if mapping is None or not mapping.name:
            raise PropsError(f"{self.props.name}/{version}: the container needs a named port mapping for port "
                             f"{self.props.port} (ECS registers Lattice targets by port name)")
        LatticeEcsTarget(self, f"EcsTarget-{version}", service=service, target_group=self.service.target_group(version),
                         port_mapping_name=mapping.name, infrastructure_role=self._backend.infrastructure_role(self))
        tag_caller(service.task_definition.task_role, self.props.name)
        if version not in self._ingress:
            service.connections.allow_from(ec2.Peer.ipv4(LINK_LOCAL_IPV4), ec2.Port.tcp(self.props.port),
                                           "VPC Lattice requests and health checks")
            self._ingress.add(version)

    def allow(self, major: str, caller: str) -> None:
        """Let the service ``caller`` call ``major``; the auth policy refuses every service not allowed."""
        try:
            route = self._route_of_major[major]
        except KeyError:
            raise PropsError(f"{self.props.name} has no major {major!r} (majors: {list(self._route_of_major)})") from None
        self.service.allow(route, caller)

    def dashboard_series(self, cluster_name: str | None) -> "LatticeSeries":
        """Lattice's own series of each version's target group."""
        return LatticeSeries(self.target_group_ids)

    @property
    def dns_name(self) -> str:
        return self.service.dns_name

    @property
    def target_group_ids(self) -> dict[str, str]:
        """version → target group id: where Lattice publishes each version's requests, 5xx and latency."""
        return {v: self.service.target_group(v).attr_id for v in self.props.versions}


@dataclass(frozen=True)
class LatticeSeries:
    """A service's dashboard on Lattice's own series (``AWS/VpcLattice``: TotalRequestCount, HTTPCode_5XX_Count,
    RequestTime) per target group, in one row for all majors: a target group serves every major of its version.
    ``target_groups``: version → target group id, for every version."""

    target_groups: Mapping[str, str]

    def rows(self, props: ServiceDashboardProps) -> list[tuple[str, Graphs]]:
        if set(self.target_groups) != set(props.versions):
            raise PropsError(f"target_groups names {sorted(self.target_groups)}, versions are {sorted(props.versions)}: "
                             "give each version its target group")
        return [("all majors", metric_row(functools.partial(lattice_metrics, props, self.target_groups),
                                          m.REQUESTS, m.ERRORS_5XX, m.LATENCY_MS))]


def lattice_metrics(props: ServiceDashboardProps, target_groups: Mapping[str, str], metric: str,
                    statistic: str) -> list[list]:
    """One series per code version from its Lattice target group, as a SEARCH expression (pure: no construct).

    SEARCH rather than a fixed dimension value: it matches the target group id whether CloudWatch lists the
    dimension as the id or as an ARN ending in it, and the ``{AWS/VpcLattice,TargetGroup}`` schema keeps the
    whole-group series, not per-zone slices."""
    period = props.period_minutes * 60
    series = []
    for i, v in enumerate(props.versions):
        search = (f"SEARCH('{{{m.NAMESPACE},{m.DIM_TARGET_GROUP}}} MetricName=\"{metric}\" "
                  f"{target_groups[v]}', '{statistic}', {period})")
        series.append([{"expression": search, "label": f"{v} {statistic}", "id": f"{statistic.lower()}{i}"}])
    return series


class LatticeBackend(MeshBackend):
    """A VPC Lattice service network and its services, behind the common mesh-backend interface."""

    def __init__(self, *, service_network_id: str, vpc: ec2.IVpc,
                 service_name: Callable[[str], str] | None = None,
                 target_group_name: Callable[[str, str], str] | None = None,
                 listener_name: Callable[[str], str] | None = None,
                 access_log_group: Callable[[str], logs.ILogGroup | None] | None = None,
                 custom_domain_name: Callable[[str], str | None] | None = None,
                 hosted_zone: route53.IHostedZone | None = None, certificate_arn: str | None = None,
                 network_access_log_group_name: str | None = None,
                 query_folder: Callable[[str], str] | None = None) -> None:
        """
        :param service_network_id: the service network (a ``LatticeServiceNetwork``, usually in a shared stack).
        :param vpc: the VPC of the target groups.
        :param service_name: Lattice service name per meshed service. Default: the service's name.
        :param target_group_name: per (service, version). Default: ``<service>-<version>``.
        :param listener_name: per service. Default: ``<service>-http``.
        :param access_log_group: per service, where Lattice writes access logs. Default: no access logs.
        :param custom_domain_name: per service, the literal name callers use (``LatticeService``). Default: none,
            callers use Lattice's generated name.
        :param hosted_zone: the private zone that gets each custom name's CNAME. Default: no records.
        :param certificate_arn: an ACM certificate covering the custom names, for the services with an HTTPS
            listener (http2, grpc). Default: none (those answer TLS only on Lattice's generated names).
        :param network_access_log_group_name: the log group the service network writes its access logs to; each
            service then gets saved queries over it (errors and latency per version). Default: no queries.
        :param query_folder: per service, the saved queries' folder. Default: the service's name.
        """
        self.service_network_id = service_network_id
        self.vpc = vpc
        self.service_name = service_name or (lambda s: s)
        self.target_group_name = target_group_name or (lambda s, v: f"{s}-{v}")
        self.listener_name = listener_name or (lambda s: f"{s}-http")
        self.access_log_group = access_log_group or (lambda s: None)
        self.custom_domain_name = custom_domain_name or (lambda s: None)
        self.hosted_zone = hosted_zone
        self.certificate_arn = certificate_arn
        if hosted_zone is not None and custom_domain_name is None:
            raise PropsError("hosted_zone is given but custom_domain_name is not: the records need names")
        if certificate_arn is not None and custom_domain_name is None:
            raise PropsError("certificate_arn is given but custom_domain_name is not: the certificate is for them")
        self.network_access_log_group_name = network_access_log_group_name
        self.query_folder = query_folder or (lambda s: s)
        self._roles: dict[str, iam.Role] = {}

    client_cidrs = (LINK_LOCAL_IPV4,)
    """Where clients' calls to Lattice go: a sidecar proxy must let these through (egress-ignored IPs)."""

    def add_service(self, scope: Construct, id: str, props: MeshServiceProps) -> LatticeServiceBinding:
        return LatticeServiceBinding(scope, id, backend=self, props=props)

    def infrastructure_role(self, scope: Construct) -> iam.IRole:
        """One role per stack: ECS assumes it to register and deregister Lattice targets."""
        stack = Stack.of(scope)
        key = stack.node.path
        if key not in self._roles:
            self._roles[key] = iam.Role(
                stack, "LatticeEcsInfrastructureRole", assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
                description="ECS registers tasks in VPC Lattice target groups",
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                    "AmazonECSInfrastructureRolePolicyForVpcLattice")])
            suppress(self._roles[key], "AwsSolutions-IAM4", INFRA_ROLE_REASON, applies_to=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForVpcLattice"])
        return self._roles[key]


__all__ = ["LatticeBackend", "LatticeSeries", "LatticeServiceBinding", "lattice_metrics"]
