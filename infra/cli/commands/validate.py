"""``meshspec validate SPEC...``: every problem of every file, in one run."""
from __future__ import annotations

import argparse

from meshspec.infra.spec import load_spec

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check spec files and report every problem at once")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (YAML)")
    output.add_format(p, github=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = [load_spec(path) for path in args.specs]
    errors = sum(len(r.errors) for r in results)
    warnings = sum(len(r.warnings) for r in results)
    for r in results:
        output.print_problems(r.problems)
    if args.format == "github":
        for r in results:
            for e in r.problems:
                text = f"{e.key_path}: {e.message}" + "".join(
                    f"\n{k}: {v}" for k, v in (("given", e.given), ("allowed", e.allowed), ("hint", e.hint)) if v)
                print(output.github_annotation(e.severity, text, file=e.file, line=e.line, column=e.column,
                                               title=f"meshspec {e.code}"))
    if args.format == "json":
        output.emit_json({
            "command": "validate",
            "ok": errors == 0,
            "errorCount": errors,
            "warningCount": warnings,
            "files": [{
                "file": r.file,
                "ok": r.ok,
                "services": len(r.spec.services) if r.spec else None,
                "errors": [e.to_json() for e in r.errors],
                "warnings": [w.to_json() for w in r.warnings],
            } for r in results],
        })
    for r in results:
        if r.ok:
            output.say(f"{r.file}: ok ({len(r.spec.services)} services, {len(r.warnings)} warning(s))")
    if errors:
        output.say(f"{errors} error(s), {warnings} warning(s) in {len(results)} file(s)")
    return output.USER_ERROR if errors else output.OK
