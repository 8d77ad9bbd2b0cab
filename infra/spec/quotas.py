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
APPENGINE_VERSIONS_PER_APP = 210
APPENGINE_DISPATCH_RULES = 20
CFN_RESOURCES_PER_STACK = 500
CFN_OUTPUTS_PER_STACK = 200
CFN_TEMPLATE_BYTES = 1_000_000
CFN_PARAMETERS_PER_STACK = 200
CFN_STACKS_PER_REGION = 2000  # adjustable on request
CFN_STACK_NAME_LENGTH = 128
