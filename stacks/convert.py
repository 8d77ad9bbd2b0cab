"""Pure conversions from the spec to construct props: no construct is created here."""
from __future__ import annotations

from aws_cdk.aws_logs import ILogGroup

from meshspec.constructs_lib import metric_names as M
from meshspec.constructs_lib.dashboard import DependencyPanel
from meshspec.constructs_lib.ecs import Ec2Capacity
from meshspec.constructs_lib.mesh.base import CohortRoute, MajorRoute, MeshServiceProps
from meshspec.constructs_lib.metrics import MetricMajor, ServiceMetricFiltersProps
from meshspec.constructs_lib.observability import TelemetryProps
from meshspec.constructs_lib.slo import MetricSeries, ServiceLevelObjectiveProps
from meshspec.infra import naming
from meshspec.infra.dependencies import Row, environment_of
from meshspec.infra.mesh import Backend, registry
from meshspec.infra.spec import cohorts, instance_types
from meshspec.infra.spec.model import (Cluster, Service, Slo, Spec, capacity_of, live_majors, major_path,
                                       metric_majors, shares, slow_thresholds)

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
    slow = slow_thresholds(spec, name)
    return ServiceMetricFiltersProps(log_group=log_group, service_name=name, majors=tuple(
        MetricMajor(m, prefix, slow_ms=slow.get(m)) for m, prefix in majors.items()))


def telemetry(spec: Spec, name: str) -> TelemetryProps:
    """How an AWS service reports: the spec's agent, the service's language, its Application Signals environment
    (``naming.application_signals_environment``), the sampling rate and ``defaults.tracing``."""
    svc = spec.services[name]
    obs = spec.observability
    return TelemetryProps(
        service_name=name, agent=obs.agent, language=svc.language, sampling_percent=obs.sampling_percent,
        tracing=spec.defaults.tracing, environment=environment_of(spec, name))


def objectives(spec: Spec, name: str) -> list[tuple[str, ServiceLevelObjectiveProps]]:
    """The service's SLOs, each with its construct id: the service's own on its Application Signals series, and
    each major's on the mesh's series of that major (its versions' counts summed)."""
    svc = spec.services[name]
    out: list[tuple[str, ServiceLevelObjectiveProps]] = []
    if svc.slo is not None and spec.observability.agent == "cloudwatch":  # as model.measured_objectives
        service = (name, telemetry(spec, name).environment)
        out += [(kind, props) for kind, props in _objectives(spec, name, None, svc.slo, service=service)]
    measured = metric_majors(spec, name)
    for major, m in svc.majors.items():
        if m.slo is not None and major in measured:
            out += [(f"{major}-{kind}", props) for kind, props in _objectives(spec, name, major, m.slo)]
    return out


def _objectives(spec: Spec, name: str, major: str | None, slo: Slo, *, service: tuple[str, str] | None = None,
                ) -> list[tuple[str, ServiceLevelObjectiveProps]]:
    versions = [v.name for v in spec.services[name].versions]

    def series(metric: str) -> tuple[MetricSeries, ...]:
        return tuple(MetricSeries(M.namespace(major), metric, {M.DIM_SERVICE: name, M.DIM_VERSION: v})
                     for v in versions)

    out = []
    for kind, goal in (("availability", slo.availability),
                       ("latency", slo.latency.percentile if slo.latency else None)):
        if goal is None:
            continue
        slo_name = naming.slo(spec.project, name, kind, major)
        common = dict(name=slo_name, kind=kind, goal_percent=goal, window_days=slo.window_days,
                      alarm_names={s: naming.slo_alarm(slo_name, s) for s in ("fast", "slow")})
        threshold = slo.latency.threshold_ms if kind == "latency" else None
        if service is not None:
            props = ServiceLevelObjectiveProps(service=service, threshold_ms=threshold, **common)
        else:
            bad = M.ERRORS_5XX if kind == "availability" else M.SLOW_REQUESTS
            what = "without a 5xx" if kind == "availability" else f"under {threshold} ms"
            props = ServiceLevelObjectiveProps(
                total=series(M.REQUESTS), bad=series(bad), **common,
                description=f"meshspec: {goal} % of {name}/{major} requests {what} over {slo.window_days} days")
        out.append((kind, props))
    return out


def slo_alarms(spec: Spec, name: str) -> tuple[str, ...]:
    """The names of every burn-rate alarm of the service's objectives (its own and its majors')."""
    return tuple(props.alarm_name(a) for _, props in objectives(spec, name) for a in ("fast", "slow"))


def dependency_panels(beneath: tuple[Row | str, ...]) -> tuple[DependencyPanel, ...]:
    """The dashboard's rows from the view's fact ``beneath`` (:func:`meshspec.infra.dependencies.rows`): a row,
    or past the graphed ones a name."""
    return tuple(DependencyPanel(r) if isinstance(r, str) else DependencyPanel(
        r.name, r.path, environment=r.environment, note=r.note, objectives=r.objectives, alarms=r.alarms)
        for r in beneath)
