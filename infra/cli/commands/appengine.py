"""``meshspec appengine VERB``: the App Engine command group.

Each verb lives in its own module ``infra/cli/commands/appengine_<verb>.py`` with ``register(sub)`` and
``run(args) -> int``, listed in ``VERBS`` in the order ``meshspec appengine --help`` shows them.
"""
from __future__ import annotations

import argparse
import importlib

VERBS = [
    "emulator",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("appengine", help="Google App Engine: plan, apply, and a local Admin API emulator")
    verbs = p.add_subparsers(dest="appengine_command", metavar="VERB")
    verbs.required = True
    for name in VERBS:
        importlib.import_module(f"infra.cli.commands.appengine_{name}").register(verbs)
