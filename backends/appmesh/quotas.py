"""App Mesh's service quotas and its end of support, checked by ``meshspec validate`` (pure constants: the rules,
the constructs and the plans read them from here).

Source: docs.aws.amazon.com/app-mesh/latest/userguide/service-quotas.html, and the App Mesh API reference for
``WeightedTarget`` (weight 0 to 100) and ``RouteSpec.priority`` (0 to 1000).
"""
VIRTUAL_NODES_PER_MESH = 200
VIRTUAL_ROUTERS_PER_MESH = 200
VIRTUAL_SERVICES_PER_MESH = 200
ROUTES_PER_ROUTER = 50
TARGETS_PER_ROUTE = 10
BACKENDS_PER_NODE = 50
WEIGHT_MAX = 100
# Every task's or pod's Envoy holds a connection to App Mesh for its virtual node (Service Quotas: "Connected Envoy
# processes per virtual node", adjustable): one code version's tasks, a deployment's extra ones included.
ENVOYS_PER_NODE = 50
# docs.aws.amazon.com/app-mesh/latest/userguide/what-is-app-mesh.html: AWS ends support for App Mesh on this day.
END_OF_SUPPORT = "2026-09-30"
# A/B cohort routes (App Mesh API reference): HttpRouteHeader.name 1 to 50 characters, HeaderMatchMethod exact and
# regex 1 to 255 characters.
HEADER_NAME_MAX = 50
HEADER_MATCH_MAX = 255
# HttpRouteMatch.headers and GrpcRouteMatch.metadata take 1 to 10 matches and RouteSpec.priority is 0 to 1000: a
# cohort route carries at most 2 (a gRPC major's header and its own) and a router at most ROUTES_PER_ROUTER
# routes, so neither is reached once the routes per router are checked (tests/test_cohorts_props.py holds it).
MATCHES_PER_ROUTE = 10
PRIORITY_MAX = 1000
