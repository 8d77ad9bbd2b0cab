"""The shared stack: the VPC every cluster runs in, the Cloud Map namespace, and what the mesh backends share.

One VPC and one namespace for the project, because services on different clusters call each other through
the mesh and a private DNS namespace belongs to exactly one VPC.
"""
from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from meshspec.constructs_lib.logs import acknowledge_default_encryption, log_encryption_key
from meshspec.infra import naming
from meshspec.infra.mesh import registry
from meshspec.infra.spec.model import Spec

from .convert import availability_zones

VPC_CIDR = "10.0.0.0/16"
XRAY_END_OF_SUPPORT = "2027-02-25"
XRAY_WARNING_ID = "meshspec:xray-daemon-end-of-support"
XRAY_WARNING = (f"the X-Ray daemon reaches end of support on {XRAY_END_OF_SUPPORT} (maintenance since 2026-02-25): "
                "aws.observability.agent: xray-daemon keeps it as the spec asks, without instrumentation or the "
                "services' SLOs; remove that line for the CloudWatch agent with Application Signals, whose traces "
                "still land in X-Ray (see `meshspec help observability`).")


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
        # The mesh backends' shared parts: the one coming in during a migration first, then the spec's own.
        self.backend_parts: dict[str, Any] = {}
        self.acknowledgements: list[tuple[str, str]] = []
        if meshed:
            for backend in reversed(registry.active(spec)):
                part = backend.add_shared(self, spec, self.vpc, VPC_CIDR)
                if part is not None:
                    self.backend_parts[backend.name] = part
                    self.acknowledgements += backend.validation_acknowledgements()
            self._observability(spec)

    def _observability(self, spec: Spec) -> None:
        """Application Signals' one-time enablement (its service-linked role; StartDiscovery is idempotent, so
        another project in the account may declare it too), or the X-Ray daemon's end-of-support warning."""
        if spec.observability.agent == "xray-daemon":
            Annotations.of(self).add_warning_v2(XRAY_WARNING_ID, XRAY_WARNING)
            return
        from aws_cdk import aws_applicationsignals as appsignals

        appsignals.CfnDiscovery(self, "ApplicationSignals")
