"""``meshspec migrate SPEC --to BACKEND``: a zero-downtime plan off the spec's mesh backend, with the spec edits
for each step. Prints only; nothing is changed or sent."""
from __future__ import annotations

import argparse

from meshspec.infra.migrate import plan_migration, targets
from meshspec.infra.spec import load_spec_or_raise

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    from meshspec.infra.mesh import registry

    p = sub.add_parser("migrate", help=f"plan a zero-downtime move from {registry.titles(registry.hosts())} to "
                                       f"{registry.titles(registry.migration_targets())}")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--to", required=True, choices=targets(), help="the backend to move to")
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
