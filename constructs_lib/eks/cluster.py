"""An EKS cluster from aws-cdk-lib's v2 EKS constructs: native AWS::EKS::Cluster, no kubectl Lambda layer,
Auto Mode compute by default, Container Insights and CloudWatch Application Signals through the
amazon-cloudwatch-observability add-on, and the
Secrets Store CSI driver with AWS's provider (ASCP) through the aws-secrets-store-csi-driver-provider add-on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..errors import PropsError, contradiction
from ..nag import skip_checkov, suppress
from ..observability import observability_addon_configuration
from .secrets import SECRETS_STORE_ADDON, SECRETS_STORE_CONFIGURATION

if TYPE_CHECKING:  # only props' types: importing aws_lambda and aws_kms costs every synth about 50 ms
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_

EKS_MANAGED_POLICIES = ("AmazonEKSClusterPolicy", "AmazonEKSComputePolicy", "AmazonEKSBlockStoragePolicy",
                        "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy", "AmazonEKSWorkerNodePolicy",
                        "AmazonEC2ContainerRegistryReadOnly")
SECRETS_UNENCRYPTED_REASON = (
    "envelope encryption of Kubernetes Secrets with a customer managed key was turned off (an existing cluster "
    "kept: CloudFormation replaces a cluster whose encryption configuration changes); EKS still encrypts all "
    "Kubernetes API data with an AWS owned key (Kubernetes 1.28 and later)")
OBSERVABILITY_ADDON = "amazon-cloudwatch-observability"
OBSERVABILITY_NAMESPACE, OBSERVABILITY_SERVICE_ACCOUNT = "amazon-cloudwatch", "cloudwatch-agent"


@dataclass(frozen=True)
class EksClusterProps:
    """- ``vpc``: required.
    - ``kubernetes_version``: Default: ``1.33``.
    - ``cluster_name``: Default: a name CloudFormation generates.
    - ``auto_mode``: EKS Auto Mode compute. Default: True.
    - ``node_pools``: Auto Mode node pools. Default: ``system`` and ``general-purpose``.
    - ``container_insights``: Container Insights through the CloudWatch Observability add-on (with a Pod Identity
      role for its agent). Default: True.
    - ``container_insights_enhanced``: Container Insights with enhanced observability. Default: True.
    - ``application_signals``: the add-on's agent takes Application Signals' metrics and traces, and its
      operator injects ADOT into pods annotated ``instrumentation.opentelemetry.io/inject-<language>``.
      Default: True. The add-on is installed when either this or ``container_insights`` is on.
    - ``kubectl_layer``: a kubectl Lambda layer; with it CloudFormation applies workloads' manifests.
      Default: no kubectl provider: manifests are written beside the templates for ``kubectl apply``.
    - ``secrets_store``: install the ``aws-secrets-store-csi-driver-provider`` add-on (the Secrets Store CSI
      driver and ASCP) with the driver's ``syncSecret`` on, so workloads' ``secrets`` reach their pods.
      Default: True.
    - ``encrypt_secrets``: envelope encryption of Kubernetes Secrets (the synced secret values live in
      Kubernetes Secrets) with a customer managed KMS key. Default: True (a key is created unless
      ``secrets_encryption_key`` is given). Without it EKS still encrypts all Kubernetes API data with an AWS
      owned key (Kubernetes 1.28 and later). Choose at creation: CloudFormation replaces a cluster whose
      encryption configuration changes.
    - ``secrets_encryption_key``: the KMS key for ``encrypt_secrets``. Default: a new key, rotated yearly.
    """

    vpc: ec2.IVpc
    kubernetes_version: str = "1.33"
    cluster_name: str | None = None
    auto_mode: bool = True
    node_pools: tuple[str, ...] | None = None
    container_insights: bool = True
    container_insights_enhanced: bool = True
    application_signals: bool = True
    kubectl_layer: lambda_.ILayerVersion | None = None
    secrets_store: bool = True
    secrets_encryption_key: kms.IKey | None = None
    encrypt_secrets: bool = True

    def __post_init__(self) -> None:
        if not self.encrypt_secrets and self.secrets_encryption_key is not None:
            raise contradiction("secrets_encryption_key", "a key", "encrypt_secrets", False,
                                "give the key only with encrypt_secrets=True")
        if not self.auto_mode and self.node_pools is not None:
            raise contradiction("node_pools", list(self.node_pools), "auto_mode", False,
                                "node pools are an Auto Mode feature")
        if self.node_pools is not None and not self.node_pools:
            raise PropsError("node_pools is empty: give at least one pool, or leave it out for the defaults")


class EksCluster(Construct):
    """The cluster and, when asked, Container Insights and Application Signals (one add-on)."""

    def __init__(self, scope: Construct, id: str, props: EksClusterProps) -> None:
        super().__init__(scope, id)
        compute = None
        if props.auto_mode:
            compute = eks.ComputeConfig(node_pools=list(props.node_pools or ("system", "general-purpose")))
        key = props.secrets_encryption_key
        if props.encrypt_secrets and key is None:
            from aws_cdk import aws_kms as kms

            key = kms.Key(self, "SecretsKey", enable_key_rotation=True,
                          description="meshspec: envelope encryption of the EKS cluster's Kubernetes Secrets")
        self.cluster = eks.Cluster(
            self, "Cluster", version=eks.KubernetesVersion.of(props.kubernetes_version), vpc=props.vpc,
            cluster_name=props.cluster_name, compute=compute, secrets_encryption_key=key,
            default_capacity_type=eks.DefaultCapacityType.AUTOMODE if props.auto_mode else eks.DefaultCapacityType.NODEGROUP,
            kubectl_provider_options=(eks.KubectlProviderOptions(kubectl_layer=props.kubectl_layer)
                                      if props.kubectl_layer is not None else None),
            cluster_logging=[eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT,
                             eks.ClusterLoggingTypes.AUTHENTICATOR, eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
                             eks.ClusterLoggingTypes.SCHEDULER])
        self.name = props.cluster_name  # literal (manifests are files), or None when CloudFormation names it
        self.applies_manifests = props.kubectl_layer is not None
        if key is None:
            skip_checkov(self.cluster.node.default_child, "CKV_AWS_58", SECRETS_UNENCRYPTED_REASON)
        self.secrets_store = props.secrets_store
        if props.secrets_store:
            # ASCP reads with each pod's own Pod Identity role (usePodIdentity in the SecretProviderClass): the
            # add-on itself needs no role (docs.aws.amazon.com/secretsmanager/latest/userguide/integrate_eks.html).
            eks.Addon(self, "SecretsStore", cluster=self.cluster, addon_name=SECRETS_STORE_ADDON,
                      configuration_values=SECRETS_STORE_CONFIGURATION)
        suppress(self.cluster, "AwsSolutions-IAM4",
                 "EKS requires these AWS managed policies on the cluster role and the Auto Mode node role "
                 "(docs.aws.amazon.com/eks/latest/userguide/auto-cluster-iam-role.html, auto-create-node-role.html)",
                 applies_to=[f"Policy::arn:<AWS::Partition>:iam::aws:policy/{name}" for name in EKS_MANAGED_POLICIES])
        if props.container_insights or props.application_signals:
            role = iam.Role(self, "ObservabilityRole", assumed_by=pod_identity_principal(),
                            description="CloudWatch agent and Fluent Bit of the observability add-on")
            role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy"))
            suppress(role, "AwsSolutions-IAM4", "the CloudWatch Observability add-on documents this AWS managed "
                     "policy for its agent (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html)",
                     applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchAgentServerPolicy"])
            role.assume_role_policy.add_statements(iam.PolicyStatement(
                actions=["sts:TagSession"], principals=[iam.ServicePrincipal("pods.eks.amazonaws.com")]))
            association = eks.CfnPodIdentityAssociation(
                self, "ObservabilityIdentity", cluster_name=self.cluster.cluster_name,
                namespace=OBSERVABILITY_NAMESPACE, service_account=OBSERVABILITY_SERVICE_ACCOUNT,
                role_arn=role.role_arn)
            self.observability = eks.Addon(
                self, "Observability", cluster=self.cluster, addon_name=OBSERVABILITY_ADDON,
                configuration_values=observability_addon_configuration(
                    container_insights=props.container_insights, enhanced=props.container_insights_enhanced,
                    application_signals=props.application_signals))
            self.observability.node.add_dependency(association)


def pod_identity_principal() -> iam.IPrincipal:
    """EKS Pod Identity's trust principal (docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html)."""
    return iam.ServicePrincipal("pods.eks.amazonaws.com")
