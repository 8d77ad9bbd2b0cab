"""The key walk (issue #16): every key of the JSON Schema, set to a valid non-default value wherever it can be
written, changes what meshspec produces (the synthesized templates, the Kubernetes manifests, the App Engine
desired state and plan, the service graph, validate's warnings), or validate refuses it there.

Built from the schema alone, so a key another change adds is walked without touching this file; a key whose
valid value needs knowledge of the rest of the spec (a reference, a share that must sum to 100) gets an edit in
``EDITS``, and the test says so when one is missing.

Cost: keys of one kind are batched into one synth where their effects are separable: each service-level key is
written on its own slot service (one per placement), and each slot has its own stack, so one synth answers for
several keys; only the stacks of slots whose key validate accepted are synthesized.
"""
from __future__ import annotations

import copy
import dataclasses
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml
from hypothesis import find, settings
from hypothesis import strategies as st

from meshspec.infra import naming
from meshspec.infra.spec import load_text
from meshspec.infra.spec.schema import schema
from meshspec.infra.testing import scrub
from tests.conftest import TODAY

SCHEMA = schema()
MISSING = object()
COLLECTIONS = ("*", "[]")  # a mapping entry (services.<name>), a list item (clusters[0])


@dataclass(frozen=True)
class Key:
    path: tuple[str, ...]  # schema path: "*" for a mapping entry, "[]" for a list item
    node: dict = field(compare=False, hash=False, repr=False)
    default: Any = field(default=None, compare=False, hash=False, repr=False)

    @property
    def name(self) -> str:
        return ".".join(self.path).replace(".[]", "[]")


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _non_null(node: dict) -> dict:
    """The property's schema without its null branch (``X | None``), keeping its default and examples."""
    node = _resolve(node)
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        return {**_resolve(options[0]), **outer}
    return node


def _entries(node: dict) -> dict | None:
    """The value schema of a mapping whose values are objects (services, majors), else None."""
    for value in [*node.get("patternProperties", {}).values(), node.get("additionalProperties")]:
        if isinstance(value, dict) and "properties" in _resolve(value):
            return _resolve(value)
    return None


def schema_keys(node: dict | None = None, prefix: tuple[str, ...] = ()) -> list[Key]:
    """Every key of the schema down to its leaves (a leaf: a scalar, a list of scalars, a mapping of scalars)."""
    node = _resolve(node if node is not None else SCHEMA)
    out: list[Key] = []
    for name, prop in node.get("properties", {}).items():
        path = prefix + (name,)
        inner = _non_null(prop)
        items = _resolve(inner.get("items", {})) if inner.get("type") == "array" else {}
        if "properties" in inner:
            out += schema_keys(inner, path)
        elif _entries(inner) is not None:
            out += schema_keys(_entries(inner), path + ("*",))
        elif "properties" in items:
            out += schema_keys(items, path + ("[]",))
        else:
            out.append(Key(path, inner, inner.get("default", MISSING)))
    return out


# -- values ----------------------------------------------------------------------------------------------------
def _pattern_value(pattern: str, current: Any) -> str:
    return find(st.from_regex(pattern, fullmatch=True), lambda s: s != current and s.isascii() and s.strip() == s,
                settings=settings(database=None, derandomize=True, max_examples=2000))


def value_for(node: dict, current: Any, default: Any = MISSING) -> Any:
    """A valid value other than ``current`` and the default, from the schema: its examples first, then its enum,
    then one generated from the type and bounds. MISSING when the schema allows no other value."""
    node = _non_null(node)
    current = None if current is MISSING else current
    taken = (current, None if default is MISSING else default)
    for candidate in [*node.get("examples", []), *node.get("enum", [])]:
        if candidate not in taken:
            return candidate
    if "const" in node or "enum" in node:
        return MISSING
    if "anyOf" in node:
        return value_for(node["anyOf"][0], current, default)
    kind = node.get("type")
    base = current if current is not None else (default if default is not MISSING else None)
    if kind == "boolean":
        return not bool(base)
    if kind in ("integer", "number"):
        start = base if isinstance(base, (int, float)) else node.get("minimum", 1)
        up = start + 1
        return up if up <= node.get("maximum", up) else start - 1
    if kind == "string":
        if node.get("format") == "date":
            return "2027-01-31"
        if "pattern" in node:
            return _pattern_value(node["pattern"], current)
        return f"{current or 'walk'}-x"
    if kind == "array":
        items = list(current or [])
        if len(items) > node.get("minItems", 0):
            return items[:-1]
        return items + [value_for(node.get("items", {}), None)]
    if kind == "object":
        values = [*node.get("patternProperties", {}).values(), node.get("additionalProperties") or {}]
        return {"WALK_VALUE": value_for(values[0], None) if values[0] else "walk"}
    raise AssertionError(f"the walk cannot make a value for schema {node}: give the key examples in model.py")


# -- documents -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spot:
    """Where one key is written: the concrete path in a document, and the object (service, cluster, …) it is in."""

    key: Key
    path: tuple  # concrete: names and indices
    owner: tuple  # the object the key belongs to: services.<name>, aws.clusters[i], or the key's parent
    context: str  # e.g. "ecs-fargate service", "lattice backend"


def concrete(key: Key, entries: tuple[str, ...] = (), index: int = 0) -> tuple[tuple, tuple]:
    """The key's concrete path (``entries`` for its ``*`` parts in order, ``index`` for its list items), and its
    owner: the object it is written in (the path up to the first collection entry, else the key's parent)."""
    path, owner, names = [], None, iter(entries)
    for part in key.path:
        path.append(next(names) if part == "*" else index if part == "[]" else part)
        if part in COLLECTIONS and owner is None:
            owner = tuple(path)
    return tuple(path), owner if owner is not None else tuple(path[:-1])


def get(doc: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(doc, dict):
            if part not in doc:
                return MISSING
            doc = doc[part]
        elif isinstance(doc, list) and isinstance(part, int) and part < len(doc):
            doc = doc[part]
        else:
            return MISSING
    return doc


def _schema_at(key: Key, depth: int) -> dict:
    """The schema of the key path's prefix of ``depth`` parts (for creating a missing parent object)."""
    node = _resolve(SCHEMA)
    for part in key.path[:depth]:
        if part == "*":
            node = _entries(node)
        elif part == "[]":
            node = _resolve(node.get("items", {}))
        else:
            node = _non_null(node["properties"][part])
    return node


def put(doc: dict, key: Key, path: tuple, value: Any) -> None:
    """Set ``value`` at ``path``, creating missing parent objects with their required keys."""
    node = doc
    for depth, part in enumerate(path[:-1], start=1):
        if get(node, (part,)) is MISSING or get(node, (part,)) is None:
            parent = _schema_at(key, depth)
            node[part] = {req: value_for(parent["properties"][req], None) for req in parent.get("required", [])}
        node = node[part]
    node[path[-1]] = value


def text(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


# Keys whose valid non-default value depends on the rest of the spec: each edit writes one (slot: the object
# the key is written in, a service or a cluster name).
Edit = Callable[[dict, Spot], None]


def _traffic(doc: dict, spot: Spot) -> None:
    """Shares must sum to 100: the slot's two versions (60/40) become 100/0."""
    versions = get(doc, spot.path[:-2])
    versions[0]["traffic"], versions[1]["traffic"] = 100, 0


def _default_service(doc: dict, spot: Spot) -> None:
    """App Engine has exactly one default service: it moves to the slot."""
    for svc in doc["services"].values():
        if isinstance(svc.get("appengine"), dict):
            svc["appengine"].pop("defaultService", None)
    put(doc, spot.key, spot.path, True)


def _major_path(doc: dict, spot: Spot) -> None:
    """A path prefix no other major serves."""
    put(doc, spot.key, spot.path, f"/walk/{spot.path[1]}/")


def _cluster(doc: dict, spot: Spot) -> None:
    """Another cluster of the walk's spec (a new name would be an unknown cluster)."""
    names = [c["name"] for c in doc["aws"]["clusters"]]
    current = get(doc, spot.path)
    put(doc, spot.key, spot.path, names[(names.index(current) + 1) % len(names)] if current in names else names[0])


def _uses(doc: dict, spot: Spot) -> None:
    put(doc, spot.key, spot.path, ["target/v1"])


def _moved(doc: dict, spot: Spot) -> None:
    put(doc, spot.key, spot.path, [WALK_MOVED])


def _sunset(doc: dict, spot: Spot) -> None:
    """A sunset takes effect on a deprecated major (the walk's base marks it so, with and without the date)."""
    put(doc, spot.key, spot.path, "2027-06-30")


def _not_secret(doc: dict, spot: Spot) -> None:
    """notSecret names an env variable of the slot (its base has one, PREPARE): validate then reads the review
    (a literal it would not refuse anyway gets a warning; tests/test_spec_secrets.py tests the acceptance)."""
    put(doc, spot.key, spot.path, ["WALK_REVIEWED"])


def _one_stack_per_action(doc: dict, spot: Spot) -> None:
    """The walk's spec has two service stacks: one per action makes two actions of what one action held."""
    put(doc, spot.key, spot.path, 1)


def _one_action_per_wave(doc: dict, spot: Spot) -> None:
    """One action per wave: the two service stacks (one per action, PREPARE) deploy in two waves, not one."""
    put(doc, spot.key, spot.path, 1)


EDITS: dict[tuple, Edit] = {
    ("aws", "pipeline", "stacksPerAction"): _one_stack_per_action,
    ("aws", "pipeline", "actionsPerWave"): _one_action_per_wave,
    ("services", "*", "cluster"): _cluster,
    ("services", "*", "versions", "[]", "traffic"): _traffic,
    ("services", "*", "appengine", "defaultService"): _default_service,
    ("services", "*", "majors", "*", "path"): _major_path,
    ("services", "*", "uses"): _uses,
    ("aws", "mesh", "migration", "moved"): _moved,
    ("services", "*", "majors", "*", "sunset"): _sunset,
    ("services", "*", "notSecret"): _not_secret,
}
# Keys whose edit touches other objects than the slot: walked one spot at a time, never batched.
SOLO = {("services", "*", "appengine", "defaultService")}
def _deprecated(doc: dict, spot: Spot) -> None:
    put(doc, spot.key, spot.path[:-1] + ("status",), "deprecated")


def _one_version_takes_all(doc: dict, spot: Spot) -> None:
    versions = doc["services"][spot.path[1]]["versions"]
    versions[0]["traffic"], versions[1]["traffic"] = 100, 0


def _two_cohorts(doc: dict, spot: Spot) -> None:
    """An A/B test on the slot's major, so a cohort key alone makes the difference: two header cohorts, one per
    version, in this order."""
    cohorts = spot.path[:spot.path.index("cohorts") + 1]
    major = get(doc, cohorts[:-1])
    major["cohorts"] = [{"name": "wa", "priority": 1, "header": "x-walk-a", "value": "a", "version": "a"},
                        {"name": "wb", "priority": 2, "header": "x-walk-b", "value": "b", "version": "b"}]


def _cohort(value: Any) -> Edit:
    """Set the first cohort's key to ``value`` (a cookie replaces the header)."""
    def edit(doc: dict, spot: Spot) -> None:
        cohort = get(doc, spot.path[:-1])
        if spot.path[-1] == "cookie":
            cohort.pop("header", None)
        cohort[spot.path[-1]] = value
    return edit


COHORT = ("services", "*", "majors", "*", "cohorts", "[]")
EDITS.update({COHORT + ("name",): _cohort("wz"),        # the route's name
              COHORT + ("priority",): _cohort(3),       # now matched after wb
              COHORT + ("header",): _cohort("x-walk-c"),
              COHORT + ("cookie",): _cohort("walk"),    # a cookie cohort instead of a header one
              COHORT + ("value",): _cohort("c"),
              COHORT + ("version",): _cohort("b")})


# Prepared in the base too, so the key alone makes the difference: a sunset applies to a deprecated major; a gradual
# migration moves all traffic to one version.
def _reviewed_env(doc: dict, spot: Spot) -> None:
    doc["services"][spot.path[1]].setdefault("env", {})["WALK_REVIEWED"] = "plain"


def _stack_per_action(doc: dict, spot: Spot) -> None:
    doc["aws"]["pipeline"]["stacksPerAction"] = 1


def _other_objective(doc: dict, spot: Spot) -> None:
    """An slo needs an objective: the base's has a latency one, so availability or the window alone makes the
    difference."""
    slo = get(doc, spot.path[:-1])
    slo.setdefault("latency", {"thresholdMs": 300})


PREPARE: dict[tuple, Edit] = {
    ("aws", "pipeline", "actionsPerWave"): _stack_per_action,
    ("services", "*", "notSecret"): _reviewed_env,
    ("services", "*", "slo", "availability"): _other_objective,
    ("services", "*", "slo", "windowDays"): _other_objective,
    ("services", "*", "majors", "*", "slo", "availability"): _other_objective,
    ("services", "*", "majors", "*", "slo", "windowDays"): _other_objective,
    ("services", "*", "majors", "*", "sunset"): _deprecated,
    ("services", "*", "appengine", "migrateTraffic"): _one_version_takes_all,
    **{COHORT + (key,): _two_cohorts for key in ("name", "priority", "header", "cookie", "value", "version")},
}
# Keys that change nothing the walk can see, each with where its effect is tested instead.
EXEMPT = {
    ("apiVersion",): "one valid value (meshspec/v1): nothing else to set",
    ("services", "*", "majors", "*", "contract"):
        "names the file `meshspec contracts check` and `retire-plan` read (tests/test_contracts_check.py)",
}
WALK_MOVED = "a"  # the service the migration walk moves (it has no callers)


# -- outputs ---------------------------------------------------------------------------------------------------
@dataclass
class Outputs:
    """What meshspec produces from one spec, for comparing two specs."""

    spec: Any
    templates: dict[str, Any] = field(default_factory=dict)
    manifests: dict[str, str] = field(default_factory=dict)

    def appengine(self, service: str | None = None) -> Any:
        from meshspec.infra.appengine.desired import desired_state
        from meshspec.infra.appengine.plan import PlanRefused, plan
        from meshspec.infra.appengine.state import Observed

        if self.spec.gcp is None or not self.spec.appengine_services():
            return None
        desired = desired_state(self.spec)
        try:
            planned = plan(desired, Observed(desired.app_id)).to_json()
        except PlanRefused as exc:
            planned = str(exc)
        state = dataclasses.asdict(desired)
        if service is None:
            return state, planned
        ids = {s["id"] for s in state["services"] if s["spec_service"] == service}
        actions = ([a for a in planned["actions"] if a.get("service") in ids] if isinstance(planned, dict)
                   else [line for line in planned.splitlines() if any(i in line for i in ids)])
        return ([s for s in state["services"] if s["id"] in ids],
                [r for r in state["dispatch_rules"] if r["service"] in ids], actions)

    def graph(self, service: str | None = None) -> Any:
        from meshspec.infra.graph.model import build_graph

        g = build_graph(self.spec)
        if service is None:
            return repr(g)
        box = g.box(service)
        return (box, [n for n in g.nodes.values() if n.service == service],
                [e for e in g.edges if e.src in box.nodes or e.src == box.id or e.dst in box.nodes])


def synth(spec, stacks: list[str] | None = None) -> Outputs:
    """Synthesize (only ``stacks`` of the service stacks when given; shared and cluster stacks always)."""
    from pathlib import Path

    from meshspec.stacks.app import build, new_app, synthesize

    out = Outputs(spec)
    if spec.aws is None:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        result = synthesize(build(spec, new_app(tmp, validation=False), only=stacks))
        out.templates = {name: scrub(t) for name, t in result.stacks.items()}
        out.manifests = {str(Path(f).relative_to(tmp)): Path(f).read_text() for f in result.manifests}
    return out


def warnings(result, owner: tuple = ()) -> list[tuple]:
    return sorted((e.key_path, e.code, e.message) for e in result.warnings if e.path[:len(owner)] == owner)


def refusal(result, spot: Spot) -> str | None:
    """Why validate refused the key where it is written (its own path, under it, or the object it is in), or None.
    Errors elsewhere mean the walk's value broke another part of the spec: the walk needs an edit."""
    errors = result.errors
    if not errors:
        return None
    inside = [e for e in errors if e.path[:len(spot.owner)] == spot.owner]
    assert len(inside) == len(errors), (
        f"{spot.key.name} ({spot.context}): the walk's value broke another part of the spec; give the key an "
        f"edit in tests/key_walk.py EDITS: {[e.render() for e in errors if e not in inside]}")
    assert all(e.allowed for e in inside), [e.render() for e in inside if not e.allowed]
    return "; ".join(e.render() for e in inside)


def load(doc: dict):
    return load_text(text(doc), file="walk.yaml", today=TODAY)


def write(doc: dict, spot: Spot) -> bool:
    """Write the key's walk value at the spot; False when the schema allows no other value."""
    edit = EDITS.get(spot.key.path)
    if edit is not None:
        edit(doc, spot)
        return True
    value = value_for(spot.key.node, get(doc, spot.path), spot.key.default)
    if value is MISSING:
        return False
    put(doc, spot.key, spot.path, value)
    return True


def prepare(doc: dict, spot: Spot) -> dict:
    """The base a spot's value is compared with: the document with the key's missing parent objects (with their
    required keys) and its preparation (PREPARE), so that the key alone makes the difference."""
    doc = copy.deepcopy(doc)
    node = doc
    for depth, part in enumerate(spot.path[:-1], start=1):
        if get(node, (part,)) in (MISSING, None):
            parent = _schema_at(spot.key, depth)
            node[part] = {req: value_for(parent["properties"][req], None) for req in parent.get("required", [])}
        node = node[part]
    if spot.key.path in PREPARE:
        PREPARE[spot.key.path](doc, spot)
    return doc


def stack_of(spec, service: str) -> str:
    from meshspec.infra import sharding

    return next(s.name for s in sharding.layout(spec) if s.kind == "service" and service in s.services)


def cluster_stack(spec, index: int) -> str:
    return naming.stack_cluster(spec.project, spec.aws.clusters[index].name)
