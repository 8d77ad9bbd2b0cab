"""What App Mesh would refuse (its quotas, counted on the spec), and its settings when another backend runs."""
from __future__ import annotations

from meshspec.constructs_lib.metric_names import FILTERS_PER_MAJOR, METRIC_FILTERS_PER_LOG_GROUP
from meshspec.infra.mesh import registry
from meshspec.infra.spec.errors import Problems
from meshspec.infra.spec.model import Spec, live_majors, metric_majors

from . import quotas as q


def check_unused(spec: Spec, p: Problems) -> None:
    mesh = spec.aws.mesh
    if "egress_filter" in mesh.model_fields_set:
        others = " and ".join(b.name for b in registry.all_backends() if "egress-filter" not in b.features)
        p.add(("aws", "mesh", "egressFilter"), f"{mesh.backend} has no egress filter; egressFilter is an App Mesh "
              "setting", "backend-unsupported", given=mesh.egress_filter, allowed="leave egressFilter out",
              hint=f"only backend: appmesh filters calls that leave the mesh; on {others} restrict egress with "
                   "security groups")


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
        filtered = len(metric_majors(spec, name))
        filters = filtered * FILTERS_PER_MAJOR
        if filters > METRIC_FILTERS_PER_LOG_GROUP:
            p.add(("services", name, "majors"), f"{filtered} live majors need {filters} metric filters on the "
                  f"service's log group ({FILTERS_PER_MAJOR} per major: requests, 5xx, latency); CloudWatch "
                  f"Logs allows {METRIC_FILTERS_PER_LOG_GROUP} per log group", "quota-logs",
                  given=filtered, allowed=f"at most {METRIC_FILTERS_PER_LOG_GROUP // FILTERS_PER_MAJOR} "
                  "live majors", hint="retire majors nobody uses")
        backends = len({u.split("/")[0] for u in svc.uses})
        if backends > q.BACKENDS_PER_NODE:
            p.add(("services", name, "uses"), f"{backends} backends per virtual node; App Mesh allows "
                  f"{q.BACKENDS_PER_NODE}", "quota-appmesh", given=backends,
                  allowed=f"at most {q.BACKENDS_PER_NODE}")


def synth_warnings(spec: Spec, name: str) -> list[tuple[str, str]]:
    """Calls to services outside the mesh (App Engine) that the mesh's egress filter drops."""
    meshed = spec.aws_services()
    outside = [ref for ref in spec.services[name].uses if ref.split("/", 1)[0] not in meshed]
    if not outside or spec.aws.mesh.egress_filter != "DROP_ALL":
        return []
    return [("meshspec:uses-outside-mesh",
             f"{name} uses {', '.join(outside)} outside the mesh; the mesh's egress filter DROP_ALL blocks "
             "those calls (set aws.mesh.egressFilter: ALLOW_ALL, or reach them through an egress gateway)")]
