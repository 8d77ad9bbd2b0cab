"""ECS Service Connect's limits, the one place the rules and the constructs read them from (pure constants).

Service Connect registers every task in AWS Cloud Map (its quotas: meshspec.infra.spec.quotas). During a canary
or linear deployment the old and new revisions run side by side, so a service needs room for twice its tasks. ECS
deployments (ECS API reference, CanaryConfiguration and LinearConfiguration; ECS developer guide, canary and
linear deployments): canary percent 0.1 to 100 in tenths, linear step 3 to 100, waits and bake time 0 to 1,440
minutes, and CloudFormation refuses a deployment computed to last over 33 hours.
"""
DEPLOYMENT_MAX_MINUTES = 33 * 60
LINEAR_STEP_MIN = 3
MAX_WAIT_MINUTES = 1440
