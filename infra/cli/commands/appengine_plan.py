"""``meshspec appengine plan SPEC``: what apply would change, read from the live App Engine application."""
from __future__ import annotations

import argparse

from meshspec.infra.appengine.apply import make_plan
from meshspec.infra.appengine.plan import PRUNE_CHOICES
from meshspec.infra.spec import load_spec_or_raise

from .. import output
from .appengine import add_client_args, make_api


def add_prune(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prune", choices=PRUNE_CHOICES, default="stop",
                   help="versions the spec no longer names (once they take no traffic): stop them where App Engine "
                        "can (default; rollback can start them again), delete them, or keep them")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="show what apply would change in App Engine (reads only)",
                       description="Read the application (one apps.get, one paged services.list, one paged "
                                   "versions.list per service the spec touches) and print the ordered changes. "
                                   "See `meshspec help appengine`.")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    add_prune(p)
    add_client_args(p)
    output.add_format(p)
    output.add_detailed_exitcode(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = load_spec_or_raise(args.spec)
    api = make_api(args)
    _, _, the_plan = make_plan(api, spec, args.prune)
    if args.format == "json":
        output.emit_json({"command": "appengine plan", **the_plan.to_json(), "calls": dict(api.calls)})
    else:
        print("\n".join(the_plan.render()))
    return output.plan_exit(the_plan.has_changes, args.detailed_exitcode)
