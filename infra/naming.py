"""Names that meshspec gives cloud resources, shared by the CDK stacks and the runtime tools.

The runtime tools (traffic status, shift, canary) find resources by these names, so they are part of the
contract between synth and runtime: change one only with a migration.
"""
from __future__ import annotations


def virtual_node(service: str, version: str) -> str:
    """The mesh's node of one code version (a virtual node, a Cloud Map service)."""
    return f"{service}-{version}"


def virtual_router(service: str) -> str:
    return f"{service}-router"


def route(service: str, major: str) -> str:
    """One route (or listener rule) per API major, matching its path prefix."""
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
    """The mesh's name of a service: the DNS name consumers call."""
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


def mesh_endpoint(project: str, service: str, port: int) -> str:
    """Where a service answers through its virtual service name in the project's namespace (the alias a mesh
    backend publishes unless it says otherwise: ``meshspec.infra.mesh.Backend.endpoint``)."""
    return f"http://{virtual_service(service, project)}:{port}"


def upstream_variable(service: str) -> str:
    """The environment variable that tells a caller where ``service`` answers (``MESHSPEC_UPSTREAM_ERP_CONNECTOR``)."""
    return "MESHSPEC_UPSTREAM_" + service.upper().replace("-", "_")


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


def stack_pipeline(project: str) -> str:
    """The CodePipeline that deploys the others (``aws.pipeline``)."""
    return f"{project}-pipeline"


def cluster(project: str, cluster_name: str) -> str:
    """The ECS or EKS cluster's name."""
    return f"{project}-{cluster_name}"


# -- CloudWatch Application Signals ---------------------------------------------------------------------------
def application_signals_environment(platform: str, cluster_name: str, k8s_namespace: str = "default") -> str:
    """The Environment a service reports to Application Signals (``deployment.environment``), as AWS names it
    by default on each platform: ``ecs:<cluster>``, ``eks:<cluster>/<namespace>``. SLOs and ``meshspec status``
    find the service's series by it."""
    if platform == "eks":
        return f"eks:{cluster_name}/{k8s_namespace}"
    return f"ecs:{cluster_name}"


def slo(project: str, service: str, objective: str, major: str | None = None) -> str:
    """An Application Signals SLO (unique per account and region; letters, digits, ``-._``, at most 128)."""
    return f"{project}-{service}-{major}-{objective}" if major else f"{project}-{service}-{objective}"


def slo_alarm(slo_name: str, speed: str) -> str:
    """The burn-rate alarm of an SLO: ``fast`` (2 % of the error budget in an hour) or ``slow`` (5 % in six)."""
    return f"{slo_name}-burn-{speed}"
