"""Count jsii round trips (Python → Node kernel requests) of `meshspec synth`, by the meshspec function that
made them: where the synth time goes (each round trip is a JSON message through a pipe and back).

Usage: python benchmarks/count_jsii.py SPEC
       python benchmarks/count_jsii.py --script benchmarks/handwritten/app.py SERVICES_JSON   (any CDK app script)
"""
from __future__ import annotations

import collections
import os
import sys
import tempfile
import time
import traceback

from meshspec.infra.node import use_project_node  # noqa: E402

use_project_node()  # jsii on the project's Node, before aws-cdk-lib is imported
from jsii._kernel.providers import process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
counts: collections.Counter = collections.Counter()
_send = process._NodeProcess.send


def send(self, request, response_type):
    where = "other"
    for frame in reversed(traceback.extract_stack(limit=40)):
        if "/constructs_lib/" in frame.filename or "/stacks/" in frame.filename:
            where = f"{os.path.relpath(frame.filename, ROOT)}:{frame.name}"
            break
    counts[(type(request).__name__, where)] += 1
    return _send(self, request, response_type)


process._NodeProcess.send = send

if __name__ == "__main__" and sys.argv[1] == "--script":
    import runpy

    with tempfile.TemporaryDirectory() as d:
        os.environ["CDK_OUTDIR"] = d
        sys.argv = sys.argv[2:]
        t = time.perf_counter()
        runpy.run_path(sys.argv[0], run_name="__main__")
        print(f"{sum(counts.values())} jsii round trips; {time.perf_counter() - t:.1f} s")
elif __name__ == "__main__":
    from meshspec.infra.spec import load_spec
    from meshspec.stacks.app import build, new_app, synthesize

    result = load_spec(sys.argv[1])
    from meshspec.stacks.app import skip_jsii_type_checks

    skip_jsii_type_checks()  # as meshspec synth does
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        built = build(result.spec, new_app(d, validation=False))
        t1 = time.perf_counter()
        synthesize(built)
        t2 = time.perf_counter()
    total = sum(counts.values())
    print(f"{total} jsii round trips; build {t1 - t:.1f} s, synthesize {t2 - t1:.1f} s")
    by_where: collections.Counter = collections.Counter()
    for (kind, where), n in counts.items():
        by_where[where] += n
    for where, n in by_where.most_common(25):
        print(f"{n:7} {where}")
