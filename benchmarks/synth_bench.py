"""Time `meshspec synth` against a hand-written CDK app declaring the same resources, and an empty CDK app.

Usage (from the worktree, after ./dev bootstraps .venv):
    .venv/bin/python benchmarks/synth_bench.py --sizes 100 500 --runs 3 --runs-large 2 --out /tmp/meshspec-bench

meshspec runs as users run it: worker processes (one per core) and the synth cache. "cold" gets a new, empty
cache directory every run (the cache's writes are timed, its reads never help); "warm" (at the largest N, or
every N with --warm-all) first fills a cache with the spec, then each run changes one service's image (another
service each run) and synthesizes the whole spec with that cache, as CI does after a one-line change.

For each N: benchmarks/gen_spec.py writes the spec and services.json (the same services for the hand-written
app); then, run after run, the three programs are started in turn (the order rotates each run, so drift on a
shared machine hits all alike), each as its own process tree from a cold Python, as CI would run them.
Measured: wall time, CPU time and peak resident memory of the whole process tree (Python, the synth workers and
their jsii Node processes), polled from /proc every 20 ms, and the 1-minute load average before each run (the
machine may be shared). Reported: medians, ratio meshspec / hand-written, the warm synth against the cold one,
issue 21's targets, and a check that both assemblies hold the same resources (count per type).

Validation: CDK's built-in CloudFormation validation is off for both (meshspec's default; the hand-written
app gets CDK_VALIDATION=false), so both do the same work; ``--validation`` turns it on for both.

Above 200 code versions App Mesh refuses the spec (200 virtual nodes per mesh): `meshspec validate` and
`meshspec synth` stop there, correctly. For N where that happens the meshspec column runs
benchmarks/synth_unchecked.py instead: the same load, build and synthesize as `meshspec synth`, with only the
App Mesh quota errors waived, and the table marks it.
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from gen_spec import write  # noqa: E402

from meshspec.infra.node import project_node  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
APPMESH_NODES = 200
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True,
               "aws:cdk:version-reporting": True, "aws:cdk:bundling-stacks": ["**"],
               "@aws-cdk/core:failSynthOnValidationErrors": False}


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{ROOT / '.venv' / 'bin'}:{ROOT / 'node_modules' / '.bin'}:{e.get('PATH', '')}"
    # the Node binary for all three (as ./dev and meshspec pick it), not the venv's bin/node: that is a Python
    # wrapper script, which would add a Python start-up to every program timed
    e["JSII_NODE"] = str(project_node() or ROOT / ".venv" / "bin" / "node")
    e["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"] = "1"
    return e


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = collections.defaultdict(list)
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        kids[ppid].append(int(stat.split("/")[2]))
    return kids


def _tree_rss(pid: int) -> int:
    kids, total, todo = _children(), 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
        except (OSError, IndexError):
            pass
        todo += kids.get(p, [])
    return total


def load() -> float:
    return os.getloadavg()[0]


def run(cmd: list[str], extra_env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS bytes of the process tree, and CPU seconds (user + system) of the tree: Python and
    the Node process it waits for. CPU time is the steadier figure on a machine other people share."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**env(), **extra_env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, status, usage = 0, None, None
    while status is None:
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, usage = os.waitstatus_to_exitcode(st), ru
            break
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - start
    proc.returncode = status
    err = proc.stderr.read().decode()
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status}):\n{err[-3000:]}")
    return wall, peak, usage.ru_utime + usage.ru_stime


def resources(out: Path) -> collections.Counter:
    c: collections.Counter = collections.Counter()
    for f in out.glob("*.template.json"):
        c.update(r["Type"] for r in json.loads(f.read_text())["Resources"].values())
    return c


def one_image_changed(spec: Path, i: int, out: Path) -> Path:
    """The spec with the i-th service's first image tag changed (another service each run)."""
    text = spec.read_text()
    at = -1
    for _ in range(i + 1):
        at = text.index("image: ", at + 1)
    end = text.index("\n", at)
    out.write_text(text[:end] + f"-r{i}" + text[end:])
    return out


def bench(n: int, runs: int, work: Path, validation: bool, warm: bool) -> dict:
    spec = write(n, work / f"n{n}" / "spec.yaml")
    services = spec.parent / "services.json"
    unchecked = 2 * n > APPMESH_NODES  # gen_spec gives every service two code versions
    # the context `cdk synth` (CLI 2.1148) hands an app; meshspec's new_app sets the same (stacks/app.py CLI_CONTEXT)
    val_env = {"CDK_CONTEXT_JSON": json.dumps(CLI_CONTEXT), **({} if validation else {"CDK_VALIDATION": "false"})}
    outs = {k: spec.parent / k for k in ("empty", "handwritten", "meshspec", "warm")}

    def meshspec(spec_file: Path, out: Path) -> list[str]:
        return (([PY, str(HERE / "synth_unchecked.py"), str(spec_file), str(out)] if unchecked else
                 [str(ROOT / ".venv" / "bin" / "meshspec"), "synth", str(spec_file), "--out", str(out)])
                + (["--validation"] if validation else []))

    cold_cache = spec.parent / "cold-cache"
    warm_cache = spec.parent / "warm-cache"
    cmds = {
        "empty": ([PY, str(HERE / "handwritten" / "app.py"), "--empty"], {"CDK_OUTDIR": str(outs["empty"]), **val_env}),
        "handwritten": ([PY, str(HERE / "handwritten" / "app.py"), str(services)],
                        {"CDK_OUTDIR": str(outs["handwritten"]), **val_env}),
        "meshspec": (meshspec(spec, outs["meshspec"]), {"MESHSPEC_CACHE_DIR": str(cold_cache)}),
    }
    if warm:
        shutil.rmtree(warm_cache, ignore_errors=True)
        run(meshspec(spec, outs["warm"]), {"MESHSPEC_CACHE_DIR": str(warm_cache)})  # fill the cache
    order = list(cmds)
    times: dict[str, list[float]] = {k: [] for k in [*cmds, "warm"]}
    rss: dict[str, list[int]] = {k: [] for k in times}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    loads: list[float] = []
    for i in range(runs):
        for k in order[i % 3:] + order[:i % 3] + (["warm"] if warm else []):
            shutil.rmtree(outs[k], ignore_errors=True)
            shutil.rmtree(cold_cache, ignore_errors=True)  # cold: an empty cache every run
            if k == "warm":
                cmd = (meshspec(one_image_changed(spec, i, spec.parent / f"spec-r{i}.yaml"), outs["warm"]),
                       {"MESHSPEC_CACHE_DIR": str(warm_cache)})
            else:
                cmd = cmds[k]
            loads.append(load())
            w, m, c = run(*cmd)
            times[k].append(w)
            rss[k].append(m)
            cpu[k].append(c)
            print(f"N={n} run {i + 1}/{runs} {k}: {w:.2f} s wall, {c:.2f} s CPU, {m / 2**20:.0f} MiB, "
                  f"load {loads[-1]:.2f}", file=sys.stderr, flush=True)
    same = resources(outs["handwritten"]) == resources(outs["meshspec"])
    if warm:
        same = same and resources(outs["warm"]) == resources(outs["meshspec"])
    times = {k: v for k, v in times.items() if v}
    return {"n": n, "runs": runs, "unchecked": unchecked, "same_resources": same, "warm": warm,
            "resources": sum(resources(outs["meshspec"]).values()),
            "stacks": len(list(outs["meshspec"].glob("*.template.json"))),
            "times": times, "rss": rss, "cpu": cpu, "loads": loads, "cores": os.cpu_count(),
            "median_s": {k: statistics.median(v) for k, v in times.items()},
            "median_cpu_s": {k: statistics.median(v) for k, v in cpu.items() if v},
            "median_mib": {k: statistics.median(v) / 2**20 for k, v in rss.items() if v},
            "max_mib": {k: max(v) / 2**20 for k, v in rss.items() if v}}


def table(rows: list[dict]) -> str:
    lines = ["| N | stacks | resources | runs | load (1 min) | empty CDK app | hand-written CDK | meshspec cold | ratio (wall) | "
             "CPU hand-written | CPU meshspec | meshspec warm (one image changed) | warm / cold | "
             "peak RSS hand-written | peak RSS meshspec |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m, c, mem = r["median_s"], r["median_cpu_s"], r["max_mib"]
        mark = " *" if r["unchecked"] else ""
        same = "" if r["same_resources"] else " (resources differ!)"
        warm = f"{m['warm']:.1f} s | {m['warm'] / m['meshspec']:.2f}" if "warm" in m else "- | -"
        lines.append(f"| {r['n']} | {r['stacks']} | {r['resources']}{same} | {r['runs']} | "
                     f"{min(r['loads']):.1f}–{max(r['loads']):.1f} | {m['empty']:.1f} s | "
                     f"{m['handwritten']:.1f} s | {m['meshspec']:.1f} s{mark} | {m['meshspec'] / m['handwritten']:.2f} | "
                     f"{c['handwritten']:.1f} s | {c['meshspec']:.1f} s | {warm} | "
                     f"{mem['handwritten']:.0f} MiB | {mem['meshspec']:.0f} MiB |")
    if any(r["unchecked"] for r in rows):
        lines.append("\n\\* App Mesh's quota refuses this spec; timed with benchmarks/synth_unchecked.py (same synth path).")
    lines.append("")
    lines.append(targets(rows))
    return "\n".join(lines)


TARGETS = {100: 0.7, 500: 0.6}  # issue 21: cold synth against the hand-written app's wall time


def targets(rows: list[dict]) -> str:
    """Issue 21's targets, met or not, from the medians (peak memory: the largest of the runs)."""
    out = ["| target (issue 21) | measured | met |", "|---|---|---|"]
    by_n = {r["n"]: r for r in rows}
    for n, limit in TARGETS.items():
        if n in by_n:
            ratio = by_n[n]["median_s"]["meshspec"] / by_n[n]["median_s"]["handwritten"]
            out.append(f"| cold synth at {n} ≤ {limit}× hand-written | {ratio:.2f}× | {'yes' if ratio <= limit else 'no'} |")
    if 500 in by_n and "warm" in by_n[500]["median_s"]:
        ratio = by_n[500]["median_s"]["warm"] / by_n[500]["median_s"]["meshspec"]
        out.append(f"| one image changed at 500 ≤ 0.1× cold | {ratio:.2f}× | {'yes' if ratio <= 0.1 else 'no'} |")
    if 500 in by_n:
        peak = by_n[500]["max_mib"]["meshspec"]
        out.append(f"| peak memory at 500 < 1.5 GB (process tree) | {peak:.0f} MiB | {'yes' if peak < 1536 else 'no'} |")
    return "\n".join(out)


def compile_meshspec() -> None:
    """Byte-compile meshspec's modules, as `pip install` does for an installed package and for aws-cdk-lib.

    An editable install compiles on first import and caches the result, unless PYTHONDONTWRITEBYTECODE is set
    (as on the shared benchmark machine): then every timed `meshspec synth` would compile the 45 meshspec
    modules it imports again (about 0.05 s of CPU), while the hand-written app imports a precompiled
    aws-cdk-lib."""
    subprocess.run([PY, "-m", "compileall", "-q", *(str(ROOT / d) for d in ("infra", "stacks", "constructs_lib"))],
                   check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--runs-large", type=int, default=None, help="runs for N >= 500 (default: --runs)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/meshspec-bench"))
    ap.add_argument("--validation", action="store_true", help="CDK's built-in validation on for both apps")
    ap.add_argument("--warm-all", action="store_true", help="time the warm synth at every N (default: the largest)")
    a = ap.parse_args()
    compile_meshspec()
    rows = []
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", file=sys.stderr)
    for n in a.sizes:
        rows.append(bench(n, a.runs_large if (n >= 500 and a.runs_large) else a.runs, a.out, a.validation,
                          a.warm_all or n == max(a.sizes)))
        (a.out / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", file=sys.stderr)
    print(table(rows))
