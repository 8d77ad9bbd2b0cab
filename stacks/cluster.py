"""A core stack per cluster: the ECS or EKS cluster in the shared VPC."""
from __future__ import annotations

from typing import Any, Mapping

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from meshspec.constructs_lib.ecs import EcsCluster, EcsClusterProps
from meshspec.constructs_lib.eks import EksCluster, EksClusterProps, PodLogRouter, PodLogRouterProps
from meshspec.constructs_lib.logs import imported_key
from meshspec.infra import naming
from meshspec.infra.mesh import registry
from meshspec.infra.spec.model import Cluster, Spec

from . import convert
from .convert import INSIGHTS


class ClusterStack(Stack):
    def __init__(self, scope: Construct, id: str, *, spec: Spec, cluster: Cluster, vpc: ec2.IVpc,
                 namespace: sd.INamespace, facts: Mapping[str, Any] | None = None, log_key_arn: str | None = None,
                 **kwargs) -> None:
        """``spec``: the cluster stack's view (``meshspec.infra.sharding.views``, it holds no services); ``facts``:
        what the mesh backends need to know of its services (``Backend.cluster_facts``, in the view). Default:
        none. ``log_key_arn``: the shared stack's key for log groups. Default: none."""
        super().__init__(scope, id, **kwargs)
        self.spec_cluster = cluster
        self.vpc = vpc
        self.log_router: PodLogRouter | None = None  # kept for write_manifests
        name = naming.cluster(spec.project, cluster.name)
        if cluster.platform == "ecs":
            self.ecs = EcsCluster(self, "Cluster", EcsClusterProps(
                vpc=vpc, cluster_name=name, container_insights=INSIGHTS[cluster.container_insights],
                namespace=namespace, fargate="fargate" in cluster.capacities,
                ec2_capacity=convert.ec2_capacity(spec, cluster)))
            self.eks = None
        else:
            self.eks = EksCluster(self, "Cluster", EksClusterProps(
                vpc=vpc, cluster_name=name, kubernetes_version=cluster.kubernetes_version,
                container_insights=cluster.container_insights != "off",
                container_insights_enhanced=cluster.container_insights == "enhanced",
                application_signals=spec.observability.agent == "cloudwatch", encrypt_secrets=cluster.secrets_encryption))
            # pods' stdout into their service's log group, as awslogs does on ECS (constructs_lib/eks/pod_logs.py)
            self.log_router = PodLogRouter(self, "PodLogs", cluster=self.eks, props=PodLogRouterProps(
                log_group_prefix=naming.log_group_prefix(spec.project), name=cluster.name,
                encryption_key=imported_key(self, "LogsKey", log_key_arn)))
            self.ecs = None
        for backend in registry.active(spec):  # what a mesh backend needs of the cluster (security group rules)
            backend.add_to_cluster(self, spec, cluster, self.eks, facts or {})
        # Exported explicitly, as the shared stack's values are (see stacks/shared.py): stable exports.
        self.export_value((self.ecs or self.eks).cluster.cluster_name)
