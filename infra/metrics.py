"""The per-version metrics meshspec's dashboards show and its canary analysis reads.

Envoy's stats reach CloudWatch through the CloudWatch agent sidecar as embedded metric format (EMF) in the
namespace below, one series per service, code version and API major. Dashboards (constructs_lib) and the
canary (infra/traffic) must read the same series, so both take the names from here.
"""
NAMESPACE = "meshspec/Envoy"

DIM_SERVICE = "Service"
DIM_VERSION = "Version"
DIM_MAJOR = "Major"

REQUESTS = "RequestCount"      # Sum per period
ERRORS_5XX = "Http5xxCount"    # Sum per period
LATENCY_MS = "LatencyMs"       # statistics p50 / p99
