"""The per-version metrics meshspec's dashboards show, its canary analysis reads and its metric filters write.

A sidecar Envoy writes one JSON access log line per request (the fields below) to the service's log group;
CloudWatch Logs metric filters (``meshspec.constructs_lib.metrics.ServiceMetricFilters``) turn the lines into
these series. A metric filter's dimensions can only take values from log fields and no field holds the
API major (the route matched the path prefix), so the major is in the namespace: one namespace per major,
dimensions Service and Version. Dashboards and filters (constructs_lib), the canary (infra/traffic) and the
spec's quota checks take every name from here, so they read and write the very same series. Pure constants: no
aws-cdk-lib, so ``meshspec validate`` may import it.
"""
from typing import Mapping

NAMESPACE_PREFIX = "meshspec/Envoy"

DIM_SERVICE = "Service"
DIM_VERSION = "Version"

REQUESTS = "RequestCount"      # Sum per period
ERRORS_5XX = "Http5xxCount"    # Sum per period
LATENCY_MS = "LatencyMs"       # statistics p50 / p99
# Only for a major with a latency objective of its own (its SLO counts the requests slower than the threshold).
SLOW_REQUESTS = "SlowRequestCount"  # Sum per period

# The access log fields the filters read (the Envoy access log format a backend's sidecar writes).
FIELD_SERVICE = "service"
FIELD_VERSION = "version"
FIELD_PATH = "path"
FIELD_RESPONSE_CODE = "response_code"
FIELD_DURATION = "duration"
FIELD_UPSTREAM_CLUSTER = "upstream_cluster"

# The sidecar Envoy logs every request it proxies, the service's own (inbound) and the calls it makes to its
# backends (outbound), with the same line format. App Mesh's Envoy names its clusters
# ``cds_ingress_<mesh>_<node>_<proto>_<port>`` for inbound and ``cds_egress_...`` for outbound (App Mesh user guide, "Troubleshooting App Mesh observability":
# the router's "cluster 'cds_ingress_...' match" line), so ``upstream_cluster`` tells the two apart.
INBOUND_CLUSTER_PREFIX = "cds_ingress_"

# CloudWatch Logs PutMetricFilter API reference: "The maximum number of metric filters that can be associated with
# a log group is 100" (not adjustable), and a filter pattern has at most 1024 characters.
METRIC_FILTERS_PER_LOG_GROUP = 100
FILTER_PATTERN_MAX = 1024

# A metric filter has exactly one metric transformation (PutMetricFilter: metricTransformations, 1 item), so each
# major takes one filter per metric: requests, 5xx, latency.
FILTERS_PER_MAJOR = 3


def namespace(major: str, prefix: str = NAMESPACE_PREFIX) -> str:
    """The namespace of one API major's series, e.g. ``meshspec/Envoy/v1``."""
    return f"{prefix}/{major}"


def filter_pattern(service: str, majors: Mapping[str, str | None], major: str, metric: str,
                   inbound_cluster_prefix: str | None = INBOUND_CLUSTER_PREFIX, *, slow_ms: int | None = None) -> str:
    """The lines that count for ``major``'s ``metric`` (pure text; ``majors``: major → its path prefix, None for
    every line). ``{ ($.service = "svc") && ($.upstream_cluster = "cds_ingress_*") && ($.path = "/svc/v1/*")
    && ($.path != "/svc/v1/admin/*") }``, plus ``($.response_code >= 500)`` for Http5xxCount: the text
    ``logs.FilterPattern.all(string_value(...), number_value(...))`` renders, and what the spec's checks measure
    against ``FILTER_PATTERN_MAX``. ``SlowRequestCount`` adds ``($.duration > slow_ms)``."""
    prefix = majors[major]
    parts = [f"$.{FIELD_SERVICE} = {_quote(service)}"]
    if inbound_cluster_prefix is not None:
        parts.append(f"$.{FIELD_UPSTREAM_CLUSTER} = {_quote(inbound_cluster_prefix + '*')}")
    if prefix is not None:
        parts.append(f"$.{FIELD_PATH} = {_quote(prefix + '*')}")
        longer = sorted(p for p in majors.values() if p is not None and p != prefix and p.startswith(prefix))
        parts += [f"$.{FIELD_PATH} != {_quote(p + '*')}" for p in longer]
    if metric == ERRORS_5XX:
        parts.append(f"$.{FIELD_RESPONSE_CODE} >= 500")
    if metric == SLOW_REQUESTS:
        parts.append(f"$.{FIELD_DURATION} > {slow_ms}")
    return "{ " + " && ".join(f"({p})" for p in parts) + " }"


def _quote(value: str) -> str:
    """A quoted string term: backslash and double quote escaped (as aws_logs' quoteTerm does)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# CloudWatch Application Signals' standard application metrics (namespace ApplicationSignals; CloudWatch user guide,
# "Metrics collected by Application Signals"): a service's own requests, as the server, by Environment and Service.
# Latency's SampleCount is the request count; Fault counts 5xx answers and faulted spans.
APPSIGNALS_NAMESPACE = "ApplicationSignals"
APPSIGNALS_DIM_SERVICE = "Service"
APPSIGNALS_DIM_ENVIRONMENT = "Environment"
APPSIGNALS_LATENCY = "Latency"  # milliseconds
APPSIGNALS_FAULT = "Fault"
