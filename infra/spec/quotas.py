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

# Deploying in waves (infra/waves.py, `meshspec help pipelines`).
# AWS CodePipeline user guide, "Quotas in AWS CodePipeline" (checked 2026-12): these are in its table of fixed quotas.
CODEPIPELINE_ACTIONS_PER_STAGE = 50      # "Number of actions in a stage: minimum of 1, maximum of 50"; also parallel
CODEPIPELINE_ACTIONS_PER_PIPELINE = 500  # "Maximum number of actions per pipeline"
CODEPIPELINE_STAGES_PER_PIPELINE = 50    # "Number of stages in a pipeline: minimum of 2, maximum of 50"
# AWS CodeBuild user guide, "Quotas for AWS CodeBuild": concurrent running builds per account and Region, 60 by
# default ("for some platforms and compute types 20"; "for a new account 1-5"); builds past it wait in a queue of
# five times the quota. Adjustable through AWS Support.
CODEBUILD_CONCURRENT_BUILDS = 60
CODEBUILD_CONCURRENT_BUILDS_LOW = 20

# App Engine's cookie split diverts on its own cookie, GOOGAPPUID (TrafficSplit.ShardBy.COOKIE), and on nothing
# else: no header, no other cookie.
APPENGINE_SPLIT_COOKIE = "GOOGAPPUID"
