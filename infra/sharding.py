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

Everything here is pure: a spec (or names) in, stack names out. ``meshspec.stacks.app.build`` follows this layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from meshspec.infra import naming

if TYPE_CHECKING:  # a type only: the spec's quota checks import this module (stack_quotas)
    from meshspec.infra.spec.model import Spec


@dataclass(frozen=True)
class StackPlacement:
    name: str
    kind: str  # shared | cluster | service | queries
    services: tuple[str, ...] = ()  # services whose resources live in this stack
    cluster: str | None = None
    depends_on: tuple[str, ...] = ()  # stacks that must be deployed first


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
    out = [StackPlacement(shared, "shared")]
    out += [StackPlacement(naming.stack_cluster(p, c.name), "cluster", cluster=c.name, depends_on=(shared,))
            for c in spec.aws.clusters]
    for name, svc in spec.aws_services().items():
        out.append(StackPlacement(stack_of(p, name), "service", (name,), svc.cluster,
                                  (shared, naming.stack_cluster(p, svc.cluster))))
    queries = shared_queries(spec)
    if queries:
        members = sorted({s for q in queries for s in query_members(spec, q)})
        out.append(StackPlacement(naming.stack_queries(p), "queries", tuple(members),
                                  depends_on=tuple(stack_of(p, s) for s in members)))
    return out


def placement(spec: Spec) -> dict[str, str]:
    """Service → the stack that holds its resources (AWS services only)."""
    return assign(spec.project, spec.aws_services())


def for_services(spec: Spec, services: Iterable[str]) -> list[str]:
    """The stacks a partial synth of ``services`` writes, in deployment order: their stacks, and the shared and
    cluster stacks always (an EKS cluster tags the shared VPC's subnets, so the shared stack's template depends
    on every cluster stack being built; they are small)."""
    want = {stack_of(spec.project, s) for s in services}
    return [s.name for s in layout(spec) if s.kind in ("shared", "cluster") or s.name in want]
