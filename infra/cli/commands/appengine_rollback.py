"""``meshspec appengine rollback SERVICE``: restore the split the journal recorded before the last change."""
from __future__ import annotations

import argparse

from meshspec.infra.appengine.apply import rollback
from meshspec.infra.appengine.progress import Progress

from .. import output
from .appengine import (add_app_args, add_client_args, add_state_dir, app_service_id, make_api, open_journal,
                        report_run, resolve_app)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rollback", help="restore a service's split from before the last apply or promote",
                       description="Read the journal (.meshspec/ beside --spec, $MESHSPEC_STATE_DIR or --state-dir) "
                                   "for the split SERVICE had before the last change of it (an apply, promote or "
                                   "rollback, or a `meshspec traffic` shift, promote or canary), start the versions "
                                   "it names if they were stopped, and set it. A rollback is journaled too: a second "
                                   "one undoes it.")
    p.add_argument("service", metavar="SERVICE", help="App Engine service id, or with --spec a service of the spec")
    add_app_args(p)
    add_client_args(p)
    add_state_dir(p)
    output.add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    journal = open_journal(args, args.spec)
    app = resolve_app(args, journal)
    api = make_api(args)
    result = rollback(api, app, app_service_id(args, args.service), journal, Progress())
    report_run(args, "appengine rollback", result)
    return output.OK
