"""``meshspec appengine promote SERVICE VERSION``: send all of a service's traffic to one version."""
from __future__ import annotations

import argparse

from meshspec.infra.appengine.apply import Options, promote
from meshspec.infra.appengine.progress import Progress

from .. import output
from .appengine import (add_app_args, add_client_args, add_smoke_args, add_state_dir, app_service_id, make_api,
                        open_journal, report_run, resolve_app)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("promote", help="send 100%% of a service's traffic to one version (journaled)",
                       description="Start the version if it was stopped, then give it the whole split. "
                                   "The next apply brings the service back to what the spec says.")
    p.add_argument("service", metavar="SERVICE", help="App Engine service id (user-service, user-service-v2, ...), "
                                                      "or with --spec a service of the spec")
    p.add_argument("version", metavar="VERSION", help="version id")
    add_app_args(p)
    add_smoke_args(p)
    add_client_args(p)
    add_state_dir(p)
    output.add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    journal = open_journal(args, args.spec)
    app = resolve_app(args, journal)
    api = make_api(args)
    result = promote(api, app, app_service_id(args, args.service), args.version, journal, Progress(),
                     Options(smoke=args.smoke, smoke_template=args.smoke_url))
    report_run(args, "appengine promote", result)
    return output.OK
