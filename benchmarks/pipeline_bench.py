"""aws.pipeline at scale: the pipeline stack's synth time, size and shape at N services, and validate's count.

    .venv/bin/python benchmarks/pipeline_bench.py --sizes 100 500 1000

Per N: an N-service spec (Service Connect, one version each, so App Mesh's and Lattice's mesh quotas do not
refuse it) with ``aws.pipeline`` at its default wave sizes; the pipeline stack alone is built and synthesized in
this process (it reads only the spec), the time printed with the machine's load average.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--backend", default="service-connect")
    args = parser.parse_args()
    started = time.perf_counter()
    from meshspec.infra import waves
    from meshspec.infra.spec import load_text
    from tests.conftest import TODAY
    from tests.pipeline_support import pipeline_spec_text, synth_pipeline

    with tempfile.TemporaryDirectory() as out:  # CDK's import and its Node process are not the pipeline's cost
        synth_pipeline(load_text(pipeline_spec_text(2), today=TODAY).spec, out)
    print(f"imports and a first synth: {time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.1f}")
    print("| services | stacks | waves | stages | actions | resources | template KB | validate s | synth s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        t0 = time.perf_counter()
        result = load_text(pipeline_spec_text(n, backend=args.backend, versions=1), today=TODAY)
        t1 = time.perf_counter()
        pipeline_errors = [e.render() for e in result.errors if "pipeline" in e.key_path]
        if result.spec is None or pipeline_errors:
            print(f"| {n} | refused: {pipeline_errors[:1] or [e.render() for e in result.errors][:1]} |")
            continue
        shape = waves.pipeline_shape(result.spec)
        with tempfile.TemporaryDirectory() as out:
            t2 = time.perf_counter()
            template = synth_pipeline(result.spec, out)
            t3 = time.perf_counter()
            size = len(json.dumps(template, indent=1))
        stacks = sum(len(w.stacks) for w in shape.waves)
        print(f"| {n} | {stacks} | {len(shape.waves)} | {shape.stages} | {shape.actions} | "
              f"{len(template['Resources'])} | {size // 1000} | {t1 - t0:.2f} | {t3 - t2:.1f} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
