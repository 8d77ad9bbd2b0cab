"""``meshspec traffic status|shift|promote|rollback|compare``: live weights on App Mesh and App Engine."""
from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import live_majors
from meshspec.infra.traffic import compare, ops, specedit, weights as W
from meshspec.infra.traffic.backend import backend_for, platform_of
from meshspec.infra.traffic.canary import utcnow
from meshspec.infra.traffic.cliutil import add_common, load, metrics_source, parse_duration

from .. import output

#: injectable for tests (the CLI has no other way to fix "now")
clock = utcnow


class _Intermixed(argparse.ArgumentParser):
    """Positionals after options (``compare SPEC checkout --major v1 apple banana``): plain argparse gives an
    optional list of positionals (VERSION...) nothing once an option comes between."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._inside:  # parse_known_intermixed_args parses in two passes through this method
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("traffic", help="live traffic weights: status, shift, promote, rollback, compare")
    tsub = p.add_subparsers(dest="traffic_command", metavar="ACTION", parser_class=_Intermixed)
    tsub.required = True

    s = tsub.add_parser("status", help="live weights per service and major beside the spec's, drift marked")
    add_common(s, service=False)
    s.add_argument("service", metavar="SERVICE", nargs="?", help="only this service (default: all)")
    output.add_format(s)
    output.add_detailed_exitcode(s)
    s.set_defaults(func=run_status)

    sh = tsub.add_parser("shift", help="set some versions' weights; the others keep their proportions")
    add_common(sh)
    sh.add_argument("--to", action="append", required=True, metavar="VERSION=PERCENT",
                    help="e.g. banana=10 or apple=80,banana=20 (repeatable)")
    _cohort_arg(sh)
    _write_args(sh)
    sh.set_defaults(func=run_shift)

    pr = tsub.add_parser("promote", help="send all of a major's traffic to one version")
    add_common(pr)
    pr.add_argument("--version", required=True, help="the version that gets 100%%")
    _cohort_arg(pr)
    _write_args(pr)
    pr.set_defaults(func=run_promote)

    rb = tsub.add_parser("rollback", help="restore the weights recorded before the last shift")
    add_common(rb)
    rb.add_argument("--force", action="store_true",
                    help="restore even if the weights changed since the recorded shift (overwrites that change)")
    _cohort_arg(rb)
    _write_args(rb)
    rb.set_defaults(func=run_rollback)

    gr = tsub.add_parser("grown", help="the code versions whose traffic share grew since a git ref (what CI "
                                       "runs `meshspec canary` for after a deploy)")
    gr.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    gr.add_argument("--since", required=True, metavar="REF", help="the git ref to compare with (e.g. the commit "
                    "before the push)")
    output.add_format(gr)
    gr.set_defaults(func=run_grown)

    cp = tsub.add_parser("compare", help="A/B cohorts side by side from CloudWatch or Cloud Monitoring, each "
                                         "against the control with a verdict of significance")
    add_common(cp)
    cp.add_argument("versions", metavar="VERSION", nargs="*",
                    help="the versions to compare, the first the control (default: every cohort of the major: "
                         "versions taking a share or a cohort route)")
    cp.add_argument("--control", metavar="VERSION",
                    help="the version the others are judged against (default: the first named, else the largest "
                         "share)")
    cp.add_argument("--since", default="1h", help="the window up to now (default: 1h)")
    cp.add_argument("--alpha", type=float, default=0.05,
                    help="the significance level over the whole run (Holm-adjusted; default: 0.05)")
    output.add_format(cp)
    cp.set_defaults(func=run_compare)


def _cohort_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cohort", metavar="NAME",
                   help="a cohort route of the major (a cohort's name, or sticky-VERSION) instead of its weights")


def _write_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--write-spec", action="store_true",
                   help="also fold the new weights into SPEC (comments and layout kept)")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    output.add_format(p)


# -- grown --------------------------------------------------------------------------------------------------
def run_grown(args: argparse.Namespace) -> int:
    from pathlib import Path

    from meshspec.infra.changes import spec_at_ref
    from meshspec.infra.spec import load_spec_or_raise
    from meshspec.infra.traffic.grown import grown_versions

    spec = load_spec_or_raise(args.spec)
    old, _ = spec_at_ref(Path(args.spec), args.since)
    versions = grown_versions(old, spec)
    if args.format == "json":
        output.emit_json({"command": "traffic grown", "spec": args.spec, "since": args.since, "versions": versions})
    for v in versions:
        output.say(f"{v['service']}/{v['major']}: {v['version']} {v['from']:g}% -> {v['to']:g}%")
    output.say(f"{len(versions)} version(s) took a larger share since {args.since}")
    return output.OK


# -- status -------------------------------------------------------------------------------------------------
def run_status(args: argparse.Namespace) -> int:
    spec, ctx = load(args)
    rows = ops.status(spec, ctx, args.service)
    drift = any(r["drift"] for r in rows)
    errors = [r for r in rows if r["error"]]
    if args.format == "json":
        output.emit_json({"command": "traffic status", "drift": drift, "rows": rows})
    else:
        _print_status(rows)
    for r in errors:
        output.say(f"{r['service']}/{r['major']}{' cohort ' + r['cohort'] if r.get('cohort') else ''}: {r['error']}")
    if errors and len(errors) == len(rows):
        return output.USER_ERROR
    return output.plan_exit(drift, args.detailed_exitcode)


def _print_status(rows: list[dict[str, Any]]) -> None:
    table = [("SERVICE", "MAJOR", "PLATFORM", "SPEC", "LIVE", "")]
    for r in rows:
        live = "unavailable" if r["error"] else W.fmt(_weights(r["live"]))
        mark = "DRIFT" if r["drift"] else ("" if r["drift"] is not None else "?")
        if r.get("sharedWith"):
            mark += (" " if mark else "") + f"(split shared with {', '.join(r['sharedWith'])})"
        major = r["major"] + (f" cohort {r['cohort']}" if r.get("cohort") else "")
        table.append((r["service"], major, r["platform"], W.fmt(_weights(r["spec"])), live, mark))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _weights(doc: dict[str, Any] | None) -> W.Weights:
    return {k: Decimal(str(v)) for k, v in (doc or {}).items()}


# -- shift / promote / rollback ----------------------------------------------------------------------------
def _finish(args: argparse.Namespace, spec, change: ops.Change, ctx, backend,
            undoes: tuple[str, int] | None = None) -> int:
    majors = [change.major, *change.shared_with]
    if change.shared_with:
        output.say(f"note: on App Engine {change.service} has one split for all its majors: "
                   f"{', '.join(majors)} change together")
    output.say(f"{change.what} on {change.target}:",
               f"  before: {W.fmt(change.before)}  ({change.token_before})",
               f"  after:  {W.fmt(change.after)}")
    # Fold into the spec is planned before anything is written: --write-spec that cannot be honoured refuses.
    fold_error = None
    try:
        if change.cohort is not None:
            _, new_text, diff = specedit.plan_cohort_edit(args.spec, change.service, change.major, change.cohort,
                                                          change.after)
        else:
            _, new_text, diff = specedit.plan_edit(args.spec, change.service, majors, change.after)
    except UserError as exc:
        if args.write_spec:
            raise UserError(f"--write-spec: {exc.message}; nothing was written", hint=exc.hint) from None
        new_text, diff, fold_error = "", "", exc.message
    unchanged = W.same(change.before, change.after)
    if not args.dry_run and not unchanged:
        ops.apply(change, backend, ctx, clock().isoformat(), undoes=undoes)
        output.say(f"  written ({change.token_after})")
        for w in change.warnings:
            output.say(f"warning: {w}")
    elif unchanged:
        output.say("  no change: the live weights are these already")
    else:
        output.say("  dry run: nothing written")
    wrote = False
    if diff and args.write_spec and not args.dry_run:
        specedit.write(args.spec, new_text)
        wrote = True
        output.say(f"updated {args.spec}:", diff.rstrip("\n"))
    elif diff:
        output.say("to keep these weights at the next deploy, fold them into the spec "
                   "(or rerun with --write-spec):", diff.rstrip("\n"))
    elif fold_error:
        output.say(f"warning: these weights cannot be folded into the spec: {fold_error}")
    else:
        output.say("the spec already has these weights")
    if args.format == "json":
        output.emit_json({"command": f"traffic {change.kind}", "dryRun": args.dry_run, "change": change.to_json(),
                          "spec": {"file": args.spec, "diff": diff, "written": wrote}})
    return output.OK


def _target(args: argparse.Namespace):
    """(spec, context, service, major, cohort, backend): the backend is its view of the cohort route with --cohort."""
    spec, ctx = load(args)
    service, major = ops.resolve(spec, args.service, args.major)
    backend = backend_for(spec, service, ctx)
    if args.cohort:
        ops.require_cohort_routes(backend)  # the platform first: App Engine has none, whatever the name
    cohort = ops.resolve_cohort(spec, service, major, args.cohort) if args.cohort else None
    return spec, ctx, service, major, cohort, ops.cohort_backend(backend, cohort)


def run_shift(args: argparse.Namespace) -> int:
    spec, ctx, service, major, cohort, backend = _target(args)
    to = W.parse_assignments(args.to)
    change = ops.plan(spec, backend, service, major, "shift",
                      ops.shift_weights(spec, service, to, backend), cohort=cohort)
    return _finish(args, spec, change, ctx, backend)


def run_promote(args: argparse.Namespace) -> int:
    spec, ctx, service, major, cohort, backend = _target(args)
    change = ops.plan(spec, backend, service, major, "promote", ops.promote_weights(spec, service, args.version),
                      cohort=cohort)
    return _finish(args, spec, change, ctx, backend)


def run_rollback(args: argparse.Namespace) -> int:
    spec, ctx, service, major, cohort, backend = _target(args)
    change, undoes = ops.plan_rollback(spec, backend, ctx, service, major, force=args.force, cohort=cohort)
    return _finish(args, spec, change, ctx, backend, undoes=undoes)


# -- compare ------------------------------------------------------------------------------------------------
def run_compare(args: argparse.Namespace) -> int:
    spec, ctx = load(args)
    service, major = ops.resolve(spec, args.service, args.major)
    svc = spec.services[service]
    if len(args.versions) == 1:
        raise UserError("compare needs two versions or more, or none (every cohort of the major)")
    ops.check_known_versions(spec, service, args.versions + ([args.control] if args.control else []))
    if len(set(args.versions)) != len(args.versions):
        raise UserError("compare two different versions")
    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha {args.alpha:g} is not a significance level", hint="a number between 0 and 1, "
                        "e.g. 0.05")
    cohorts = compare.cohorts_of(svc, major, args.versions or None)
    if len(cohorts) < 2:
        raise UserError(f"{service}/{major} has one cohort ({', '.join(c.version for c in cohorts) or 'none'}): "
                        "nothing to compare", hint="name the versions to compare")
    control = compare.pick_control(cohorts, args.control or (args.versions[0] if args.versions else None))
    seconds = parse_duration(args.since, "--since")
    end = clock().replace(microsecond=0)
    start = end - dt.timedelta(seconds=seconds)
    period = compare.period_for_pairs(seconds)
    source = metrics_source(spec, service, ctx)
    names = [c.version for c in cohorts]
    figs = source.figures(service, major, names, start, end)
    periods = source.series(service, major, names, start, end, period)
    cohorts = [replace(c, figures=figs[c.version], periods=periods.get(c.version, {})) for c in cohorts]
    verdicts = compare.compare(cohorts, control, args.alpha)
    if platform_of(spec, svc) == "appengine" and not svc.appengine.majors_as_services and len(live_majors(svc)) > 1:
        output.say(f"note: on App Engine {service} is one App Engine service for all its majors: the figures are "
                   f"the versions' across {', '.join(live_majors(svc))}")
    if args.format == "json":
        output.emit_json({"command": "traffic compare", "service": service, "major": major,
                          "window": {"start": start.isoformat(), "end": end.isoformat(), "period": period},
                          "control": control, "alpha": args.alpha,
                          "versions": {c.version: c.figures.to_json() for c in cohorts},
                          "cohorts": {c.version: c.to_json() for c in cohorts},
                          "verdicts": [v.to_json() for v in verdicts]})
        return output.OK
    rows = [("", *names),
            ("requests", *(f"{c.figures.requests:g}" for c in cohorts)),
            ("5xx", *(f"{c.figures.errors_5xx:g}" for c in cohorts)),
            ("5xx rate", *(_rate(c.figures.error_rate) for c in cohorts)),
            ("p50 ms", *(_ms(c.figures.p50_ms) for c in cohorts)),
            ("p99 ms", *(_ms(c.figures.p99_ms) for c in cohorts))]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"{service}/{major}, {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC")
    for r in rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print()
    print("cohorts:")
    for c in cohorts:
        print(f"  {c.version}{' (control)' if c.version == control else ''}: {c.describe()}")
    print(f"verdicts (alpha {args.alpha:g} over the {sum(v.p_value is not None for v in verdicts)} tests of this run, "
          f"Holm-adjusted; periods of {period} s):")
    for v in verdicts:
        print(f"  {v.version} against {v.against}: {v.sentence()}")
    return output.OK


def _rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.2f}%"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:g}"
