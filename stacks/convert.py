"""Pure conversions from the spec to construct props: no construct is created here."""
from __future__ import annotations

from aws_cdk.aws_logs import ILogGroup

from meshspec.constructs_lib.ecs import Ec2Capacity
from meshspec.constructs_lib.mesh.base import CohortRoute, MajorRoute, MeshServiceProps
from meshspec.constructs_lib.metrics import MetricMajor, ServiceMetricFiltersProps
from meshspec.infra import naming
from meshspec.infra.mesh import Backend, registry
from meshspec.infra.spec import cohorts, instance_types
from meshspec.infra.spec.model import Cluster, Service, Spec, capacity_of, live_majors, major_path, metric_majors, shares

INSIGHTS = {"enhanced": "ENHANCED", "on": "ENABLED", "off": "DISABLED"}


def ec2_capacity(spec: Spec, cluster: Cluster) -> Ec2Capacity | None:
    """An ECS cluster's EC2 capacity, when it offers one."""
    if "ec2" not in cluster.capacities:
        return None
    return Ec2Capacity(instance_type=cluster.effective_instance_type, min_capacity=cluster.min_capacity,
                       max_capacity=cluster.max_capacity, eni_trunking=cluster.eni_trunking,
                       capacity_provider_name=naming.capacity_provider(spec.project, cluster.name),
                       reserved_memory_mib=instance_types.RESERVED_MEMORY_MIB)


def ecs_placement(spec: Spec, svc: Service) -> dict:
    """Where an ECS service's tasks run, as props of ``MeshedEcsService``: on EC2 its cluster's capacity provider
    (the instances' architecture is the AMI's: images must match it); on Fargate none, the defaults."""
    if capacity_of(spec, svc) != "ec2":
        return {}
    return {"ec2_capacity_provider": naming.capacity_provider(spec.project, svc.cluster)}


def availability_zones(spec: Spec) -> list[str]:
    """The spec's AZs, or <region>a and <region>b: never a lookup."""
    aws = spec.aws
    return list(aws.availability_zones or [f"{aws.region}a", f"{aws.region}b"])


def mesh_backends(spec: Spec, name: str) -> tuple[str, ...]:
    """Virtual service names of the meshed services this one uses (App Engine services are outside)."""
    meshed = spec.aws_services()
    out = []
    for ref in spec.services[name].uses:
        target = ref.split("/", 1)[0]
        dns = naming.virtual_service(target, spec.project)
        if target in meshed and dns not in out:
            out.append(dns)
    return tuple(out)


def outside_mesh_uses(spec: Spec, name: str) -> list[str]:
    """Uses that point at services outside the mesh (App Engine)."""
    meshed = spec.aws_services()
    return [ref for ref in spec.services[name].uses if ref.split("/", 1)[0] not in meshed]


def major_routes(name: str, svc: Service) -> tuple[MajorRoute, ...]:
    return tuple(MajorRoute(name=major, path_prefix=major_path(name, major, m),
                            weights={v: int(w) for v, w in shares(svc, major).items()},
                            cohorts=cohort_routes(name, svc, major))
                 for major, m in live_majors(svc).items())


def cohort_routes(name: str, svc: Service, major: str) -> tuple[CohortRoute, ...]:
    """The major's A/B cohorts (:func:`meshspec.infra.spec.cohorts.routes`: by priority, then the sticky cookie's)."""
    return tuple(CohortRoute(name=naming.cohort_route(name, major, r.name), version=r.version, header=r.header,
                             value=r.value, cookie=r.field if r.kind == "cookie" else None)
                 for r in cohorts.routes(svc, major))


def mesh_service_props(spec: Spec, name: str) -> MeshServiceProps:
    svc = spec.services[name]
    versions = tuple(v.name for v in svc.versions)
    return MeshServiceProps(
        name=name, port=svc.port, protocol=svc.protocol, health_check_path=svc.health_check,
        versions=versions, majors=major_routes(name, svc), backends=mesh_backends(spec, name),
        node_names={v: naming.virtual_node(name, v) for v in versions},
        router_name=naming.virtual_router(name),
        route_names={m: naming.route(name, m) for m in live_majors(svc)},
        dns_name=naming.virtual_service(name, spec.project))


def moved(spec: Spec, name: str) -> bool:
    """Whether ``name`` is listed in ``aws.mesh.migration.moved``: it calls through the incoming backend."""
    migration = spec.aws.mesh.migration
    return migration is not None and name in migration.moved


def calls_through(spec: Spec, name: str) -> Backend:
    """The backend ``name``'s calls go through: the spec's, or during a migration the incoming one once the caller
    is listed in ``migration.moved`` (a backend that publishes the host's own names changes no name then)."""
    return (registry.incoming(spec) if moved(spec, name) else None) or registry.primary(spec)


def upstream_environment(spec: Spec, name: str) -> dict[str, str]:
    """``MESHSPEC_UPSTREAM_<SERVICE>`` for every meshed service ``name`` uses (``Backend.endpoint``): the app reads
    where to call from here, so a migration step that moves it to another backend needs no change in its code."""
    meshed = spec.aws_services()
    backend = calls_through(spec, name)
    targets = dict.fromkeys(ref.split("/", 1)[0] for ref in spec.services[name].uses)
    return {naming.upstream_variable(t): backend.endpoint(spec, t) for t in targets if t in meshed}


def environment(svc: Service) -> dict[str, str]:
    """Env values as strings, as containers take them (booleans as true/false), and the name of each live
    major's sticky cohort cookie, which the application sets (``MESHSPEC_COHORT_COOKIE_<MAJOR>``)."""
    env = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in svc.env.items()}
    env.update({cohorts.cookie_variable(major): cookie for major, cookie in cohorts.sticky_cookies(svc).items()})
    return env


def retention_days(spec: Spec, svc: Service) -> int:
    return svc.log_retention_days or spec.defaults.log_retention_days


def metric_filters_props(spec: Spec, name: str, log_group: ILogGroup) -> ServiceMetricFiltersProps | None:
    """The metric filters that publish the service's dashboard series, or None where none would see data
    (:func:`meshspec.infra.spec.model.metric_majors`)."""
    majors = metric_majors(spec, name)
    if not majors:
        return None
    return ServiceMetricFiltersProps(log_group=log_group, service_name=name,
                                     majors=tuple(MetricMajor(m, prefix) for m, prefix in majors.items()))
