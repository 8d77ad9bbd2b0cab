"""Entry point: parse, dispatch to ``meshspec.infra.cli.commands.<verb>``, and map exceptions to exit codes.

Each command module has ``register(subparsers)`` which adds its parser and sets ``func``; ``func(args)``
returns the exit code. This is the one place where exceptions become messages.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from importlib.metadata import PackageNotFoundError, version

from meshspec.infra.errors import SpecInvalid, UserError
from meshspec.infra.startup import frozen_imports

from . import output

# Command modules, in the order `meshspec --help` lists them.
COMMANDS = [
    "validate",
    "schema",
    "contracts",
    "graph",
    "synth",
    "plan",
    "appengine",
    "traffic",
    "canary",
    "status",
    "migrate",
    "init",
    "cdk",
    "help",
]


def _version() -> str:
    try:
        return version("meshspec")
    except PackageNotFoundError:  # running from a checkout without install
        return "0+unknown"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command`` (one of COMMANDS) only that command's module is imported: command modules
    import their libraries (App Engine's client, CDK) at the top, and `meshspec synth` need not pay for all."""
    parser = argparse.ArgumentParser(
        prog="meshspec", description="One YAML spec for many microservices: AWS CDK and Google App Engine.")
    parser.add_argument("--version", action="version", version=f"meshspec {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in [command] if command in COMMANDS else COMMANDS:
        importlib.import_module(f"meshspec.infra.cli.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with frozen_imports():  # the command's module and what it imports (pydantic and the spec model for most)
        parser = build_parser(argv[0] if argv else None)
    if argv[:1] == ["cdk"]:  # every argument after `cdk` is the CDK CLI's, --help and --version included
        from .commands import cdk

        args = argparse.Namespace(command="cdk", cdk_args=argv[1:], func=cdk.run)
    else:
        args = parser.parse_args(argv)  # usage errors exit 2 here, as argparse does
    output.reset()
    try:
        return int(args.func(args) or 0)
    except SpecInvalid as exc:
        output.print_problems(exc.errors)
        output.say(f"{len(exc.errors)} error(s)")
        _json_failure(args, "spec-invalid", f"{len(exc.errors)} error(s) in the spec",
                      errors=[e.to_json() for e in exc.errors])
        return output.USER_ERROR
    except UserError as exc:
        output.say(f"error: {exc.message}")
        if exc.hint:
            output.say(f"hint: {exc.hint}")
        _json_failure(args, "user-error", exc.message, hint=exc.hint)
        return output.USER_ERROR
    except KeyboardInterrupt:
        output.say("interrupted")
        return output.INTERRUPTED
    except BrokenPipeError:
        return output.OK
    except Exception as exc:  # a bug in meshspec, not the user's fault
        if os.environ.get("MESHSPEC_DEBUG"):
            traceback.print_exc()
        output.say(f"internal error: {type(exc).__name__}: {exc}",
                   "this is a bug in meshspec; rerun with MESHSPEC_DEBUG=1 for the traceback and report it")
        return output.INTERNAL_ERROR


def _json_failure(args: argparse.Namespace, kind: str, message: str, *, hint: str | None = None,
                  errors: list | None = None) -> None:
    """With --format json, a failed command still prints one JSON document on stdout (unless it already has)."""
    if getattr(args, "format", None) != "json" or output.emitted():
        return
    verb = next((getattr(args, k) for k in vars(args) if k.endswith("_command") and getattr(args, k)), None)
    output.emit_json({"command": " ".join(filter(None, [args.command, verb])), "ok": False,
                      "error": {"kind": kind, "message": message, "hint": hint, "errors": errors or []}})


if __name__ == "__main__":
    sys.exit(main())
