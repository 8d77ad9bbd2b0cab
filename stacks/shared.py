"""The shared stack: the VPC every cluster runs in, the Cloud Map namespace, and the mesh.

One VPC and one namespace for the project, because services on different clusters call each other through
the mesh and a private DNS namespace belongs to exactly one VPC.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Annotations, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from meshspec.constructs_lib.logs import (RETENTION, acknowledge_default_encryption, imported_key,
                                          log_encryption_key)
from meshspec.constructs_lib.mesh.appmesh import END_OF_SUPPORT, Mesh, MeshProps
from meshspec.constructs_lib.service_connect import ServiceConnectNamespace
from meshspec.infra import naming
from meshspec.infra.spec.model import Spec

from .convert import availability_zones

if TYPE_CHECKING:  # imported where a spec uses VPC Lattice: aws_vpclattice and aws_route53 are not loaded on every synth
    from aws_cdk import aws_route53 as route53

    from meshspec.constructs_lib.lattice import LatticeServiceNetwork

VPC_CIDR = "10.0.0.0/16"
APPMESH_WARNING_ID = "meshspec:appmesh-end-of-support"
APPMESH_WARNING = (f"App Mesh reached end of support on {END_OF_SUPPORT}: this mesh is generated as the spec "
                   "asks, but plan the move to a supported backend (aws.mesh.backend: service-connect or "
                   "lattice): `meshspec migrate SPEC --to lattice` prints a zero-downtime plan (docs/backends.md). "
                   "CloudFormation's W3696 for each App Mesh resource is "
                   "acknowledged in favour of this one warning.")


class SharedStack(Stack):
    @property
    def availability_zones(self) -> list[str]:
        """The spec's AZs: with an explicit account, CDK would otherwise look them up (credentials)."""
        return self._azs

    def __init__(self, scope: Construct, id: str, *, spec: Spec, meshed: bool = True, **kwargs) -> None:
        """``spec``: the shared stack's view (``meshspec.infra.sharding.views``); ``meshed``: whether any service
        runs on AWS (the view holds no services). Default: true."""
        self._azs = availability_zones(spec)
        super().__init__(scope, id, **kwargs)
        self.vpc = ec2.Vpc(
            self, "Vpc", availability_zones=availability_zones(spec), nat_gateways=1,
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=20)])
        # defaults.logKmsKey: one key for every log group meshspec creates (created here, or the spec's own key)
        self.log_key = log_encryption_key(self, "LogsKey") if spec.defaults.log_kms_key == "create" else None
        self.log_key_arn: str | None = self.log_key.key_arn if self.log_key else spec.defaults.log_kms_key
        flow_log = self.vpc.add_flow_log("FlowLog")
        if self.log_key_arn:
            flow_log.log_group.node.default_child.kms_key_id = self.log_key_arn
        else:
            acknowledge_default_encryption(flow_log.log_group)
        self.namespace = sd.PrivateDnsNamespace(self, "Namespace", name=naming.namespace(spec.project), vpc=self.vpc)
        # Explicit exports of everything cluster and service stacks import (CDK gives them the names its automatic
        # references would get): they no longer come and go with the consumers, so removing the last service of
        # a kind cannot drop an export another stack imports, and partial synth writes this stack unchanged.
        for value in (self.vpc.vpc_id, self.vpc.vpc_cidr_block, self.namespace.namespace_id,
                      *(s.subnet_id for s in [*self.vpc.public_subnets, *self.vpc.private_subnets])):
            self.export_value(value)
        if self.log_key is not None:
            self.export_value(self.log_key.key_arn)
        self.mesh_name = spec.mesh_name
        self.mesh = None
        # The successor backends' shared parts: the one the spec uses, and during a migration the one coming in.
        kinds = {spec.aws.mesh.backend} | ({spec.aws.mesh.migration.to} if spec.aws.mesh.migration else set())
        self.lattice_network: LatticeServiceNetwork | None = None
        self.service_connect_namespace: ServiceConnectNamespace | None = None
        self.lattice_zone: route53.PrivateHostedZone | None = None
        if meshed and "lattice" in kinds:
            from aws_cdk import aws_route53 as route53

            from meshspec.constructs_lib.lattice import LatticeServiceNetwork

            access_logs = logs.LogGroup(  # read by each service's Lattice queries (LatticeAccessLogQueries)
                self, "LatticeAccessLogs", log_group_name=naming.lattice_access_log_group(spec.project),
                retention=RETENTION[spec.defaults.log_retention_days],
                removal_policy=RemovalPolicy.RETAIN if spec.defaults.log_removal_policy == "retain"
                else RemovalPolicy.DESTROY, encryption_key=imported_key(self, "LatticeLogsKey", self.log_key_arn))
            if self.log_key_arn is None:
                acknowledge_default_encryption(access_logs)
            self.lattice_network = LatticeServiceNetwork(
                self, "LatticeNetwork", name=naming.lattice_service_network(spec.mesh_name), vpc=self.vpc,
                client_peer=ec2.Peer.ipv4(VPC_CIDR), access_log_group=access_logs)
            # The Lattice services' custom names resolve here (Lattice creates no record for them)
            self.lattice_zone = route53.PrivateHostedZone(
                self, "LatticeZone", zone_name=naming.lattice_zone(spec.project), vpc=self.vpc,
                comment="meshspec: custom names of the VPC Lattice services")
            # exported explicitly like the values above, so the template is the same whichever services exist
            self.export_value(self.lattice_zone.hosted_zone_id)
            self.export_value(self.lattice_network.network_id)
        if meshed and "service-connect" in kinds:
            self.service_connect_namespace = ServiceConnectNamespace(
                self, "ServiceConnectNamespace", name=naming.service_connect_namespace(spec.project))
            self.export_value(self.service_connect_namespace.arn)
        if meshed and spec.aws.mesh.backend == "appmesh":
            self.mesh = Mesh(self, "Mesh", MeshProps(mesh_name=spec.mesh_name, egress_filter=spec.aws.mesh.egress_filter))
            Annotations.of(self.mesh).add_warning_v2(APPMESH_WARNING_ID, APPMESH_WARNING)
