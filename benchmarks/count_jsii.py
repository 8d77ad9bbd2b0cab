"""Count jsii round trips (Python → Node kernel requests) of `meshspec synth`, by the meshspec function that
made them: where the synth time goes (each round trip is a JSON message through a pipe and back).

Usage: python benchmarks/count_jsii.py SPEC [--unchecked]
"""
from __future__ import annotations

import collections
import sys
import tempfile
import time
import traceback

from jsii._kernel.providers import process

counts: collections.Counter = collections.Counter()
_send = process._NodeProcess.send


def send(self, request, response_type):
    where = "other"
    for frame in reversed(traceback.extract_stack(limit=40)):
        if "/constructs_lib/" in frame.filename or "/stacks/" in frame.filename:
            where = f"{frame.filename.split('/work/wt/scale/')[-1].split('/', 0)[-1]}:{frame.name}"
            break
    counts[(type(request).__name__, where)] += 1
    return _send(self, request, response_type)


process._NodeProcess.send = send

if __name__ == "__main__":
    from infra.spec import load_spec
    from stacks.app import build, new_app, synthesize

    result = load_spec(sys.argv[1])
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
