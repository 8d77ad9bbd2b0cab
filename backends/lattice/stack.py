"""VPC Lattice in meshspec's stacks: the service network, its access logs and the private zone of the custom names
in the shared stack, the EKS clusters' ingress from Lattice's range, and the backend a services stack adds its
services to, with the names the runtime tools find them by."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53

from meshspec.constructs_lib.logs import RETENTION, acknowledge_default_encryption, imported_key
from meshspec.infra import naming
from meshspec.infra.spec.model import Cluster, Spec

from . import names
from .constructs.binding import LatticeBackend
from .constructs.service import LINK_LOCAL_IPV4, LatticeServiceNetwork


@dataclass
class Shared:
    network: LatticeServiceNetwork
    zone: route53.PrivateHostedZone


def add_shared(stack: Any, spec: Spec, vpc: ec2.IVpc, vpc_cidr: str) -> Shared:
    access_logs = logs.LogGroup(  # read by each service's Lattice queries (LatticeAccessLogQueries)
        stack, "LatticeAccessLogs", log_group_name=names.access_log_group(spec.project),
        retention=RETENTION[spec.defaults.log_retention_days],
        removal_policy=RemovalPolicy.RETAIN if spec.defaults.log_removal_policy == "retain"
        else RemovalPolicy.DESTROY, encryption_key=imported_key(stack, "LatticeLogsKey", stack.log_key_arn))
    if stack.log_key_arn is None:
        acknowledge_default_encryption(access_logs)
    network = LatticeServiceNetwork(
        stack, "LatticeNetwork", name=names.service_network(spec.mesh_name), vpc=vpc,
        client_peer=ec2.Peer.ipv4(vpc_cidr), access_log_group=access_logs)
    # The Lattice services' custom names resolve here (Lattice creates no record for them)
    zone = route53.PrivateHostedZone(stack, "LatticeZone", zone_name=names.zone(spec.project), vpc=vpc,
                                     comment="meshspec: custom names of the VPC Lattice services")
    # exported explicitly like the shared stack's other values, so its template is the same whichever services exist
    stack.export_value(zone.hosted_zone_id)
    stack.export_value(network.network_id)
    return Shared(network, zone)


def add_to_cluster(stack: Any, cluster: Cluster, eks: Any, ports: tuple[int, ...] | None) -> None:
    """Pods registered in Lattice target groups receive traffic and health checks from Lattice's link-local
    range; EKS Auto Mode nodes (and so their pods) use the cluster security group, which admits only itself.
    ``ports``: the cluster's services' ports (a fact of the cluster stack's view: ``cluster_facts``)."""
    if eks is None:
        return
    if ports is None:
        raise ValueError(f"cluster {cluster.name}: its services' ports are a fact of its view "
                         "(meshspec.infra.sharding.views) where Lattice reaches pods; none was given")
    group = eks.cluster.cluster_security_group
    for port in ports:
        group.add_ingress_rule(ec2.Peer.ipv4(LINK_LOCAL_IPV4), ec2.Port.tcp(port),
                               f"VPC Lattice traffic and health checks to pods on port {port}")


def mesh_backend(spec: Spec, shared: Shared | None, vpc: ec2.IVpc) -> LatticeBackend:
    """Lattice services get the literal names ``Backend.endpoint`` hands out (custom domain names)."""
    if shared is None:
        raise ValueError("backend lattice needs the shared stack's service network")
    return LatticeBackend(
        service_network_id=shared.network.network_id, vpc=vpc,
        service_name=lambda s: names.service(spec.project, s),
        target_group_name=lambda s, v: names.target_group(spec.project, s, v),
        listener_name=names.listener, access_log_group=lambda s: None,
        custom_domain_name=lambda s: names.domain(spec.project, s), hosted_zone=shared.zone,
        certificate_arn=spec.aws.mesh.certificate_arn,
        network_access_log_group_name=names.access_log_group(spec.project),
        query_folder=lambda s: naming.query_folder(spec.project, s))
