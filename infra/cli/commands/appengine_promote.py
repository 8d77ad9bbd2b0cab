"""``meshspec appengine promote SERVICE VERSION``: send all of a service's traffic to one version."""
from __future__ import annotations

import argparse

from infra.appengine.apply import Options, promote
from infra.appengine.journal import Journal
from infra.appengine.progress import Progress

from .. import output
from .appengine import add_client_args, add_smoke_args, add_state_dir, make_api, resolve_app


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("promote", help="send 100%% of a service's traffic to one version (journaled)",
                       description="Start the version if it was stopped, then give it the whole split. "
                                   "The next apply brings the service back to what the spec says.")
    p.add_argument("service", metavar="SERVICE", help="App Engine service id (user-service, user-service-v2, ...)")
    p.add_argument("version", metavar="VERSION", help="version id")
    p.add_argument("--app", help="application id. Default: --spec's gcp.project, else the journal's last app")
    p.add_argument("--spec", help="spec file to read the application id from")
    add_smoke_args(p)
    add_client_args(p)
    add_state_dir(p)
    output.add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    journal = Journal(args.state_dir)
    app = resolve_app(args, journal)
    api = make_api(args)
    result = promote(api, app, args.service, args.version, journal, Progress(),
                     Options(smoke=args.smoke, smoke_template=args.smoke_url))
    if args.format == "json":
        output.emit_json({"command": "appengine promote", **result.plan.to_json(), "applied": len(result.done),
                          "run": result.run_id})
    else:
        print("\n".join(result.plan.render()))
    return output.OK
