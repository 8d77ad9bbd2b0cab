"""``meshspec synth SPEC [--out DIR] [--service NAME]... [--changed-since REF]``: the CloudFormation templates
`cdk synth` writes, without the CDK CLI; with ``--service``/``--changed-since`` only the stacks a change touches
(plus the stacks they depend on), each the same template a full synth writes."""
from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from typing import TYPE_CHECKING

from meshspec.infra.errors import UserError
from meshspec.infra.node import use_project_node
from meshspec.infra.startup import frozen_imports

from .. import output
from ..progress import Progress

if TYPE_CHECKING:  # the spec's model and the layout load after the synth workers have started (prestart)
    from meshspec.infra.spec import Spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthesize the AWS stacks of a spec (CloudFormation templates)")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--out", default="cdk.out", metavar="DIR", help="cloud assembly directory (default: cdk.out)")
    p.add_argument("--validation", action="store_true",
                   help="also run CDK's built-in CloudFormation validation (about doubles synth time; "
                        "default: off, run cfn-lint in CI instead)")
    p.add_argument("--no-validation", action="store_true", help=argparse.SUPPRESS)  # the default; kept for scripts
    p.add_argument("--nag", action="store_true",
                   help="also run cdk-nag's AwsSolutions checks; exit 1 listing every unacknowledged finding "
                        "(in one process, without the cache)")
    p.add_argument("--service", action="append", default=[], metavar="NAME",
                   help="synthesize only the stacks this service's entry feeds (its own, those of the services it "
                        "uses and of those that use it) and the stacks they depend on (repeatable)")
    p.add_argument("--jobs", type=int, metavar="N", default=None,
                   help="worker processes that synthesize stacks side by side, each with its own jsii runtime "
                        "(default: one per core; 1: all in this process)")
    p.add_argument("--no-cache", action="store_true",
                   help="synthesize every stack, and keep nothing in the synth cache")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="the synth cache (default: synth in $MESHSPEC_CACHE_DIR, else ~/.cache/meshspec/synth); see "
                        "`meshspec help scale`")
    p.add_argument("--changed-since", metavar="REF",
                   help="synthesize only the stacks whose inputs changed since git REF, and the stacks they depend "
                        "on: every stack whose template a full synth would change")
    output.add_format(p)
    p.set_defaults(func=run)


def selection(spec: Spec, services: list[str], changed_since: str | None, spec_path: Path) -> dict | None:
    """The partial synth asked for: None for everything, else the services, removed services and stacks."""
    from meshspec.infra import sharding

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
    aws_names = set(aws)
    changed = set(sharding.fed_by(spec, services))
    touched, removed, removed_stacks, contracts = set(services), [], [], []
    if changed_since is not None:
        from meshspec.infra.changes import changes_since

        changes = changes_since(spec_path, changed_since, spec)
        changed |= set(changes.stacks)
        touched |= changes.services & aws_names
        removed, removed_stacks = sorted(changes.removed), list(changes.removed_stacks)
        contracts = sorted(changes.contracts)
    order = [s.name for s in sharding.layout(spec)]
    return {"services": sorted(touched), "removed": removed, "removedStacks": removed_stacks,
            "changed": [s for s in order if s in changed], "stacks": sharding.closure(spec, changed),
            "contracts": contracts}


def _nag_failed(args: argparse.Namespace) -> None:
    from meshspec.constructs_lib.nag import findings

    found = findings(args.out)
    for f in found:
        output.say(f"cdk-nag {f['rule']}: {', '.join(f['paths'])}: {f['message']}")
    raise UserError(f"cdk-nag: {len(found)} finding(s) not acknowledged",
                    hint="fix the resource, or acknowledge the finding with its reason "
                         "(meshspec.constructs_lib.nag.suppress; see `meshspec help aws`)")


def run(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: give at least 1 (1: synthesize in this process)")
    use_project_node()  # jsii (here, or in the synth workers) runs the project's Node, not the host's
    from meshspec.stacks import engine
    from meshspec.stacks.cache import Cache, default_dir

    jobs = args.jobs or engine.default_jobs()
    # workers start importing aws-cdk-lib while this process reads the spec (stopped if not needed)
    whole = args.validation or args.nag  # checks over the whole app: one process, no cache
    cache = None if args.no_cache or whole else Cache(args.cache_dir or default_dir())
    early = [] if whole else engine.prestart(jobs, args.spec, cache)
    try:
        return _run(args, jobs, early, cache)
    finally:
        for w in early:
            w.dismiss()


def _run(args: argparse.Namespace, jobs: int, early: list, cache) -> int:
    from meshspec.stacks.cache import default_dir

    with frozen_imports():
        from meshspec.infra.spec import load_spec_or_raise
    spec = load_spec_or_raise(args.spec)
    partial = selection(spec, args.service, args.changed_since, Path(args.spec))
    if partial is not None and not partial["stacks"]:
        if args.format == "json":
            output.emit_json({"command": "synth", "spec": args.spec, "out": None, "partial": partial, "stacks": [],
                              "kubernetesManifests": [], "warnings": []})
        for s in partial["removedStacks"]:
            output.say(f"{s}: its service is gone from the spec; delete the stack (meshspec cdk destroy {s})")
        output.say("no stack is touched: nothing to synthesize")
        return output.OK
    before = _templates(Path(args.out), spec)
    if args.validation or args.nag:  # CDK's validation and cdk-nag run over the whole app: one process, no cache
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
        stacks = {n: len(t.get("Resources", {})) for n, t in result.stacks.items()}
        run = {"built": list(stacks), "cached": [], "rejected": [], "workers": 0}
        directory, manifests, warnings = result.directory, result.manifests, result.warnings
    else:
        from meshspec.stacks import engine

        with Progress("synth", enabled=None if args.format == "text" else False) as bar:
            result = engine.synth(spec, args.out, stacks=None if partial is None else partial["stacks"], jobs=jobs,
                                  cache=cache, workers=early, progress=bar)
        if cache is not None:
            cache.prune()
        stacks = result.resources
        run = {"built": result.built, "cached": result.cached, "rejected": result.rejected,
               "workers": result.workers, "templates": result.templates}
        directory, manifests, warnings = result.directory, result.manifests, result.warnings
    after = run.get("templates") or _templates(Path(directory), spec)
    changed = [n for n in stacks if after.get(n) != before.get(n)]
    if args.format == "json":
        output.emit_json({
            "command": "synth", "spec": args.spec, "out": directory, "partial": partial,
            "stacks": [{"name": n, "resources": count, "template": f"{n}.template.json", "changed": n in changed,
                        "cached": n in run["cached"]} for n, count in stacks.items()],
            "cache": {"dir": None if args.validation or args.nag or args.no_cache else str(args.cache_dir or default_dir()),
                      **{k: v for k, v in run.items() if k != "templates"}},
            "kubernetesManifests": manifests, "warnings": warnings})
    for w in warnings:
        output.say(f"warning: {w}")
    for line in summary(stacks, changed, run, manifests):
        output.say(line)
    if partial is not None:
        for s in partial["removedStacks"]:
            output.say(f"{s}: its service is gone from the spec; delete the stack (meshspec cdk destroy {s})")
        output.say(f"partial synth for {', '.join(partial['services']) or 'no service'}: "
                   f"{len(stacks)} stack(s) written to {directory}")
    else:
        output.say(f"{len(stacks)} stack(s) written to {directory}")
    return output.OK


SHOWN = 30  # changed stacks listed one a line; the rest in one line (--format json lists every stack)


def summary(stacks: dict[str, int], changed: list[str], run: dict, manifests: list[str]) -> list[str]:
    """The changed stacks first (new, or a template other than the one in the output directory before), then
    one line for the rest: 500 stacks do not make 500 lines."""
    lines = [f"{n}: {stacks[n]} resources" for n in changed[:SHOWN]]
    if len(changed) > SHOWN:
        lines.append(f"... and {len(changed) - SHOWN} more changed stack(s) (--format json lists every stack)")
    same = len(stacks) - len(changed)
    if same:
        lines.append(f"{same} stack(s) unchanged" + (f", e.g. {', '.join(n for n in stacks if n not in changed)[:80]}"
                                                     if same <= 3 else ""))
    if run["cached"] or run["built"]:
        lines.append(f"synthesized {len(run['built'])} stack(s)"
                     + (f" in {run['workers']} worker process(es)" if run["workers"] else "")
                     + f", {len(run['cached'])} from the cache"
                     + (f" ({len(run['rejected'])} corrupt or foreign cache entries rebuilt)" if run["rejected"] else ""))
    by_dir = sorted({str(Path(f).parent.parent) for f in manifests})
    if manifests:
        lines.append(f"kubernetes manifests: {len(manifests)} file(s) under "
                     f"{', '.join(d + '/' for d in by_dir)} (kubectl apply -f)" if len(manifests) > 3 else
                     "kubernetes manifests: " + ", ".join(manifests) + " (kubectl apply -f)")
    return lines


def _templates(out: Path, spec: Spec) -> dict[str, bytes]:
    """The templates in ``out`` now, by stack, to tell which stacks a synth changes."""
    import hashlib

    from meshspec.infra import sharding

    found = {}
    for s in sharding.layout(spec):
        try:
            found[s.name] = hashlib.sha256((out / f"{s.name}.template.json").read_bytes()).digest()
        except OSError:
            continue
    return found
