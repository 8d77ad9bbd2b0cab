"""``meshspec synth SPEC [--out DIR] [--service NAME]... [--changed-since REF]``: the CloudFormation templates
`cdk synth` writes, without the CDK CLI; with ``--service``/``--changed-since`` only the stacks a change touches
(plus the stacks they depend on), each the same template a full synth writes."""
from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from meshspec.infra import sharding
from meshspec.infra.errors import UserError
from meshspec.infra.spec import Spec, load_spec_or_raise
from meshspec.infra.startup import frozen_imports

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthesize the AWS stacks of a spec (CloudFormation templates)")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--out", default="cdk.out", metavar="DIR", help="cloud assembly directory (default: cdk.out)")
    p.add_argument("--validation", action="store_true",
                   help="also run CDK's built-in CloudFormation validation (about doubles synth time; "
                        "default: off, run cfn-lint in CI instead)")
    p.add_argument("--no-validation", action="store_true", help=argparse.SUPPRESS)  # the default; kept for scripts
    p.add_argument("--nag", action="store_true",
                   help="also run cdk-nag's AwsSolutions checks; exit 1 listing every unacknowledged finding")
    p.add_argument("--service", action="append", default=[], metavar="NAME",
                   help="synthesize only this service's stack and the stacks it depends on (repeatable)")
    p.add_argument("--changed-since", metavar="REF",
                   help="synthesize only the stacks touched by what changed since git REF (the spec's service "
                        "entries and their contract files; any other change synthesizes everything)")
    output.add_format(p)
    p.set_defaults(func=run)


def selection(spec: Spec, services: list[str], changed_since: str | None, spec_path: Path) -> dict | None:
    """The partial synth asked for: None for everything, else the services, removed services and stacks."""
    if not services and changed_since is None:
        return None
    aws = spec.aws_services()
    for name in services:
        if name in aws:
            continue
        if name in spec.services:
            raise UserError(f"service {name!r} runs on App Engine: it has no AWS stack to synthesize",
                            hint="give --service only services on an AWS cluster")
        close = difflib.get_close_matches(name, list(aws), n=1, cutoff=0.6)
        raise UserError(f"service {name!r} is not in {spec_path}",
                        hint=f"did you mean {close[0]!r}?" if close else
                        "AWS services in this spec: " + ", ".join(sorted(aws))[:300])
    touched, removed = set(services), set()
    if changed_since is not None:
        from meshspec.infra.changes import changes_since

        changes = changes_since(spec_path, changed_since, spec)
        if changes.global_change:
            return None  # a project-wide setting changed: every stack is touched
        touched |= {s for s in changes.services if s in aws}
        removed = set(changes.removed)
    stacks = sharding.for_services(spec, touched) if touched else []
    return {"services": sorted(touched), "removed": sorted(removed),
            "removedStacks": [sharding.stack_of(spec.project, s) for s in sorted(removed)], "stacks": stacks}


def _nag_failed(args: argparse.Namespace) -> None:
    from meshspec.constructs_lib.nag import findings

    found = findings(args.out)
    for f in found:
        output.say(f"cdk-nag {f['rule']}: {', '.join(f['paths'])}: {f['message']}")
    raise UserError(f"cdk-nag: {len(found)} finding(s) not acknowledged",
                    hint="fix the resource, or acknowledge the finding with its reason "
                         "(meshspec.constructs_lib.nag.suppress; see `meshspec help aws`)")


def run(args: argparse.Namespace) -> int:
    spec = load_spec_or_raise(args.spec)
    partial = selection(spec, args.service, args.changed_since, Path(args.spec))
    if partial is not None and not partial["stacks"]:
        if args.format == "json":
            output.emit_json({"command": "synth", "spec": args.spec, "out": None, "partial": partial, "stacks": [],
                              "kubernetesManifests": [], "warnings": []})
        for s in partial["removedStacks"]:
            output.say(f"{s}: its service is gone from the spec; delete the stack (cdk destroy {s})")
        output.say("no stack is touched: nothing to synthesize")
        return output.OK

    with frozen_imports():  # CDK loads slowly (only here), and its objects live as long as the process
        from meshspec.stacks.app import build, new_app, skip_jsii_type_checks, synthesize

    skip_jsii_type_checks()

    only = None if partial is None else partial["stacks"]
    app = new_app(args.out, validation=args.validation)
    if args.nag:
        from meshspec.constructs_lib.nag import check_aws_solutions

        check_aws_solutions(app)
    try:
        result = synthesize(build(spec, app, only=only))
    except RuntimeError as exc:
        if not args.nag or "ValidationFailed" not in str(exc):
            raise
        _nag_failed(args)
    if args.format == "json":
        output.emit_json({
            "command": "synth", "spec": args.spec, "out": result.directory, "partial": partial,
            "stacks": [{"name": n, "resources": len(t.get("Resources", {})), "template": f"{n}.template.json"}
                       for n, t in result.stacks.items()],
            "kubernetesManifests": result.manifests, "warnings": result.warnings})
    for w in result.warnings:
        output.say(f"warning: {w}")
    for name, t in result.stacks.items():
        output.say(f"{name}: {len(t.get('Resources', {}))} resources")
    for f in result.manifests:
        output.say(f"kubernetes manifests: {f} (kubectl apply -f)")
    if partial is not None:
        for s in partial["removedStacks"]:
            output.say(f"{s}: its service is gone from the spec; delete the stack (cdk destroy {s})")
        output.say(f"partial synth for {', '.join(partial['services']) or 'no service'}: "
                   f"{len(result.stacks)} stack(s) written to {result.directory}")
    else:
        output.say(f"{len(result.stacks)} stack(s) written to {result.directory}")
    return output.OK
