"""``meshspec contracts check|retire-plan``: breaking changes against a base, and the three-deploy retirement."""
from __future__ import annotations

import argparse

from pathlib import Path

from meshspec.infra.contracts import FileBase, GitBase, retire_plan, run_check
from meshspec.infra.contracts.documents import load_contract, operations
from meshspec.infra.contracts.rules import display, reader
from meshspec.infra.spec import SpecInvalid, load_spec

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("contracts", help="check API contracts for breaking changes; plan a major's retirement")
    verbs = p.add_subparsers(dest="contracts_command", metavar="VERB")
    verbs.required = True

    c = verbs.add_parser("check", help="classify every contract change against a git ref or another spec",
                         description="Compare every major's contract with a base and fail on breaking changes "
                                     "inside an existing major, and on retiring or removing a major still in use.")
    c.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    base = c.add_mutually_exclusive_group(required=True)
    base.add_argument("--base", metavar="REF", help="git ref to compare with (the spec and contracts as committed there)")
    base.add_argument("--base-spec", metavar="OTHER.yaml", help="another spec file to compare with")
    c.add_argument("--format", choices=("text", "json", "github", "junit"), default="text",
                   help="text for people (default), one JSON document on stdout, GitHub Actions annotations "
                        "on stdout, or JUnit XML on stdout (CI systems show it as test results)")
    c.set_defaults(func=run_check_cmd)

    r = verbs.add_parser("retire-plan", help="the three deploys that retire SERVICE's MAJOR, and which are done")
    r.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    r.add_argument("service", metavar="SERVICE")
    r.add_argument("major", metavar="MAJOR", help="e.g. v1")
    output.add_format(r)
    output.add_detailed_exitcode(r)
    r.set_defaults(func=run_retire_plan)


def run_check_cmd(args: argparse.Namespace) -> int:
    base = GitBase(args.base, args.spec) if args.base else FileBase(args.base_spec)
    report = run_check(args.spec, base)
    if args.format == "json":
        output.emit_json(report.to_json())
    elif args.format == "github":
        for f in report.findings:
            print(f.github())
    elif args.format == "junit":
        print(report.junit(), end="")
    else:
        for f in report.findings:
            output.say(f.render())
        for m in report.majors:
            who = ", ".join(f"{u} ({m['consumerPlatforms'][u]})" for u in m["consumers"]) or "no consumer in the spec"
            output.say(f"{m['service']}/{m['major']}: {m['breakingCount']} breaking change(s) inside an existing "
                       f"major; would break {who}", f"    what to do: {m['action']}")
    breaking = sum(1 for f in report.findings if f.breaking and f.severity == "error")
    output.say(f"contracts check against {report.base}: {len(report.errors)} error(s) ({breaking} breaking), "
               f"{len(report.warnings)} warning(s), "
               f"{sum(1 for f in report.findings if f.severity == 'notice')} non-breaking change(s)")
    return output.OK if report.ok else output.USER_ERROR


def run_retire_plan(args: argparse.Namespace) -> int:
    loaded = load_spec(args.spec)
    if loaded.spec is None:
        raise SpecInvalid(loaded.errors)
    if loaded.errors:  # the plan still reads the spec as it is; the errors say what else is wrong
        output.print_problems(loaded.errors)
    plan = retire_plan(loaded.spec, args.service, args.major, _operations(loaded.spec, args))
    if args.format == "json":
        output.emit_json(plan.to_json())
    else:
        print(plan.render())
    if plan.broken:
        return output.USER_ERROR
    return output.plan_exit(not plan.done, args.detailed_exitcode)


def _operations(spec, args: argparse.Namespace):
    """The operations of the major's contract, so the plan can say who calls each endpoint (None: unreadable)."""
    m = spec.services[args.service].majors.get(args.major) if args.service in spec.services else None
    if m is None:
        return None
    base = Path(args.spec).parent
    contract = load_contract(m.contract, reader(base), display(base))
    return operations(contract) if contract is not None and contract.ok else None
