"""Status, shift, promote and rollback: validate everything first, then one guarded write per major.

Platform-neutral: each function takes a :class:`~.backend.TrafficBackend`. The CLI (infra/cli/commands/
traffic.py) only parses, calls these and prints.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

from meshspec.infra.errors import UserError
from meshspec.infra.spec import cohorts as C
from meshspec.infra.spec.model import Spec, live_majors, shares

from meshspec.infra import journal

from . import weights as W
from .backend import Context, Live, TrafficBackend, backend_for, cloud_of, platform_of


def _did_you_mean(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def check_service(spec: Spec, service: str) -> None:
    if service not in spec.services:
        raise UserError(f"service {service!r} is not in the spec",
                        hint=_did_you_mean(service, list(spec.services)) or
                        f"services: {', '.join(sorted(spec.services))}")


def resolve(spec: Spec, service: str, major: str | None) -> tuple[str, str]:
    """(service, major) checked against the spec; ``major`` may be left out when only one is live."""
    check_service(spec, service)
    svc = spec.services[service]
    live = list(live_majors(svc))
    if major is None:
        if len(live) != 1:
            raise UserError(f"{service} serves {len(live)} live majors ({', '.join(live)}); say which with --major")
        return service, live[0]
    if major not in svc.majors:
        raise UserError(f"{service} has no major {major!r}", hint=f"its majors: {', '.join(svc.majors)}")
    if major not in live:
        raise UserError(f"{service}/{major} is retired and takes no traffic",
                        hint=f"live majors: {', '.join(live) or 'none'}")
    return service, major


def spec_weights(spec: Spec, service: str, major: str, cohort: str | None = None) -> W.Weights:
    """The spec's weights of a major's route, or of one of its cohort routes (all on the cohort's version)."""
    if cohort is None:
        return dict(shares(spec.services[service], major))
    route = next(r for r in C.routes(spec.services[service], major) if r.name == cohort)
    return {v.name: Decimal(100 if v.name == route.version else 0) for v in spec.services[service].versions}


def resolve_cohort(spec: Spec, service: str, major: str, cohort: str) -> str:
    """``cohort`` checked against the major's cohort routes (its cohorts and, with sticky, ``sticky-<version>``)."""
    names = [r.name for r in C.routes(spec.services[service], major)]
    if cohort not in names:
        raise UserError(f"{service}/{major} has no cohort {cohort!r}",
                        hint=_did_you_mean(cohort, names) or (f"its cohorts: {', '.join(names)}" if names else
                                                              "its spec declares no cohorts or sticky cookie"))
    return cohort


def cohort_backend(backend: TrafficBackend, cohort: str | None) -> TrafficBackend:
    """The backend itself, or its view of one cohort route (same reads, writes, tokens and locks, on the
    cohort's route): what shift, promote, rollback and status use for a cohort."""
    if cohort is None:
        return backend
    return require_cohort_routes(backend)(cohort)


def require_cohort_routes(backend: TrafficBackend) -> Callable[[str], TrafficBackend]:
    """The backend's ``for_cohort``, or the refusal of a platform without cohort routes (App Engine: an A/B test
    there is its cookie split, moved with the weights)."""
    view = getattr(backend, "for_cohort", None)  # optional in TrafficBackend: platforms with no cohort routes
    if view is None:
        raise UserError(f"{backend.name} has no cohort routes: its weights are the only traffic meshspec shifts "
                        "there", hint="leave out --cohort (a sticky A/B test there moves with the weights)")
    return view


def check_known_versions(spec: Spec, service: str, names: list[str]) -> None:
    known = [v.name for v in spec.services[service].versions]
    for n in names:
        if n not in known:
            raise UserError(f"{service} has no version {n!r} in the spec",
                            hint=_did_you_mean(n, known) or f"its versions: {', '.join(known)}")


# -- status -------------------------------------------------------------------------------------------------
READ_WORKERS = 8  # concurrent reads for status: one DescribeRoute / services.get per row


def status(spec: Spec, ctx: Context, only: str | None = None,
           backends: Callable[[str], TrafficBackend] | None = None) -> list[dict[str, Any]]:
    """One row per service and live major: the spec's weights beside the live ones, drift marked.

    A backend that cannot be reached gives a row with ``error`` instead of failing the whole status. Rows are
    read concurrently (``READ_WORKERS``) and returned in spec order.
    """
    from concurrent.futures import ThreadPoolExecutor

    if only is not None:
        check_service(spec, only)
    rows: list[tuple[dict[str, Any], TrafficBackend | None]] = []
    for name in ([only] if only else list(spec.services)):
        svc = spec.services[name]
        backend: TrafficBackend | None = None
        error = None
        try:
            backend = backends(name) if backends else backend_for(spec, name, ctx)
        except UserError as exc:
            error = exc.message
        except Exception as exc:  # no credentials, no region, …: a message in the row, not a traceback
            error = f"{type(exc).__name__}: {exc}"
        for major in live_majors(svc):
            for cohort in [None, *(r.name for r in C.routes(svc, major))]:
                view, row_error = backend, error
                if backend is not None and cohort is not None:
                    try:
                        view = cohort_backend(backend, cohort)
                    except UserError as exc:
                        view, row_error = None, exc.message
                want = spec_weights(spec, name, major, cohort)
                row = {"service": name, "major": major, "platform": platform_of(spec, svc),
                       "target": view.target(name, major) if view else None, "spec": W.to_json(want),
                       "live": None, "drift": None, "token": None, "error": row_error}
                if cohort is not None:
                    row["cohort"] = cohort
                rows.append((row, view))

    def read(item: tuple[dict[str, Any], TrafficBackend | None]) -> dict[str, Any]:
        row, backend = item
        if backend is None:
            return row
        try:
            live = backend.read_weights(row["service"], row["major"])
        except UserError as exc:
            row["error"] = exc.message
            return row
        want = spec_weights(spec, row["service"], row["major"], row.get("cohort"))
        row.update(live=W.to_json(live.weights), token=live.token, drift=not W.same(live.weights, want))
        if live.shared_with:
            row["sharedWith"] = list(live.shared_with)
        return row

    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        return list(pool.map(read, rows))


# -- shift / promote / rollback ----------------------------------------------------------------------------
@dataclass
class Change:
    service: str
    major: str
    kind: str
    target: str
    before: W.Weights
    after: W.Weights
    token_before: str
    token_after: str | None = None
    shared_with: tuple[str, ...] = ()
    written: bool = False
    warnings: list[str] = field(default_factory=list)
    shard_before: str | None = None  # App Engine: the split's sharding when read (for the journal)
    cohort: str | None = None  # a cohort route of the major, else its weighted route

    @property
    def what(self) -> str:
        return f"{self.service}/{self.major}" + (f" cohort {self.cohort}" if self.cohort else "")

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "major": self.major, "cohort": self.cohort, "kind": self.kind,
                "target": self.target, "before": W.to_json(self.before), "after": W.to_json(self.after),
                "tokenBefore": self.token_before, "tokenAfter": self.token_after,
                "sharedWith": list(self.shared_with), "written": self.written, "warnings": self.warnings}


def plan(spec: Spec, backend: TrafficBackend, service: str, major: str, kind: str,
         compute: Callable[[Live], W.Weights], cohort: str | None = None) -> Change:
    """Read the live weights (of the major's route, or of its cohort route ``cohort``: pass the backend's view
    of it, :func:`cohort_backend`) and compute (and validate) the new ones; nothing is written."""
    live = backend.read_weights(service, major)
    after = compute(live)
    W.validate_full(after, backend.places, backend.name)
    # Only versions that start taking traffic need checking: the others are targets already.
    missing = backend.check_versions(service, major, [v for v, w in after.items() if w > 0 and not live.weights.get(v)])
    if missing:
        raise UserError(f"{service}: nothing is deployed for version(s) {', '.join(missing)} on {backend.name} "
                        f"({backend.missing}); "
                        "nothing was changed", hint="deploy the version first, then shift traffic to it")
    return Change(service, major, kind, backend.target(service, major), dict(live.weights), after, live.token,
                  shared_with=live.shared_with, shard_before=live.shard_by, cohort=cohort)


def shift_weights(spec: Spec, service: str, to: Mapping[str, Decimal],
                  backend: TrafficBackend) -> Callable[[Live], W.Weights]:
    check_known_versions(spec, service, list(to))
    versions = [v.name for v in spec.services[service].versions]
    return lambda live: W.redistribute(live.weights, to, places=backend.places, versions=versions,
                                       where=backend.name)


def promote_weights(spec: Spec, service: str, version: str) -> Callable[[Live], W.Weights]:
    check_known_versions(spec, service, [version])
    return lambda live: W.promote(live.weights, version)


def apply(change: Change, backend: TrafficBackend, ctx: Context, now: str,
          undoes: tuple[str, int] | None = None) -> Change:
    """The guarded write, then the journal entry. A stale token raises :class:`~.backend.Conflict`."""
    if W.same(change.before, change.after):
        change.token_after = change.token_before
        return change
    new = backend.set_weights(change.service, change.major, change.after, change.token_before)
    change.written, change.token_after = True, new.token
    if not W.same(new.weights, change.after):
        change.warnings.append(f"the live weights read back after the write are {W.fmt(new.weights)}, "
                               f"not {W.fmt(change.after)}")
    journal.append(ctx.state_dir, cloud=cloud_of(backend), target=change.target, service=change.service,
                   major=change.major, kind=change.kind, before=change.before, before_token=change.token_before,
                   after=new.weights, after_token=new.token, at=now, undoes=undoes,
                   shard_by=_shards(change.shard_before, new.shard_by))
    return change


def _shards(before: str | None, after: str | None) -> dict[str, str] | None:
    out = {k: v for k, v in (("before", before), ("after", after)) if v}
    return out or None


def plan_rollback(spec: Spec, backend: TrafficBackend, ctx: Context, service: str, major: str,
                  force: bool = False, cohort: str | None = None) -> tuple[Change, tuple[str, int]]:
    """Undo the newest move of the major's weights (or of its cohort route ``cohort``: pass the backend's view of
    it) that is not undone yet, whichever command made it (a shift, a canary, or on App Engine `meshspec appengine
    promote` or `apply`): they share the cloud's journal, keyed by the route or split written."""
    book = journal.Journal(ctx.state_dir, cloud_of(backend))
    target = backend.target(service, major)
    what = f"{service}/{major}" + (f" cohort {cohort}" if cohort else "")
    found = book.last_undoable(target=target, service=service, major=major)
    if found is None:
        raise UserError(f"no shift of {what} is recorded in {book.path}",
                        hint="rollback undoes shifts made by meshspec from this state directory; "
                             "use `meshspec traffic shift` with explicit weights instead")
    entry, expected = found
    if entry.before is None:
        raise UserError(f"{what}: the last recorded move (#{entry.index}, {entry.kind} at {entry.at}) "
                        f"created {target}; there are no weights from before it to go back to",
                        hint="use `meshspec traffic shift` with explicit weights instead")
    live = backend.read_weights(service, major)
    if live.token != expected and not force:
        raise UserError(f"{what} changed since the last recorded shift (#{entry.index} at {entry.at}): "
                        f"live {W.fmt(live.weights)} ({live.token}), recorded {W.fmt(entry.after)} "
                        f"({expected}); nothing was changed",
                        hint="someone shifted it since; add --force to restore "
                             f"{W.fmt(entry.before)} anyway")
    before = {**{v: Decimal(0) for v in live.weights}, **entry.before}
    W.validate_full(before, backend.places, backend.name)
    return Change(service, major, "rollback", target, dict(live.weights), before,
                  live.token, shared_with=live.shared_with, shard_before=live.shard_by, cohort=cohort), entry.key
