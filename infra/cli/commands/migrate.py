"""``meshspec migrate SPEC --to lattice|service-connect``: a zero-downtime plan off App Mesh, with the spec
edits for each step. Prints only; nothing is changed or sent."""
from __future__ import annotations

import argparse

from meshspec.infra.migrate import TARGETS, plan_migration
from meshspec.infra.spec import load_spec_or_raise

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="plan a zero-downtime move from App Mesh to Service Connect or VPC Lattice")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--to", required=True, choices=TARGETS, help="the backend to move to")
    output.add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = load_spec_or_raise(args.spec)
    plan = plan_migration(spec, args.to, spec_file=args.spec)
    if args.format == "json":
        output.emit_json({"command": "migrate", "spec": args.spec, **plan.to_json()})
    else:
        print(plan.render_text(), end="")
    pending = sum(1 for s in plan.steps if not s.done)
    output.say(f"{pending} of {len(plan.steps)} step(s) to go")
    return output.OK
