"""``meshspec cdk ARGS...``: the CDK CLI matching the installed aws-cdk-lib, on meshspec's own Node.

Every argument goes to the CLI unchanged (``meshspec cdk synth``, ``meshspec cdk deploy --all``); the CLI reads
the repository's cdk.json, whose app is ``meshspec-cdk-app``. The first run installs the CLI into a per-user
cache (``$MESHSPEC_CACHE_DIR``, default ``~/.cache/meshspec``)."""
from __future__ import annotations

import argparse

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cdk", help="run the CDK CLI that matches meshspec's aws-cdk-lib (meshspec cdk synth, "
                                   "meshspec cdk deploy --all)", add_help=False)
    p.add_argument("cdk_args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for the CDK CLI")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from meshspec.infra.cdkcli import run_cli

    return run_cli(list(args.cdk_args), output.say)
