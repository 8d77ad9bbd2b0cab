"""`meshspec synth` for a spec App Mesh's quota refuses: for benchmarks only, never for a deployment.

Usage: python benchmarks/synth_unchecked.py SPEC OUT [--validation] [--no-cache] [--jobs N]
The same steps as infra/cli/commands/synth.py (a worker started before the spec is read, load, the synth engine:
worker processes and the synth cache at $MESHSPEC_CACHE_DIR), with the App Mesh quota errors (``quota-appmesh``:
200 virtual nodes per mesh) waived, so the synth path can be timed at 500 services. Any other error still stops
it, CloudFormation's quotas included.
"""
from __future__ import annotations

import argparse
import sys

from meshspec.infra.node import use_project_node

use_project_node()  # jsii on the project's Node, before aws-cdk-lib is imported
from meshspec.infra.startup import frozen_imports

with frozen_imports():  # as the CLI imports them (infra/startup.py); the spec loader after the workers' start
    from meshspec.stacks import engine
    from meshspec.stacks.cache import Cache, default_dir

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("out")
    ap.add_argument("--validation", action="store_true")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--jobs", type=int, default=None)
    a = ap.parse_args()
    jobs = a.jobs or engine.default_jobs()
    cache = None if a.no_cache else Cache(default_dir())
    # as the CLI does (infra/cli/commands/synth.py): workers start before the spec is read
    early = [] if a.validation else engine.prestart(jobs, a.spec, cache)
    with frozen_imports():
        from meshspec.infra.spec import load_spec
    try:
        result = load_spec(a.spec)
        blocking = [e for e in result.errors if e.code != "quota-appmesh"]
        if result.spec is None or blocking:
            sys.exit("\n".join(e.render() for e in blocking) or "the spec did not load")
        if a.validation:
            from meshspec.stacks.app import build, new_app, skip_jsii_type_checks, synthesize

            skip_jsii_type_checks()
            synthesize(build(result.spec, new_app(a.out, validation=True)))
        else:
            run = engine.synth(result.spec, a.out, jobs=jobs, cache=cache, workers=early)
            print(f"built {len(run.built)}, cached {len(run.cached)}, workers {run.workers}", file=sys.stderr)
    finally:
        for w in early:
            w.dismiss()
