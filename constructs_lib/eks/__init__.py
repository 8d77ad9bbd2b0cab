"""EKS: the v2 cluster construct (Auto Mode, no kubectl layer) and workloads as Kubernetes manifests."""
from .cluster import EksCluster, EksClusterProps
from .workload import KubernetesWorkload, KubernetesWorkloadProps, WorkloadVersion, render_manifests, write_manifests

__all__ = ["EksCluster", "EksClusterProps", "KubernetesWorkload", "KubernetesWorkloadProps", "WorkloadVersion",
           "render_manifests", "write_manifests"]
