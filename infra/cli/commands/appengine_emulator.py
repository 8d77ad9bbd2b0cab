"""``meshspec appengine emulator``: serve the local App Engine Admin API v1 until interrupted."""
from __future__ import annotations

import argparse
import json

from meshspec.infra.appengine.emulator import DEFAULT_LOCATION, DEFAULT_PROJECT, Emulator
from meshspec.infra.errors import UserError

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emulator", help="serve a local App Engine Admin API v1 (for tests, demos, gcloud)",
                       description="Serve a local App Engine Admin API v1 on 127.0.0.1. Point the client "
                                   "library at it with client_options={'api_endpoint': URL}, gcloud with "
                                   "CLOUDSDK_API_ENDPOINT_OVERRIDES_APPENGINE=URL/. "
                                   "See `meshspec help appengine-emulator`.")
    p.add_argument("--port", type=int, default=8089, help="TCP port (default: 8089; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--project", default=DEFAULT_PROJECT,
                   help=f"the application id, as apps/ID (default: {DEFAULT_PROJECT})")
    p.add_argument("--location", default=DEFAULT_LOCATION,
                   help=f"the application's locationId (default: {DEFAULT_LOCATION})")
    p.add_argument("--operation-delay", type=float, default=1.0, metavar="SECONDS",
                   help="how long long-running operations take to finish (default: 1.0)")
    p.add_argument("--state", metavar="FILE",
                   help="keep the application in this JSON file across restarts (default: in memory only)")
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.operation_delay < 0:
        raise UserError(f"--operation-delay must be 0 or more seconds, got {args.operation_delay}")
    try:
        emu = Emulator(project=args.project, location=args.location, host=args.host, port=args.port,
                       operation_delay=args.operation_delay, state_file=args.state, verbose=args.verbose)
    except (ValueError, json.JSONDecodeError, KeyError) as exc:
        raise UserError(f"cannot read the emulator state {args.state}: {exc}",
                        hint="delete the file to start from an empty application") from None
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                        hint="choose another --port, or --port 0 for a free one") from None
    output.say(f"App Engine Admin API emulator for apps/{args.project} listening on {emu.url}",
               f"  client library: client_options={{'api_endpoint': '{emu.url}'}}",
               f"  gcloud: CLOUDSDK_API_ENDPOINT_OVERRIDES_APPENGINE={emu.url}/",
               "  control: GET/POST/DELETE /_emulator/faults, POST /_emulator/reset, GET /_emulator/calls",
               "Ctrl-C stops it.")
    try:
        emu.serve_forever()
    finally:
        emu._httpd.server_close()
    return output.OK
