"""A zero-downtime plan off App Mesh: bring the new backend in beside it, move the callers over one at a time,
then retire App Mesh. Pure: a loaded spec in, a plan out (steps with the spec edits for each); nothing is sent.

App Mesh and its successor can run at once because they do not share names: Service Connect uses its own Cloud
Map HTTP namespace (``<project>-service-connect``), Lattice its own service network and custom names
(``<service>.<project>.lattice.internal``). While ``aws.mesh.migration`` is set the stacks build the incoming
backend beside the mesh (Lattice: in the same tasks; Service Connect: a second ECS service per service, since its
proxy cannot share a task with Envoy). Every workload learns where its dependencies answer from
``MESHSPEC_UPSTREAM_<SERVICE>`` variables; a service listed in ``migration.moved`` gets the new backend's names
(Lattice, with its Envoy letting Lattice's addresses through) or stops its App Mesh tasks (Service Connect).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from meshspec.infra import naming
from meshspec.infra.errors import UserError
from meshspec.infra.spec.errors import Problems
from meshspec.infra.spec.model import Spec, live_majors, shares

TARGETS = ("lattice", "service-connect")
LABEL = {"appmesh": "App Mesh", "lattice": "VPC Lattice", "service-connect": "ECS Service Connect"}


@dataclass(frozen=True)
class Edit:
    """One change to the spec file, at a key path as users write it."""

    path: str
    action: Literal["set", "remove"]
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "action": self.action}
        if self.action == "set":
            out["value"] = self.value
        return out

    def render(self) -> str:
        if self.action == "remove":
            return f"remove {self.path}"
        return f"set {self.path}: {_yaml_inline(self.value)}"


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    why: str
    edits: tuple[Edit, ...]
    run: tuple[str, ...]
    verify: tuple[str, ...]
    rollback: str
    done: bool = False
    effect: tuple[str, ...] = ()  # what the deploy changes in the running workloads

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "why": self.why, "done": self.done,
                "edits": [e.to_json() for e in self.edits], "run": list(self.run), "effect": list(self.effect),
                "verify": list(self.verify), "rollback": self.rollback}


@dataclass(frozen=True)
class MigrationPlan:
    source: str
    target: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "steps": [s.to_json() for s in self.steps],
                "notes": list(self.notes)}

    def render_text(self) -> str:
        lines = [f"Migration plan: {LABEL[self.source]} -> {LABEL[self.target]} "
                 f"({len(self.steps)} steps, zero downtime)"]
        for i, s in enumerate(self.steps, start=1):
            lines += ["", f"{i}. {s.title}" + ("  [done]" if s.done else ""), f"   why: {s.why}"]
            for header, mark, items in (("spec edits", "-", [e.render() for e in s.edits]), ("run", "$", s.run),
                                        ("what the deploy changes", "-", s.effect),
                                        ("verify before the next step", "-", s.verify)):
                if items:
                    lines.append(f"   {header}:")
                    lines += [f"     {mark} {x}" for x in items]
            lines.append(f"   rollback: {s.rollback}")
        if self.notes:
            lines += ["", "notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def plan_migration(spec: Spec, to: str, *, spec_file: str = "SPEC") -> MigrationPlan:
    """The steps from the spec as it is to ``aws.mesh.backend: <to>``, resuming a migration already under way."""
    if to not in TARGETS:
        raise UserError(f"cannot migrate to {to!r}", hint=f"choose one of: {', '.join(TARGETS)}")
    aws_services = spec.aws_services()
    if spec.aws is None or not aws_services:
        raise UserError("the spec has no services on AWS clusters: there is no mesh to migrate",
                        hint="migrate applies to services with a cluster:")
    mesh = spec.aws.mesh
    if mesh.backend == to:
        raise UserError(f"the spec already uses backend: {to}; there is nothing to migrate")
    if mesh.backend != "appmesh":
        raise UserError(f"migrate moves off App Mesh; this spec uses backend: {mesh.backend}",
                        hint=f"meshspec has no side-by-side plan from {mesh.backend} to {to}: set aws.mesh.backend "
                             "and redeploy in a maintenance window")
    if mesh.migration is not None and mesh.migration.to != to:
        raise UserError(f"a migration to {mesh.migration.to} is under way (aws.mesh.migration.to)",
                        hint=f"finish it, or roll it back by removing aws.mesh.migration, before migrating to {to}")

    prepare = _prepare_edits(spec, to)
    _refuse_blockers(spec, to, prepare)

    validate = f"meshspec validate {spec_file}"
    deploy = "cdk deploy --all"
    steps: list[Step] = []
    in_progress = mesh.migration is not None
    if prepare:
        steps.append(Step(
            id="prepare", title="Settle every service on one code version",
            why=f"{LABEL[to]} runs one revision per service, keeps no lasting split and matches no header or "
                "cookie; finish (or roll back) running splits and A/B tests while App Mesh still carries the traffic",
            edits=tuple(prepare),
            run=(f"meshspec traffic shift {spec_file} (per service, as the edits say)", validate, deploy),
            verify=("each service's old version takes no traffic (meshspec traffic status)",),
            rollback="restore the previous shares; App Mesh routes still carry all traffic",
            done=in_progress))
    migration_value: dict[str, Any] = {"to": to, "moved": []}
    beside_edits = [Edit("aws.mesh.migration", "set", migration_value)]
    if to == "service-connect" and mesh.deployment is None:
        beside_edits.append(Edit("aws.mesh.deployment", "set", {
            "strategy": "canary", "percent": 5, "stepMinutes": 10, "bakeMinutes": 10, "rollbackOnAlarm": True}))
    steps.append(Step(
        id="beside", title=f"Run {LABEL[to]} beside App Mesh",
        why="the new backend's resources come up next to App Mesh's under their own names; every caller still "
            "goes through its Envoy sidecar, so nothing changes for traffic yet",
        edits=tuple(beside_edits), run=(validate, deploy), effect=_beside_effect(spec, to), verify=_ready_checks(to),
        rollback="remove aws.mesh.migration and deploy: the new backend's resources are deleted, App Mesh never "
                 "stopped", done=in_progress))
    callers_of = _callers_of(spec)
    callers = [n for n, s in aws_services.items() if any(u.split("/")[0] in aws_services for u in s.uses)]
    others = [n for n in aws_services if n not in callers]
    moved_now = list(mesh.migration.moved) if in_progress else []
    moved: list[str] = []
    for group in _move_order(callers, callers_of, to):
        before = list(moved)
        moved.extend(group)
        steps.append(_move_step(spec, to, group, before, list(moved), validate, deploy, moved_now))
    retire = [Edit("aws.mesh.backend", "set", to), Edit("aws.mesh.migration", "remove")]
    if "egress_filter" in mesh.model_fields_set:
        retire.append(Edit("aws.mesh.egressFilter", "remove"))
    if to == "service-connect" and mesh.name is not None:  # it named the mesh; Service Connect's namespace is the project's
        retire.append(Edit("aws.mesh.name", "remove"))
    services_first = f"cdk deploy --exclusively '{naming.stack_service(spec.project, '*')}'"
    steps.append(Step(
        id="retire", title="Retire App Mesh",
        why="no caller uses App Mesh any more; its mesh, virtual nodes, routers, routes and Envoy sidecars go",
        edits=tuple(retire), run=(validate, services_first, deploy),
        effect=("the service stacks first: their virtual nodes, routers, routes and App Mesh tasks go (App Mesh "
                "deletes a mesh only once it is empty, and the shared stack that owns it deploys before them)",
                "then the shared stack deletes the mesh",
                *(("each ECS service <service> keeps running unchanged and gets its 5xx rollback alarm",)
                  if to == "service-connect" else
                  ("every task loses its Envoy; callers keep the Lattice names they already have",))),
        verify=("App Mesh carried no request for a full day before this step (Envoy RequestCount at 0)",
                "after the deploy: no AWS::AppMesh::* resource left in the stacks"),
        rollback="none by a switch: App Mesh reached end of support on 2026-09-30, so recreating it is not a "
                 "supported path; stay at the previous step until you are sure"))
    notes = [f"{', '.join(others)} call no AWS service through the mesh: no step moves their calls, and their "
             "App Mesh side goes with the last step"] if others else []
    if to == "lattice":
        notes.append("EKS pods join Lattice through meshspec's registrar sidecar, which registers each pod in "
                     "its version's target group (no controller needed; docs/aws.md)")
        notes.append("a moved caller signs its requests with SigV4 (service vpc-lattice-svcs, its task role): "
                     "Lattice's auth policies refuse unsigned calls; that is the one change in the app beyond "
                     "reading MESHSPEC_UPSTREAM_<SERVICE>")
    else:
        notes.append("traffic that enters a service from outside the mesh (a load balancer) is not moved by these "
                     "steps: point it at the ECS service <service> before that service's App Mesh tasks stop")
    notes.append("App Engine services are outside the mesh on every backend and are not touched")
    return MigrationPlan(source="appmesh", target=to, steps=tuple(steps), notes=tuple(notes))


def _callers_of(spec: Spec) -> dict[str, set[str]]:
    aws = spec.aws_services()
    out: dict[str, set[str]] = {n: set() for n in aws}
    for name, svc in aws.items():
        for ref in svc.uses:
            target = ref.split("/")[0]
            if target in aws and target != name:
                out[target].add(name)
    return out


def _move_order(callers: list[str], callers_of: dict[str, set[str]], to: str) -> list[list[str]]:
    """Lattice: one caller at a time in spec order (every service answers on both backends). Service Connect: a
    service stops its App Mesh tasks when it moves, so its callers go first; callers that call each other in a
    cycle move together."""
    if to == "lattice":
        return [[n] for n in callers]
    order: list[list[str]] = []
    done: set[str] = set()
    left = list(callers)
    while left:
        ready = [n for n in left if not (callers_of[n] - done - {n})]
        groups = [[n] for n in ready] if ready else [left]
        for g in groups:
            order.append(g)
            done.update(g)
        left = [n for n in left if n not in done]
    return order


def _move_step(spec: Spec, to: str, group: list[str], before: list[str], moved: list[str], validate: str,
               deploy: str, moved_now: list[str]) -> Step:
    aws = spec.aws_services()
    who = " and ".join(group)
    callees = sorted({u.split("/")[0] for n in group for u in aws[n].uses if u.split("/")[0] in aws} - set(group)
                     or {u.split("/")[0] for n in group for u in aws[n].uses if u.split("/")[0] in aws})
    rollback = f"set aws.mesh.migration.moved back to {_yaml_inline(before)} and deploy"
    if to == "lattice":
        name = group[0]
        urls = ", ".join(f"{naming.upstream_variable(c)}={naming.lattice_endpoint(spec.project, c, aws[c].protocol)}"
                         for c in callees)
        effect = [f"ECS replaces {name}'s tasks: {urls} (Lattice's custom names; App Mesh's virtual service names "
                  f"before), and its Envoy lets {', '.join(_lattice_ranges())} through, so those calls leave the "
                  "task straight for Lattice; calls to " + name + " still arrive through App Mesh"]
        if spec.cluster(aws[name].cluster).platform == "eks":
            effect = [effect[0].replace("ECS replaces", "Kubernetes replaces").replace("tasks", "pods")
                      .replace("its Envoy", "its proxy init container")]
        return Step(
            id=f"move-{name}", title=f"Move {name}'s calls to {LABEL[to]}",
            why=f"{name} calls {', '.join(callees)}; they answer on both backends, so switching this one caller "
                "is invisible to the others",
            edits=(Edit("aws.mesh.migration.moved", "set", list(moved)),), run=(validate, deploy),
            effect=tuple(effect),
            verify=(f"{name}'s 5xx rate and p99 latency unchanged (meshspec traffic status, its dashboard)",
                    f"CloudWatch AWS/VpcLattice RequestCount of {', '.join(naming.lattice_service(spec.project, c) for c in callees)} "
                    f"rises with {name}'s traffic",
                    f"App Mesh shows no more requests from {name} (Envoy RequestCount for its routes at 0)"),
            rollback=rollback + f": ECS rolls {name}'s tasks back to App Mesh's names and an Envoy that intercepts "
                                "every call",
            done=set(moved) <= set(moved_now))
    return Step(
        id="move-" + "-".join(group), title=f"Move {who} to {LABEL[to]}",
        why=f"{who} already runs as ECS service{'s' if len(group) > 1 else ''} {who} with Service Connect (the "
            f"beside step); every service that calls {'them' if len(group) > 1 else 'it'} has moved, so "
            "nothing reaches its App Mesh tasks any more",
        edits=(Edit("aws.mesh.migration.moved", "set", list(moved)),), run=(validate, deploy),
        effect=(f"the App Mesh ECS services of {who} scale to 0 tasks; ECS service{'s' if len(group) > 1 else ''} "
                f"{who} (Service Connect) serve{'' if len(group) > 1 else 's'} all of {'their' if len(group) > 1 else 'its'} "
                f"traffic and call {', '.join(callees)} through Service Connect "
                f"({', '.join(naming.mesh_endpoint(spec.project, c, aws[c].port) for c in callees)}, resolved by "
                "its proxy)",),
        verify=(f"{who}: 5xx rate and p99 latency unchanged (CloudWatch AWS/ECS by DiscoveryName, the dashboard)",
                f"App Mesh shows no more requests to or from {who} (Envoy RequestCount at 0)"),
        rollback=rollback + f": {who}'s App Mesh tasks start again (App Mesh still routes to them)",
        done=set(moved) <= set(moved_now))


def _lattice_ranges() -> tuple[str, ...]:
    return ("169.254.171.0/24",)  # meshspec.constructs_lib.lattice.LINK_LOCAL_IPV4 (infra does not import CDK)


def _beside_effect(spec: Spec, to: str) -> tuple[str, ...]:
    if to == "lattice":
        return (f"the shared stack adds the service network and the private zone {naming.lattice_zone(spec.project)}",
                "every service gets a Lattice service with its custom name, target groups, rules and auth policy; "
                "its ECS tasks and EKS pods also register in the target groups (Envoy stays; App Mesh carries "
                "every call)")
    ecs = [n for n, s in spec.aws_services().items() if spec.cluster(s.cluster).platform == "ecs"]
    return (f"the shared stack adds the Cloud Map namespace {naming.service_connect_namespace(spec.project)}",
            f"each ECS service also runs as ECS service <service> ({', '.join(ecs)}) with Service Connect and no "
            "Envoy, running the version with 100 %, at the same task count: callers through Service Connect find "
            "it; App Mesh's callers still reach only the App Mesh tasks")


def _prepare_edits(spec: Spec, to: str) -> list[Edit]:
    """Service Connect only: end A/B tests (it matches no header or cookie) and give each service's busiest
    version 100 % (ties: the later, newer one)."""
    if to != "service-connect":
        return []
    edits: list[Edit] = []
    for name, svc in spec.aws_services().items():
        for major, m in svc.majors.items():
            edits += [Edit(f"services.{name}.majors.{major}.{key}", "remove")
                      for key, value in (("cohorts", m.cohorts), ("sticky", m.sticky)) if value]
    for name, svc in spec.aws_services().items():
        majors = list(live_majors(svc))
        taking = {m: [v for v, s in shares(svc, m).items() if s > 0] for m in majors}
        winners = {vs[0] for vs in taking.values() if len(vs) == 1}
        if all(len(vs) <= 1 for vs in taking.values()) and len(winners) <= 1:
            continue
        total = {v.name: sum((shares(svc, m)[v.name] for m in majors), Decimal(0)) for v in svc.versions}
        best = max(enumerate(svc.versions), key=lambda iv: (total[iv[1].name], iv[0]))[1].name
        for i, v in enumerate(svc.versions):
            want = 100 if v.name == best else 0
            if v.traffic != want:
                edits.append(Edit(f"services.{name}.versions[{i}].traffic", "set", want))
    return edits


def _refuse_blockers(spec: Spec, to: str, prepare: list[Edit]) -> None:
    """What no edit of this plan can fix (an EKS service on Service Connect, a name Lattice refuses)."""
    from meshspec.infra.spec import checks

    data = spec.model_dump(by_alias=True, exclude_unset=True)
    for e in prepare:
        _apply(data, e)
    trial = Spec.model_validate(data)
    problems = Problems(file="(plan)")
    (checks._check_service_connect if to == "service-connect" else checks._check_lattice)(trial, problems)
    checks.cohorts.BACKEND_RULES[to](trial, problems)  # A/B cohorts the incoming backend cannot match
    if problems.errors:
        details = "; ".join(f"{e.key_path}: {e.message}" for e in problems.errors)
        hint = (problems.errors[0].hint or "") if len(problems.errors) == 1 else \
            "fix these in the spec first (meshspec validate shows them once aws.mesh.migration is set)"
        raise UserError(f"{LABEL[to]} cannot run this spec as it is: {details}", hint=hint or None,
                        details=[e.to_json() for e in problems.errors])


def apply_edits(data: dict, edits: list[Edit]) -> dict:
    """The spec document (as loaded from YAML) after ``edits``: what each step leaves behind; for tests/tools."""
    out = copy.deepcopy(data)
    for e in edits:
        _apply(out, e)
    return out


def _apply(doc: dict, edit: Edit) -> None:
    keys = _split_path(edit.path)
    node: Any = doc
    for k in keys[:-1]:
        if isinstance(k, int):
            node = node[k]
        else:
            node = node.setdefault(k, {})
    last = keys[-1]
    if edit.action == "remove":
        if isinstance(node, dict):
            node.pop(last, None)
    else:
        node[last] = copy.deepcopy(edit.value)


def _split_path(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        out.append(name)
        while rest:
            idx, _, rest = rest.partition("]")
            out.append(int(idx))
            rest = rest.lstrip("[")
    return out


def _yaml_inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_inline(v) for v in value) + "]"
    return str(value)


def _ready_checks(to: str) -> tuple[str, ...]:
    if to == "lattice":
        return ("every target group shows its tasks healthy (aws vpc-lattice list-targets)",
                "a test call from a task in the VPC to http://<service>.<project>.lattice.internal answers 2xx under "
                "the auth policy (signed with SigV4; http2 and grpc services answer HTTPS on 443, see "
                "docs/backends.md)")
    return ("each ECS service <service> (Service Connect) reports a steady state (aws ecs describe-services)",
            "a test call from a task of one of them to <service>.<project>.local through the Service Connect "
            "proxy answers 2xx")
