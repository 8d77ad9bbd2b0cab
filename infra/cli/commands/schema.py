"""``meshspec schema``: the JSON Schema of the spec, generated from the model."""
from __future__ import annotations

import argparse
import sys

from meshspec.infra.spec.schema import schema_text

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the spec's JSON Schema (or write it to a file, or check a file "
                                      "against it)")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from the generated schema")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.check:
        try:
            current = open(args.check, encoding="utf-8").read()
        except OSError as exc:
            output.say(f"error: cannot read {args.check}: {exc.strerror}")
            return output.USER_ERROR
        if current != text:
            output.say(f"{args.check} is out of date: run `meshspec schema --out {args.check}`")
            return output.USER_ERROR
        output.say(f"{args.check} is up to date")
        return output.OK
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
        output.say(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return output.OK
