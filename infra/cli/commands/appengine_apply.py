"""``meshspec appengine apply SPEC``: plan against the live application, then write the changes in a safe order."""
from __future__ import annotations

import argparse

from meshspec.infra.appengine.apply import Options, make_plan, run_plan
from meshspec.infra.appengine.progress import Progress
from meshspec.infra.spec import load_spec_or_raise

from .. import output
from .appengine import add_client_args, add_smoke_args, add_state_dir, make_api, open_journal
from .appengine_plan import add_prune


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("apply", help="apply the spec to App Engine: versions, splits, dispatch rules",
                       description="Plan, refuse anything App Engine would refuse before the first write, then "
                                   "create versions, move splits, update dispatch rules and prune old versions, in "
                                   "that order, journaling each step (.meshspec/ beside the spec). A rerun continues "
                                   "from the live state. See `meshspec help appengine`.")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    add_prune(p)
    add_smoke_args(p)
    add_client_args(p)
    add_state_dir(p)
    output.add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = load_spec_or_raise(args.spec)
    api = make_api(args)
    desired, observed, the_plan = make_plan(api, spec, args.prune)
    if args.format == "json":
        output.say(*the_plan.render())
    else:
        print("\n".join(the_plan.render()), flush=True)
    result = run_plan(api, the_plan, observed, desired, open_journal(args, args.spec), Progress(),
                      Options(smoke=args.smoke, smoke_template=args.smoke_url))
    if args.format == "json":
        output.emit_json({"command": "appengine apply", **the_plan.to_json(), "applied": len(result.done),
                          "run": result.run_id, "calls": dict(api.calls)})
    output.say(f"applied {len(result.done)} change(s)" + (f" (journal run {result.run_id})" if result.run_id else ""))
    return output.OK
