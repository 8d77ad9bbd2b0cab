"""What ``meshspec validate`` checks in the contracts: each OpenAPI contract valid with every operation under its
major's path prefix (JSON Schema contracts are checked by ``contracts check``, as before), every operation a
consumer names present, deprecated operations warning their callers and sunset ones refusing them. Called by the
spec loader (``checks.check_contracts``) for a spec read from disk."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

from meshspec.infra.spec.errors import Problems, SpecError
from meshspec.infra.spec.model import Spec, major_path

from .contract import ContractProblem
from .documents import AnyContract, Op, find, load_contract, operations, under
from .openapi import OpenAPIContract

HELP = "see `meshspec help contracts`"


def reader(base_dir: Path) -> Callable[[str], str | None]:
    def read(rel: str) -> str | None:
        try:
            return (base_dir / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return read


def display(base_dir: Path) -> Callable[[str], str]:
    return lambda rel: str(base_dir / rel) if str(base_dir) not in ("", ".") else rel


def load_all(spec: Spec, base_dir: Path) -> dict[str, AnyContract]:
    """``service/major`` → its contract, for every live major whose file can be read: every OpenAPI contract,
    and a JSON Schema contract only where a consumer names operations of it (validate stays fast)."""
    read, show = reader(base_dir), display(base_dir)
    named = {u.ref for svc in spec.services.values() for u in svc.use_entries if u.operations is not None}
    out: dict[str, AnyContract] = {}
    for name, svc in spec.services.items():
        for major, m in svc.majors.items():
            ref = f"{name}/{major}"
            if m.status == "retired" or (ref not in named and not _may_be_openapi(m.contract, read)):
                continue
            c = load_contract(m.contract, read, show)
            if c is not None:
                out[ref] = c
    return out


def _may_be_openapi(rel: str, read: Callable[[str], str | None]) -> bool:
    if not rel.endswith(".json"):
        return True
    text = read(rel)
    return text is not None and '"openapi"' in text


def check(spec: Spec, problems: Problems, base_dir: Path, today: dt.date) -> None:
    contracts = load_all(spec, base_dir)
    ops: dict[str, dict[str, Op]] = {}
    for ref, c in contracts.items():
        name, major = ref.split("/", 1)
        where = ("services", name, "majors", major, "contract")
        if not isinstance(c, OpenAPIContract):  # JSON Schema contracts: checked in full by contracts check, as before
            if c.ok:
                ops[ref] = operations(c)
            continue
        if c.problems:  # one error per contract: the first thing to fix, in its own file and line
            p = c.problems[0]
            more = f" (and {len(c.problems) - 1} more: meshspec contracts check lists them)" if len(c.problems) > 1 else ""
            problems.items.append(SpecError(
                file=p.file or c.file, path=where, message=f"the contract of {ref} is invalid: {p.message}{more}",
                code="contract-invalid", line=_line(c, p), given=p.pointer or None, hint=HELP))
            continue
        ops[ref] = operations(c)
        prefix = major_path(name, major, spec.services[name].majors[major])
        for op in ops[ref].values():
            if not under(op.full, prefix):
                problems.items.append(SpecError(
                    file=op.file, path=where, message=f"{op.key} is outside {ref}'s path prefix {prefix}",
                    code="contract-path", line=op.line, given=op.full, allowed=f"paths under {prefix}",
                    hint="set servers (e.g. url: " + prefix.rstrip("/") + ") or the paths so that every operation "
                         f"is under the prefix, or change majors.{major}.path; {HELP}"))
    _check_callers(spec, problems, ops, today)


def _check_callers(spec: Spec, problems: Problems, ops: dict[str, dict[str, Op]], today: dt.date) -> None:
    for name, svc in spec.services.items():
        for i, use in enumerate(svc.use_entries):
            served = ops.get(use.ref)
            if served is None:
                continue  # unknown, retired or unreadable: check_uses and the contract errors say so
            target, major = use.ref.split("/", 1)
            prefix = major_path(target, major, spec.services[target].majors[major])
            if use.operations is None:
                called = [(op, ("services", name, "uses", i)) for op in served.values()]
            else:
                called = []
                for j, named in enumerate(use.operations):
                    path = ("services", name, "uses", i, use.ref, j)
                    op = find(served, prefix, named)
                    if op is None:
                        problems.add(path, f"{use.ref} has no operation {named}", "uses-unknown-operation",
                                     given=named, allowed=", ".join(_relative(o, prefix) for o in served.values())[:300])
                    else:
                        called.append((op, path))
            for op, path in called:
                _lifecycle(problems, name, use.ref, use.operations is None, op, path, today)


def _lifecycle(problems: Problems, caller: str, ref: str, whole: bool, op: Op, path: tuple, today: dt.date) -> None:
    if not op.deprecated:
        return
    how = f"{caller} uses all of {ref}, so it calls {op.key}" if whole else f"{caller} calls {op.key}"
    fix = (f"name the operations {caller} calls (uses: - {ref}: [METHOD /path, ...]) without it, or move to a "
           f"newer major" if whole else "stop calling it: move to its replacement")
    if op.sunset is not None and op.sunset < today:
        problems.add(path, f"{how}, which was sunset on {op.sunset}", "uses-operation-sunset", given=op.key,
                     hint=f"{fix}; {HELP}")
    else:
        until = f" until {op.sunset}" if op.sunset else ""
        problems.warn(path, f"{how}, which is deprecated{until}", "uses-operation-deprecated", given=op.key,
                      hint=fix)


def _line(c: AnyContract, p: ContractProblem) -> int | None:
    if p.line is not None or isinstance(c, OpenAPIContract):
        return p.line
    return c.line(p.pointer)


def _relative(op: Op, prefix: str) -> str:
    base = prefix.rstrip("/")
    return f"{op.method} {op.full[len(base):] or '/'}" if base and op.full.startswith(base) else op.key
