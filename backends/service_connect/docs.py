"""Its column of the capability table in docs/backends.md ("What each backend supports"), checked there by
tests/test_docs.py; the sources are cited on that page."""
from meshspec.infra.mesh import CapabilityRow

ROW = CapabilityRow({
    "Status": "supported",
    "Runs": "**ECS services only** (ECS injects its proxy)",
    "Weights between code versions":
        "**no lasting split**: one revision per ECS service; traffic moves only while a new revision deploys "
        "(canary: one step of 0.1–100 % in tenths, then the rest; linear: equal steps of 3–100 %)",
    "meshspec uses":
        "one ECS service per meshspec service, running the version with 100 %; `aws.mesh.deployment` for the "
        "next one",
    "Path match": "none (routes by DNS name and port)",
    "Header match": "none: A/B cohorts are refused",
    "Method match": "none",
    "Retries": "no retry settings in the ECS API",
    "Timeouts": "per request (default 15 s) and idle (default 5 min for HTTP), per published port",
    "mTLS": "TLS between proxies with a certificate from AWS Private CA; no client certificates",
    "Who may call": "anyone in the namespace",
    "Tracing": "no spans from the proxy: the apps' (Application Signals)",
    "Metrics":
        "CloudWatch `AWS/ECS` per service and discovery name (meshspec's rollback alarm reads "
        "HTTPCode_Target_5XX_Count)",
    "Runtime weight changes": "none (`meshspec traffic` explains why)",
    "Limits meshspec checks":
        "Cloud Map: 1,000 instances per service, 2,000 per namespace (×2 tasks during a deployment); "
        "deployments ≤ 33 h in CloudFormation",
})
