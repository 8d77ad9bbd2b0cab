"""Service quotas that the spec is checked against before anything is synthesized or sent.

Sources: App Mesh service quotas (docs.aws.amazon.com/app-mesh/latest/userguide/service-quotas.html),
App Engine quotas (cloud.google.com/appengine/docs/standard/quotas), CloudFormation quotas
(docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
"""
APPMESH_VIRTUAL_NODES_PER_MESH = 200
APPMESH_VIRTUAL_ROUTERS_PER_MESH = 200
APPMESH_VIRTUAL_SERVICES_PER_MESH = 200
APPMESH_ROUTES_PER_ROUTER = 50
APPMESH_TARGETS_PER_ROUTE = 10
APPMESH_BACKENDS_PER_NODE = 50
APPENGINE_VERSIONS_PER_APP = 210  # paid apps (free: 15)
APPENGINE_DISPATCH_RULES = 20  # per application (Admin API: Application.dispatchRules)
APPENGINE_SERVICES_PER_APP = 105  # paid apps (free: 5)
CFN_RESOURCES_PER_STACK = 500
CFN_OUTPUTS_PER_STACK = 200
CFN_TEMPLATE_BYTES = 1_000_000
CFN_PARAMETERS_PER_STACK = 200
CFN_STACKS_PER_REGION = 2000  # adjustable on request
CFN_STACK_NAME_LENGTH = 128
# CloudWatch Logs PutMetricFilter API reference: "The maximum number of metric filters that can be associated with
# a log group is 100" (not adjustable). meshspec puts meshspec.infra.metrics.FILTERS_PER_MAJOR per live major on a service's
# log group: at most 100 // 3 = 33 majors.
LOGS_METRIC_FILTERS_PER_LOG_GROUP = 100

# Amazon VPC Lattice (docs.aws.amazon.com/vpc-lattice/latest/ug/quotas.html, checked 2026-11; the older English
# page said 5 rules per listener, the current table says 10) and the VPC Lattice API reference (ForwardAction,
# WeightedTargetGroup, CreateService, CreateTargetGroup).
LATTICE_RULES_PER_LISTENER = 10          # adjustable
LATTICE_TARGET_GROUPS_PER_ACTION = 10    # ForwardAction.targetGroups: 1 to 10 (fixed)
LATTICE_WEIGHT_MAX = 999                 # WeightedTargetGroup.weight: 0 to 999
LATTICE_TARGET_GROUPS_PER_REGION = 500   # adjustable
LATTICE_SERVICES_PER_NETWORK = 500       # service associations per service network, adjustable
LATTICE_AUTH_POLICY_BYTES = 10_240       # auth policy size, fixed
LATTICE_SERVICE_NAME_MAX = 40
LATTICE_TARGET_GROUP_NAME_MAX = 128
LATTICE_NETWORK_NAME_MAX = 63
LATTICE_NAME_MIN = 3
LATTICE_PATH_MAX = 200                   # PathMatchType.prefix: at most 200 characters

# ECS Service Connect registers every task in AWS Cloud Map (docs.aws.amazon.com/general/latest/gr/cloud_map.html):
# 1,000 instances per service, 2,000 per namespace (both adjustable). During a canary or linear deployment the
# old and new revisions run side by side, so a service needs room for twice its tasks.
CLOUDMAP_INSTANCES_PER_SERVICE = 1000
CLOUDMAP_INSTANCES_PER_NAMESPACE = 2000
# ECS deployments (ECS developer guide, canary and linear deployments): CloudFormation refuses a deployment whose
# computed time exceeds 33 hours (bake time plus the canary or linear step waits).
ECS_DEPLOYMENT_MAX_MINUTES = 33 * 60
ECS_LINEAR_STEP_MIN = 3

# Cohort routes (A/B tests). App Mesh API reference: HttpRouteHeader.name 1 to 50 characters, HeaderMatchMethod
# exact/regex 1 to 255 characters, Route priority 0 to 1000. VPC Lattice (CloudFormation AWS::VpcLattice::Rule):
# HeaderMatch.Name 1 to 40 characters, HeaderMatchType values 1 to 128 characters, Rule.Priority 1 to 100,
# Rule.Name 3 to 63 characters; a value match only (exact, prefix, contains): no "header present".
APPMESH_HEADER_NAME_MAX = 50
APPMESH_HEADER_MATCH_MAX = 255
APPMESH_ROUTE_PRIORITY_MAX = 1000
APPMESH_ROUTE_NAME_MAX = 255
LATTICE_HEADER_NAME_MAX = 40
LATTICE_HEADER_MATCH_MAX = 128
LATTICE_RULE_PRIORITY_MAX = 100
LATTICE_RULE_NAME_MAX = 63
# App Engine's cookie split diverts on its own cookie, GOOGAPPUID (TrafficSplit.ShardBy.COOKIE), and on nothing
# else: no header, no other cookie.
APPENGINE_SPLIT_COOKIE = "GOOGAPPUID"
