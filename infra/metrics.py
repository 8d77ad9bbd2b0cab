"""The per-version metrics meshspec's dashboards show, its canary analysis reads and its metric filters write.

Envoy writes one JSON access log line per request (``meshspec.constructs_lib.mesh.appmesh.access_log_format``) to the
service's log group; CloudWatch Logs metric filters (``meshspec.constructs_lib.metrics.ServiceMetricFilters``) turn the
lines into these series. A metric filter's dimensions can only take values from log fields and no field holds the
API major (the route matched the path prefix), so the major is in the namespace: one namespace per major,
dimensions Service and Version. Dashboards (constructs_lib), filters (constructs_lib) and the canary
(infra/traffic) take every name from here, so they read and write the very same series.
"""
NAMESPACE_PREFIX = "meshspec/Envoy"

DIM_SERVICE = "Service"
DIM_VERSION = "Version"

REQUESTS = "RequestCount"      # Sum per period
ERRORS_5XX = "Http5xxCount"    # Sum per period
LATENCY_MS = "LatencyMs"       # statistics p50 / p99
# Only for a major with a latency objective of its own (its SLO counts the requests slower than the threshold).
SLOW_REQUESTS = "SlowRequestCount"  # Sum per period

# The access log fields the filters read (meshspec.constructs_lib.mesh.appmesh.access_log_format).
FIELD_SERVICE = "service"
FIELD_VERSION = "version"
FIELD_PATH = "path"
FIELD_RESPONSE_CODE = "response_code"
FIELD_DURATION = "duration"
FIELD_UPSTREAM_CLUSTER = "upstream_cluster"

# App Mesh's Envoy logs every request it proxies, the service's own (inbound) and the calls it makes to its
# backends (outbound), with the same line format. It names its clusters ``cds_ingress_<mesh>_<node>_<proto>_<port>``
# for inbound and ``cds_egress_...`` for outbound (App Mesh user guide, "Troubleshooting App Mesh observability":
# the router's "cluster 'cds_ingress_...' match" line), so ``upstream_cluster`` tells the two apart.
INBOUND_CLUSTER_PREFIX = "cds_ingress_"

# A metric filter has exactly one metric transformation (PutMetricFilter: metricTransformations, 1 item), so each
# major takes one filter per metric: requests, 5xx, latency (and slow requests, with a latency objective).
FILTERS_PER_MAJOR = 3


def namespace(major: str, prefix: str = NAMESPACE_PREFIX) -> str:
    """The namespace of one API major's series, e.g. ``meshspec/Envoy/v1``."""
    return f"{prefix}/{major}"


# VPC Lattice publishes its own per-target-group series (VPC Lattice user guide, "CloudWatch metrics for Amazon
# VPC Lattice"): namespace AWS/VpcLattice, dimension TargetGroup. A target group is one code version of a service
# and serves every API major of it, so on Lattice the figures are per version, across majors.
LATTICE_NAMESPACE = "AWS/VpcLattice"
LATTICE_DIM_TARGET_GROUP = "TargetGroup"
LATTICE_REQUESTS = "TotalRequestCount"   # Sum per period
LATTICE_ERRORS_5XX = "HTTPCode_5XX_Count"  # Sum per period
LATTICE_LATENCY_MS = "RequestTime"       # milliseconds; statistics p50 / p99


# CloudWatch Application Signals' standard application metrics (namespace ApplicationSignals; CloudWatch user guide,
# "Metrics collected by Application Signals"): a service's own requests, as the server, by Environment and Service.
# Latency's SampleCount is the request count; Fault counts 5xx answers and faulted spans.
APPSIGNALS_NAMESPACE = "ApplicationSignals"
APPSIGNALS_DIM_SERVICE = "Service"
APPSIGNALS_DIM_ENVIRONMENT = "Environment"
APPSIGNALS_LATENCY = "Latency"  # milliseconds
APPSIGNALS_FAULT = "Fault"
