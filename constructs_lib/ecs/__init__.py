"""ECS: a cluster and a meshed Fargate service per code version."""
from .cluster import Ec2Capacity, EcsCluster, EcsClusterProps
from .service import MeshedFargateService, MeshedFargateServiceProps

__all__ = ["Ec2Capacity", "EcsCluster", "EcsClusterProps", "MeshedFargateService", "MeshedFargateServiceProps"]
