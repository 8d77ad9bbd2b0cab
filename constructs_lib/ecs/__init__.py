"""ECS: a cluster (Fargate and EC2 capacity) and a meshed service per code version on either."""
from .cluster import Ec2Capacity, EcsCluster, EcsClusterProps
from .service import MeshedEcsService, MeshedEcsServiceProps, MeshedFargateService, MeshedFargateServiceProps

__all__ = ["Ec2Capacity", "EcsCluster", "EcsClusterProps", "MeshedEcsService", "MeshedEcsServiceProps",
           "MeshedFargateService", "MeshedFargateServiceProps"]
