"""Its column of the capability table in docs/backends.md ("What each backend supports"), checked there by
tests/test_docs.py; the sources are cited on that page."""
from meshspec.infra.mesh import CapabilityRow

ROW = CapabilityRow({
    "Status": "supported",
    "Runs": "ECS tasks, EKS pods, EC2, Lambda, ALB (no sidecar)",
    "Weights between code versions":
        "lasting: weighted target groups per listener rule, integers 0–999 (relative)",
    "meshspec uses": "a rule per major, an IP target group per version",
    "Path match":
        "prefix, exact (≤ 200 characters); meshspec matches gRPC majors by the `x-api-major` header (one "
        "major: `content-type` prefix `application/grpc`), as on App Mesh",
    "Header match": "yes, up to 5 per rule (exact, prefix, contains); A/B cohorts by header value or cookie",
    "Method match": "yes",
    "Retries": "no retry settings in the VPC Lattice API",
    "Timeouts":
        "idle connection timeout (default 60 s, adjustable per service) and an overall connection timeout",
    "mTLS":
        "HTTPS listeners (Lattice-managed or ACM certificate); TLS passthrough lets targets run mutual TLS "
        "themselves; caller identity through IAM (SigV4) auth policies",
    "Who may call":
        "IAM auth policy per service: meshspec allows only the callers in `uses`, per major's path, by their "
        "task or pod role's `meshspec:service` tag",
    "Tracing": "no spans from Lattice: the apps'; access logs to CloudWatch Logs",
    "Metrics":
        "CloudWatch metrics per service and target group, for every request: meshspec's dashboard and canary "
        "read the target groups' (`AWS/VpcLattice`)",
    "Runtime weight changes": "`meshspec traffic` (UpdateRule); `meshspec plan` shows the rule weights",
    "Limits meshspec checks":
        "10 rules per listener (adjustable), 10 target groups per rule (fixed), 500 target groups per region,"
        " 500 services per service network, names 3–40 (service) / 3–128 (target group) characters, auth "
        "policy ≤ 10 KB",
})
