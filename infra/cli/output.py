"""Shared CLI conventions: output formats, exit codes and how spec problems are printed.

- ``--format text|json``: JSON goes to stdout as one document; messages always go to stderr.
- Exit codes: 0 success, 1 user error (bad spec, refused change), 2 usage error, or "changes present"
  for plan-like commands run with ``--detailed-exitcode``; 3 internal error; 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # the spec package loads pydantic: not needed to print
    from meshspec.infra.spec import SpecError

OK, USER_ERROR, USAGE_OR_CHANGES, INTERNAL_ERROR, INTERRUPTED = 0, 1, 2, 3, 130


def add_format(parser: argparse.ArgumentParser, *, github: bool = False) -> None:
    parser.add_argument("--format", choices=("text", "json", "github") if github else ("text", "json"),
                        default="text", help="text for people (default) or one JSON document on stdout for CI"
                        + ("; github: GitHub Actions annotations on stdout" if github else ""))


def github_annotation(severity: str, message: str, *, file: str, line: int | None = None,
                      column: int | None = None, title: str | None = None) -> str:
    """A GitHub Actions workflow command (``::error file=…,line=…::…``): GitHub shows it on the file's line in a
    pull request. Escaping as docs.github.com/actions/reference/workflow-commands-for-github-actions."""
    def data(s: str) -> str:
        return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(s: str) -> str:
        return data(s).replace(":", "%3A").replace(",", "%2C")

    props = [f"file={prop(file)}"] + ([f"line={line}"] if line else []) + ([f"col={column}"] if column else [])
    props += [f"title={prop(title)}"] if title else []
    kind = severity if severity in ("error", "warning") else "notice"
    return f"::{kind} {','.join(props)}::{data(message)}"


def add_detailed_exitcode(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 2 when there are changes, 0 when there are none (as terraform plan)")


_emitted = False


def reset() -> None:
    global _emitted
    _emitted = False


def emitted() -> bool:
    """Whether this command has printed its JSON document (main prints a failure document otherwise)."""
    return _emitted


def emit_json(doc: Any) -> None:
    global _emitted
    _emitted = True
    json.dump(doc, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def say(*lines: str) -> None:
    """Human messages go to stderr so stdout stays machine-readable."""
    for line in lines:
        print(line, file=sys.stderr)


def print_problems(problems: Iterable["SpecError"]) -> None:
    for p in problems:
        say(p.render())


def plan_exit(has_changes: bool, detailed: bool) -> int:
    return USAGE_OR_CHANGES if (has_changes and detailed) else OK
