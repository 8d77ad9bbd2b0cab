"""``python -m meshspec.infra.cli.appengine_demo SPEC``: plan and apply a spec's App Engine part against an embedded emulator.

Offline: the emulator runs in this process on a free port of 127.0.0.1, with an empty application; nothing
reaches Google. Used by ``./dev demo``.
"""
from __future__ import annotations

import sys
import tempfile

from meshspec.infra.appengine.emulator import Emulator
from meshspec.infra.spec import load_spec_or_raise

from .main import main as cli


def run(spec_path: str) -> int:
    spec = load_spec_or_raise(spec_path)
    if not spec.appengine_services():
        print(f"{spec_path}: no App Engine services; nothing to do", file=sys.stderr)
        return 0
    with Emulator(project=spec.gcp.project, location=spec.gcp.location, operation_delay=0.2) as emu, tempfile.TemporaryDirectory() as state:
        common = ["--endpoint", emu.url, "--poll-interval", "0.05", "--call-timeout", "10"]
        steps = [
            ("plan", ["appengine", "plan", spec_path, *common]),
            ("apply", ["appengine", "apply", spec_path, "--state-dir", state, *common]),
            ("apply again (an applied spec changes nothing)", ["appengine", "apply", spec_path, "--state-dir", state,
                                                               *common]),
        ]
        for title, argv in steps:
            emu.clear_calls()
            print(f"== meshspec {' '.join(argv[:3])} (emulator at {emu.url}): {title}", file=sys.stderr, flush=True)
            rc = cli(argv)
            sys.stdout.flush()
            if rc != 0:
                return rc
            polls = emu.count("apps.operations.get")
            reads = emu.count() - emu.count(writes=True) - polls
            print(f"   API calls: {reads} read(s) (apps.get {emu.count('apps.get')}, services.list "
                  f"{emu.count('apps.services.list')}, versions.list {emu.count('apps.services.versions.list')}), "
                  f"{emu.count(writes=True)} write(s), {polls} operation poll(s)", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m meshspec.infra.appengine.demo SPEC_FILE")
    sys.exit(run(sys.argv[1]))
