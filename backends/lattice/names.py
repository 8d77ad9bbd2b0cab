"""Names meshspec gives VPC Lattice's resources, shared by the stacks, the rules and the runtime tools (which find
resources by these names: change one only with a migration)."""
from __future__ import annotations

from meshspec.infra import naming


def service_network(mesh: str) -> str:
    return mesh


def service(project: str, service: str) -> str:
    """Lattice service names are unique per account and region, hence the project prefix (3-40 characters)."""
    return f"{project}-{service}"


def target_group(project: str, service: str, version: str) -> str:
    """One Lattice target group per code version (3-128 characters, unique per account and region)."""
    return f"{project}-{service}-{version}"


def zone(project: str) -> str:
    """Private hosted zone of the Lattice services' custom names (owned by the shared stack). ``.internal`` is
    reserved for private use, so it never collides with a public name."""
    return f"{project}.lattice.internal"


def domain(project: str, service: str) -> str:
    """The literal name callers use for a Lattice service (its custom domain name, a CNAME in :func:`zone`)."""
    return f"{service}.{zone(project)}"


def endpoint(project: str, service: str, protocol: str) -> str:
    """Where a Lattice service answers: its custom name on the listener meshspec builds (HTTP on 80; HTTPS on 443
    for http2 and grpc, which negotiate HTTP/2 by ALPN)."""
    secure = protocol != "http"
    return f"{'https' if secure else 'http'}://{domain(project, service)}:{443 if secure else 80}"


def access_log_group(project: str) -> str:
    """The service network's access logs. Under /aws/vendedlogs/ so CloudWatch Logs' delivery policy covers it
    by one wildcard (a log group elsewhere adds its ARN to a 5,120-character resource policy; CloudWatch Logs
    user guide, "Logs sent to CloudWatch Logs")."""
    return f"/aws/vendedlogs/meshspec/{project}/lattice"


def listener(service: str) -> str:
    return f"{service}-http"


def rule(service: str, major: str) -> str:
    """One listener rule per API major, matching its path prefix; the runtime tools find it by this name."""
    return naming.route(service, major)


def cohort_rule(service: str, major: str, cohort: str) -> str:
    """The listener rule of one A/B cohort of a major, matched before the major's own."""
    return naming.cohort_route(service, major, cohort)

