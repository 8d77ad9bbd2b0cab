"""EKS: the v2 cluster construct (Auto Mode, no kubectl layer), workloads as Kubernetes manifests with their
secrets from references (ASCP), and a Fluent Bit router that ships pods' stdout to their services' log groups."""
from .cluster import EksCluster, EksClusterProps
from .pod_logs import LOG_GROUP_ANNOTATION, PodLogRouter, PodLogRouterProps, render_router_manifests
from .workload import KubernetesWorkload, KubernetesWorkloadProps, WorkloadVersion, render_manifests, write_manifests

__all__ = ["EksCluster", "EksClusterProps", "KubernetesWorkload", "KubernetesWorkloadProps", "LOG_GROUP_ANNOTATION",
           "PodLogRouter", "PodLogRouterProps", "WorkloadVersion", "render_manifests", "render_router_manifests",
           "write_manifests"]
