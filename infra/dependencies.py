"""The services beneath a service: everything it depends on through ``uses``, transitively, in dependency order.

One function, read by the dashboards (a row per dependency) and by ``meshspec status`` (which names the deepest
failing one as the likely cause), so both show the same services in the same order.
"""
from __future__ import annotations

from dataclasses import dataclass

from .spec.model import Spec


@dataclass(frozen=True)
class Dependency:
    """One service beneath the root: ``depth`` is the length of the longest ``uses`` path from the root to it,
    ``path`` that path (the root first, the service last)."""

    name: str
    depth: int
    path: tuple[str, ...]


def uses_of(spec: Spec, name: str) -> list[str]:
    """The services ``name`` calls, once each, in the order ``uses`` lists them (itself left out)."""
    return [t for t in dict.fromkeys(ref.split("/", 1)[0] for ref in spec.services[name].uses)
            if t != name and t in spec.services]


def chain(spec: Spec, root: str) -> list[Dependency]:
    """Every service ``root`` depends on, each before the services it uses (a topological order; among services
    ready at the same time, the one reached first depth-first along ``uses``). A cycle cannot be ordered: its
    services follow, depth-first, with the depth of the path that found them."""
    preorder: dict[str, int] = {}
    found: dict[str, tuple[str, ...]] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        for target in uses_of(spec, name):
            if target == root or target in preorder:
                continue
            preorder[target] = len(preorder)
            found[target] = (*path, target)
            visit(target, found[target])

    visit(root, (root,))
    nodes = set(preorder)
    callers: dict[str, list[str]] = {n: [] for n in preorder}
    for caller in preorder:  # in preorder, so ties between paths resolve the same way every run
        for target in uses_of(spec, caller):
            if target in nodes:
                callers[target].append(caller)
    waiting = {n: len(callers[n]) for n in nodes}
    ready = sorted((n for n in nodes if not waiting[n]), key=preorder.get)
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for target in uses_of(spec, n):
            if target in waiting and waiting[target]:
                waiting[target] -= 1
                if not waiting[target]:
                    ready = sorted([*ready, target], key=preorder.get)
    cyclic = sorted(nodes - set(order), key=preorder.get)
    paths: dict[str, tuple[str, ...]] = {}
    for n in order:  # the longest path: through the deepest caller already placed, else straight from the root
        via = [paths[c] for c in callers[n] if c in paths]
        paths[n] = (*max(via, key=len), n) if via else (root, n)
    for n in cyclic:
        paths[n] = found[n]
    return [Dependency(n, len(paths[n]) - 1, paths[n]) for n in [*order, *cyclic]]


def everything(spec: Spec) -> list[Dependency]:
    """Every service of the spec, each before the services it uses (ties in the spec's order). ``depth`` and
    ``path`` come from the longest path from a service nobody uses (an entry point); a service only in a cycle
    counts as an entry point."""
    used = {t for n in spec.services for t in uses_of(spec, n)}
    entries = [n for n in spec.services if n not in used]
    best: dict[str, Dependency] = {n: Dependency(n, 0, (n,)) for n in entries}
    for entry in entries:
        for d in chain(spec, entry):
            if d.name not in best or d.depth > best[d.name].depth:
                best[d.name] = d
    rank = {n: i for i, n in enumerate(spec.services)}
    waiting = {n: 0 for n in spec.services}
    for n in spec.services:
        for t in uses_of(spec, n):
            waiting[t] += 1
    ready = [n for n in spec.services if not waiting[n]]
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for t in uses_of(spec, n):
            waiting[t] -= 1
            if not waiting[t]:
                ready = sorted([*ready, t], key=rank.get)
    order += [n for n in spec.services if n not in order]  # cycles
    return [best.get(n, Dependency(n, 0, (n,))) for n in order]
