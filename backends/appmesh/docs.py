"""Its column of the capability table in docs/backends.md ("What each backend supports"), checked there by
tests/test_docs.py; the sources are cited on that page."""
from meshspec.infra.mesh import CapabilityRow

ROW = CapabilityRow({
    "Status": "end of support 2026-09-30",
    "Runs": "ECS, EKS, EC2 (Envoy sidecar)",
    "Weights between code versions": "lasting: weighted targets per route, integers 0–100",
    "meshspec uses": "a route per major, a virtual node per version",
    "Path match": "prefix, exact, regex",
    "Header match": "yes (exact, prefix, suffix, regex, range); A/B cohorts by header value, presence or cookie",
    "Method match": "yes",
    "Retries": "retry policy per route (events, max retries, per-retry timeout)",
    "Timeouts": "per request (default 15 s) and idle, per listener and route",
    "mTLS": "yes (TLS with certificates from ACM PCA, files or SDS; client validation)",
    "Who may call": "backends list per virtual node + egress filter",
    "Tracing": "Envoy's X-Ray spans and the apps' (Application Signals) in the same traces",
    "Metrics":
        "Envoy access log → metric filters on the service log group (constructs_lib/metric_names.py, "
        "constructs_lib/metrics.py)",
    "Runtime weight changes": "`meshspec traffic` (UpdateRoute)",
    "Limits meshspec checks":
        "200 virtual nodes/routers/services per mesh, 50 routes per router, 10 targets per route, 50 backends"
        " per node, 50 connected Envoys per node (tasks or pods of a version during a deployment), 33 live majors"
        " per service (3 metric filters each, a fourth for a major's own latency objective; 100 per log group),"
        " 1,024-character filter patterns; Cloud Map: 2,000"
        " instances per namespace",
})
