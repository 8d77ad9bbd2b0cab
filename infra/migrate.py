"""A zero-downtime plan off a backend that hosts migrations: bring the new backend in beside it, move the callers
over one at a time, then retire the old one. Pure: a loaded spec in, a plan out (steps with the spec edits for
each); nothing is sent.

The two backends can run at once because they do not share names (each backend's own names). While
``aws.mesh.migration`` is set the stacks build the incoming backend beside the host, in the same tasks or as a
second workload per service (``meshspec.infra.mesh.Backend.joins``). Every workload learns where its dependencies
answer from ``MESHSPEC_UPSTREAM_<SERVICE>`` variables; a service listed in ``migration.moved`` gets the new
backend's names, or stops its tasks on the host. The steps are the skeleton here; what each says comes from the
host (:class:`Host`) and the incoming backend (:class:`Target`).
"""
from __future__ import annotations

import abc
import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from meshspec.infra import naming
from meshspec.infra.errors import UserError
from meshspec.infra.mesh import registry
from meshspec.infra.spec import checks, cohorts
from meshspec.infra.spec.errors import Problems
from meshspec.infra.spec.model import Spec


def targets() -> list[str]:
    """The backends ``meshspec migrate --to`` offers, by name."""
    return sorted(b.name for b in registry.migration_targets())


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
        return f"set {self.path}: {yaml_inline(self.value)}"


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
        lines = [f"Migration plan: {registry.get(self.source).title} -> {registry.get(self.target).title} "
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


class Host(abc.ABC):
    """What the backend a migration moves off says in the plan (``Backend.migration_host``)."""

    title: str

    @abc.abstractmethod
    def beside_why(self) -> str:
        """Why the beside step changes nothing for traffic."""

    def retire_edits(self, spec: Spec) -> list[Edit]:
        """Its own settings the retire step removes. Default: none."""
        return []

    @abc.abstractmethod
    def retire_why(self) -> str: ...

    @abc.abstractmethod
    def retire_effect(self) -> tuple[str, ...]:
        """What deploying the retire step removes, before the incoming backend's own lines."""

    @abc.abstractmethod
    def retire_verify(self) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def retire_rollback(self) -> str: ...


class Target(abc.ABC):
    """What the backend coming in says in the plan (``Backend.migration_target``)."""

    title: str

    def prepare_edits(self, spec: Spec) -> list[Edit]:
        """Edits the spec needs before the new backend can run it. Default: none."""
        return []

    def prepare_step(self, spec: Spec, edits: list[Edit], host: Host, spec_file: str, validate: str, deploy: str,
                     done: bool) -> Step:
        """The step that makes :meth:`prepare_edits` (only asked when there are some)."""
        raise NotImplementedError

    def beside_edits(self, spec: Spec) -> list[Edit]:
        """Settings the new backend needs, set with ``aws.mesh.migration``. Default: none."""
        return []

    @abc.abstractmethod
    def beside_effect(self, spec: Spec) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def ready_checks(self) -> tuple[str, ...]:
        """What to verify before the first service moves."""

    @abc.abstractmethod
    def move_order(self, callers: list[str], callers_of: dict[str, set[str]]) -> list[list[str]]:
        """The callers in the groups they move in, in order."""

    @abc.abstractmethod
    def move_step(self, spec: Spec, host: Host, group: list[str], before: list[str], moved: list[str],
                  validate: str, deploy: str, moved_now: list[str]) -> Step: ...

    def retire_edits(self, spec: Spec) -> list[Edit]:
        """Settings of the host's it has no use for, which the retire step removes. Default: none."""
        return []

    @abc.abstractmethod
    def retire_effect(self) -> tuple[str, ...]:
        """What stays of each service once the host's resources go."""

    def notes(self, spec: Spec) -> list[str]:
        return []


def plan_migration(spec: Spec, to: str, *, spec_file: str = "meshspec.yaml") -> MigrationPlan:
    """The steps from the spec as it is to ``aws.mesh.backend: <to>``, resuming a migration already under way."""
    if to not in targets():
        raise UserError(f"cannot migrate to {to!r}", hint=f"choose one of: {', '.join(targets())}")
    aws_services = spec.aws_services()
    if spec.aws is None or not aws_services:
        raise UserError("the spec has no services on AWS clusters: there is no mesh to migrate",
                        hint="migrate applies to services with a cluster:")
    mesh = spec.aws.mesh
    if mesh.backend == to:
        raise UserError(f"the spec already uses backend: {to}; there is nothing to migrate")
    source = registry.primary(spec)
    if not source.hosts_migration:
        raise UserError(f"migrate moves off {registry.titles(registry.hosts())}; this spec uses backend: "
                        f"{mesh.backend}",
                        hint=f"meshspec has no side-by-side plan from {mesh.backend} to {to}: set aws.mesh.backend "
                             "and redeploy in a maintenance window")
    if mesh.migration is not None and mesh.migration.to != to:
        raise UserError(f"a migration to {mesh.migration.to} is under way (aws.mesh.migration.to)",
                        hint=f"finish it, or roll it back by removing aws.mesh.migration, before migrating to {to}")
    host: Host = source.migration_host()
    incoming = registry.get(to)
    target: Target = incoming.migration_target()

    prepare = target.prepare_edits(spec)
    _refuse_blockers(spec, to, prepare)

    validate = f"meshspec validate {spec_file}"
    deploy = "meshspec cdk deploy --all"
    steps: list[Step] = []
    in_progress = mesh.migration is not None
    if prepare:
        steps.append(target.prepare_step(spec, prepare, host, spec_file, validate, deploy, done=in_progress))
    migration_value: dict[str, Any] = {"to": to, "moved": []}
    beside_edits = [Edit("aws.mesh.migration", "set", migration_value), *target.beside_edits(spec)]
    steps.append(Step(
        id="beside", title=f"Run {target.title} beside {host.title}",
        why=host.beside_why(), edits=tuple(beside_edits), run=(validate, deploy), effect=target.beside_effect(spec),
        verify=target.ready_checks(),
        rollback=f"remove aws.mesh.migration and deploy: the new backend's resources are deleted, {host.title} never "
                 "stopped", done=in_progress))
    callers_of = _callers_of(spec)
    callers = [n for n, s in aws_services.items() if any(u.split("/")[0] in aws_services for u in s.uses)]
    others = [n for n in aws_services if n not in callers]
    moved_now = list(mesh.migration.moved) if in_progress else []
    moved: list[str] = []
    for group in target.move_order(callers, callers_of):
        before = list(moved)
        moved.extend(group)
        steps.append(target.move_step(spec, host, group, before, list(moved), validate, deploy, moved_now))
    retire = [Edit("aws.mesh.backend", "set", to), Edit("aws.mesh.migration", "remove"), *host.retire_edits(spec),
              *target.retire_edits(spec)]
    services_first = f"meshspec cdk deploy --exclusively '{naming.stack_service(spec.project, '*')}'"
    steps.append(Step(
        id="retire", title=f"Retire {host.title}", why=host.retire_why(), edits=tuple(retire),
        run=(validate, services_first, deploy), effect=(*host.retire_effect(), *target.retire_effect()),
        verify=host.retire_verify(), rollback=host.retire_rollback()))
    notes = [f"{', '.join(others)} call no AWS service through the mesh: no step moves their calls, and their "
             f"{host.title} side goes with the last step"] if others else []
    notes += target.notes(spec)
    notes.append("App Engine services are outside the mesh on every backend and are not touched")
    return MigrationPlan(source=source.name, target=to, steps=tuple(steps), notes=tuple(notes))


def _callers_of(spec: Spec) -> dict[str, set[str]]:
    aws = spec.aws_services()
    out: dict[str, set[str]] = {n: set() for n in aws}
    for name, svc in aws.items():
        for ref in svc.uses:
            target = ref.split("/")[0]
            if target in aws and target != name:
                out[target].add(name)
    return out


def _refuse_blockers(spec: Spec, to: str, prepare: list[Edit]) -> None:
    """What no edit of this plan can fix (a service on a platform the new backend does not run, a name it
    refuses): its own rules, on the spec after the prepare step."""
    data = spec.model_dump(by_alias=True, exclude_unset=True)
    for e in prepare:
        _apply(data, e)
    trial = Spec.model_validate(data)
    problems = Problems(file="(plan)")
    incoming = registry.get(to)
    incoming.check(trial, problems, role="incoming", complete=True)
    cohorts.check_backend(trial, problems, incoming)  # A/B cohorts it cannot match
    # objectives of a major are measured on per-major series, which the target may not publish
    data["aws"].setdefault("mesh", {})["backend"] = to
    unmeasured = Problems(file="(plan)")
    checks.check_observability(Spec.model_validate(data), unmeasured)
    problems.items += [e for e in unmeasured.errors if e.code == "slo-unmeasured"]
    if problems.errors:
        details = "; ".join(f"{e.key_path}: {e.message}" for e in problems.errors)
        hint = (problems.errors[0].hint or "") if len(problems.errors) == 1 else \
            "fix these in the spec first (meshspec validate shows them once aws.mesh.migration is set)"
        raise UserError(f"{incoming.title} cannot run this spec as it is: {details}", hint=hint or None,
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


def yaml_inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_inline(v) for v in value) + "]"
    return str(value)
