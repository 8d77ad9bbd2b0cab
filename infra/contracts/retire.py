"""The three deploys that retire an API major, read off the spec: what is done and what blocks the next.

1. publish the new major beside the old one (both served, the old one deprecated, ideally with a sunset);
2. move each consumer to the new major (one deploy per consumer, in any order, on any platform);
3. remove the old major and its compatibility code (``status: retired`` or the entry deleted).
Each deploy is independent, so any of them can be rolled back on its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshspec.infra.errors import UserError
from meshspec.infra.spec import Spec, major_path

from .check import consumers, major_number, next_major, platform
from .documents import Op, find


@dataclass(frozen=True)
class Step:
    text: str
    done: bool


@dataclass(frozen=True)
class Deploy:
    number: int
    title: str
    done: bool
    steps: tuple[Step, ...] = ()
    blocked: str | None = None  # why it cannot go out yet; None when it can (or is done)


@dataclass(frozen=True)
class Endpoint:
    """One operation of the major and who still calls it: with no caller it can go now, before the major does."""

    operation: str
    callers: tuple[str, ...]
    deprecated: bool = False

    @property
    def removable(self) -> bool:
        return not self.callers


@dataclass
class RetirePlan:
    service: str
    major: str
    successor: str | None
    deploys: list[Deploy] = field(default_factory=list)
    broken: str | None = None  # the spec already breaks the retirement rule
    endpoints: list[Endpoint] = field(default_factory=list)  # empty when the contract was not read
    whole: tuple[str, ...] = ()  # consumers that name only the major: they call every endpoint

    @property
    def done(self) -> bool:
        return all(d.done for d in self.deploys)

    @property
    def next(self) -> Deploy | None:
        return next((d for d in self.deploys if not d.done), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "contracts retire-plan",
            "service": self.service,
            "major": self.major,
            "successor": self.successor,
            "done": self.done,
            "next": self.next.number if self.next else None,
            "broken": self.broken,
            "deploys": [{"number": d.number, "title": d.title, "done": d.done, "blocked": d.blocked,
                         "steps": [{"text": s.text, "done": s.done} for s in d.steps]} for d in self.deploys],
            "endpoints": [{"operation": e.operation, "callers": list(e.callers), "removable": e.removable,
                           "deprecated": e.deprecated} for e in self.endpoints],
            "callsEverything": list(self.whole),
        }

    def render(self) -> str:
        lines = [f"Retiring {self.service}/{self.major}" + (f" in favour of {self.successor}" if self.successor else "")]
        for d in self.deploys:
            lines.append(f"{'[x]' if d.done else '[ ]'} deploy {d.number}: {d.title}")
            lines.extend(f"      {'[x]' if s.done else '[ ]'} {s.text}" for s in d.steps)
            if d.blocked:
                lines.append(f"      blocked: {d.blocked}")
        if self.endpoints:
            lines.append(f"endpoints of {self.service}/{self.major} (each can go once nobody calls it):")
            for e in self.endpoints:
                mark = "[x]" if e.removable else "[ ]"
                who = "nobody calls it: remove it from the contract now (not breaking)" if e.removable else \
                    f"called by {', '.join(e.callers)}"
                lines.append(f"  {mark} {e.operation}{' (deprecated)' if e.deprecated else ''}: {who}")
            if self.whole:
                lines.append(f"  {', '.join(self.whole)} name{'s' if len(self.whole) == 1 else ''} only the major, "
                             "so call every endpoint: list the operations called (uses: - "
                             f"{self.service}/{self.major}: [METHOD /path, ...]) to retire it endpoint by endpoint")
        if self.broken:
            lines.append(f"error: {self.broken}")
        nxt = self.next
        if nxt is None:
            lines.append("all three deploys are done")
        elif nxt.blocked:
            lines.append(f"next: deploy {nxt.number}, blocked: {nxt.blocked}")
        else:
            todo = "; ".join(s.text for s in nxt.steps if not s.done)
            lines.append(f"next: deploy {nxt.number} ({nxt.title}): nothing blocks it" + (f"; to do: {todo}" if todo else ""))
        return "\n".join(lines)


def retire_plan(spec: Spec, service: str, major: str, ops: dict[str, Op] | None = None) -> RetirePlan:
    """Pure: the plan for retiring ``service/major`` as far as the spec tells; with the operations of its
    contract (``documents.operations``), who calls each endpoint too."""
    svc = spec.services.get(service)
    if svc is None:
        raise UserError(f"{service!r} is not a service in this spec",
                        hint=f"services: {', '.join(sorted(spec.services))[:300]}")
    known = ", ".join(svc.majors)
    if major[:1] != "v" or not major[1:].isdigit() or major[1:].startswith("0"):
        raise UserError(f"{major!r} is not a major name", hint=f"a 'v' and a number; {service} has {known}")
    m = svc.majors.get(major)
    if m is None and major_number(major) > max(major_number(k) for k in svc.majors):
        raise UserError(f"{service} has no major {major}", hint=f"{service} has {known}")
    ref = f"{service}/{major}"
    newer = sorted((k for k, x in svc.majors.items() if major_number(k) > major_number(major) and x.status == "active"),
                   key=major_number)
    successor = newer[0] if newer else None
    target = successor or next_major(svc)
    users = consumers(spec, service, major)
    removed = m is None or m.status == "retired"

    # Deploy 1: the successor serves beside the old major, which is deprecated (a sunset date warns consumers).
    steps1 = [Step(f"{service}/{target} is in the spec, active, with its own contract", successor is not None)]
    if not removed:
        sunset = f" (sunset {m.sunset})" if m.sunset else " (add a sunset date: consumers get warned, then refused)"
        steps1.append(Step(f"{ref} is marked deprecated{sunset}", m.status == "deprecated"))
    d1 = Deploy(1, f"publish {service}/{target} beside {major}", successor is not None or removed, tuple(steps1))

    # Deploy 2: each consumer moves in its own deploy, on whatever platform it runs.
    movers = [n for n, s in spec.services.items() if n != service and any(u.startswith(f"{service}/") for u in s.uses)]
    steps2 = tuple(Step(f"{n} ({platform(spec, n)}) " + (f"still uses {ref}" if n in users else "uses " + ", ".join(
        u for u in spec.services[n].uses if u.startswith(f"{service}/"))), n not in users) for n in movers)
    d2 = Deploy(2, f"move each consumer from {major} to {target}", not users, steps2,
                blocked=None if d1.done or not users else f"deploy 1 first: {service}/{target} is not published")

    # Deploy 3: the old major goes, with the code that served it.
    steps3 = (Step(f"majors.{major} removed from {service} or marked status: retired", removed),
              Step(f"the code versions stop serving {major} (routes and compatibility code deleted)", removed))
    waiting = ", ".join(f"{u} ({platform(spec, u)})" for u in users)
    d3 = Deploy(3, f"remove {ref} and its compatibility code", removed and not users, steps3,
                blocked=f"{len(users)} consumer(s) still use {ref}: {waiting}" if users else None)

    plan = RetirePlan(service, major, successor, [d1, d2, d3])
    if ops and m is not None and not removed:
        plan.endpoints, plan.whole = _endpoints(spec, service, major, major_path(service, major, m), ops, users)
    if removed and users:
        plan.broken = (f"{ref} is already {'retired' if m else 'removed'}, but {waiting} still use it: the "
                       "retirement rule is broken; put the major back or move them in this change")
    return plan


def _endpoints(spec: Spec, service: str, major: str, prefix: str, ops: dict[str, Op],
               users: list[str]) -> tuple[list[Endpoint], tuple[str, ...]]:
    ref = f"{service}/{major}"
    whole = tuple(u for u in users if spec.services[u].calls.get(ref, ()) is None)
    named: dict[str, list[str]] = {}
    for u in users:
        for n in spec.services[u].calls.get(ref) or ():
            op = find(ops, prefix, n)
            if op is not None:
                named.setdefault(op.route, []).append(u)
    out = [Endpoint(op.key, tuple(u for u in users if u in whole or u in named.get(route, ())), op.deprecated)
           for route, op in ops.items()]
    return out, whole
