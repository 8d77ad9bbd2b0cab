"""Reusable CDK constructs with typed props. They know nothing of the meshspec spec.

- :mod:`meshspec.constructs_lib.mesh`: the mesh backend interface and App Mesh;
- :mod:`meshspec.constructs_lib.ecs`: an ECS cluster and a meshed Fargate service per code version;
- :mod:`meshspec.constructs_lib.eks`: an EKS cluster (v2 constructs, Auto Mode) and workloads as Kubernetes manifests;
- :mod:`meshspec.constructs_lib.logs`, :mod:`meshspec.constructs_lib.dashboard`: log groups, Logs Insights queries, dashboards;
- :mod:`meshspec.constructs_lib.observability`, :mod:`meshspec.constructs_lib.slo`: CloudWatch Application Signals in tasks
  and pods (the CloudWatch agent, ADOT), SLOs with burn-rate alarms.
"""
from meshspec.infra.node import use_project_node

use_project_node()  # jsii on the project's Node when this package is imported before aws_cdk
