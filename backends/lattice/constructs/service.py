"""Amazon VPC Lattice: a service network, and per service a listener whose rules route each API major's path
prefix to weighted target groups, one per code version (the counterpart of App Mesh's weighted routes).

aws-cdk-lib 2.275 has only L1 constructs for VPC Lattice; these wrap them with typed props and eager
validation. Limits (docs.aws.amazon.com/vpc-lattice/latest/ug/quotas.html and the VPC Lattice API reference):
10 rules per listener (adjustable), 10 target groups per forward action, weights 0-999, priorities 1-2000,
path prefixes up to 200 characters, auth policies up to 10 KB. ECS tasks register in a target group through the
service's ``VpcLatticeConfigurations`` (an infrastructure role); EKS pods register their own IP (meshspec's
registrar sidecar, or the AWS Gateway API Controller: the target group is type IP, so both fit).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

from aws_cdk import Stack, Tags, aws_ecs as ecs, aws_ec2 as ec2, aws_iam as iam, aws_logs as logs, aws_vpclattice as lattice
from aws_cdk import aws_route53 as route53
from constructs import Construct

from meshspec.constructs_lib.errors import PropsError
from meshspec.constructs_lib.nag import suppress

from .. import quotas as q
from ..quotas import LINK_LOCAL_IPV4, LINK_LOCAL_IPV6

Protocol = Literal["http", "http2", "grpc"]
_PROTOCOL_VERSION = {"http": "HTTP1", "http2": "HTTP2", "grpc": "GRPC"}


class LatticeServiceNetwork(Construct):
    """A service network with IAM auth, associated with one VPC so its tasks and pods can call the services."""

    def __init__(self, scope: Construct, id: str, *, name: str, vpc: ec2.IVpc,
                 security_groups: Sequence[ec2.ISecurityGroup] | None = None, client_peer: ec2.IPeer | None = None,
                 access_log_group: logs.ILogGroup | None = None) -> None:
        """
        :param name: service network name (3-63 characters a-z, 0-9, single inner hyphens).
        :param vpc: the VPC whose workloads become clients of the network.
        :param security_groups: on the VPC association, controlling which clients reach the network.
            Default: a new security group allowing HTTP and HTTPS from ``client_peer``.
        :param client_peer: who may reach the network through the default security group. Default: the VPC's CIDR.
        :param access_log_group: where the network's access logs go. Default: no network-level access logs
            (each service can still log its own).
        """
        super().__init__(scope, id)
        _check_name("service network", name, q.NETWORK_NAME_MAX)
        self.network = lattice.CfnServiceNetwork(self, "Resource", name=name, auth_type="AWS_IAM")
        if security_groups is None:
            sg = ec2.SecurityGroup(self, "ClientSecurityGroup", vpc=vpc, allow_all_outbound=False,
                                   description=f"Clients of the {name} VPC Lattice service network")
            for port in (80, 443):
                sg.add_ingress_rule(client_peer or ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(port),
                                    "callers in the VPC reach the service network")
            security_groups = [sg]
        self.security_groups = list(security_groups)
        self.vpc_association = lattice.CfnServiceNetworkVpcAssociation(
            self, "VpcAssociation", service_network_identifier=self.network.attr_id, vpc_identifier=vpc.vpc_id,
            security_group_ids=[sg.security_group_id for sg in self.security_groups])
        # Lattice also requires a network-level policy when auth is AWS_IAM: allow authenticated callers in this
        # account; each service's own policy then names the consumers that may call it.
        account = Stack.of(self).account
        lattice.CfnAuthPolicy(self, "AuthPolicy", resource_identifier=self.network.attr_id, policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke",
                           "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": account}}}]})
        if access_log_group is not None:
            lattice.CfnAccessLogSubscription(self, "AccessLogs", resource_identifier=self.network.attr_arn,
                                             destination_arn=access_log_group.log_group_arn)

    @property
    def network_id(self) -> str:
        return self.network.attr_id


@dataclass(frozen=True)
class LatticeRoute:
    """One listener rule: requests under ``path_prefix`` go to the versions' target groups by weight."""

    name: str
    path_prefix: str
    weights: Mapping[str, int]
    header: tuple[str, Literal["exact", "prefix"], str] | None = None
    """Match a request header (name, kind, value) instead of the path prefix: gRPC requests carry their method
    in the path, so a gRPC service's majors are told apart by a header, as on App Mesh. Default: the path."""
    callers: Sequence[str] = field(default_factory=tuple)
    """Names of the services allowed to call this route: their roles carry the tag ``CALLER_TAG``. Default:
    nobody."""
    cohort_match: tuple[str, Literal["exact", "contains"], str] | None = None
    """An A/B cohort's header (name, kind, value), matched case-sensitively on top of the path or the gRPC
    header: the rule sends the cohort's requests to its version. Default: none, the rule is a major's own."""


CALLER_TAG = "meshspec:service"


def tag_caller(role: iam.IRole, service: str) -> None:
    """Mark a task or pod role as the identity of ``service``, the name auth policies admit by
    (``aws:PrincipalTag``, so a policy needs no reference to a role in another stack)."""
    Tags.of(role).add(CALLER_TAG, service)


def validate_routes(versions: Sequence[str], routes: Sequence[LatticeRoute]) -> None:
    """Eager checks, so a bad route fails at synth with a message instead of at deploy time."""
    if not routes:
        raise PropsError("a Lattice service needs at least one route (received none)")
    if len(routes) > q.RULES_PER_LISTENER:
        raise PropsError(f"{len(routes)} routes, but a VPC Lattice listener takes at most {q.RULES_PER_LISTENER} "
                         "rules (adjustable quota)")
    if len(versions) > q.TARGET_GROUPS_PER_ACTION:
        raise PropsError(f"{len(versions)} versions, but a forward action takes at most "
                         f"{q.TARGET_GROUPS_PER_ACTION} target groups")
    for r in routes:
        unknown = set(r.weights) - set(versions)
        if unknown:
            raise PropsError(f"route {r.name} weighs unknown versions {sorted(unknown)}; versions are {list(versions)}")
        if not r.path_prefix.startswith("/") or len(r.path_prefix) > q.PATH_MAX:
            raise PropsError(f"route {r.name}: path prefix {r.path_prefix!r} must start with / and have at most "
                             f"{q.PATH_MAX} characters")
        bad = {v: w for v, w in r.weights.items() if not 0 <= w <= q.WEIGHT_MAX}
        if bad:
            raise PropsError(f"route {r.name}: weights must be 0 to {q.WEIGHT_MAX}, received {bad}")
        if sum(r.weights.values()) == 0:
            raise PropsError(f"route {r.name}: at least one version needs a weight above 0")


def _header(name: str, kind: str, value: str, *, case_sensitive: bool) -> lattice.CfnRule.HeaderMatchProperty:
    return lattice.CfnRule.HeaderMatchProperty(name=name, case_sensitive=case_sensitive,
                                               match=lattice.CfnRule.HeaderMatchTypeProperty(**{kind: value}))


def _http_match(r: LatticeRoute) -> lattice.CfnRule.HttpMatchProperty:
    """The path prefix, or for gRPC the major's header; and a cohort's header on top."""
    headers = [_header(*r.header, case_sensitive=False)] if r.header is not None else []
    if r.cohort_match is not None:
        headers.append(_header(*r.cohort_match, case_sensitive=True))
    if r.header is not None:
        return lattice.CfnRule.HttpMatchProperty(header_matches=headers)
    return lattice.CfnRule.HttpMatchProperty(path_match=lattice.CfnRule.PathMatchProperty(
        match=lattice.CfnRule.PathMatchTypeProperty(prefix=r.path_prefix), case_sensitive=True),
        header_matches=headers or None)


def render_rule_action(route: LatticeRoute, target_group_ids: Mapping[str, str]) -> dict:
    """The rule's forward action: every version's target group, those without traffic at weight 0, so the
    runtime tools can shift weights with UpdateRule and no redeploy."""
    return {"forward": {"targetGroups": [
        {"targetGroupIdentifier": target_group_ids[v], "weight": route.weights.get(v, 0)}
        for v in target_group_ids]}}


def render_auth_policy(service_arn: str, routes: Sequence[LatticeRoute], callers: Mapping[str, Sequence[str]],
                       tag_key: str = CALLER_TAG) -> dict:
    """One Allow statement per route, for the callers that declared they call it (by their roles' tag), limited to
    its path prefix (the Invoke resource is the service ARN followed by the request path). Unsigned requests carry
    no tag, so they are refused too."""
    statements = []
    for r in routes:
        who = sorted(dict.fromkeys(callers.get(r.name) or ()))
        if not who:
            continue
        statements.append({
            "Sid": "".join(ch for ch in r.name.title() if ch.isalnum()),
            "Effect": "Allow",
            "Principal": "*",
            "Action": "vpc-lattice-svcs:Invoke",
            "Resource": f"{service_arn}{r.path_prefix}*",
            "Condition": {"StringEquals": {f"aws:PrincipalTag/{tag_key}": who}},
        })
    if not statements:  # nobody may call: an explicit deny keeps the policy valid and the intent readable
        statements.append({"Sid": "NoDeclaredConsumers", "Effect": "Deny", "Principal": "*",
                           "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


class LatticeService(Construct):
    """One Lattice service for one meshspec service: target groups per code version, a listener with one
    rule per API major, an IAM auth policy that admits only the declared consumers."""

    def __init__(self, scope: Construct, id: str, *, service_network_id: str, name: str, vpc: ec2.IVpc,
                 port: int, versions: Sequence[str], routes: Sequence[LatticeRoute],
                 target_group_names: Mapping[str, str] | None = None, protocol: Protocol = "http",
                 health_check_path: str = "/healthz", listener_name: str | None = None,
                 access_log_group: logs.ILogGroup | None = None, custom_domain_name: str | None = None,
                 hosted_zone: route53.IHostedZone | None = None, certificate_arn: str | None = None) -> None:
        """
        :param name: Lattice service name (3-40 characters, unique in the account and region).
        :param port: the port the tasks or pods listen on.
        :param versions: code versions; each gets an IP target group (ECS tasks and EKS pods alike).
        :param routes: one listener rule per API major; the longest path prefix gets the first priority, so
            ``/`` never shadows ``/a/v1/``.
        :param target_group_names: name per version. Default: ``<name>-<version>``.
        :param protocol: what the targets speak. Default: http (an HTTP listener on port 80); http2 and grpc get
            an HTTPS listener on 443 with Lattice's managed certificate, since clients negotiate HTTP/2 by ALPN.
        :param health_check_path: Default: /healthz.
        :param listener_name: Default: ``<name>-http``.
        :param access_log_group: where the service's access logs go. Default: no access logs.
        :param custom_domain_name: a literal name callers use instead of Lattice's generated one (known at synth,
            so it fits environment variables and manifests written as files). Lattice creates no DNS record for
            it, and an HTTPS listener answers on it only with a certificate of your own
            (docs.aws.amazon.com/vpc-lattice/latest/ug/service-custom-domain-name.html); it cannot change after
            creation. Default: none, callers use the generated name.
        :param hosted_zone: where a CNAME from ``custom_domain_name`` to the generated name goes (a private hosted
            zone of the clients' VPC). Default: no record (you manage the name's DNS).
        :param certificate_arn: an ACM certificate for ``custom_domain_name``, which an HTTPS listener presents
            on it. Default: none (an HTTPS listener then answers TLS only on the generated name).
        """
        super().__init__(scope, id)
        _check_name("service", name, q.SERVICE_NAME_MAX)
        if hosted_zone is not None and custom_domain_name is None:
            raise PropsError(f"Lattice service {name}: hosted_zone is given but custom_domain_name is not; the record "
                             "needs a name (give custom_domain_name, or leave hosted_zone out)")
        if certificate_arn is not None and custom_domain_name is None:
            raise PropsError(f"Lattice service {name}: certificate_arn is given but custom_domain_name is not; "
                             "Lattice presents its own certificate on the generated name")
        versions = list(versions)
        validate_routes(versions, routes)
        tg_names = dict(target_group_names or {v: f"{name}-{v}" for v in versions})
        self.name = name
        self.port = port
        self.custom_domain_name = custom_domain_name
        self.service = lattice.CfnService(self, "Resource", name=name, auth_type="AWS_IAM",
                                          custom_domain_name=custom_domain_name, certificate_arn=certificate_arn)
        self.domain_record: route53.CnameRecord | None = None
        if hosted_zone is not None:
            self.domain_record = route53.CnameRecord(
                self, "DomainRecord", zone=hosted_zone, record_name=f"{custom_domain_name}.",
                domain_name=self.service.attr_dns_entry_domain_name)
        self.association = lattice.CfnServiceNetworkServiceAssociation(
            self, "NetworkAssociation", service_identifier=self.service.attr_id,
            service_network_identifier=service_network_id)
        self.target_groups: dict[str, lattice.CfnTargetGroup] = {}
        for v in versions:
            _check_name("target group", tg_names[v], q.TARGET_GROUP_NAME_MAX)
            self.target_groups[v] = lattice.CfnTargetGroup(
                self, f"TargetGroup-{v}", name=tg_names[v], type="IP",
                config=lattice.CfnTargetGroup.TargetGroupConfigProperty(
                    port=port, protocol="HTTP", protocol_version=_PROTOCOL_VERSION[protocol],
                    vpc_identifier=vpc.vpc_id, ip_address_type="IPV4",
                    health_check=lattice.CfnTargetGroup.HealthCheckConfigProperty(
                        enabled=True, path=health_check_path, protocol="HTTP",
                        protocol_version="HTTP1", matcher=lattice.CfnTargetGroup.MatcherProperty(http_code="200-399"))))
        secure = protocol != "http"
        self.listener = lattice.CfnListener(
            self, "Listener", name=listener_name or f"{name}-http", service_identifier=self.service.attr_id,
            protocol="HTTPS" if secure else "HTTP", port=443 if secure else 80,
            default_action=lattice.CfnListener.DefaultActionProperty(
                fixed_response=lattice.CfnListener.FixedResponseProperty(status_code=404)))
        tg_ids = {v: tg.attr_id for v, tg in self.target_groups.items()}
        self.rules: dict[str, lattice.CfnRule] = {}
        ordered = sorted(routes, key=lambda r: -len(r.path_prefix))
        for priority, r in enumerate(ordered, start=1):
            action = render_rule_action(r, tg_ids)["forward"]["targetGroups"]
            self.rules[r.name] = lattice.CfnRule(
                self, f"Rule-{r.name}", name=r.name, priority=priority, service_identifier=self.service.attr_id,
                listener_identifier=self.listener.attr_id,
                match=lattice.CfnRule.MatchProperty(http_match=_http_match(r)),
                action=lattice.CfnRule.ActionProperty(forward=lattice.CfnRule.ForwardProperty(target_groups=[
                    lattice.CfnRule.WeightedTargetGroupProperty(target_group_identifier=t["targetGroupIdentifier"],
                                                                weight=t["weight"]) for t in action])))
        self.routes = {r.name: r for r in routes}
        self._callers: dict[str, list[str]] = {r.name: list(r.callers) for r in routes}
        # Re-rendered on each allow(), so callers created after this construct can still be admitted.
        self.auth_policy = lattice.CfnAuthPolicy(
            self, "AuthPolicy", resource_identifier=self.service.attr_id, policy=self.render_policy())
        if access_log_group is not None:
            lattice.CfnAccessLogSubscription(self, "AccessLogs", resource_identifier=self.service.attr_arn,
                                             destination_arn=access_log_group.log_group_arn)

    @property
    def dns_name(self) -> str:
        """The Lattice-generated domain name consumers call."""
        return self.service.attr_dns_entry_domain_name

    def allow(self, route: str, caller: str) -> None:
        """Let the service ``caller`` (roles tagged ``CALLER_TAG=caller``) call the route's path prefix."""
        if route not in self._callers:
            raise PropsError(f"no route {route!r} on Lattice service {self.name}; routes are {list(self._callers)}")
        if caller not in self._callers[route]:
            self._callers[route].append(caller)
            self.auth_policy.policy = self.render_policy()

    def render_policy(self) -> dict:
        return render_auth_policy(self.service.attr_arn, list(self.routes.values()), self._callers)

    def target_group(self, version: str) -> lattice.CfnTargetGroup:
        try:
            return self.target_groups[version]
        except KeyError:
            raise PropsError(f"no target group for version {version!r}; versions are "
                             f"{list(self.target_groups)}") from None


class LatticeEcsTarget(Construct):
    """Registers an ECS service's tasks in a Lattice target group (ECS's native VPC Lattice integration).

    aws-cdk-lib 2.275's FargateService has no prop for it, so this sets ``VpcLatticeConfigurations`` on the
    underlying AWS::ECS::Service (an L1 escape hatch) with an infrastructure role ECS assumes.
    """

    def __init__(self, scope: Construct, id: str, *, service: ecs.BaseService,
                 target_group: lattice.CfnTargetGroup, port_mapping_name: str,
                 infrastructure_role: iam.IRole | None = None) -> None:
        """
        :param port_mapping_name: the container port mapping's name (the container must name its port).
        :param infrastructure_role: the role ECS uses to register targets. Default: a new role with the AWS
            managed policy AmazonECSInfrastructureRolePolicyForVpcLattice.
        """
        super().__init__(scope, id)
        self.role = infrastructure_role
        if self.role is None:
            self.role = iam.Role(
                self, "InfrastructureRole", assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
                description="ECS registers this service's tasks in its VPC Lattice target group",
                managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                    "AmazonECSInfrastructureRolePolicyForVpcLattice")])
            suppress(self.role, "AwsSolutions-IAM4", "ECS's documented role for registering tasks in VPC Lattice "
                     "target groups; AWS keeps the managed policy in step with the Lattice API", applies_to=[
                         "Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForVpcLattice"])
        cfn = service.node.default_child
        cfn.add_property_override("VpcLatticeConfigurations", [{
            "RoleArn": self.role.role_arn, "TargetGroupArn": target_group.attr_arn, "PortName": port_mapping_name}])


def _check_name(what: str, name: str, limit: int) -> None:
    if not (q.NAME_MIN <= len(name) <= limit and q.NAME.match(name)):
        raise PropsError(f"VPC Lattice {what} name {name!r} is not allowed: {q.NAME_MIN} to {limit} characters a-z, 0-9 and "
                         "single inner hyphens")


def policy_json(policy: dict) -> str:
    """The policy as Lattice stores it (used to check the 10 KB quota in tests)."""
    return json.dumps(policy, separators=(",", ":"))


# Logs Insights over a service network's access logs (VPC Lattice user guide, "Access log contents": serviceArn,
# targetGroupArn, requestPath, responseCode, duration in ms). A target group is one code version.
LATTICE_QUERIES: dict[str, str] = {
    "lattice-errors-by-version": (
        "fields @timestamp, targetGroupArn, requestPath, responseCode\n"
        "| filter serviceArn = \"{service_arn}\" and responseCode >= 500\n"
        "| stats count(*) as errors by targetGroupArn\n"
        "| sort errors desc"),
    "lattice-p99-latency-by-version": (
        "filter serviceArn = \"{service_arn}\"\n"
        "| stats pct(duration, 50) as p50_ms, pct(duration, 99) as p99_ms, count(*) as requests by targetGroupArn\n"
        "| sort targetGroupArn"),
}


class LatticeAccessLogQueries(Construct):
    """One Lattice service's saved queries over its service network's access log group: 5xx and p50/p99 latency
    per target group (code version), the Lattice counterparts of the Envoy queries of ``ServiceLogs``."""

    def __init__(self, scope: Construct, id: str, *, service: LatticeService, log_group_name: str,
                 folder: str) -> None:
        """
        :param service: the Lattice service; its ARN selects its lines.
        :param log_group_name: the service network's access log group (``LatticeServiceNetwork``'s
            ``access_log_group``).
        :param folder: the saved queries' folder, e.g. the one ``ServiceLogs`` puts the service's queries in.
        """
        super().__init__(scope, id)
        self.queries = {
            name: logs.CfnQueryDefinition(self, name, name=f"{folder}/{name}", log_group_names=[log_group_name],
                                          query_string=text.replace("{service_arn}", service.service.attr_arn))
            for name, text in LATTICE_QUERIES.items()}
