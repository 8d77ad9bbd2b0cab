"""The services beneath a service: everything it depends on through ``uses``, transitively, in dependency order.

One function, read by the dashboards (a row per dependency) and by ``meshspec status`` (which names the deepest
failing one as the likely cause), so both show the same services in the same order. Linear in the services and
``uses`` entries beneath the root, without recursion (a chain of a thousand services is fine); a path is built
only when asked for.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Mapping

from . import naming
from .spec.model import Spec, measured_objectives

Graph = Mapping[str, list[str]]


@dataclass(frozen=True)
class Dependency:
    """One service beneath ``root``: ``depth`` is the length of the longest ``uses`` path from the root to it,
    ``parent`` the caller before it on that path (None: the root calls it)."""

    name: str
    depth: int
    root: str
    parent: "Dependency | None" = None

    @property
    def path(self) -> tuple[str, ...]:
        """The longest path from the root to it, the root first."""
        names = []
        node: Dependency | None = self
        while node is not None:
            names.append(node.name)
            node = node.parent
        if self.depth:
            names.append(self.root)
        return tuple(reversed(names))


def top(name: str) -> Dependency:
    """A service on its own, at depth 0 (its path is itself)."""
    return Dependency(name, 0, name)


def uses_of(spec: Spec, name: str) -> list[str]:
    """The services ``name`` calls, once each, in the order ``uses`` lists them (itself left out)."""
    return [t for t in dict.fromkeys(ref.split("/", 1)[0] for ref in spec.services[name].uses)
            if t != name and t in spec.services]


def uses_graph(spec: Spec) -> dict[str, list[str]]:
    """Every service's :func:`uses_of`, worked out once for callers that walk many services."""
    return {name: uses_of(spec, name) for name in spec.services}


def chain(spec: Spec, root: str, graph: Graph | None = None) -> list[Dependency]:
    """Every service ``root`` depends on, each before the services it uses (a topological order; among services
    ready at the same time, the one reached first depth-first along ``uses``). A cycle cannot be ordered: its
    services follow, depth-first, each under the service that reached it. ``graph``: :func:`uses_graph`, when
    the caller has it."""
    names, parent, depth = _order(graph if graph is not None else uses_graph(spec), root)
    made: dict[str, Dependency] = {}
    for n in names:  # a service's parent comes before it
        up = parent[n]
        made[n] = Dependency(n, depth[n], root, made[up] if up is not None else None)
    return [made[n] for n in names]


def _order(graph: Graph, root: str) -> tuple[list[str], dict[str, str | None], dict[str, int]]:
    """:func:`chain`'s order as plain data: the names, each one's parent on its longest path (None: the root)
    and its depth. Linear in what lies beneath the root."""
    preorder: dict[str, int] = {}
    reached_by: dict[str, str] = {}
    stack = [(root, iter(graph[root]))]
    while stack:  # depth-first, in the order uses lists the targets
        name, targets = stack[-1]
        target = next(targets, None)
        if target is None:
            stack.pop()
        elif target != root and target not in preorder:
            preorder[target] = len(preorder)
            reached_by[target] = name
            stack.append((target, iter(graph[target])))
    waiting = dict.fromkeys(preorder, 0)
    for caller in preorder:
        for target in graph[caller]:
            if target in waiting:
                waiting[target] += 1
    ready = [(preorder[n], n) for n, w in waiting.items() if not w]
    heapq.heapify(ready)
    names: list[str] = []
    parent: dict[str, str | None] = {}
    depth: dict[str, int] = {}
    while ready:
        _, n = heapq.heappop(ready)
        names.append(n)
        if n not in parent:  # no caller beneath the root: the root calls it
            parent[n], depth[n] = None, 1
        for target in graph[n]:
            if target in waiting and waiting[target]:
                # the first deepest caller (callers are placed in order, ties keep the first)
                if target not in depth or depth[n] + 1 > depth[target]:
                    parent[target], depth[target] = n, depth[n] + 1
                waiting[target] -= 1
                if not waiting[target]:
                    heapq.heappush(ready, (preorder[target], target))
    if len(names) < len(preorder):  # cycles: depth-first, under the service that reached them
        for n in sorted((n for n in preorder if waiting[n]), key=preorder.__getitem__):
            up = reached_by[n]
            parent[n] = None if up == root else up
            depth[n] = depth[up] + 1 if up != root else 1
            names.append(n)
    return names, parent, depth


def everything(spec: Spec) -> list[Dependency]:
    """Every service of the spec, each before the services it uses (ties in the spec's order). ``depth`` and
    ``path`` come from the longest path from a service nobody uses (an entry point); a service only in a cycle
    counts as an entry point."""
    graph = uses_graph(spec)
    used = {t for targets in graph.values() for t in targets}
    entries = [n for n in spec.services if n not in used]
    best: dict[str, Dependency] = {n: top(n) for n in entries}
    for entry in entries:
        for d in chain(spec, entry, graph):
            if d.name not in best or d.depth > best[d.name].depth:
                best[d.name] = d
    rank = {n: i for i, n in enumerate(spec.services)}
    waiting = {n: 0 for n in spec.services}
    for targets in graph.values():
        for t in targets:
            waiting[t] += 1
    ready = [(rank[n], n) for n in spec.services if not waiting[n]]
    order: list[str] = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for t in graph[n]:
            waiting[t] -= 1
            if not waiting[t]:
                heapq.heappush(ready, (rank[t], t))
    placed = set(order)
    order += [n for n in spec.services if n not in placed]  # cycles
    return [best.get(n, top(n)) for n in order]


def reach_counts(graph: Graph) -> dict[str, int]:
    """How many services each one depends on, transitively (itself left out, as :func:`chain` leaves the root
    out): strongly connected components (Tarjan's, without recursion), then the components' reach as bit sets
    in reverse topological order, so a thousand services in one cycle cost a few milliseconds, not a chain each."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    components: list[list[str]] = []  # in reverse topological order: a component after those it reaches
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = len(components)
                    members.append(member)
                    if member == node:
                        break
                components.append(members)
    bit = {name: 1 << i for i, name in enumerate(graph)}
    reach: list[int] = []
    for members in components:  # every component it reaches came before it
        mask = 0
        for m in members:
            mask |= bit[m]
            for t in graph[m]:
                if component[t] != component[m]:
                    mask |= reach[component[t]]
        reach.append(mask)
    return {name: reach[component[name]].bit_count() - 1 for name in graph}  # less itself


DASHBOARD_ROWS = 20  # a service's dashboard graphs this many dependencies; the rest it names (500 widgets at most)


@dataclass(frozen=True)
class Row:
    """What a dashboard shows of one service beneath it: pure data, a fact of the service stack's view
    (``meshspec.infra.sharding``), so the stack reads nothing of the other services' entries. ``environment``:
    where Application Signals has its series (None: ``note`` says why there are none)."""

    name: str
    path: tuple[str, ...] = ()
    environment: str | None = None
    note: str | None = None
    objectives: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()


def objective_words(spec: Spec, name: str) -> tuple[str, ...]:
    """``availability 99.9 %``, ``p99 under 300 ms``: the service's own objectives in words."""
    slo = spec.services[name].slo
    if slo is None:
        return ()
    out = []
    if slo.availability is not None:
        out.append(f"availability {slo.availability} %")
    if slo.latency is not None:
        out.append(f"p{slo.latency.percentile} under {slo.latency.threshold_ms} ms")
    return tuple(out)


def alarm_names(spec: Spec, name: str) -> tuple[str, ...]:
    """Every burn-rate alarm of the service's SLOs (``measured_objectives``), as its stack names them."""
    return tuple(naming.slo_alarm(naming.slo(spec.project, name, kind, major), speed)
                 for major, kind in measured_objectives(spec, name) for speed in ("fast", "slow"))


def rows(spec: Spec, name: str, graph: Graph | None = None, limit: int = DASHBOARD_ROWS,
         ) -> tuple[Row | str, ...]:
    """A row per service beneath ``name``, in dependency order (:func:`chain`): the first ``limit`` complete, the
    rest only their names (nothing more is worked out for them)."""
    names, parent, _ = _order(graph if graph is not None else uses_graph(spec), name)
    out = []
    for n in names[:limit]:
        path = [n]
        while parent[path[-1]] is not None:
            path.append(parent[path[-1]])
        path = (name, *reversed(path))
        svc = spec.services[n]
        words = objective_words(spec, n)
        if svc.cluster is None:
            out.append(Row(n, path, objectives=words, note=(
                "runs on App Engine: its figures are in Cloud Monitoring, `meshspec status` reads them")))
        elif spec.observability.agent != "cloudwatch":
            out.append(Row(n, path, objectives=words, note=(
                "no Application Signals series: the spec keeps the X-Ray daemon (aws.observability.agent)")))
        else:
            out.append(Row(n, path, environment=environment_of(spec, n), objectives=words,
                           alarms=alarm_names(spec, n)))
    return (*out, *names[limit:])


def environment_of(spec: Spec, name: str) -> str:
    """The Application Signals environment an AWS service reports in (``naming.application_signals_environment``
    of its cluster): where its SLOs, dashboards and ``meshspec status`` find its series."""
    cluster = spec.cluster(spec.services[name].cluster)
    return naming.application_signals_environment(cluster.platform, naming.cluster(spec.project, cluster.name))
