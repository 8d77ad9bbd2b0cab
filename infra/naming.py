"""Names that meshspec gives cloud resources, shared by the CDK stacks and the runtime tools.

The runtime tools (traffic status, shift, canary) find resources by these names, so they are part of the
contract between synth and runtime: change one only with a migration.
"""
from __future__ import annotations


def virtual_node(service: str, version: str) -> str:
    """App Mesh virtual node of one code version."""
    return f"{service}-{version}"


def virtual_router(service: str) -> str:
    return f"{service}-router"


def route(service: str, major: str) -> str:
    """One App Mesh route per API major, matching its path prefix."""
    return f"{service}-{major}"


def cohort_route(service: str, major: str, cohort: str) -> str:
    """The App Mesh route or Lattice listener rule of one A/B cohort of a major, matched before the major's own."""
    return f"{service}-{major}-{cohort}"


STICKY_PREFIX = "sticky-"


def sticky_cohort(version: str) -> str:
    """The cohort that sends the holders of a sticky cookie naming ``version`` back to it."""
    return f"{STICKY_PREFIX}{version}"


def namespace(project: str) -> str:
    """Cloud Map private DNS namespace the services register in."""
    return f"{project}.local"


def virtual_service(service: str, project: str) -> str:
    """App Mesh virtual service name: the DNS name consumers call."""
    return f"{service}.{namespace(project)}"


def log_group(project: str, service: str) -> str:
    return f"{log_group_prefix(project)}{service}"


def log_group_prefix(project: str) -> str:
    """Every service log group of the project starts with it (the EKS log router may write only there)."""
    return f"/meshspec/{project}/"


def appengine_service(service: str, major: str | None = None, *, default: bool = False) -> str:
    """App Engine service id: ``default`` for the app's default service (App Engine creates every other
    service only after it); with majorsAsServices each major is its own service (user-service-v1)."""
    if default:
        return "default"
    return f"{service}-{major}" if major else service


# -- ECS Service Connect ----------------------------------------------------------------------------------
def service_connect_namespace(project: str) -> str:
    """Cloud Map HTTP namespace of the Service Connect backend; apart from App Mesh's DNS namespace so both
    can run side by side during a migration."""
    return f"{project}-service-connect"


# -- Amazon VPC Lattice ------------------------------------------------------------------------------------
def lattice_service_network(mesh: str) -> str:
    return mesh


def lattice_service(project: str, service: str) -> str:
    """Lattice service names are unique per account and region, hence the project prefix (3-40 characters)."""
    return f"{project}-{service}"


def lattice_target_group(project: str, service: str, version: str) -> str:
    """One Lattice target group per code version (3-128 characters, unique per account and region)."""
    return f"{project}-{service}-{version}"


def lattice_zone(project: str) -> str:
    """Private hosted zone of the Lattice services' custom names (owned by the shared stack). ``.internal`` is
    reserved for private use, so it never collides with a public name."""
    return f"{project}.lattice.internal"


def lattice_domain(project: str, service: str) -> str:
    """The literal name callers use for a Lattice service (its custom domain name, a CNAME in ``lattice_zone``)."""
    return f"{service}.{lattice_zone(project)}"


def lattice_endpoint(project: str, service: str, protocol: str) -> str:
    """Where a Lattice service answers: its custom name on the listener meshspec builds (HTTP on 80; HTTPS on 443
    for http2 and grpc, which negotiate HTTP/2 by ALPN)."""
    secure = protocol != "http"
    return f"{'https' if secure else 'http'}://{lattice_domain(project, service)}:{443 if secure else 80}"


def mesh_endpoint(project: str, service: str, port: int) -> str:
    """Where a service answers through App Mesh (its virtual service) or Service Connect (the same alias)."""
    return f"http://{virtual_service(service, project)}:{port}"


def upstream_variable(service: str) -> str:
    """The environment variable that tells a caller where ``service`` answers (``MESHSPEC_UPSTREAM_ERP_CONNECTOR``)."""
    return "MESHSPEC_UPSTREAM_" + service.upper().replace("-", "_")


def lattice_access_log_group(project: str) -> str:
    """The service network's access logs. Under /aws/vendedlogs/ so CloudWatch Logs' delivery policy covers it
    by one wildcard (a log group elsewhere adds its ARN to a 5,120-character resource policy; CloudWatch Logs
    user guide, "Logs sent to CloudWatch Logs")."""
    return f"/aws/vendedlogs/meshspec/{project}/lattice"


def lattice_listener(service: str) -> str:
    return f"{service}-http"


def lattice_rule(service: str, major: str) -> str:
    """One listener rule per API major, matching its path prefix; the runtime tools find it by this name."""
    return route(service, major)


def ecs_service(service: str, version: str) -> str:
    """ECS service and task definition family of one code version."""
    return f"{service}-{version}"


def capacity_provider(project: str, cluster: str) -> str:
    """The EC2 capacity provider of an ECS cluster: a fixed name, so service stacks name it without an import
    (ECS reserves names starting with aws, ecs or fargate, hence the prefix)."""
    return f"meshspec-{project}-{cluster}"


def dashboard(project: str, service: str) -> str:
    return f"{project}-{service}"


def query_folder(project: str, service: str) -> str:
    """Logs Insights saved queries are grouped in this folder per service."""
    return f"{project}/{service}"


def stack_shared(project: str) -> str:
    """Network, Cloud Map namespace and mesh shared by every cluster."""
    return f"{project}-shared"


def stack_cluster(project: str, cluster: str) -> str:
    return f"{project}-{cluster}"


def stack_service(project: str, service: str) -> str:
    """The stack of one service (see infra/sharding.py); ``svc`` keeps it apart from cluster stack names."""
    return f"{project}-svc-{service}"


def stack_queries(project: str) -> str:
    """Saved queries that span several services' log groups."""
    return f"{project}-queries"
