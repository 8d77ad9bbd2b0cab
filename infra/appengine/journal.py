"""What apply, promote and rollback did, as an append-only JSON Lines file under ``.meshspec/appengine/``.

Each run appends ``start`` (the plan and every touched service's split before it), one ``step`` per write
that finished, then ``finish`` or ``fail``. A run killed midway has neither; the next run of the same app
inherits its "before" splits, so ``rollback`` goes back to the state before the interrupted run, not to the
half-applied one. A line is written and flushed (fsync) before the next write is sent.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .state import Split

STATE_DIR = Path(".meshspec") / "appengine"
FILE = "journal.jsonl"


@dataclass
class Run:
    id: str
    command: str
    app: str
    before: dict[str, Split | None]
    plan: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    outcome: str | None = None  # finished | failed | None (interrupted or still running)
    error: str | None = None
    inherited_from: str | None = None


class Journal:
    def __init__(self, state_dir: str | os.PathLike | None = None):
        self.dir = Path(state_dir) if state_dir else STATE_DIR
        self.path = self.dir / FILE

    def _append(self, record: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        record = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **record}
        line = json.dumps(record, sort_keys=True) + "\n"
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a line cut short by a kill: start a fresh one
                    line = "\n" + line
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by a kill: the rest of the journal still counts

    def runs(self) -> list[Run]:
        runs: dict[str, Run] = {}
        for r in self.records():
            rid = r.get("run")
            if r.get("event") == "start":
                runs[rid] = Run(rid, r["command"], r["app"],
                                {k: Split.from_json(v) if v else None for k, v in r.get("before", {}).items()},
                                r.get("plan", []), inherited_from=r.get("inheritedFrom"))
            elif rid in runs and r.get("event") == "step":
                runs[rid].steps.append(r)
            elif rid in runs and r.get("event") in ("finish", "fail"):
                runs[rid].outcome = "finished" if r["event"] == "finish" else "failed"
                runs[rid].error = r.get("error")
        return list(runs.values())

    def last_run(self, app: str) -> Run | None:
        return next((r for r in reversed(self.runs()) if r.app == app), None)

    def start(self, command: str, app: str, before: dict[str, Split | None], plan: list[dict[str, Any]]) -> Run:
        """Begin a run; a previous unfinished run of the same app lends its "before" splits."""
        prev = self.last_run(app)
        inherited = None
        if prev is not None and prev.outcome != "finished" and prev.command == command:
            before = {**before, **prev.before}
            inherited = prev.id
        run = Run(uuid.uuid4().hex[:12], command, app, before, plan, inherited_from=inherited)
        self._append({"event": "start", "run": run.id, "command": command, "app": app, "plan": plan,
                      "before": {k: v.to_json() if v else None for k, v in before.items()},
                      "inheritedFrom": inherited})
        return run

    def step(self, run: Run, index: int, action: dict[str, Any]) -> None:
        rec = {"event": "step", "run": run.id, "index": index, "action": action}
        self._append(rec)
        run.steps.append(rec)

    def finish(self, run: Run) -> None:
        self._append({"event": "finish", "run": run.id})
        run.outcome = "finished"

    def fail(self, run: Run, error: str) -> None:
        self._append({"event": "fail", "run": run.id, "error": error})
        run.outcome, run.error = "failed", error

    def split_before_last_change(self, app: str, service: str) -> tuple[Run, Split | None] | None:
        """The split ``service`` had before the last run that planned to change it."""
        for run in reversed(self.runs()):
            if run.app != app or service not in run.before:
                continue
            if any(a.get("kind") == "set-split" and a.get("service") == service for a in run.plan):
                return run, run.before[service]
        return None
