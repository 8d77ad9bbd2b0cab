"""What App Mesh would refuse (its quotas, counted on the spec), and its settings when another backend runs."""
from __future__ import annotations

import math

from meshspec.constructs_lib import metric_names as m
from meshspec.constructs_lib.metric_names import FILTERS_PER_MAJOR, METRIC_FILTERS_PER_LOG_GROUP
from meshspec.infra import naming
from meshspec.infra.mesh import registry
from meshspec.infra.spec import quotas as cloud
from meshspec.infra.spec.errors import Described as D, Problems
from meshspec.infra.spec.model import Spec, live_majors, metric_majors, slow_thresholds

from . import quotas as q


def check_unused(spec: Spec, p: Problems) -> None:
    mesh = spec.aws.mesh
    if "egress_filter" in mesh.model_fields_set:
        others = " and ".join(b.name for b in registry.all_backends() if "egress-filter" not in b.features)
        p.add(("aws", "mesh", "egressFilter"), f"{mesh.backend} has no egress filter; egressFilter is an App Mesh "
              "setting", "backend-unsupported", given=mesh.egress_filter, allowed="leave egressFilter out",
              hint=f"only backend: appmesh filters calls that leave the mesh; on {others} restrict egress with "
                   "security groups")


def check_eks_account(spec: Spec, p: Problems) -> None:
    """On App Mesh, an EKS pod's Envoy names its virtual node by ARN in the manifests, which are files (no
    CloudFormation token can resolve there): the account must be known at synth."""
    if spec.aws.account is not None:
        return
    on_eks = [n for n, s in spec.aws_services().items()
              if (c := spec.cluster(s.cluster)) is not None and c.platform == "eks"]
    if on_eks:
        p.add(("aws",), f"{', '.join(on_eks)} on EKS with App Mesh need aws.account: each pod's Envoy names its "
              "virtual node's ARN in the Kubernetes manifests meshspec writes", "eks-needs-account",
              given=D("no account (environment-agnostic stacks)"), allowed="aws.account: the 12-digit account",
              hint="set aws.account, or use backend: lattice, whose EKS pods need no ARN in their manifests")


def check_quotas(spec: Spec, p: Problems) -> None:
    """App Mesh's quotas per mesh, router, route and node, and CloudWatch Logs' metric filters per log group."""
    meshed = spec.aws_services()
    if not meshed:
        return
    nodes = sum(len(s.versions) for s in meshed.values())
    for what, count, limit in (
            ("virtual nodes (one per code version)", nodes, q.VIRTUAL_NODES_PER_MESH),
            ("virtual routers (one per service)", len(meshed), q.VIRTUAL_ROUTERS_PER_MESH),
            ("virtual services (one per service)", len(meshed), q.VIRTUAL_SERVICES_PER_MESH)):
        if count > limit:
            p.add(("services",), f"the mesh would hold {count} {what}; App Mesh allows {limit} per mesh",
                  "quota-appmesh", given=count, allowed=f"at most {limit}",
                  hint="remove code versions that take no traffic, or split the services over several specs")
    platforms = {c.name: c.platform for c in spec.aws.clusters} if spec.aws else {}
    instances = len(meshed)  # a name per service (the virtual service's DNS record)
    for name, svc in meshed.items():
        routes = len(live_majors(svc))
        if routes > q.ROUTES_PER_ROUTER:
            p.add(("services", name, "majors"), f"{routes} routes (one per live major); App Mesh allows "
                  f"{q.ROUTES_PER_ROUTER} per router", "quota-appmesh", given=routes,
                  allowed=f"at most {q.ROUTES_PER_ROUTER}", hint="retire majors nobody uses")
        if len(svc.versions) > q.TARGETS_PER_ROUTE:
            p.add(("services", name, "versions"), f"{len(svc.versions)} code versions are weighted targets "
                  f"of each route; App Mesh allows {q.TARGETS_PER_ROUTE}", "quota-appmesh",
                  given=len(svc.versions), allowed=f"at most {q.TARGETS_PER_ROUTE}",
                  hint="remove versions that take no traffic")
        majors = metric_majors(spec, name)
        slow = len(slow_thresholds(spec, name))
        filters = len(majors) * FILTERS_PER_MAJOR + slow
        if filters > METRIC_FILTERS_PER_LOG_GROUP:
            p.add(("services", name, "majors"), f"{len(majors)} live majors need {filters} metric filters on the "
                  f"service's log group ({FILTERS_PER_MAJOR} per major: requests, 5xx, latency"
                  f"{f'; {slow} more for latency objectives' if slow else ''}); CloudWatch "
                  f"Logs allows {METRIC_FILTERS_PER_LOG_GROUP} per log group", "quota-logs",
                  given=len(majors), allowed=f"at most {METRIC_FILTERS_PER_LOG_GROUP // FILTERS_PER_MAJOR} "
                  "live majors", hint="retire majors nobody uses")
        backends = len({u.split("/")[0] for u in svc.uses})
        if backends > q.BACKENDS_PER_NODE:
            p.add(("services", name, "uses"), f"{backends} backends per virtual node; App Mesh allows "
                  f"{q.BACKENDS_PER_NODE}", "quota-appmesh", given=backends,
                  allowed=f"at most {q.BACKENDS_PER_NODE}")
        if _patterns_may_be_long(name, majors):
            _check_filter_patterns(name, majors, p)
        platform = platforms.get(svc.cluster, "ecs")
        envoys, when = peak_tasks(svc.desired_count, platform)
        instances += envoys * len(svc.versions)
        if envoys > q.ENVOYS_PER_NODE:
            p.add(("services", name, "desiredCount"), f"{envoys} Envoys of one code version connect to its "
                  f"virtual node {when}; App Mesh allows {q.ENVOYS_PER_NODE} connected Envoy processes per virtual "
                  "node", "quota-appmesh", given=svc.desired_count,
                  allowed=f"desiredCount at most {max_desired(q.ENVOYS_PER_NODE, platform)}",
                  hint="request a quota increase (connected Envoy processes per virtual node), or split the "
                       "service")
    if instances > cloud.CLOUDMAP_INSTANCES_PER_NAMESPACE:
        p.add(("services",), f"{instances} tasks and pods during deployments, and a name per service, register in "
              f"the Cloud Map namespace {naming.namespace(spec.project)}; it allows "
              f"{cloud.CLOUDMAP_INSTANCES_PER_NAMESPACE} instances", "quota-appmesh", given=instances,
              allowed=f"at most {cloud.CLOUDMAP_INSTANCES_PER_NAMESPACE}",
              hint="request a Cloud Map quota increase (instances per namespace), or split the spec")


# A filter pattern's text besides its quoted values (field names, operators, the 5xx clause) stays under this, and
# each path clause under _CLAUSE_MAX plus its value, escaped (at most twice as long): a bound above any pattern's
# length, so a service whose bound fits spends no time rendering its patterns.
_PATTERN_FIXED_MAX = 200
_CLAUSE_MAX = 24


def _patterns_may_be_long(name: str, majors: dict[str, str | None]) -> bool:
    values = 2 * (len(name) + len(m.INBOUND_CLUSTER_PREFIX)) + sum(2 * len(x) + _CLAUSE_MAX
                                                                    for x in majors.values() if x)
    return values + _PATTERN_FIXED_MAX > m.FILTER_PATTERN_MAX


def _check_filter_patterns(name: str, majors: dict[str, str | None], p: Problems) -> None:
    for major in majors:
        for metric in (m.REQUESTS, m.ERRORS_5XX):
            size = len(m.filter_pattern(name, majors, major, metric))
            if size > m.FILTER_PATTERN_MAX:
                p.add(("services", name, "majors", major, "path"), f"the {metric} metric filter of {major} "
                      f"would have a {size}-character pattern (the path prefix and the longer ones under it); "
                      f"CloudWatch Logs allows {m.FILTER_PATTERN_MAX} per filter pattern", "quota-logs",
                      given=size, allowed=f"at most {m.FILTER_PATTERN_MAX} characters",
                      hint="shorten the major's path prefix, or those that start with it")
                break


def peak_tasks(desired: int, platform: str) -> tuple[int, str]:
    """The most tasks or pods of one code version at once, and when: during an ECS deployment (maximumPercent
    200) or a Kubernetes rolling update (25 % surge)."""
    if platform == "eks":
        return desired + math.ceil(desired * cloud.K8S_SURGE_PERCENT / 100), \
            "during a rolling update (replicas plus the 25 % surge)"
    return desired * cloud.ECS_MAX_PERCENT // 100, "during a deployment (twice desiredCount)"


def max_desired(limit: int, platform: str) -> int:
    """The largest desiredCount whose peak stays within ``limit``."""
    return max(d for d in range(limit + 1) if peak_tasks(d, platform)[0] <= limit)


def synth_warnings(spec: Spec, name: str) -> list[tuple[str, str]]:
    """Calls to services outside the mesh (App Engine) that the mesh's egress filter drops."""
    meshed = spec.aws_services()
    outside = [ref for ref in spec.services[name].uses if ref.split("/", 1)[0] not in meshed]
    if not outside or spec.aws.mesh.egress_filter != "DROP_ALL":
        return []
    return [("meshspec:uses-outside-mesh",
             f"{name} uses {', '.join(outside)} outside the mesh; the mesh's egress filter DROP_ALL blocks "
             "those calls (set aws.mesh.egressFilter: ALLOW_ALL, or reach them through an egress gateway)")]


def check_cohorts(spec: Spec, p: Problems) -> None:
    """A/B cohort routes within App Mesh's limits: routes per router (the majors' and the cohorts'), header names
    and match values (a cookie's regular expression included)."""
    from meshspec.infra.spec import cohorts

    from .names import cookie_regex

    for name, svc in spec.aws_services().items():
        majors = live_majors(svc)
        extra = cohorts.route_count(svc)
        if extra and len(majors) <= q.ROUTES_PER_ROUTER < len(majors) + extra:
            p.add(("services", name, "majors"), f"{len(majors)} major route(s) and {extra} cohort route(s) make "
                  f"{len(majors) + extra} routes; App Mesh allows {q.ROUTES_PER_ROUTER} per router",
                  "quota-appmesh", given=len(majors) + extra,
                  allowed=f"at most {q.ROUTES_PER_ROUTER} routes: fewer cohorts, or fewer versions taking "
                          "traffic under sticky (one route each)")
        for major, mj in majors.items():
            for r in cohorts.checkable(svc, major):
                path = cohorts.path_of(name, major, mj, r)
                if r.kind != "cookie" and len(r.field) > q.HEADER_NAME_MAX:
                    p.add(path + ("header",), f"the header name is {len(r.field)} characters; an App Mesh header "
                          f"match takes at most {q.HEADER_NAME_MAX}", "quota-appmesh", given=r.field,
                          allowed=f"at most {q.HEADER_NAME_MAX} characters")
                matched = cookie_regex(r.field, r.value) if r.kind == "cookie" else r.value
                if matched is not None and len(matched) > q.HEADER_MATCH_MAX:
                    p.add(path, f"App Mesh would match the {r.header} header against {len(matched)} characters; a "
                          f"header match takes at most {q.HEADER_MATCH_MAX}", "quota-appmesh",
                          given=D(f"{len(matched)} characters"), allowed=f"at most {q.HEADER_MATCH_MAX} characters",
                          hint="shorten the cookie's name or value" if r.kind == "cookie" else "shorten the value")
