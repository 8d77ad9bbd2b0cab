"""``meshspec synth SPEC [--out DIR]``: the CloudFormation templates `cdk synth` writes, without the CDK CLI."""
from __future__ import annotations

import argparse

from infra.spec import load_spec_or_raise

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthesize the AWS stacks of a spec (CloudFormation templates)")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--out", default="cdk.out", metavar="DIR", help="cloud assembly directory (default: cdk.out)")
    p.add_argument("--no-validation", action="store_true",
                   help="skip CDK's built-in CloudFormation validation (about twice as fast)")
    output.add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stacks.app import build, new_app, synthesize  # CDK loads slowly: only for the commands that need it

    spec = load_spec_or_raise(args.spec)
    result = synthesize(build(spec, new_app(args.out, validation=not args.no_validation)))
    if args.format == "json":
        output.emit_json({
            "command": "synth", "spec": args.spec, "out": result.directory,
            "stacks": [{"name": n, "resources": len(t.get("Resources", {})), "template": f"{n}.template.json"}
                       for n, t in result.stacks.items()],
            "kubernetesManifests": result.manifests, "warnings": result.warnings})
    for w in result.warnings:
        output.say(f"warning: {w}")
    for name, t in result.stacks.items():
        output.say(f"{name}: {len(t.get('Resources', {}))} resources")
    for f in result.manifests:
        output.say(f"kubernetes manifests: {f} (kubectl apply -f)")
    output.say(f"{len(result.stacks)} stack(s) written to {result.directory}")
    return output.OK
