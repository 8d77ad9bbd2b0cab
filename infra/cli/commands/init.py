"""``meshspec init [DIR]``: write a working repository (spec, contracts, cdk.json, snapshot tests, CI workflow),
synthesize it into cdk.out and record the tests' snapshots; refuse, writing nothing, when any file exists."""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

from meshspec.infra.errors import UserError

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="start a repository: spec, contracts, cdk.json, snapshot tests, CI workflow",
                       description="Write meshspec.yaml (a service on ECS Fargate behind a supported mesh backend and "
                                   "one on App Engine, each with a contract), contracts/, cdk.json, tests/, "
                                   ".github/workflows/meshspec.yml, .gitignore and a README into DIR; synthesize "
                                   "it into DIR/cdk.out and record the tests' snapshots. Writes nothing if any "
                                   "of those files exists. See `meshspec help repository`.")
    p.add_argument("directory", nargs="?", default=".", metavar="DIR", help="the repository (default: .)")
    p.add_argument("--project", help="the spec's project name (default: from DIR's name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from importlib.metadata import version

    from meshspec.infra.init import PROJECT, conflicts, project_name, render

    directory = Path(args.directory)
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory} is not a folder", hint="give a folder (it is created when missing)")
    project = args.project or project_name(directory)
    if not PROJECT.match(project):
        raise UserError(f"--project {project!r} is not a usable project name",
                        hint="2 to 20 lowercase letters, digits and dashes, starting with a letter")
    files = render(project, version("meshspec"))
    clash = conflicts(directory, files)
    if clash:
        for path in clash:
            output.say(f"exists: {directory / path}")
        raise UserError(f"{len(clash)} file(s) already exist in {directory}: nothing was written",
                        hint="run meshspec init in an empty folder, or move those files away first")
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        output.say(f"wrote {path}")
    synthesize(directory)
    record_snapshots(directory)
    output.say(f"done: {directory} is a meshspec repository (project {project}); its README says what next")
    return output.OK


def synthesize(directory: Path) -> None:
    """The cloud assembly, as `meshspec cdk synth` writes it (the same templates)."""
    from meshspec.infra.testing import SpecFailed, synthesize_spec

    try:
        out = synthesize_spec(directory / "meshspec.yaml", directory / "cdk.out")
    except SpecFailed as exc:  # pragma: no cover - the template is tested
        raise UserError(f"the new spec does not synthesize:\n{exc}") from None
    output.say(f"synthesized {len(out.templates)} stack(s) into {directory / 'cdk.out'}")


def record_snapshots(directory: Path) -> None:
    """Run the new tests once with --snapshot-update (pytest and syrupy: ``meshspec[testing]``)."""
    if not all(importlib.util.find_spec(m) for m in ("pytest", "syrupy")):
        output.say("snapshots not recorded: pytest and syrupy are not installed. pip install 'meshspec[testing]', "
                   "then run `pytest --snapshot-update` once in the repository")
        return
    output.say("recording the snapshots: pytest --snapshot-update")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "--snapshot-update", "-p", "no:cacheprovider"],
                          cwd=directory, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise UserError("the new repository's tests failed:\n" + (proc.stdout + proc.stderr)[-3000:])
    output.say(f"tests: {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else 'passed'}")
