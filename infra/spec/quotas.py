"""Service quotas that the spec is checked against before anything is synthesized or sent (each mesh backend
keeps its own in ``backends/<name>/quotas.py``).

Sources: App Engine quotas (cloud.google.com/appengine/docs/standard/quotas), CloudFormation quotas
(docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
"""
APPENGINE_VERSIONS_PER_APP = 210  # paid apps (free: 15)
APPENGINE_DISPATCH_RULES = 20  # per application (Admin API: Application.dispatchRules)
APPENGINE_SERVICES_PER_APP = 105  # paid apps (free: 5)
CFN_RESOURCES_PER_STACK = 500
CFN_OUTPUTS_PER_STACK = 200
CFN_TEMPLATE_BYTES = 1_000_000
CFN_PARAMETERS_PER_STACK = 200
CFN_STACKS_PER_REGION = 2000  # adjustable on request
CFN_STACK_NAME_LENGTH = 128
# AWS Cloud Map (docs.aws.amazon.com/general/latest/gr/cloud_map.html; Service Quotas): instances per service 1,000
# (fixed), per namespace 2,000 (adjustable). Mesh backends that register tasks and pods in Cloud Map count them.
CLOUDMAP_INSTANCES_PER_SERVICE = 1000
CLOUDMAP_INSTANCES_PER_NAMESPACE = 2000
# A deployment runs a version's old and new tasks side by side: ECS services take up to 200 % of desiredCount
# (meshspec's maximumPercent), a Kubernetes Deployment one more pod per four (RollingUpdate's default 25 % surge).
ECS_MAX_PERCENT = 200
K8S_SURGE_PERCENT = 25
# App Engine's cookie split diverts on its own cookie, GOOGAPPUID (TrafficSplit.ShardBy.COOKIE), and on nothing
# else: no header, no other cookie.
APPENGINE_SPLIT_COOKIE = "GOOGAPPUID"
