"""``meshspec canary SPEC SERVICE --version V``: stepwise shift with metric analysis, promote or roll back."""
from __future__ import annotations

import argparse
import time
from decimal import Decimal

from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import live_majors, objectives
from meshspec.infra.traffic import ops, specedit, weights as W
from meshspec.infra.traffic.analysis import Thresholds
from meshspec.infra.traffic.backend import backend_for, platform_of
from meshspec.infra.traffic.canary import Canary, Params, parse_steps, state_path, utcnow
from meshspec.infra.traffic.cliutil import add_common, load, metrics_source, parse_duration, parse_percent

from .. import output

#: injectable for tests: the clock and the sleeper
clock = utcnow
sleep = time.sleep


def smoke(url: str) -> tuple[bool, str]:
    """The same check `meshspec appengine apply --smoke` makes: GET, 2xx passes, 5xx and no answer retried."""
    from meshspec.infra.appengine.smoke import check

    result = check(url)
    return result.ok, f"GET {url}: {result.detail}"


def _shared_majors(spec, service: str, major: str) -> tuple[str, ...]:
    """The other live majors that share ``major``'s App Engine service (and so its split and its metrics)."""
    svc = spec.services[service]
    if platform_of(spec, svc) != "appengine" or svc.appengine.majors_as_services:
        return ()
    return tuple(m for m in live_majors(svc) if m != major)


def _availability(spec, service: str, major: str, max_burn_rate: float | None) -> float | None:
    """The availability objective the canary's burn rate is measured against: the major's, else the service's."""
    if max_burn_rate is None:
        return None
    if max_burn_rate <= 0:
        raise UserError(f"--max-burn-rate {max_burn_rate:g} must be above 0", hint="1 spends the error budget "
                        "exactly as fast as the objective allows; 2 twice as fast")
    slo = objectives(spec.services[service], major)
    if slo is None or slo.availability is None:
        raise UserError(f"--max-burn-rate needs an availability objective for {service}/{major}, and the spec "
                        "gives none", hint=f"add services.{service}.slo.availability (or majors.{major}.slo) to "
                        "the spec, or judge on --max-5xx-rate (see `meshspec help observability`)")
    return float(slo.availability) / 100


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("canary", help="move traffic to a version step by step, judged on CloudWatch or Cloud "
                                      "Monitoring metrics")
    add_common(p)
    p.add_argument("--version", required=True, help="the canary version")
    p.add_argument("--steps", default="1,10,50,100", help="percentages for the canary (default: 1,10,50,100)")
    p.add_argument("--interval", default="5m", help="wait per step before judging (default: 5m)")
    p.add_argument("--max-5xx-rate", default="1%", help="roll back above this canary 5xx rate (default: 1%%)")
    p.add_argument("--max-p99-ms", type=float, help="roll back above this canary p99 latency (default: no limit)")
    p.add_argument("--min-requests", type=int, default=50,
                   help="canary requests a step needs before it is judged (default: 50)")
    p.add_argument("--max-extensions", type=int, default=2,
                   help="extra intervals to wait for minRequests before giving up and rolling back (default: 2)")
    p.add_argument("--max-5xx-increase", help="roll back when the canary's 5xx rate exceeds the baseline's by "
                   "more than these percentage points (default: off)")
    p.add_argument("--max-p99-increase", help="roll back when the canary's p99 exceeds the baseline's by more "
                   "than this percentage (default: off)")
    p.add_argument("--max-burn-rate", type=float,
                   help="roll back when the canary spends the error budget of the major's availability objective "
                        "(slo.availability) faster than this: 1 just meets it (default: off)")
    p.add_argument("--no-smoke", action="store_true", help="App Engine: skip the smoke check of the version's address")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="go on with the unfinished canary in the state file")
    again.add_argument("--abandon", action="store_true", help="start anew, dropping an unfinished canary's state")
    p.add_argument("--hold", action="store_true",
                   help="end at the last of --steps instead of promoting to 100%% (a lasting split judged where it "
                        "stands, as CI does for the share a spec gives a version)")
    p.add_argument("--write-spec", action="store_true", help="fold the final weights into SPEC")
    output.add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec, ctx = load(args)
    service, major = ops.resolve(spec, args.service, args.major)
    ops.check_known_versions(spec, service, [args.version])
    if args.min_requests < 1 or args.max_extensions < 0:
        raise UserError("--min-requests must be at least 1 and --max-extensions at least 0")
    backend = backend_for(spec, service, ctx)
    availability = _availability(spec, service, major, args.max_burn_rate)
    th = Thresholds(
        max_5xx_rate=parse_percent(args.max_5xx_rate, "--max-5xx-rate"), max_p99_ms=args.max_p99_ms,
        min_requests=args.min_requests, max_extensions=args.max_extensions,
        max_5xx_increase=parse_percent(args.max_5xx_increase, "--max-5xx-increase") if args.max_5xx_increase else None,
        max_p99_increase=parse_percent(args.max_p99_increase, "--max-p99-increase") if args.max_p99_increase else None,
        max_burn_rate=args.max_burn_rate, availability=availability)
    params = Params(service, major, args.version, parse_steps(args.steps, backend.places, backend.name),
                    parse_duration(args.interval, "--interval"), th, hold=args.hold)
    shared = _shared_majors(spec, service, major)
    if shared:
        output.say(f"note: on App Engine {service} is one App Engine service for all its majors: the figures are "
                   f"the versions' across {', '.join([major, *shared])}")
    canary = Canary(backend, params, ctx, versions=[v.name for v in spec.services[service].versions],
                    metrics=metrics_source(spec, service, ctx),
                    clock=clock, sleep=sleep, smoke=None if args.no_smoke else (lambda url: smoke(url)), say=output.say,
                    state_file=state_path(ctx.state_dir, service, major))
    state = canary.run(resume=args.resume, abandon=args.abandon)
    final = {k: Decimal(str(v)) for k, v in state["liveWeights"].items()}
    output.say(f"state: {canary.path}")
    diff = ""
    if state["status"] in ("promoted", "rolled-back", "held"):
        try:
            _, new_text, diff = specedit.plan_edit(args.spec, service, [major, *shared], final)
        except UserError as exc:
            output.say(f"warning: the final weights cannot be folded into the spec: {exc.message}")
            new_text = diff = ""
        if diff and args.write_spec:
            specedit.write(args.spec, new_text)
            output.say(f"updated {args.spec}:", diff.rstrip("\n"))
        elif diff:
            output.say("to keep these weights at the next deploy, fold them into the spec "
                       "(or rerun with --write-spec):", diff.rstrip("\n"))
    if args.format == "json":
        output.emit_json({"command": "canary", **state, "specDiff": diff})
    if state["status"] == "promoted":
        output.say(f"canary {args.version} promoted: {W.fmt(final)}")
        return output.OK
    if state["status"] == "held":
        output.say(f"canary {args.version} held at its last step: {W.fmt(final)}")
        return output.OK
    if state["status"] == "interrupted":
        output.say(f"interrupted; live weights: {W.fmt(final)}")
        return output.INTERRUPTED
    output.say(f"canary {args.version} rolled back: {W.fmt(final)}")
    return output.USER_ERROR
