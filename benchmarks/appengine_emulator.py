"""How fast the App Engine emulator answers through the real client library (REST, anonymous).

Usage: .venv/bin/python benchmarks/appengine_emulator.py [SERVICES]   (default 50; prints JSON)
Creates SERVICES services with two versions each, splits each 90/10, lists everything, and reports the
per-call latency (median and 95th percentile, milliseconds) and the calls the emulator counted.
"""
from __future__ import annotations

import json
import statistics
import sys
import time

from meshspec.infra.appengine.emulator import Emulator

T = 10


def main(n: int) -> dict:
    timings: dict[str, list[float]] = {}

    def timed(name, fn):
        start = time.perf_counter()
        result = fn()
        timings.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return result

    with Emulator(project="bench") as emu:
        c = emu.clients()
        names = ["default"] + [f"svc-{i:03d}" for i in range(n - 1)]
        for service in names:
            for version in ("v1", "v2"):
                body = {"id": version, "runtime": "python312", "automatic_scaling": {},
                        "deployment": {"zip": {"source_url": f"gs://b/{service}/{version}.zip"}}}
                timed("versions.create+result", lambda: c.versions.create_version(request={
                    "parent": f"apps/bench/services/{service}", "version": body}, timeout=T).result(timeout=T))
        for service in names:
            timed("services.patch+result", lambda: c.services.update_service(request={
                "name": f"apps/bench/services/{service}",
                "service": {"split": {"allocations": {"v1": 0.9, "v2": 0.1}, "shard_by": "IP"}},
                "update_mask": {"paths": ["split"]}}, timeout=T).result(timeout=T))
        services = timed("services.list (all pages)", lambda: list(
            c.services.list_services(request={"parent": "apps/bench"}, timeout=T)))
        for service in names:
            timed("versions.list", lambda: list(c.versions.list_versions(
                request={"parent": f"apps/bench/services/{service}"}, timeout=T)))
        assert len(services) == n
        return {
            "services": n,
            "latencyMs": {name: {"calls": len(v), "median": round(statistics.median(v), 2),
                                 "p95": round(sorted(v)[int(0.95 * (len(v) - 1))], 2)}
                          for name, v in timings.items()},
            "emulatorCalls": {m: emu.count(m) for m in sorted({c.method for c in emu.calls})},
        }


if __name__ == "__main__":
    json.dump(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50), sys.stdout, indent=2)
    sys.stdout.write("\n")
