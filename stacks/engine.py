"""``meshspec synth`` at scale: the stacks spread over worker processes and cached, one assembly byte for byte.

1. Each stack to write gets its cache key (``meshspec.stacks.cache``: its inputs from
   ``meshspec.infra.sharding.inputs``, meshspec's and CDK's versions, the context); a verified entry is used as it
   is.
2. The others are shared out among worker processes (``--jobs``, default one per core; fewer when there are few
   stacks, since each worker starts its own Python, jsii and Node), balanced by their size. Each worker builds its
   share, plus the shared and cluster stacks it is built against, and synthesizes it into a directory of its own
   (``meshspec.stacks.worker``): it gets the views of those stacks (``sharding.part``), not the spec, and works
   out no other view. With one share and CDK already loaded in this process, it is built here.
3. The fragments, cached and new, are put together in the layout's order (``meshspec.stacks.assembly``): the
   same manifest.json, tree.json, templates, asset manifests, metadata and Kubernetes manifests as one
   ``app.synth()`` of the whole app, which the tests check byte for byte.

This module loads no CDK: the parent process only reads, hashes and copies.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from meshspec.infra.errors import UserError
from meshspec.infra.startup import frozen_imports

from . import assembly
from .cache import Cache, environment_key, stack_key
from .context import APP_CONTEXT, CLI_CONTEXT
from .limits import OVERFLOW_HINT

if TYPE_CHECKING:  # the spec's model and the layout are imported when a synth starts, not with this module: the
    # CLI starts the workers (prestart) before it reads the spec, and their start is what a warm synth waits for
    from meshspec.infra.spec.model import Spec

MIN_STACKS_PER_WORKER = 24  # below this a worker's start (Python, aws-cdk-lib, Node: about 1.5 s) does not pay


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Result:
    directory: str
    stacks: list[str]  # written, in the layout's order
    resources: dict[str, int]
    warnings: list[str]
    manifests: list[str]  # Kubernetes manifest files written
    built: list[str] = field(default_factory=list)  # synthesized by this run
    cached: list[str] = field(default_factory=list)  # copied from the cache
    rejected: list[str] = field(default_factory=list)  # cache entries found corrupt or foreign, rebuilt
    workers: int = 0
    templates: dict[str, bytes] = field(default_factory=dict)  # stack → SHA-256 of the template written


# V8's young generation for a worker's Node: 16 MiB semi-spaces instead of Node 24's larger default take about
# 100 MiB off each worker's peak at 250 stacks, at no measurable cost in time (benchmarks/README.md).
NODE_SEMI_SPACE = "--max-semi-space-size=16"


def worker_env() -> dict[str, str]:
    """The environment of a worker: this one, with :data:`NODE_SEMI_SPACE` unless NODE_OPTIONS sets its own."""
    env = dict(os.environ)
    options = env.get("NODE_OPTIONS", "")
    if "--max-semi-space-size" not in options:
        env["NODE_OPTIONS"] = f"{options} {NODE_SEMI_SPACE}".strip()
    return env


class Worker:
    """A worker process, started early so that its aws-cdk-lib import overlaps the parent's own work."""

    def __init__(self) -> None:
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "meshspec.stacks.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, env=worker_env())
        self.outdir: Path | None = None
        self.sent = False

    def send(self, job: dict | None) -> None:
        self.sent = True
        try:
            pickle.dump(job, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # it died: reported by result()

    def dismiss(self) -> None:
        """Not needed after all: stopped at once (its jsii Node process ends with its pipe)."""
        if self.sent:
            return
        self.sent = True
        self.proc.terminate()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stdin.close()
        self.err.close()

    def result(self):
        code = self.proc.wait()
        path = self.outdir / "result.pickle" if self.outdir else None
        if code != 0 or path is None or not path.exists():
            self.err.seek(0)
            tail = self.err.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"a synth worker failed (exit {code}):\n{tail}")
        self.err.close()
        result = pickle.loads(path.read_bytes())
        if isinstance(result, dict) and "error" in result:
            raise UserError(result["error"], hint=result.get("hint"))
        return result


SPEC_BYTES_PER_STACK = 400  # about what a service takes in a spec file: to guess the shares before reading it


def prestart(jobs: int, spec_path: str | Path | None = None, cache: Cache | None = None) -> list[Worker]:
    """Workers to start before the spec is read, so their aws-cdk-lib import overlaps reading it: one, or as
    many shares as the spec file's size suggests when the cache has never seen this meshspec and CDK (a cold
    synth). Those not needed are stopped once the cache has been read."""
    if jobs <= 1 or "aws_cdk" in sys.modules:  # one process, or CDK loaded here already
        return []
    n = 1
    if spec_path is not None and (cache is None or not cache.seen(environment_key(
            {**CLI_CONTEXT, **APP_CONTEXT}, validation=False))):
        try:
            guess = Path(spec_path).stat().st_size // SPEC_BYTES_PER_STACK
        except OSError:
            guess = 0
        n = max(1, min(jobs, guess // MIN_STACKS_PER_WORKER))
    return [Worker() for _ in range(n)]


def _shares(spec: Spec, stacks: list[str], n: int) -> list[list[str]]:
    """``stacks`` in ``n`` shares of about equal work (a service stack's work grows with its code versions)."""
    from meshspec.infra import sharding

    placements = sharding.layout(spec)
    weight = {s.name: 1 for s in placements}
    for s in placements:
        if s.kind == "service":
            weight[s.name] = 2 + len(spec.services[s.services[0]].versions)
    loads = [0] * n
    shares: list[list[str]] = [[] for _ in range(n)]
    for name in sorted(stacks, key=lambda x: -weight.get(x, 1)):
        i = loads.index(min(loads))
        shares[i].append(name)
        loads[i] += weight.get(name, 1)
    order = {name: i for i, name in enumerate(stacks)}
    return [sorted(share, key=order.__getitem__) for share in shares if share]


def synth(spec: Spec, out: str | Path, *, stacks: list[str] | None = None, jobs: int | None = None,
          cache: Cache | None = None, validation: bool = False, context: dict | None = None,
          workers: list[Worker] | None = None, progress: Callable[[str, str], None] | None = None,
          min_share: int = MIN_STACKS_PER_WORKER) -> Result:
    """Synthesize ``stacks`` (default: all, in the layout's order) of ``spec`` into ``out``.

    ``jobs``: worker processes at most (default: one per core). ``cache``: where stack fragments are looked up
    and stored (default: none). ``workers``: started early by the caller (:func:`prestart`); those not needed
    are dismissed. ``progress(event, stack)``: ``total`` once with the count, then ``cached`` or ``built`` per
    stack. ``min_share``: stacks a worker gets at least (tests lower it to run workers on small specs)."""
    from meshspec.infra import sharding

    if spec.aws is None:
        raise UserError("the spec has no aws section: nothing to synthesize for AWS",
                        hint="add aws: {region, clusters} or use the App Engine commands")
    layout = [s.name for s in sharding.layout(spec)]
    asked = None if stacks is None else set(stacks)
    wanted = layout if asked is None else [s for s in layout if s in asked]
    if not wanted:
        return Result(str(out), [], {}, [], [])
    report = progress or (lambda _e, _s: None)
    report("total", str(len(wanted)))
    env_key = environment_key({**CLI_CONTEXT, **APP_CONTEXT, **(context or {})}, validation=validation)
    views = sharding.views(spec)
    inputs = sharding.inputs(spec, views)
    keys = {s: stack_key(env_key, s, inputs[s]) for s in wanted}
    fragments: dict[str, assembly.Fragment] = {}
    app: assembly.AppFragment | None = None
    # which stacks the cache holds, by the entries' names only: they are read and verified while the workers
    # build the others (reading 500 entries takes a fifth of a second, off the path to the workers' start)
    present: list[str] = []
    has_app = False
    if cache is not None:
        cache.mark_seen(env_key)
        present = [s for s in wanted if cache.has(keys[s])]
        has_app = cache.has(env_key)
    held = set(present)
    missing = [s for s in wanted if s not in held]
    if not missing and not has_app:
        missing, present = wanted[:1], present[1:]  # the app's own part comes with the smallest work at hand

    def read_cached() -> None:
        """The cached stacks, verified, and their files written (an entry found corrupt is left to rebuild)."""
        nonlocal app
        for s in present:
            f = cache.get(keys[s], s)
            if f is not None:
                fragments[s] = f
                report("cached", s)
        if has_app:
            app = cache.get_app(env_key)
        assembly.write_files(out, [fragments[s] for s in wanted if s in fragments])

    jobs = jobs or default_jobs()
    with tempfile.TemporaryDirectory(prefix="meshspec-synth-") as tmp:
        build = _Build(spec, views, Path(tmp), jobs, validation, report, min_share)
        new, made_app = build.run(missing, list(workers or []), read_cached if present or has_app else None)
        early = frozenset(fragments)
        late = [s for s in wanted if s not in fragments and s not in new]  # entries found corrupt meanwhile
        if late or (app is None and made_app is None):
            more, more_app = build.run(late or wanted[:1], [], None)
            new.update(more)
            made_app = made_app or more_app
        app = app or made_app
        if cache is not None:
            for s, f in new.items():
                cache.put(keys[s], f)
            if app is not None:
                cache.put_app(env_key, app)
        fragments.update(new)
        ordered = [fragments[s] for s in wanted]
        problems = [p for f in ordered for p in f.problems]
        if problems:
            raise UserError("; ".join(problems), hint=OVERFLOW_HINT)
        manifests = assembly.assemble(out, ordered, app, written=early)
    digests = {f.stack: hashlib.sha256(f.files[f"{f.stack}.template.json"]).digest() for f in ordered}
    return Result(str(out), wanted, {f.stack: f.resources for f in ordered},
                  [w for f in ordered for w in f.warnings], manifests, sorted(new, key=wanted.index),
                  [s for s in wanted if s not in new], list(cache.rejected) if cache else [], build.used, digests)


@dataclass
class _Build:
    """Builds stacks the cache does not hold: in worker processes, or in this process with ``jobs`` 1 (or one
    share when CDK is loaded here already)."""

    spec: Spec
    views: dict
    tmp: Path
    jobs: int
    validation: bool
    report: Callable[[str, str], None]
    min_share: int
    used: int = 0  # worker processes used
    rounds: int = 0

    def run(self, stacks: list[str], pool: list[Worker], meanwhile: Callable[[], None] | None):
        """Fragments of ``stacks`` and the app's part; ``pool``: workers started early (those not needed are
        dismissed); ``meanwhile``: called while the workers build."""
        from meshspec.infra import sharding

        self.rounds += 1
        n = max(1, min(self.jobs, len(stacks) // self.min_share)) if stacks else 0
        new: dict[str, assembly.Fragment] = {}
        app = None
        if not n or self.jobs == 1 or (n == 1 and "aws_cdk" in sys.modules and not pool):
            for w in pool:
                w.dismiss()
            if meanwhile is not None:
                meanwhile()
            if not n:
                return new, app
            with frozen_imports():  # aws-cdk-lib's objects live as long as the process
                from .app import skip_jsii_type_checks, synth_part

            skip_jsii_type_checks()
            mine = set(stacks)
            made, app = synth_part(sharding.part(self.spec, stacks, self.views), stacks,
                                   str(self.tmp / f"r{self.rounds}"), validation=self.validation,
                                   progress=lambda s: self.report("built", s) if s in mine else None)
            return made, app
        shares = _shares(self.spec, stacks, n)
        while len(pool) < len(shares):
            pool.append(Worker())
        active = pool[:len(shares)]
        for w in pool[len(shares):]:
            w.dismiss()
        events: queue.Queue = queue.Queue()
        for i, (w, share) in enumerate(zip(active, shares)):
            w.outdir = self.tmp / f"r{self.rounds}w{i}"
            w.outdir.mkdir()
            w.send({"part": sharding.part(self.spec, share, self.views), "stacks": share, "outdir": str(w.outdir),
                    "validation": self.validation})
            threading.Thread(target=_read_events, args=(w, set(share), events), daemon=True).start()
        if meanwhile is not None:
            meanwhile()
        done = 0
        while done < len(active):
            item = events.get()
            if item is None:
                done += 1
            else:
                self.report("built", item)
        for w in active:
            made, made_app = w.result()
            new.update(made)
            app = app or made_app
        self.used += len(active)
        return new, app


def _read_events(w: Worker, mine: set[str], events: queue.Queue) -> None:
    """A worker's ``built NAME`` lines, as events (its own stacks only), then None when it closes stdout."""
    try:
        for line in w.proc.stdout:
            name = line.decode(errors="replace").strip().removeprefix("built ")
            if name in mine:
                events.put(name)
    finally:
        events.put(None)
