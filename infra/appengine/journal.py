"""App Engine's view of the GCP journal (:mod:`meshspec.infra.journal`): apply, promote and rollback runs, and the
split a rollback goes back to, whichever command moved it last.

Each run journals ``run-start`` (the plan and every touched service's split before it), one ``run-step`` per write
that finished (a split's write also as a ``move``, which ``meshspec traffic rollback`` can undo), then
``run-finish`` or ``run-fail``. A run killed midway has neither; the next run of the same app inherits its "before"
splits, so ``rollback`` goes back to the state before the interrupted run, not to the half-applied one.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshspec.infra import journal as core

from .state import Split, percent, split_target, split_token


@dataclass
class Run:
    id: str
    command: str
    app: str
    before: dict[str, Split | None]
    plan: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    outcome: str | None = None  # finished | failed | None (interrupted or still running)
    error: str | None = None
    inherited_from: str | None = None
    undoes: tuple[str, int] | None = None  # a rollback's: the move it undoes


@dataclass(frozen=True)
class Change:
    """The last change of one service's split: what it was before (None: the service did not exist), which run
    or move made it (for messages: ``run 1a2b3c`` or ``shift #4``) and the move a rollback would undo."""

    label: str
    before: Split | None
    undoes: tuple[str, int] | None


class Journal:
    """The GCP journal in ``state_dir`` (:func:`meshspec.infra.journal.state_dir`). ``legacy_runs``: App Engine's
    run journal of before v2 to read too. Default: ``journal.jsonl`` in ``state_dir``."""

    def __init__(self, state_dir: str | os.PathLike, *, legacy_runs: Path | None = None):
        self.core = core.Journal(state_dir, "gcp", legacy_runs=legacy_runs)
        self.path = self.core.path

    def runs(self) -> list[Run]:
        return [self._run(r) for r in self.core.runs()]

    @staticmethod
    def _run(r: core.Run) -> Run:
        return Run(r.id, r.command, r.app, {k: Split.from_json(v) if v else None for k, v in r.before.items()},
                   r.plan, r.steps, r.outcome, r.error, r.inherited_from)

    def last_run(self, app: str) -> Run | None:
        return next((r for r in reversed(self.runs()) if r.app == app), None)

    def start(self, command: str, app: str, before: dict[str, Split | None], plan: list[dict[str, Any]],
              *, undoes: tuple[str, int] | None = None) -> Run:
        """Begin a run; a previous unfinished run of the same app lends its "before" splits."""
        prev = self.last_run(app)
        inherited = None
        if prev is not None and prev.outcome != "finished" and prev.command == command:
            before = {**before, **prev.before}
            inherited = prev.id
        run = Run(uuid.uuid4().hex[:12], command, app, before, plan, [], inherited_from=inherited, undoes=undoes)
        self.core.start_run(core.Run(run.id, command, app, {k: v.to_json() if v else None for k, v in before.items()},
                                     plan, inherited_from=inherited))
        return run

    def step(self, run: Run, index: int, action: dict[str, Any]) -> None:
        self.core.run_step(core.Run(run.id, run.command, run.app, {}), index, action)
        run.steps.append({"event": "run-step", "run": run.id, "step": index, "action": action})

    def move(self, run: Run, service: str, before: Split | None, after: Split) -> None:
        """A split the run wrote, as a move (``meshspec traffic rollback`` undoes it like its own)."""
        self.core.append(kind=run.command, target=split_target(run.app, service), before=percent(before),
                         before_token=split_token(before), after=percent(after) or {}, after_token=split_token(after),
                         run=run.id, undoes=run.undoes, shard_by={
                             **({"before": before.shard_by} if before else {}), "after": after.shard_by})

    def finish(self, run: Run) -> None:
        self.core.end_run(core.Run(run.id, run.command, run.app, {}))
        run.outcome = "finished"

    def fail(self, run: Run, error: str) -> None:
        self.core.end_run(core.Run(run.id, run.command, run.app, {}), error)
        run.outcome, run.error = "failed", error

    def split_before_last_change(self, app: str, service: str) -> Change | None:
        """The split ``service`` had before the last change of it in ``apps/app``: a run that planned to set its
        split or created it (its first version took all traffic), or a move of another command (``meshspec
        traffic shift``, ``promote``, ``canary``, ``rollback``). None: the journal records no change of it."""
        target = split_target(app, service)
        found: Change | None = None
        runs = {r.id: r for r in self.core.runs()}
        for file, r in self.core.records():
            event = r.get("event")
            if event == "run-start" and r.get("app") == app:
                run = runs[r["run"]]
                created = any(a.get("kind") == "create-version" and a.get("service") == service for a in run.plan)
                sets = any(a.get("kind") == "set-split" and a.get("service") == service for a in run.plan)
                if sets or (created and service not in run.before):
                    before = run.before.get(service)
                    found = Change(f"run {run.id}", Split.from_json(before) if before else None, None)
            elif event == "move" and r.get("target") == target:
                entry = core.entry_of(r, file)
                if entry.run is not None:  # a run's own write: the run's "before" stands (it may be inherited)
                    if found is not None and found.label == f"run {entry.run}":
                        found = Change(found.label, found.before, entry.key)
                    continue
                shard = (entry.shard_by or {}).get("before") or (entry.shard_by or {}).get("after") or "COOKIE"
                before = Split.of(shard, {v: w / 100 for v, w in entry.before.items() if w}) if entry.before else None
                found = Change(f"{entry.kind} #{entry.index}", before, entry.key)
        return found


