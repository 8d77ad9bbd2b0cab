"""``meshspec status SPEC [SERVICE]``: live health of a service and everything beneath it, and the likely cause."""
from __future__ import annotations

import argparse
import datetime as dt

from meshspec.infra.errors import UserError
from meshspec.infra.traffic.canary import utcnow
from meshspec.infra.traffic.cliutil import add_common, load, parse_duration, parse_percent

from .. import output

#: injectable for tests (the CLI has no other way to fix "now")
clock = utcnow


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="live health of a service and everything it depends on; names the likely "
                                      "cause of a chain of failures")
    add_common(p, service=False)
    p.add_argument("service", metavar="SERVICE", nargs="?", help="the service to start from (default: every service)")
    p.add_argument("--window", default="15m", help="the window up to now that is read (default: 15m)")
    p.add_argument("--max-5xx-rate", default="1%",
                   help="a service without an availability objective fails above this 5xx rate (default: 1%%)")
    p.add_argument("--max-p99-ms", type=float,
                   help="a service without a latency objective fails above this p99 (default: no limit)")
    p.add_argument("--max-burn-rate", type=float, default=1.0,
                   help="a service with an availability objective fails when the window burns its error budget "
                        "faster than this (default: 1, the rate that just meets the objective)")
    p.add_argument("--min-requests", type=int, default=1,
                   help="requests a service needs in the window to be judged at all (default: 1)")
    output.add_format(p)
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when a service is failing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from meshspec.infra.status import Limits, figures_reader, render_text, status

    spec, ctx = load(args)
    if args.service is not None and args.service not in spec.services:
        raise UserError(f"{args.service!r} is not a service in {args.spec}",
                        hint=f"services: {', '.join(spec.services)}")
    if args.min_requests < 1 or args.max_burn_rate <= 0 or (args.max_p99_ms is not None and args.max_p99_ms <= 0):
        raise UserError("--min-requests must be at least 1, --max-burn-rate and --max-p99-ms above 0")
    window = parse_duration(args.window, "--window")
    end = clock().astimezone(dt.timezone.utc)
    start = end - dt.timedelta(seconds=window)
    limits = Limits(max_5xx_rate=parse_percent(args.max_5xx_rate, "--max-5xx-rate"), max_p99_ms=args.max_p99_ms,
                    max_burn_rate=args.max_burn_rate, min_requests=args.min_requests)
    report = status(spec, args.service, figures_reader(spec, ctx), start, end, limits)
    if args.format == "json":
        output.emit_json(report.to_json())
    else:
        print("\n".join(render_text(report)))
    return output.plan_exit(report.failing, args.detailed_exitcode)
