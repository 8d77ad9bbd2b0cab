"""Reusable CDK constructs with typed props. They know nothing of the meshspec spec, its tools or its backends.

- :mod:`meshspec.constructs_lib.mesh`: the mesh backend interface (the backends' constructs are in
  ``meshspec.backends.<name>.constructs``);
- :mod:`meshspec.constructs_lib.ecs`: an ECS cluster and a meshed Fargate service per code version;
- :mod:`meshspec.constructs_lib.eks`: an EKS cluster (v2 constructs, Auto Mode) and workloads as Kubernetes manifests;
- :mod:`meshspec.constructs_lib.logs`, :mod:`meshspec.constructs_lib.dashboard`,
  :mod:`meshspec.constructs_lib.metrics`: log groups, Logs Insights queries, dashboards, metric filters;
- :mod:`meshspec.constructs_lib.observability`, :mod:`meshspec.constructs_lib.slo`: CloudWatch Application Signals in tasks
  and pods (the CloudWatch agent, ADOT), SLOs with burn-rate alarms.

Importing it has no side effect. jsii runs the first ``node`` on PATH unless ``$JSII_NODE`` names one: an app that
wants the Node that comes with meshspec calls ``meshspec.infra.node.use_project_node()`` before importing aws-cdk-lib
(``meshspec synth``, ``meshspec plan`` and this repository's app.py do).
"""
