"""Time `meshspec validate` on a generated 1,000-service spec (target: < 1 s, interpreter start excluded).

Usage: .venv/bin/python benchmarks/validate_1000.py [--services 1000] [--runs 5]
Prints the in-process time of load_spec (median of runs, modules already imported), the time of
`meshspec validate` as a process, and the time of a bare `python -c pass` for the interpreter start.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_spec import write  # noqa: E402

from meshspec.infra.spec import load_spec  # noqa: E402


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = write(args.services, Path(tmp) / "bench" / "spec.yaml")
        lines = len(spec.read_text().splitlines())
        load_spec(spec)  # warm imports
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            result = load_spec(spec)
            times.append(time.perf_counter() - t)
        proc = [wall([sys.executable, "-m", "meshspec.infra.cli", "validate", str(spec)]) for _ in range(args.runs)]
        bare = [wall([sys.executable, "-c", "pass"]) for _ in range(args.runs)]
        imports = [wall([sys.executable, "-c", "import meshspec.infra.cli.main, meshspec.infra.spec"]) for _ in range(args.runs)]
    print(f"spec: {args.services} services, {lines} lines; errors={len(result.errors)} "
          f"(quota findings expected above 200 meshed services: {sorted({e.code for e in result.errors})})")
    print(f"load_spec in process (median of {args.runs}): {statistics.median(times):.3f} s")
    print(f"`meshspec validate` as a process:          {statistics.median(proc):.3f} s")
    print(f"  of which interpreter start (python -c pass): {statistics.median(bare):.3f} s")
    print(f"  of which imports (meshspec.infra.cli, meshspec.infra.spec):    {statistics.median(imports) - statistics.median(bare):.3f} s")
    print(f"validate excluding interpreter start:        {statistics.median(proc) - statistics.median(bare):.3f} s")


if __name__ == "__main__":
    main()
