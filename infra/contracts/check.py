"""``contracts check``: compare every major's contract with a base (a git ref or another spec file).

Reading is at the edge (``GitBase``, ``FileBase``); comparing and classifying are pure (:mod:`.diff`,
:func:`compare_specs`). Breaking changes inside an existing major, retired or removed majors that
consumers still use, and broken contract files are errors; the rest are warnings and notices.
"""
from __future__ import annotations

import datetime as dt
import os
import posixpath
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from meshspec.infra.errors import UserError
from meshspec.infra.spec import LoadResult, Spec, SpecInvalid, load_spec, load_text, major_path
from meshspec.infra.spec.errors import Problems
from meshspec.infra.spec.model import Service
from meshspec.infra.spec.yamlpos import Positions, parse

from .contract import ENDPOINT, Contract, check_against_spec, pointer, unpointer
from .diff import compare
from .documents import AnyContract, Op, find, load_contract, operations
from .findings import Finding, Report
from .openapi import OpenAPIContract, template
from .openapi_diff import OpChange, compare_openapi

SEVERITY = {"error": "error", "warning": "warning", "info": "notice"}


class Base(Protocol):
    label: str

    def spec_text(self) -> str | None: ...

    def read(self, rel: str) -> str | None: ...


class FileBase:
    """Another spec file on disk; its contracts resolve against its own folder."""

    def __init__(self, spec_path: str | Path):
        self.path = Path(spec_path)
        self.label = str(spec_path)

    def spec_text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read the base spec {self.path}: {exc.strerror or exc}") from exc

    def read(self, rel: str) -> str | None:
        try:
            return (self.path.parent / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def display(self, rel: str) -> str:
        return os.path.normpath(self.path.parent / rel)


class GitBase:
    """The spec and its contracts as they were at a git ref (``git show REF:path``); nothing is checked out."""

    def __init__(self, ref: str, spec_path: str | Path):
        self.ref = ref
        spec_path = Path(spec_path).resolve()
        self.dir, self.name = spec_path.parent, spec_path.name
        self.label = f"{ref}:{spec_path.name}"
        probe = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if probe.returncode != 0:
            inside = self._git("rev-parse", "--is-inside-work-tree")
            if inside.returncode != 0:
                raise UserError(f"{self.dir} is not inside a git repository, so --base {ref} cannot be read",
                                hint="compare with another spec file instead: --base-spec OTHER.yaml")
            raise UserError(f"{ref!r} is not a commit in this repository",
                            hint="give a branch, tag or commit, e.g. --base origin/main (in CI: fetch it first)")

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(["git", "-C", str(self.dir), *args], capture_output=True, text=True, check=False)
        except FileNotFoundError as exc:
            raise UserError("git is not installed, so --base cannot be read",
                            hint="use --base-spec OTHER.yaml") from exc

    def _show(self, rel: str) -> str | None:
        done = self._git("show", f"{self.ref}:./{posixpath.normpath(rel)}")
        return done.stdout if done.returncode == 0 else None

    def spec_text(self) -> str | None:
        return self._show(self.name)

    def read(self, rel: str) -> str | None:
        return self._show(rel)

    def display(self, rel: str) -> str:
        return f"{self.ref}:{posixpath.normpath(rel)}"


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a loaded spec and how to read the contracts it names."""

    spec: Spec | None
    read: Callable[[str], str | None]
    label: str
    display: Callable[[str], str] | None = None  # how a person finds a file of this side; default: label/rel


def platform(spec: Spec, name: str) -> str:
    svc = spec.services[name]
    if svc.appengine is not None:
        return "App Engine"
    cluster = spec.cluster(svc.cluster or "")
    return f"{cluster.platform.upper()} {cluster.name}" if cluster else f"cluster {svc.cluster}"


def consumers(spec: Spec, service: str, major: str) -> list[str]:
    """Services whose ``uses`` list ``service/major``, in spec order."""
    ref = f"{service}/{major}"
    return [n for n, s in spec.services.items() if ref in s.uses]


def labelled(spec: Spec, names: list[str]) -> str:
    return ", ".join(f"{n} ({platform(spec, n)})" for n in names)


def major_number(major: str) -> int:
    return int(major[1:])


def next_major(service: Service) -> str:
    return f"v{max(major_number(m) for m in service.majors) + 1}"


def breaking_action(spec: Spec, service: str, major: str, users: list[str], spec_file: str) -> str:
    """What to do instead of breaking a major in place (commands name ``spec_file``, the spec's real path)."""
    svc = spec.services[service]
    newer = sorted((m for m, x in svc.majors.items() if major_number(m) > major_number(major)
                    and x.status == "active"), key=major_number)
    move = f"; then move {', '.join(users)} to it" if users else ""
    if newer:
        return (f"keep {service}/{major} as it was: {service}/{newer[0]} is already published beside it, put the "
                f"change there if it fits, or publish {service}/{next_major(svc)} beside {major}{move} "
                f"(meshspec contracts retire-plan {shlex.quote(spec_file)} {service} {major})")
    return (f"keep {service}/{major} as it was and publish {service}/{next_major(svc)} beside {major} with the new "
            f"contract (a new contract file and majors.{next_major(svc)}){move} "
            f"(meshspec contracts retire-plan {shlex.quote(spec_file)} {service} {major})")


def run_check(spec_path: str | Path, base: Base, *, today: dt.date | None = None) -> Report:
    """Load both sides and compare them (the edge); the classifying is :func:`compare_specs`."""
    spec_path = Path(spec_path)
    head = load_spec(spec_path, today=today)
    if head.spec is None:
        raise SpecInvalid(head.errors)
    text = base.spec_text()
    base_spec = None
    if text is not None:
        loaded = load_text(text, file=base.label, base_dir=None, today=today)
        if loaded.spec is None:
            first = loaded.errors[0].render() if loaded.errors else "no detail"
            raise UserError(f"the base spec {base.label} does not load ({len(loaded.errors)} error(s)), so there is "
                            "nothing to compare with", hint=first)
        base_spec = loaded.spec

    def read_head(rel: str) -> str | None:
        try:
            return (spec_path.parent / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    try:
        positions = parse(spec_path.read_text(encoding="utf-8"), Problems(str(spec_path)))[1]
    except Exception:  # pragma: no cover - the loader read it a moment ago
        positions = Positions()
    report = compare_specs(head, positions, Side(head.spec, read_head, str(spec_path)),
                           Side(base_spec, base.read, base.label, getattr(base, "display", None)), display=lambda rel: _display(spec_path, rel),
                           today=today or dt.date.today())
    if base_spec is None:
        report.findings.insert(0, Finding("notice", "base-missing", f"there is no spec at {base.label}: every major "
                                          "is new", str(spec_path)))
    return report


def _display(spec_path: Path, rel: str) -> str:
    """A contract's path as a person (and GitHub, run from the repository root) finds it."""
    full = os.path.normpath(spec_path.parent / rel)
    relative = os.path.relpath(full)
    return full if relative.startswith("..") else relative


def compare_specs(head: LoadResult, positions: Positions, new: Side, old: Side,
                  display: Callable[[str], str] = lambda rel: rel, today: dt.date | None = None) -> Report:
    """Every finding for one spec against its base, without touching the file system (``read`` does)."""
    spec = new.spec
    assert spec is not None
    report = Report(base=old.label)
    out = report.findings
    spec_file = head.file

    def spec_line(path: tuple) -> int | None:
        found = positions.find(path)
        return found[0] if found else None

    for name, svc in spec.services.items():
        for major, m in svc.majors.items():
            if m.status == "retired":
                continue
            users = consumers(spec, name, major)
            file = display(m.contract)
            report.checked.append((name, major))
            # a missing file is the loader's contract-missing, passed through below
            contract = load_contract(m.contract, new.read, display)
            if isinstance(contract, Contract):
                for p in contract.problems + check_against_spec(contract, name, major, major_path(name, major, m)):
                    out.append(Finding("error", p.rule, p.message, file, p.pointer, name, major,
                                       contract.line(p.pointer)))
            elif contract is not None:  # OpenAPI: every problem here; the loader said only the first
                for p in contract.problems:
                    out.append(Finding("error", p.rule, p.message, p.file or file, p.pointer, name, major, p.line))
            before = old.spec.services.get(name) if old.spec else None
            was = before.majors.get(major) if before else None
            if was is None:
                if old.spec is not None:
                    out.append(Finding("notice", "major-added", f"{name}/{major} is new", file, "", name, major,
                                       breaking=False))
                continue
            if was.status == "retired":
                continue
            mpath = ("services", name, "majors", major)
            if major_path(name, major, was) != major_path(name, major, m):
                out.append(Finding("error", "major-path-changed",
                                   f"{name}/{major} moved from {major_path(name, major, was)} to "
                                   f"{major_path(name, major, m)}; consumers call the old path",
                                   spec_file, pointer(mpath + ("path",)), name, major, spec_line(mpath + ("path",)),
                                   breaking=True, consumers=tuple(users)))
            if contract is None or not contract.ok:
                continue
            # the base was validated when it was merged: not again (openapi-spec-validator is the slow part)
            before_c = load_contract(was.contract, old.read, old.display or (lambda rel: f"{old.label}/{rel}"),
                                     validate=False)
            if before_c is None:
                out.append(Finding("warning", "base-contract-missing",
                                   f"{was.contract} is not in {old.label}; this contract was not compared",
                                   file, "", name, major))
                continue
            if not before_c.ok:
                out.append(Finding("warning", "base-contract-invalid",
                                   f"{was.contract} at {old.label} is not a valid contract "
                                   f"({before_c.problems[0].message}); this contract was not compared",
                                   file, "", name, major))
                continue
            callers = _callers(spec, name, major, major_path(name, major, m), [operations(contract),
                                                                                 operations(before_c)])
            if isinstance(before_c, Contract) and isinstance(contract, Contract):
                out.extend(_json_findings(before_c, contract, name, major, users, callers))
                continue
            if isinstance(before_c, OpenAPIContract) and isinstance(contract, OpenAPIContract):
                changes = compare_openapi(before_c, contract, today or dt.date.today())
            else:
                changes = _kind_changed(before_c, contract)
                out.append(Finding("warning", "contract-kind-changed", "the contract changed from "
                                   f"{_kind(before_c)} to {_kind(contract)}: only its operations were compared; "
                                   "compare the messages by hand", file, "", name, major))
            for c in changes:
                out.append(_op_finding(c, contract, before_c, name, major, users, callers))
    covered = _retirement(spec, old.spec, spec_file, spec_line, out)
    _loader_problems(head, covered, out)
    report.majors = _summaries(spec, out, spec_file)
    return report


def _callers(spec: Spec, service: str, major: str, prefix: str, ops: list[dict]) -> dict[str | None, list[str]]:
    """Route → the consumers that call it; under None, the consumers that use the whole major (they call all).
    A named operation is looked up in the new contract, then in the base (where a removed one still is)."""
    ref = f"{service}/{major}"
    out: dict[str | None, list[str]] = {None: []}
    for name, svc in spec.services.items():
        calls = svc.calls.get(ref, ())
        if calls is None:
            out[None].append(name)
            continue
        for named in calls:
            op = next((o for o in (find(x, prefix, named) for x in ops) if o is not None), None)
            route = op.route if op is not None else f"{named.split(' ', 1)[0]} {template(prefix.rstrip('/') + named.split(' ', 1)[-1])}"
            out.setdefault(route, [])
            if name not in out[route]:
                out[route].append(name)
    return out


def _weigh(level: str, rule: str, message: str, route: str | None, users: list[str],
           callers: dict[str | None, list[str]]) -> tuple[str, str, list[str]]:
    """A change's level weighed against who calls the operation: when every consumer names the operations it
    calls and none calls this one, nothing breaks; a removed operation someone still calls breaks them,
    deprecated or not. Returns (level, message, the consumers it breaks)."""
    who = [u for u in users if u in callers[None] or route is None or u in callers.get(route, ())]
    if level == "error" and users and not who:  # the message's own word on consumers no longer holds
        return "info", message.split("; consumers")[0] + (f"; no consumer calls it ({', '.join(users)} name{'s' if len(users) == 1 else ''} "
                                  "only other operations), so nothing breaks"), []
    if rule.endswith("-removed-with-deprecation") and who:
        return "error", message + f", but {', '.join(who)} still call{'s' if len(who) == 1 else ''} it", who
    return level, message, who


def _op_finding(c: OpChange, new: AnyContract, old: AnyContract, service: str, major: str, users: list[str],
                callers: dict[str | None, list[str]]) -> Finding:
    level, message, who = _weigh(c.level, c.rule, c.message, c.route, users, callers)
    nw, ow = c.new, c.old
    return Finding(SEVERITY[level], c.rule, message, _where_file(new, nw), pointer(nw.path) if nw else "",
                   service, major, _where_line(new, nw), breaking={"error": True, "info": False}.get(level),
                   consumers=tuple(who) if level == "error" else (), operation=c.operation,
                   base_file=_where_file(old, ow) if ow else None, base_line=_where_line(old, ow) if ow else None)


def _json_findings(old: Contract, new: Contract, service: str, major: str, users: list[str],
                   callers: dict[str | None, list[str]]) -> list[Finding]:
    """JSON Schema contracts: the classic rules, weighed per endpoint the same way (the pointer names it)."""
    routes = {name: op.route for c in (old, new) for name, (endpoint, _) in c.endpoints().items()
              for op in [_json_op(endpoint)] if op is not None}
    out = []
    for c in compare(old, new):
        parts = unpointer(c.pointer)
        route = routes.get(parts[1]) if len(parts) > 1 and parts[0] == "properties" else None
        base_level = "error" if c.breaking else "warning" if c.breaking is None else "info"
        level, message, who = _weigh(base_level, c.rule, c.message, route, users, callers)
        out.append(Finding(SEVERITY[level], c.rule, message, new.file, c.pointer, service, major,
                           new.line(c.pointer), breaking=c.breaking if level == base_level else False,
                           consumers=tuple(who) if level == "error" else ()))
    return out


def _json_op(endpoint: str) -> Any:
    m = ENDPOINT.match(endpoint)
    return Op(m.group(1), m.group(2), False, None, "", None, "") if m else None


def _where_file(c: AnyContract, w: Any) -> str:
    return c.display(w) if isinstance(c, OpenAPIContract) and w is not None else c.file


def _where_line(c: AnyContract, w: Any) -> int | None:
    if w is None:
        return None
    return c.line(w) if isinstance(c, OpenAPIContract) else c.line(pointer(w.path))


def _kind(c: AnyContract) -> str:
    return "OpenAPI" if isinstance(c, OpenAPIContract) else "JSON Schema"


def _kind_changed(old: AnyContract, new: AnyContract) -> list[OpChange]:
    """A contract rewritten in the other language: its operations still compare, by route."""
    o, n = operations(old), operations(new)
    out = []
    for route, op in o.items():
        if route not in n:
            out.append(OpChange("api-removed-without-deprecation", "error", op.key, route, f"{op.key} was removed",
                                None, None))
    for route, op in n.items():
        if route not in o:
            out.append(OpChange("endpoint-added", "info", op.key, route, f"{op.key} was added", None, None))
    return out


def _retirement(spec: Spec, before: Spec | None, spec_file: str, spec_line: Callable[[tuple], int | None],
                out: list[Finding]) -> set[str]:
    """A major is retired or removed only once nobody uses it. Returns the refs these findings cover."""
    covered: set[str] = set()
    for name, svc in spec.services.items():
        for major, m in svc.majors.items():
            users = consumers(spec, name, major)
            if m.status != "retired" or not users:
                continue
            covered.add(f"{name}/{major}")
            path = ("services", name, "majors", major, "status")
            out.append(Finding(
                "error", "retired-in-use",
                f"{name}/{major} is marked retired, but {len(users)} consumer(s) still use it: {labelled(spec, users)}",
                spec_file, pointer(path), name, major, spec_line(path), consumers=tuple(users),
                hint=f"move every consumer off {major} first (meshspec contracts retire-plan {shlex.quote(spec_file)} {name} {major})"))
    if before is None:
        return covered
    for name, svc in before.services.items():
        for major, m in svc.majors.items():
            now = spec.services.get(name)
            if now is not None and major in now.majors:
                continue
            users = consumers(spec, name, major)
            if not users:
                continue
            covered.add(f"{name}/{major}")
            gone = f"service {name}" if now is None else f"{name}/{major}"
            path = ("services", name) if now is None else ("services", name, "majors")
            out.append(Finding(
                "error", "removed-in-use",
                f"{gone} was removed from the spec, but {len(users)} consumer(s) still use {name}/{major}: "
                f"{labelled(spec, users)}",
                spec_file, pointer(path), name, major, spec_line(path), consumers=tuple(users),
                hint=f"put {name}/{major} back until every consumer has moved "
                     f"(meshspec contracts retire-plan {shlex.quote(spec_file)} {name} {major})"))
    return covered


def _loader_problems(head: LoadResult, covered: set[str], out: list[Finding]) -> None:
    """The loader's own findings (sunset warnings and errors from check_uses among them), not re-derived."""
    spec = head.spec
    assert spec is not None
    for p in head.problems:
        if p.code == "contract-invalid":
            continue  # compare_specs lists every problem of the contract, where the loader gave the first
        service = major = None
        consumers_: tuple[str, ...] = ()
        ref = _uses_ref(spec, p.path)
        if ref is not None:
            if p.code in ("uses-retired", "unknown-major", "unknown-service") and ref in covered:
                continue  # said once, for the major, naming every consumer
            service, major = ref.split("/", 1)
            consumers_ = (str(p.path[1]),)
        elif len(p.path) >= 2 and p.path[0] == "services":
            service = str(p.path[1])
            if len(p.path) >= 4 and p.path[2] == "majors":
                major = str(p.path[3])
        out.append(Finding(p.severity, p.code, p.message, p.file, pointer(p.path), service, major, p.line,
                           consumers=consumers_, hint=p.hint))


def _uses_ref(spec: Spec, path: tuple) -> str | None:
    """``services.X.uses[i]`` (or an operation named in it) → the ``service/major`` it names."""
    if len(path) >= 4 and path[0] == "services" and path[2] == "uses" and isinstance(path[3], int):
        svc = spec.services.get(str(path[1]))
        if svc is not None and path[3] < len(svc.uses):
            return svc.uses[path[3]]
    return None


def _summaries(spec: Spec, findings: list[Finding], spec_file: str) -> list[dict]:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.breaking and f.severity == "error" and f.service and f.major:
            groups.setdefault((f.service, f.major), []).append(f)
    out = []
    for (name, major), items in groups.items():
        users = consumers(spec, name, major)
        out.append({"service": name, "major": major, "breakingCount": len(items), "consumers": users,
                    "consumerPlatforms": {u: platform(spec, u) for u in users},
                    "action": breaking_action(spec, name, major, users, spec_file)})
    return out
