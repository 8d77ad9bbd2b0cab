"""What a synthesized cloud assembly would change, compared with a previous one (pure: templates in, plan out).

Per stack: the resources to create, update (properties differ) and delete, by logical id and type. Per route
(or listener rule) of a mesh backend: its weights by code version resource, and the previous weights when they
differ.
The JSON shape (``to_json``) is documented in docs/aws.md and stable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

Templates = Mapping[str, Mapping[str, Any]]  # stack name → template


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    type: str


@dataclass
class StackPlan:
    name: str
    action: str  # create | update | delete | none
    create: list[ResourceChange] = field(default_factory=list)
    update: list[ResourceChange] = field(default_factory=list)
    delete: list[ResourceChange] = field(default_factory=list)
    resource_count: int = 0

    @property
    def changed(self) -> bool:
        return self.action != "none"


@dataclass
class RoutePlan:
    route: str
    prefix: str | None
    weights: dict[str, int]
    previous: dict[str, int] | None
    action: str  # create | update | delete | none


@dataclass
class Plan:
    stacks: list[StackPlan]
    routes: list[RoutePlan]
    against: str | None = None

    @property
    def has_changes(self) -> bool:
        return any(s.changed for s in self.stacks) or any(r.action != "none" for r in self.routes)


def resources(t: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The stack's resources, without CDK's version-reporting resource (not part of the infrastructure)."""
    return {k: v for k, v in (t or {}).get("Resources", {}).items() if v.get("Type") != "AWS::CDK::Metadata"}


def _strip(resource: Mapping[str, Any]) -> dict[str, Any]:
    """What decides whether a resource changes: everything but CDK's metadata (paths, asset hashes)."""
    return {k: v for k, v in resource.items() if k != "Metadata"}


def stack_plan(name: str, new: Mapping[str, Any] | None, old: Mapping[str, Any] | None) -> StackPlan:
    n, o = resources(new), resources(old)
    create = [ResourceChange(k, n[k]["Type"]) for k in sorted(n.keys() - o.keys())]
    delete = [ResourceChange(k, o[k]["Type"]) for k in sorted(o.keys() - n.keys())]
    update = [ResourceChange(k, n[k]["Type"]) for k in sorted(n.keys() & o.keys()) if _strip(n[k]) != _strip(o[k])]
    if new is None:
        action = "delete"
    elif old is None:
        action = "create"
    else:
        action = "update" if (create or delete or update) else "none"
    return StackPlan(name, action, create, update, delete, len(n))


Routes = dict[str, tuple[str | None, dict[str, int]]]  # route name → (match, {version resource: weight})
RouteReader = Callable[[Templates], Routes]


def routes(templates: Templates, readers: Sequence[RouteReader]) -> Routes:
    """Route name → (match, {version resource name: weight}) from every mesh backend's reader
    (``meshspec.infra.mesh.Backend.plan_routes``); a later reader's route wins a name two readers find."""
    out: Routes = {}
    for read in readers:
        out.update(read(templates))
    return out


def header_match_text(m: Mapping[str, Any]) -> str:
    """``x-api-major=v1``, ``content-type^=application/grpc`` (prefix), from a template's header match."""
    how = m.get("Match", {})
    for key, op in (("Exact", "="), ("Prefix", "^="), ("Suffix", "$="), ("Regex", "~="), ("Contains", "*=")):
        if key in how:
            return f"{m.get('Name')}{op}{how[key]}"
    return f"{m.get('Name')} present"


def default_readers() -> list[RouteReader]:
    """Every registered backend's reader, the default backend's last (it wins a name two backends use)."""
    from meshspec.infra.mesh import registry

    last = registry.default()
    return [b.plan_routes for b in registry.all_backends() if b is not last] + [last.plan_routes]


def plan(new: Templates, old: Templates | None = None, *, against: str | None = None,
         readers: Sequence[RouteReader] | None = None) -> Plan:
    """Compare two assemblies; without ``old`` everything is to be created. ``readers``: how routes are read from
    the templates. Default: every mesh backend's (:func:`default_readers`)."""
    old = old or {}
    readers = default_readers() if readers is None else readers
    names = list(new) + [n for n in old if n not in new]
    stacks = [stack_plan(n, new.get(n), old.get(n)) for n in names]
    new_routes, old_routes = routes(new, readers), routes(old, readers)
    route_plans = []
    for name in sorted(new_routes.keys() | old_routes.keys()):
        cur, prev = new_routes.get(name), old_routes.get(name)
        if cur is None:
            route_plans.append(RoutePlan(name, prev[0], {}, prev[1], "delete"))
            continue
        action = "create" if prev is None else ("none" if prev == cur else "update")
        route_plans.append(RoutePlan(name, cur[0], cur[1], prev[1] if prev else None, action))
    return Plan(stacks, route_plans, against)


def to_json(p: Plan, services: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """``services``: route name → (service, major), to label routes (from the spec)."""
    services = services or {}

    def rc(items: list[ResourceChange]) -> list[dict[str, str]]:
        return [{"logicalId": r.logical_id, "type": r.type} for r in items]

    return {
        "command": "plan",
        "against": p.against,
        "changes": p.has_changes,
        "stacks": [{"name": s.name, "action": s.action, "resourceCount": s.resource_count, "create": rc(s.create),
                    "update": rc(s.update), "delete": rc(s.delete)} for s in p.stacks],
        "routes": [{"route": r.route, "service": services.get(r.route, (None, None))[0],
                    "major": services.get(r.route, (None, None))[1], "match": r.prefix, "action": r.action,
                    "weights": r.weights, "previousWeights": r.previous} for r in p.routes],
    }


SHOWN = 30  # stacks with changes shown in full; the rest in one line each way (--format json has everything)


def to_text(p: Plan, services: Mapping[str, tuple[str, str]] | None = None) -> list[str]:
    """The stacks with changes first (at most ``SHOWN`` in full), one line for the unchanged ones, then routes."""
    services = services or {}
    lines = [f"plan against {p.against}" if p.against else "plan (no previous assembly: everything is new)"]
    changed = [s for s in p.stacks if s.changed]
    for s in changed[:SHOWN]:
        lines.append(f"stack {s.name}: {s.action} ({s.resource_count} resources; +{len(s.create)} "
                     f"~{len(s.update)} -{len(s.delete)})")
        for sign, items in (("+", s.create), ("~", s.update), ("-", s.delete)):
            lines += [f"  {sign} {r.type} {r.logical_id}" for r in items]
    if len(changed) > SHOWN:
        rest = changed[SHOWN:]
        lines.append(f"... and {len(rest)} more stack(s) with changes: +{sum(len(s.create) for s in rest)} "
                     f"~{sum(len(s.update) for s in rest)} -{sum(len(s.delete) for s in rest)} resources "
                     "(--format json lists every stack)")
    same = len(p.stacks) - len(changed)
    if same:
        lines.append(f"{same} stack(s) unchanged")
    lines.append("routes:")
    for r in p.routes:
        label = "/".join(services[r.route]) if r.route in services else r.route
        weights = ", ".join(f"{k}={v}" for k, v in r.weights.items()) or "-"
        prev = ""
        if r.action == "update":
            prev = "  (was " + ", ".join(f"{k}={v}" for k, v in (r.previous or {}).items()) + ")"
        lines.append(f"  {label} [{r.route}] {r.prefix}: {weights} {r.action}{prev}")
    lines.append("changes present" if p.has_changes else "no changes")
    return lines
