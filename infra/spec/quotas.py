"""Service quotas that the spec is checked against before anything is synthesized or sent (each mesh backend
keeps its own in ``backends/<name>/quotas.py``).

Sources: App Engine quotas (cloud.google.com/appengine/docs/standard/quotas), CloudFormation quotas
(docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
"""
APPENGINE_VERSIONS_PER_APP = 210
APPENGINE_DISPATCH_RULES = 20
CFN_RESOURCES_PER_STACK = 500
CFN_OUTPUTS_PER_STACK = 200
CFN_TEMPLATE_BYTES = 1_000_000
CFN_PARAMETERS_PER_STACK = 200
CFN_STACKS_PER_REGION = 2000  # adjustable on request
CFN_STACK_NAME_LENGTH = 128
