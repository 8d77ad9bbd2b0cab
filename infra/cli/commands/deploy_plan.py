"""``meshspec deploy-plan SPEC [--assembly DIR] [--changed-since REF]``: the stacks to deploy by dependency level,
each level as parallel jobs of a few stacks (the plan a CI matrix runs; infra/waves.py). Synthesizes nothing."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from meshspec.infra import sharding, waves
from meshspec.infra.errors import UserError
from meshspec.infra.spec import Spec, load_spec_or_raise

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deploy-plan", help="the stacks to deploy, by dependency level, as parallel jobs")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--assembly", metavar="DIR", help="deploy the stacks of this cloud assembly (what `meshspec "
                   "synth` wrote, partial or full). Default: every stack of the spec, or those touched since "
                   "--changed-since")
    p.add_argument("--changed-since", metavar="REF", help="only the stacks touched since git REF, as `meshspec "
                   "synth --changed-since` selects them")
    p.add_argument("--stacks-per-job", type=int, default=10, metavar="N",
                   help="stacks one job deploys at once (default: 10; more when a level would need over "
                        f"{waves.GITHUB_MATRIX_JOBS} jobs, GitHub's matrix limit)")
    output.add_format(p)
    p.set_defaults(func=run)


def assembly_stacks(directory: str, spec_path: str) -> list[str]:
    """The stack names in a cloud assembly's manifest (nested assemblies are not meshspec's)."""
    manifest = Path(directory) / "manifest.json"
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{directory} holds no cloud assembly (no manifest.json)",
                        hint=f"write one first: meshspec synth {spec_path} --out {directory}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{manifest} cannot be read: {exc}") from None
    return [a.get("properties", {}).get("stackName") or a.get("displayName") or name
            for name, a in (doc.get("artifacts") or {}).items() if a.get("type") == "aws:cloudformation:stack"]


def selected(spec: Spec, args: argparse.Namespace) -> tuple[list[str] | None, list[str]]:
    """The stacks to deploy (None: all of the layout) and the stacks of services gone since --changed-since."""
    removed: list[str] = []
    chosen = None
    if args.changed_since is not None:
        from .synth import selection

        partial = selection(spec, [], args.changed_since, Path(args.spec))
        if partial is not None:
            chosen, removed = partial["stacks"], partial["removedStacks"]
    if args.assembly is not None:
        names = assembly_stacks(args.assembly, args.spec)
        known = {s.name for s in sharding.layout(spec)}
        strangers = [n for n in names if n not in known]
        if strangers:
            raise UserError(f"{args.assembly} holds stacks this spec does not make: {', '.join(strangers[:5])}"
                            + (f" and {len(strangers) - 5} more" if len(strangers) > 5 else ""),
                            hint=f"synthesize this spec into it: meshspec synth {args.spec} --out {args.assembly}")
        chosen = names
    return chosen, removed


def plan_json(spec: Spec, chosen: list[str] | None, stacks_per_job: int) -> list[dict]:
    layout = sharding.layout(spec)
    kinds = {s.name: s.kind for s in layout}
    out = []
    for i, jobs in enumerate(waves.github_levels(layout, chosen, stacks_per_job)):
        stacks = [s for job in jobs for s in job.stacks]
        out.append({"level": i, "kinds": sorted({kinds[s] for s in stacks}), "stacks": stacks,
                    "jobs": [{"name": f"level {i}: {j + 1}/{len(jobs)}", "stacks": list(job.stacks),
                              "services": list(job.services)} for j, job in enumerate(jobs)]})
    return out


def run(args: argparse.Namespace) -> int:
    if args.stacks_per_job < 1:
        raise UserError(f"--stacks-per-job must be at least 1 (given: {args.stacks_per_job})")
    spec = load_spec_or_raise(args.spec)
    if spec.aws is None:
        raise UserError(f"{args.spec} has no aws section: there is no stack to deploy",
                        hint="App Engine services are applied with meshspec appengine apply")
    chosen, removed = selected(spec, args)
    levels = plan_json(spec, chosen, args.stacks_per_job)
    if args.format == "json":
        output.emit_json({"command": "deploy-plan", "spec": args.spec, "changedSince": args.changed_since,
                          "assembly": args.assembly, "levels": levels, "removedStacks": removed})
    for level in levels:
        if level["stacks"]:
            output.say(f"level {level['level']} ({', '.join(level['kinds'])}): {len(level['stacks'])} stack(s) "
                       f"in {len(level['jobs'])} job(s)")
    for s in removed:
        output.say(f"{s}: its service is gone from the spec; delete the stack (cdk destroy {s})")
    if not any(level["stacks"] for level in levels):
        output.say("nothing to deploy")
    return output.OK
