"""How synth time and stack sizes grow with the number of meshed services (offline, no credentials).

    .venv/bin/python benchmarks/cdk_synth_scale.py 50 100 200

Each N is a generated spec of N ECS services (two code versions each up to 100 services, one beyond, as App
Mesh allows 200 virtual nodes per mesh), synthesized with CDK's built-in validation off.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meshspec.infra.node import use_project_node  # noqa: E402

use_project_node()  # jsii on the project's Node, before aws-cdk-lib is imported
from meshspec.stacks.app import build, new_app, synthesize  # noqa: E402
from meshspec.stacks.limits import size  # noqa: E402
from tests.cdk_support import big_spec_text, load  # noqa: E402


def main(counts: list[int]) -> None:
    print(f"{'services':>8} {'versions':>8} {'stacks':>6} {'synth s':>8} {'max res':>7} {'max KB':>7} {'max out':>7}")
    for n in counts:
        versions = 2 if n <= 100 else 1
        spec = load(big_spec_text(n, versions=versions))
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            result = synthesize(build(spec, new_app(out, validation=False)))
            took = time.perf_counter() - start
        sizes = [size(name, t) for name, t in result.stacks.items()]
        print(f"{n:>8} {versions:>8} {len(sizes):>6} {took:>8.1f} {max(s.resources for s in sizes):>7} "
              f"{max(s.template_bytes for s in sizes) / 1000:>7.0f} {max(s.outputs for s in sizes):>7}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [50, 100, 200])
