"""``meshspec appengine VERB``: the App Engine command group.

Each verb lives in its own module ``infra/cli/commands/appengine_<verb>.py`` with ``register(sub)`` and
``run(args) -> int``, listed in ``VERBS`` in the order ``meshspec appengine --help`` shows them.
"""
from __future__ import annotations

import argparse
import importlib

VERBS = [
    "plan",
    "apply",
    "promote",
    "rollback",
    "emulator",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("appengine", help="Google App Engine: plan, apply, and a local Admin API emulator")
    verbs = p.add_subparsers(dest="appengine_command", metavar="VERB")
    verbs.required = True
    for name in VERBS:
        importlib.import_module(f"meshspec.infra.cli.commands.appengine_{name}").register(verbs)


# -- shared by the verbs that talk to the Admin API ---------------------------------------------------------
def add_client_args(p: argparse.ArgumentParser) -> None:
    """Endpoint, timeouts and the journal's folder, the same for plan, apply, promote and rollback."""
    from meshspec.infra.appengine.client import ENDPOINT_ENV

    p.add_argument("--endpoint", metavar="URL",
                   help=f"Admin API endpoint, e.g. the emulator's http://127.0.0.1:PORT (anonymous credentials). "
                        f"Default: ${ENDPOINT_ENV}, else Google with Application Default Credentials")
    p.add_argument("--call-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="timeout of each API call (default: 30); 429/5xx/connection failures are retried")
    p.add_argument("--retry-deadline", type=float, default=120.0, metavar="SECONDS",
                   help="stop retrying a call after this long (default: 120)")
    p.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS",
                   help="first wait between operation polls, growing x1.5 up to 20 s (default: 1)")
    p.add_argument("--operation-timeout", type=float, default=900.0, metavar="SECONDS",
                   help="give up waiting for one operation after this long (default: 900)")


def add_state_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", metavar="DIR",
                   help="where the journal lives (default: $MESHSPEC_STATE_DIR, else .meshspec/ beside the spec, "
                        "else in the current folder)")


def open_journal(args: argparse.Namespace, spec_file: str | None):
    """The GCP journal by the one location rule (meshspec.infra.journal.state_dir); App Engine's journal of before it
    (.meshspec/appengine/ in this folder, or journal.jsonl in --state-dir) is read too."""
    from pathlib import Path

    from meshspec.infra import journal as core
    from meshspec.infra.appengine.journal import Journal

    legacy = (Path(args.state_dir) / core.LEGACY_RUNS if args.state_dir
              else Path.cwd() / core.LEGACY_RUNS_DIR / core.LEGACY_RUNS)
    return Journal(core.state_dir(args.state_dir, spec_file), legacy_runs=legacy)


def app_service_id(args: argparse.Namespace, service: str) -> str:
    """SERVICE as App Engine names it: with --spec, a spec service's name gives its App Engine service
    (``default`` for the default service); anything else is taken as the App Engine service id."""
    from meshspec.infra import naming
    from meshspec.infra.errors import UserError
    from meshspec.infra.spec import live_majors, load_spec_or_raise

    if not args.spec:
        return service
    spec = load_spec_or_raise(args.spec)
    svc = spec.services.get(service)
    if svc is None or svc.appengine is None:
        return service
    ae = svc.appengine
    ids = list(dict.fromkeys(naming.appengine_service(service, m if ae.majors_as_services else None,
                                                      default=ae.default_service) for m in live_majors(svc)))
    if len(ids) != 1:
        raise UserError(f"{service} is {len(ids)} App Engine services (majorsAsServices): say which",
                        hint=f"give one of: {', '.join(ids)}")
    return ids[0]


def make_api(args: argparse.Namespace):
    from meshspec.infra.appengine.client import AdminApi, ClientConfig
    from meshspec.infra.errors import UserError

    for flag in ("call_timeout", "retry_deadline", "poll_interval", "operation_timeout"):
        if getattr(args, flag) <= 0:
            raise UserError(f"--{flag.replace('_', '-')} must be more than 0 seconds, got {getattr(args, flag)}")
    cfg = ClientConfig.from_env(args.endpoint, call_timeout=args.call_timeout, retry_deadline=args.retry_deadline,
                                poll_initial=args.poll_interval, poll_maximum=max(20.0, args.poll_interval),
                                operation_deadline=args.operation_timeout)
    return AdminApi(cfg)


def add_smoke_args(p: argparse.ArgumentParser) -> None:
    from meshspec.infra.appengine.smoke import URL_ENV

    p.add_argument("--smoke", action="store_true",
                   help="before traffic moves to a version, GET its own address + the major's path + the health "
                        "path and stop unless it answers 2xx")
    p.add_argument("--smoke-url", metavar="TEMPLATE",
                   help="the version's address, with {version} {service} {app} {host}. Default: "
                        f"${URL_ENV}, else https://{{version}}-dot-{{service}}-dot-{{host}}")


def add_app_args(p: argparse.ArgumentParser) -> None:
    """The options :func:`resolve_app` reads."""
    p.add_argument("--app", help="application id. Default: --spec's gcp.project, else the journal's last app")
    p.add_argument("--spec", help="spec file to read the application id from")


def report_run(args: argparse.Namespace, command: str, result) -> None:
    """A one-service run (promote, rollback): its plan as text, or one JSON document."""
    from .. import output

    if args.format == "json":
        output.emit_json({"command": command, **result.plan.to_json(), "applied": len(result.done),
                          "run": result.run_id})
    else:
        print("\n".join(result.plan.render()))


def resolve_app(args: argparse.Namespace, journal) -> str:
    """--app, else --spec's gcp.project, else the application of the journal's last run."""
    from meshspec.infra.errors import UserError
    from meshspec.infra.spec import load_spec_or_raise

    if args.app:
        return args.app
    if args.spec:
        spec = load_spec_or_raise(args.spec)
        if spec.gcp is None:
            raise UserError(f"{args.spec} has no gcp section, so it names no App Engine application",
                            hint="give --app APP_ID")
        return spec.gcp.project
    runs = journal.runs()
    if not runs:
        raise UserError(f"no application given and no journal at {journal.path}",
                        hint="give --app APP_ID, or --spec with the spec's path (the journal lives beside it), or --state-dir")
    return runs[-1].app
