"""Which stack holds what: a stack per service, beside a shared stack, a stack per cluster and a queries stack.

Why a stack per service. Two things must hold at any size (500 services and more):

- stable: adding or removing a service never moves another one to a different stack (moving deletes and
  recreates its resources). An assignment computed from the spec alone can only be stable if a service's
  stack depends on nothing but that service: the other names come and go.
- bounded: every stack stays under CloudFormation's 500 resources, 200 outputs and 1 MB. Any stateless rule
  that puts several services in one stack (a hash of the name modulo N slots) can be overflowed by unlucky
  names or a few big services, and the only cure, more slots, moves almost every service.

A stack per service is both by construction: a stack is as big as its one service (estimated before synth by
``meshspec.infra.spec.stack_quotas``), and nothing else decides where a service lives. It costs stacks, not time:
measured at 100 services, 99 service stacks synthesize as fast as 32 hash shards (14.4 s against 14.7 s;
benchmarks/README.md), CloudFormation allows 2000 stacks per region, and a change deploys one small stack.

Cross-stack references are few and stable: a service stack imports only what the shared stack and its
cluster's stack export, and those export it explicitly (``Stack.export_value``), so the exports never change
when services come or go (CDK would otherwise drop an export with its last consumer, which CloudFormation
refuses while another stack still imports it).

What feeds each stack (one source of truth for partial synth and the synth cache). Every stack is built from
its own *view* of the spec (:func:`views`), never from the whole spec: the project-wide parts it reads, the
services it holds, and of its neighbours only what it reads of them (a caller's stack reads the port, protocol
and cluster of the services it uses; a provider's stack reads who uses it, for Lattice's auth policy). A stack's
*inputs* are its view plus the views of the stacks it is built against (:func:`inputs`): so anything the stack
code reads is in its inputs by construction, and a stack whose inputs did not change cannot have changed.
Anything a view leaves out raises when read (:class:`NotAnInput`), naming this module as the place to add it.
``meshspec.infra.changes`` compares inputs for partial synth; ``meshspec.stacks.cache`` keys templates by them.

Everything here is pure: a spec (or names) in, stack names and views out. ``meshspec.stacks.app.build`` follows
this layout and builds each stack from its view.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from pydantic import BaseModel

from meshspec.infra import naming
from meshspec.infra.dependencies import rows, uses_graph
from meshspec.infra.mesh import registry

if TYPE_CHECKING:  # a type only: the spec's quota checks import this module (stack_quotas)
    from meshspec.infra.spec.model import Spec


@dataclass(frozen=True)
class StackPlacement:
    name: str
    kind: str  # shared | cluster | service | queries | pipeline
    services: tuple[str, ...] = ()  # services whose resources live in this stack
    cluster: str | None = None
    depends_on: tuple[str, ...] = ()  # stacks that must be deployed first
    built_against: tuple[str, ...] = ()  # stacks whose views also feed this one (see ``inputs``)


def stack_of(project: str, service: str) -> str:
    """The stack of one service: a function of its own name only, so other services never move it."""
    return naming.stack_service(project, service)


def assign(project: str, names: Iterable[str]) -> dict[str, str]:
    """Service → stack, for any set of service names."""
    return {n: stack_of(project, n) for n in sorted(set(names))}


def shared_queries(spec: Spec) -> list:
    """Saved queries that span several services (or all): they live in the queries stack."""
    return [q for q in spec.queries.custom if not (q.services and len(q.services) == 1)]


def query_members(spec: Spec, query) -> list[str]:
    """The AWS services whose log groups one shared query reads."""
    meshed = spec.aws_services()
    return [s for s in (query.services or list(meshed)) if s in meshed]


def layout(spec: Spec) -> list[StackPlacement]:
    """Every stack of the app in deployment order, with what it holds and what it depends on."""
    if spec.aws is None:
        return []
    p = spec.project
    shared = naming.stack_shared(p)
    clusters = tuple(naming.stack_cluster(p, c.name) for c in spec.aws.clusters)
    # the cluster stacks change the shared stack's template (an EKS cluster tags the VPC's subnets)
    out = [StackPlacement(shared, "shared", built_against=clusters)]
    out += [StackPlacement(naming.stack_cluster(p, c.name), "cluster", cluster=c.name, depends_on=(shared,),
                           built_against=(shared,))
            for c in spec.aws.clusters]
    for name, svc in spec.aws_services().items():
        mine = (shared, naming.stack_cluster(p, svc.cluster))
        out.append(StackPlacement(stack_of(p, name), "service", (name,), svc.cluster, mine, mine))
    queries = shared_queries(spec)
    if queries:
        members = sorted({s for q in queries for s in query_members(spec, q)})
        out.append(StackPlacement(naming.stack_queries(p), "queries", tuple(members),
                                  depends_on=tuple(stack_of(p, s) for s in members)))
    if spec.aws.pipeline is not None:  # deployed once by hand, then by itself: no wave deploys it (infra/waves.py)
        out.append(StackPlacement(naming.stack_pipeline(p), "pipeline"))
    return out


def placement(spec: Spec) -> dict[str, str]:
    """Service → the stack that holds its resources (AWS services only)."""
    return assign(spec.project, spec.aws_services())


def closure(spec: Spec, stacks: Iterable[str]) -> list[str]:
    """``stacks`` and every stack they need in one assembly, in deployment order: what they depend on (a partial
    assembly deploys on its own) and what changes their templates (the cluster stacks, for the shared stack)."""
    by_name = {s.name: s for s in layout(spec)}
    want, todo = set(), [s for s in stacks if s in by_name]
    while todo:
        name = todo.pop()
        if name not in want:
            want.add(name)
            todo += [*by_name[name].depends_on, *(d for d in by_name[name].built_against if d in by_name)]
    return [name for name in by_name if name in want]


def fed_by(spec: Spec, services: Iterable[str]) -> list[str]:
    """The stacks whose view holds one of ``services`` (its own stack, the stacks of the services it uses and of
    those that use it), in deployment order: what a change to their entries can touch."""
    names = set(services)
    return [name for name, v in views(spec).items() if names & v.services]


def for_services(spec: Spec, services: Iterable[str]) -> list[str]:
    """The stacks a partial synth of ``services`` writes, in deployment order: :func:`fed_by` and its
    :func:`closure`."""
    return closure(spec, fed_by(spec, services))


# -- what feeds each stack -----------------------------------------------------------------------------------
# What a stack reads of a service it does not hold. Add a field here before a stack reads it.
TARGET_FIELDS = ("cluster", "port", "protocol")  # of a service it uses: where it answers (upstream variables)
CALLER_FIELDS = ("cluster", "uses")  # of every neighbour: who may call (Lattice's auth policy); ``uses`` holds only
#                                      the uses that name the stack's own service
WITNESS_FIELDS = ("cluster",)  # of the services a shared query names (or all): whose log groups it reads


class NotAnInput:
    """A part of the spec that a stack's view leaves out: any use of it raises, so stack code cannot read
    what its inputs do not hold (partial synth and the cache would then miss a change)."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _refuse(self, *_a, **_k):
        raise AttributeError(f"{self._what} is not among this stack's inputs: add it to its view in "
                             "meshspec.infra.sharding.views before the stack reads it")

    __getattr__ = __getitem__ = __iter__ = __len__ = __contains__ = __bool__ = __call__ = _refuse

    def __repr__(self) -> str:
        return f"NotAnInput({self._what!r})"

    def __reduce__(self):  # pickled into a synth worker's part (its attributes refuse every other way)
        return NotAnInput, (self._what,)


class Neighbour:
    """What a stack may read of a service it does not hold (``TARGET_FIELDS``, ``CALLER_FIELDS``); reading
    any other field raises."""

    __slots__ = ("_name", "_fields")

    def __init__(self, name: str, fields: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._fields[key]
        except KeyError:
            raise AttributeError(f"{key} of service {self._name!r} is not among this stack's inputs (it holds "
                                 f"{', '.join(self._fields)} of it): add the field to meshspec.infra.sharding's "
                                 "TARGET_FIELDS or CALLER_FIELDS before the stack reads it") from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("a neighbour is read-only")

    def __reduce__(self):  # pickled into a synth worker's part (read-only: not restored field by field)
        return Neighbour, (self._name, self._fields)


@dataclass(frozen=True)
class StackView:
    """What one stack is built from: a pruned spec (``spec``) and the facts about other parts it reads."""

    stack: str
    kind: str
    spec: Spec
    services: frozenset[str] = frozenset()  # every service whose entry (or part of it) is in the view
    facts: Mapping[str, Any] = field(default_factory=dict)  # shared: meshed; cluster: ports (Lattice on EKS);
    #                                                       service: beneath (its dashboard's dependency rows)


def _aws(spec: Spec, *, clusters, moved, pipeline=None) -> Any:
    """The aws section with its clusters and the migration's moved services replaced; ``aws.pipeline`` only in the
    pipeline stack's view (no other stack reads it: a new pipeline setting rebuilds that stack alone)."""
    mesh = spec.aws.mesh
    if mesh.migration is not None:
        mesh = mesh.model_copy(update={"migration": mesh.migration.model_copy(update={"moved": moved})})
    return spec.aws.model_copy(update={"clusters": clusters, "mesh": mesh, "pipeline": pipeline if pipeline is not None
                                       else NotAnInput("aws.pipeline (only the pipeline stack reads it)")})


def _pruned(spec: Spec, *, what: str, aws, services, defaults=True, queries=None) -> Spec:
    return spec.model_copy(update={
        "aws": aws, "services": services, "gcp": NotAnInput("gcp"),
        "defaults": spec.defaults if defaults else NotAnInput(f"defaults (in the view of {what})"),
        "queries": queries if queries is not None else NotAnInput(f"queries (in the view of {what})")})


def _service_view(spec: Spec, name: str, stack: str, callers: Mapping[str, dict[str, list[str]]],
                  position: Mapping[str, int], graph: Mapping[str, list[str]]) -> StackView:
    svc = spec.services[name]
    uses = {ref.split("/", 1)[0] for ref in svc.uses}
    mine = callers.get(name, {})  # service → its uses that name this one
    services: dict[str, Any] = {}
    # in the spec's order: it orders what the stack iterates (Lattice's auth policy lists callers in it)
    for other in sorted({name, *(u for u in uses if u in position), *mine}, key=position.__getitem__):
        if other == name:
            services[other] = svc
            continue
        o = spec.services[other]
        fields = {f: getattr(o, f) for f in CALLER_FIELDS}
        fields["uses"] = mine.get(other, [])  # only the uses that name this service (empty for one it only calls)
        if other in uses:
            fields.update((f, getattr(o, f)) for f in TARGET_FIELDS)
        services[other] = Neighbour(other, fields)
    moved = [m for m in spec.aws.mesh.migration.moved if m == name] if spec.aws.mesh.migration else []
    queries = spec.queries.model_copy(update={"custom": [q for q in spec.queries.custom if q.services == [name]]})
    view = _pruned(spec, what=stack, aws=_aws(spec, clusters=[spec.cluster(svc.cluster)], moved=moved),
                   services=services, queries=queries)
    # the dashboard's rows of every service beneath it, as a fact: those services' entries feed this stack
    beneath = rows(spec, name, graph)
    return StackView(stack, "service", view, frozenset(services) | {getattr(r, "name", r) for r in beneath},
                     facts={"beneath": beneath})


def _pipeline_view(spec: Spec, stack: str) -> StackView:
    """aws.pipeline's stack names every other stack: it reads the layout (which services run on AWS and on which
    cluster, the clusters, the shared queries' members), the project-wide aws part, and nothing of a service's
    own entry, so a new image does not touch it but a new service does."""
    services = {n: Neighbour(n, {f: getattr(svc, f) for f in WITNESS_FIELDS}) for n, svc in spec.services.items()}
    queries = spec.queries.model_copy(update={"builtin": NotAnInput("queries.builtin")})
    view = _pruned(spec, what=stack, aws=_aws(spec, clusters=spec.aws.clusters, pipeline=spec.aws.pipeline,
                                              moved=NotAnInput("aws.mesh.migration.moved")),
                   services=services, defaults=False, queries=queries)
    return StackView(stack, "pipeline", view, frozenset(spec.aws_services()))


def views(spec: Spec, *, pruned: bool = True, only: Iterable[str] | None = None) -> dict[str, StackView]:
    """Each stack's view, in deployment order. ``pruned=False``: every view is the whole spec (with the same
    facts), the reference that tests compare the pruned build with. ``only``: just these stacks' views (a
    service's view works out its dashboard's dependency rows: about 2 ms each at 500 services)."""
    out: dict[str, StackView] = {}
    wanted = None if only is None else set(only)
    if spec.aws is None:
        return out
    aws_services = spec.aws_services()
    not_moved = NotAnInput("aws.mesh.migration.moved (read per service)")
    position = {n: i for i, n in enumerate(spec.services)}
    graph = uses_graph(spec)
    callers: dict[str, dict[str, list[str]]] = {}
    for caller, svc in spec.services.items():
        for ref in svc.uses:
            callers.setdefault(ref.split("/", 1)[0], {}).setdefault(caller, []).append(ref)
    for s in layout(spec):
        if wanted is not None and s.name not in wanted:
            continue
        if s.kind == "shared":
            view = _pruned(spec, what=s.name, aws=_aws(spec, clusters=NotAnInput("aws.clusters"), moved=not_moved),
                           services=NotAnInput("services (the shared stack reads only whether any runs on AWS)"))
            out[s.name] = StackView(s.name, s.kind, view, facts={"meshed": bool(aws_services)})
        elif s.kind == "cluster":
            c = spec.cluster(s.cluster)
            facts = {}
            for backend in registry.active(spec):  # what a backend needs of the cluster's services
                facts.update(backend.cluster_facts(spec, c))
            view = _pruned(spec, what=s.name, aws=_aws(spec, clusters=[c], moved=not_moved),
                           services=NotAnInput("services (a cluster stack reads only their ports, as a fact)"),
                           defaults=False)
            out[s.name] = StackView(s.name, s.kind, view, facts=facts)
        elif s.kind == "service":
            out[s.name] = _service_view(spec, s.services[0], s.name, callers, position, graph)
        elif s.kind == "pipeline":
            out[s.name] = _pipeline_view(spec, s.name)
        else:  # queries: the shared saved queries over the AWS services' log groups
            named = {n for q in shared_queries(spec) for n in (q.services or aws_services)}
            services = {n: Neighbour(n, {f: getattr(svc, f) for f in WITNESS_FIELDS})
                        for n, svc in spec.services.items() if n in named}
            queries = spec.queries.model_copy(update={"custom": shared_queries(spec),
                                                      "builtin": NotAnInput("queries.builtin")})
            view = _pruned(spec, what=s.name, aws=_aws(spec, clusters=NotAnInput("aws.clusters"), moved=not_moved),
                           services=services, defaults=False, queries=queries)
            out[s.name] = StackView(s.name, s.kind, view, frozenset(services))
    if not pruned:
        out = {k: StackView(v.stack, v.kind, spec, v.services, v.facts) for k, v in out.items()}
    return out


def canonical(view: StackView) -> str:
    """The view as canonical JSON: what its digest is taken of (pruned parts as a marker)."""
    return json.dumps({"stack": view.stack, "kind": view.kind, "spec": _plain(view.spec),
                       "facts": _plain(dict(view.facts))}, sort_keys=False, separators=(",", ":"),
                      ensure_ascii=False)


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, NotAnInput):
        return "<not an input>"
    if isinstance(v, Neighbour):
        return {"neighbour": _plain(v._fields)}
    if isinstance(v, BaseModel):
        return {k: _plain(v.__dict__[k]) for k in type(v).model_fields}
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return [_plain(x) for x in sorted(v)]
    if isinstance(v, Decimal):
        return {"decimal": str(v)}
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):  # e.g. a ``uses`` entry with its operations
        return {type(v).__name__: {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    raise TypeError(f"cannot take a digest of {type(v).__name__}")


def inputs(spec: Spec, vs: Mapping[str, StackView] | None = None) -> dict[str, str]:
    """Stack → digest of its inputs: its own view and the views of the stacks it is built against
    (``StackPlacement.built_against``). Equal digests, equal templates: partial synth and the cache rely on it.
    ``vs``: every stack's pruned view (:func:`views`), when the caller has them."""
    vs = views(spec) if vs is None else vs
    own = {name: hashlib.sha256(canonical(v).encode("utf-8")).hexdigest() for name, v in vs.items()}
    out = {}
    for s in layout(spec):
        h = hashlib.sha256(own[s.name].encode())
        for other in s.built_against:
            h.update(b"|" + other.encode() + b"=" + own[other].encode())
        out[s.name] = h.hexdigest()
    return out


@dataclass(frozen=True)
class Part:
    """What building some stacks reads: the whole layout and the views of those stacks and of the stacks they
    are built against. A synth worker gets its part rather than the spec: a few small views pickle in
    milliseconds where a 500-service spec takes most of a second, and the worker works out no other views."""

    layout: tuple[StackPlacement, ...]
    views: Mapping[str, StackView]


def needed(placements: Iterable[StackPlacement], stacks: Iterable[str]) -> list[str]:
    """``stacks``, the shared stack and what they are built against (every cluster, for the shared stack), in
    the layout's order: what a lean build of ``stacks`` constructs (``meshspec.stacks.app.build``) and so the
    views a synth worker's part holds."""
    placements = list(placements)
    asked = set(stacks)
    want = asked | {s.name for s in placements if s.kind == "shared"}
    want |= {d for s in placements if s.name in asked for d in s.built_against}  # the shared stack: every cluster
    return [s.name for s in placements if s.name in want]


def part(spec: Spec, stacks: Iterable[str], vs: Mapping[str, StackView] | None = None) -> Part:
    """The :class:`Part` a lean build of ``stacks`` reads; ``vs``: every view, when the caller has them."""
    placements = tuple(layout(spec))
    names = needed(placements, stacks)
    got = views(spec, only=names) if vs is None else vs
    return Part(placements, {n: got[n] for n in names})
