"""Deploying the stacks in waves: the order from the layout's dependencies, the sizes from the engines' quotas.

One plan serves both engines (`meshspec help pipelines`):

- a **level** holds the stacks whose dependencies (``sharding.layout``'s ``depends_on``) all sit in earlier
  levels: the shared stack, then the clusters, then the services, then the queries stack;
- a **batch** is the stacks one worker deploys together (`cdk deploy --concurrency`): a CodePipeline deploy
  action, or one job of a GitHub Actions matrix;
- a **wave** is batches that run in parallel: a CodePipeline stage (at most 50 actions), or a GitHub job matrix
  (at most 256 jobs; GitHub runs as many at once as the plan allows).

Pure: a layout (or a spec) in, names out; the CDK construct (``meshspec.stacks.pipeline``) and the CLI
(`meshspec deploy-plan`) read it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from meshspec.infra import sharding

if TYPE_CHECKING:  # the spec package counts the waves (validate): no import back at run time
    from meshspec.infra.spec.model import Spec

#: GitHub Actions' "Actions limits": a job matrix generates at most 256 jobs per workflow run (not adjustable)
GITHUB_MATRIX_JOBS = 256

#: what a wave is called after the kind of stacks it deploys (CodePipeline stage names: letters, digits, . @ - _)
WAVE_NAMES = {"shared": "Shared", "cluster": "Clusters", "service": "Services", "queries": "Queries"}
#: stacks no wave deploys: the pipeline deploys itself (CDK Pipelines' self-mutation)
NOT_IN_WAVES = frozenset({"pipeline"})
#: the CodePipeline stages that come before the waves: Source, Build (meshspec synth), UpdatePipeline
PIPELINE_FIXED_STAGES = ("Source", "Build", "UpdatePipeline")


@dataclass(frozen=True)
class Batch:
    """Stacks one worker deploys together, at once."""

    name: str
    stacks: tuple[str, ...]
    services: tuple[str, ...]  # the AWS services those stacks hold (canaries run for these)


@dataclass(frozen=True)
class Wave:
    """Batches that run in parallel, after every earlier wave."""

    name: str
    level: int
    batches: tuple[Batch, ...]

    @property
    def stacks(self) -> tuple[str, ...]:
        return tuple(s for b in self.batches for s in b.stacks)


def levels(layout: Sequence[sharding.StackPlacement],
           only: Iterable[str] | None = None) -> list[list[sharding.StackPlacement]]:
    """The stacks by dependency depth over the whole layout (so a stack keeps its level whatever is selected),
    then only those in ``only`` when given; every level up to the deepest, empty ones included."""
    by_name = {s.name: s for s in layout}
    depth: dict[str, int] = {}

    def level_of(name: str, seen: tuple[str, ...] = ()) -> int:
        if name in seen:
            raise ValueError(f"the layout's dependencies form a cycle: {' -> '.join(seen + (name,))}")
        if name not in depth:
            deps = [d for d in by_name[name].depends_on if d in by_name]
            depth[name] = 1 + max((level_of(d, seen + (name,)) for d in deps), default=-1)
        return depth[name]

    placed = [s for s in layout if s.kind not in NOT_IN_WAVES]
    count = 1 + max((level_of(s.name) for s in placed), default=-1)
    keep = None if only is None else set(only)
    out: list[list[sharding.StackPlacement]] = [[] for _ in range(count)]
    for s in placed:
        if keep is None or s.name in keep:
            out[depth[s.name]].append(s)
    return out


def batches(stacks: Sequence[sharding.StackPlacement], size: int, *, limit: int | None = None,
            prefix: str = "Deploy") -> list[Batch]:
    """``stacks`` in order, ``size`` to a batch; with ``limit``, the size grows until at most that many batches."""
    if not stacks:
        return []
    if limit is not None:
        size = max(size, math.ceil(len(stacks) / limit))
    chunks = [stacks[i:i + size] for i in range(0, len(stacks), size)]
    width = len(str(len(chunks)))  # Deploy-01 … Deploy-10: CodePipeline lists a stage's actions by name
    return [Batch(f"{prefix}-{i:0{width}d}", tuple(s.name for s in chunk), tuple(m for s in chunk for m in s.services if
                                                                     s.kind == "service"))
            for i, chunk in enumerate(chunks, start=1)]


def pipeline_waves(layout: Sequence[sharding.StackPlacement], stacks_per_action: int,
                   actions_per_wave: int) -> list[Wave]:
    """CodePipeline's waves: each level in order, split into waves of at most ``actions_per_wave`` actions of
    ``stacks_per_action`` stacks each (a level too big for one wave becomes Services-1, Services-2, …)."""
    out = []
    for index, level in enumerate(levels(layout)):
        if not level:
            continue
        per_wave = stacks_per_action * actions_per_wave
        chunks = [level[i:i + per_wave] for i in range(0, len(level), per_wave)]
        base = "-".join(dict.fromkeys(WAVE_NAMES.get(s.kind, s.kind.title()) for s in level))
        for n, chunk in enumerate(chunks, start=1):
            name = base if len(chunks) == 1 else f"{base}-{n}"
            out.append(Wave(name, index, tuple(batches(chunk, stacks_per_action))))
    return out


@dataclass(frozen=True)
class PipelineShape:
    """What one pipeline counts against CodePipeline's fixed quotas."""

    waves: tuple[Wave, ...]
    stages: int
    actions: int
    widest: int  # actions in the widest wave (parallel builds at once)
    stacks_at_once: int  # stacks deployed at once in the widest wave


def pipeline_shape(spec: "Spec") -> PipelineShape:
    """The waves of ``spec``'s pipeline and their counts: Source, Build and UpdatePipeline (one action each), an
    Approve stage when asked for, then the deploy waves."""
    p = spec.aws.pipeline
    waves = pipeline_waves(sharding.layout(spec), p.stacks_per_action, p.actions_per_wave)
    extra = int(p.approval)  # Approve: one stage of one action
    widest = max((len(w.batches) for w in waves), default=0)
    at_once = max((len(w.stacks) for w in waves), default=0)
    return PipelineShape(tuple(waves), len(PIPELINE_FIXED_STAGES) + extra + len(waves),
                         len(PIPELINE_FIXED_STAGES) + extra + sum(len(w.batches) for w in waves), widest, at_once)


def github_levels(layout: Sequence[sharding.StackPlacement], only: Iterable[str] | None,
                  stacks_per_job: int) -> list[list[Batch]]:
    """GitHub Actions' levels: per level the matrix of jobs (a job deploys ``stacks_per_job`` stacks, more when
    the level would need over 256 jobs, GitHub's limit per matrix)."""
    return [batches(level, stacks_per_job, limit=GITHUB_MATRIX_JOBS, prefix=f"level{i}")
            for i, level in enumerate(levels(layout, only))]
