"""The journal: every move meshspec makes to live traffic weights, one journal per cloud, so a rollback can undo
the last move whichever command made it.

One format, JSON Lines, appended and fsynced before the next write is sent. Every record has ``v`` (2), ``index``
(its line in the file), ``at`` and ``event``:

- ``move``: one split or route written: ``kind`` (shift, promote, rollback, canary; apply for App Engine's apply),
  ``target`` (the resource whose weights moved: a route ARN, ``apps/<app>/services/<id>``), ``service`` and
  ``major`` (the spec's names, when the command had a spec), ``before`` and ``after`` (percent per version),
  ``beforeToken`` and ``afterToken`` (the state read and written), ``undoes`` (the move a rollback undid),
  ``run`` (the App Engine run it belongs to), ``shardBy`` (App Engine: how the split was sharded before and after);
- ``run-start``, ``run-step``, ``run-finish``, ``run-fail``: an App Engine run (apply, promote, rollback) of
  several writes: its plan and every touched service's split before it, then each write, then how it ended, so a
  run killed midway lends its "before" splits to the next one.

One location rule: ``--state-dir``, else ``$MESHSPEC_STATE_DIR``, else ``.meshspec/`` beside the spec file (in the
current folder when a command has no spec). AWS moves go to ``traffic-journal.jsonl`` there (the file the traffic
tools always wrote), App Engine moves and runs to ``appengine-journal.jsonl``.

Journals written before this format are read, not lost: ``traffic-journal.jsonl`` lines without ``v`` (moves of
both clouds, keyed by service and major), and App Engine's run journal (``.meshspec/appengine/journal.jsonl`` in the
folder where apply ran, or ``journal.jsonl`` in the ``--state-dir`` it was given). Nothing writes them any more;
their records come first, oldest first, before the new ones.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Literal

Cloud = Literal["aws", "gcp"]
FILES: dict[str, str] = {"aws": "traffic-journal.jsonl", "gcp": "appengine-journal.jsonl"}
LEGACY_MOVES = "traffic-journal.jsonl"  # the traffic tools' journal before v2: both clouds' moves
LEGACY_RUNS = "journal.jsonl"  # App Engine's run journal before v2
LEGACY_RUNS_DIR = Path(".meshspec") / "appengine"  # where it lived when no --state-dir was given
FORMAT = 2

Weights = dict[str, Decimal]


def state_dir(explicit: str | os.PathLike | None = None, spec_file: str | os.PathLike | None = None) -> Path:
    """The one location rule of the journal, the canary's state and the locks: ``explicit`` (``--state-dir``),
    else ``$MESHSPEC_STATE_DIR``, else ``.meshspec/`` beside ``spec_file``, else in the current folder."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("MESHSPEC_STATE_DIR")
    if env:
        return Path(env)
    base = Path(spec_file).resolve().parent if spec_file else Path.cwd()
    return base / ".meshspec"


@dataclass(frozen=True)
class Entry:
    """One move. ``file`` and ``index`` name it; ``undoes`` names the move a rollback undid, as (file, index)."""

    index: int
    service: str | None
    major: str | None
    kind: str  # shift | promote | rollback | canary | apply
    before: Weights | None  # None: there was no split (a new service)
    before_token: str | None
    after: Weights
    after_token: str | None
    at: str
    undoes: tuple[str, int] | None = None
    target: str | None = None
    run: str | None = None
    shard_by: dict[str, str] | None = None  # App Engine: {"before": "COOKIE", "after": "IP"}
    file: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return self.file, self.index

    def matches(self, target: str | None, service: str | None, major: str | None) -> bool:
        """The same weights: the same target, or, for a move journaled before targets were, the same service and
        major."""
        if self.target is not None and target is not None:
            return self.target == target
        return service is not None and (self.service, self.major) == (service, major)


@dataclass
class Run:
    """An App Engine run (apply, promote, rollback): its plan, the splits before it (service id → split as
    JSON), its steps, how it ended (finished, failed, or None: interrupted or still running)."""

    id: str
    command: str
    app: str
    before: dict[str, dict[str, Any] | None]
    plan: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    outcome: str | None = None
    error: str | None = None
    inherited_from: str | None = None
    position: int = 0  # where its start record is among all records, oldest first


def _weights(doc: dict[str, Any] | None) -> Weights | None:
    return None if doc is None else {k: Decimal(str(v)) for k, v in doc.items()}


def to_json(weights: Weights | None) -> dict[str, int | float] | None:
    """Whole numbers as ints, tenths as floats."""
    if weights is None:
        return None
    return {k: int(v) if v == v.to_integral_value() else float(v) for k, v in weights.items()}


class Journal:
    """One cloud's journal in one state directory (:func:`state_dir`). ``legacy_runs``: App Engine's run journal
    of before v2 to read too (the commands give ``.meshspec/appengine/journal.jsonl`` in the current folder when
    no ``--state-dir`` was given). Default: ``journal.jsonl`` in the directory, for the GCP journal."""

    def __init__(self, directory: str | os.PathLike, cloud: Cloud, *, legacy_runs: Path | None = None) -> None:
        self.dir = Path(directory)
        self.cloud = cloud
        self.path = self.dir / FILES[cloud]
        self.legacy_runs = legacy_runs if legacy_runs is not None else (
            self.dir / LEGACY_RUNS if cloud == "gcp" else None)

    # -- writing ------------------------------------------------------------------------------------------
    def _append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Index and append as one step between processes; a line cut short by a kill starts a fresh one."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                lines = [line for line in fh.read().split(b"\n") if line.strip()]
                cut = bool(lines) and not _parses(lines[-1])
                record = {"v": FORMAT, "index": len(lines), "at": record.pop("at", None) or _now(), **record}
                fh.seek(0, os.SEEK_END)
                fh.write((b"\n" if cut else b"") + json.dumps(record, sort_keys=True).encode() + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return record

    def append(self, *, kind: str, before: Weights | None, before_token: str | None, after: Weights,
               after_token: str | None, at: str | None = None, target: str | None = None, service: str | None = None,
               major: str | None = None, undoes: tuple[str, int] | int | None = None, run: str | None = None,
               shard_by: dict[str, str] | None = None) -> Entry:
        """Journal one move, after it was written."""
        doc: dict[str, Any] = {"event": "move", "kind": kind, "target": target, "service": service, "major": major,
                               "before": to_json(before), "beforeToken": before_token, "after": to_json(after),
                               "afterToken": after_token, "at": at}
        if isinstance(undoes, int):  # a move of this very file
            undoes = (self.path.name, undoes)
        if undoes is not None:
            doc["undoes"] = undoes[1] if undoes[0] == self.path.name else f"{undoes[0]}#{undoes[1]}"
        if run is not None:
            doc["run"] = run
        if shard_by is not None:
            doc["shardBy"] = shard_by
        return entry_of(self._append(doc), self.path.name)

    def start_run(self, run: Run) -> None:
        self._append({"event": "run-start", "run": run.id, "command": run.command, "app": run.app, "plan": run.plan,
                      "before": run.before, "inheritedFrom": run.inherited_from})

    def run_step(self, run: Run, step: int, action: dict[str, Any]) -> None:
        rec = {"event": "run-step", "run": run.id, "step": step, "action": action}
        self._append(dict(rec))
        run.steps.append(rec)

    def end_run(self, run: Run, error: str | None = None) -> None:
        self._append({"event": "run-fail", "run": run.id, "error": error} if error is not None
                     else {"event": "run-finish", "run": run.id})
        run.outcome, run.error = ("failed", error) if error is not None else ("finished", None)

    # -- reading ------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return any(p is not None and p.exists() for p in self.sources())

    def sources(self) -> list[Path | None]:
        """The files read, oldest records first."""
        legacy_moves = self.dir / LEGACY_MOVES
        return [self.legacy_runs, legacy_moves if legacy_moves != self.path else None, self.path]

    def records(self) -> list[tuple[str, dict[str, Any]]]:
        """(file name, record), oldest first: the journals of before v2 (merged by time), then this one."""
        legacy: list[tuple[str, str, dict[str, Any]]] = []
        legacy_runs, legacy_moves, path = self.sources()
        for r in _lines(legacy_runs):
            legacy.append((_sortable(r.get("at")), LEGACY_RUNS, _upgrade_run(r)))
        same_file = []
        for i, r in enumerate(_lines(legacy_moves if legacy_moves else path)):
            if r.get("v") is None:  # a move of before v2; in this very file for AWS
                entry = (_sortable(r.get("at")), LEGACY_MOVES, {"event": "move", **r, "index": r.get("index", i)})
                (legacy if legacy_moves else same_file).append(entry)
        out = [(f, r) for _, f, r in sorted(legacy, key=lambda x: x[0])]
        out += [(f, r) for _, f, r in same_file]
        out += [(self.path.name, r) for r in _lines(path) if r.get("v") is not None]
        return out

    def entries(self) -> list[Entry]:
        return [entry_of(r, f) for f, r in self.records() if r.get("event") == "move"]

    def last_undoable(self, *, target: str | None = None, service: str | None = None,
                      major: str | None = None) -> tuple[Entry, str | None] | None:
        """The newest move of these weights that no rollback has undone yet, and the token the live state must
        still have for the undo to be safe (the move's own, or that of the rollback that led back to it)."""
        stack: list[tuple[Entry, str | None]] = []
        for e in self.entries():
            if not e.matches(target, service, major):
                continue
            if e.kind == "rollback" and e.undoes is not None:
                if stack and stack[-1][0].key == e.undoes:
                    stack.pop()
                    if stack:
                        stack[-1] = (stack[-1][0], e.after_token)
                continue
            stack.append((e, e.after_token))
        return stack[-1] if stack else None

    def runs(self) -> list[Run]:
        runs: dict[str, Run] = {}
        for position, (_, r) in enumerate(self.records()):
            rid, event = r.get("run"), r.get("event")
            if event == "run-start":
                runs[rid] = Run(rid, r["command"], r["app"], dict(r.get("before") or {}), r.get("plan", []),
                                inherited_from=r.get("inheritedFrom"), position=position)
            elif rid in runs and event == "run-step":
                runs[rid].steps.append(r)
            elif rid in runs and event in ("run-finish", "run-fail"):
                runs[rid].outcome = "finished" if event == "run-finish" else "failed"
                runs[rid].error = r.get("error")
        return list(runs.values())


def entry_of(doc: dict[str, Any], file: str) -> Entry:
    undoes = doc.get("undoes")
    if isinstance(undoes, int):
        undoes = (file, undoes)
    elif isinstance(undoes, str):
        name, _, index = undoes.rpartition("#")
        undoes = (name, int(index))
    return Entry(index=doc["index"], service=doc.get("service"), major=doc.get("major"), kind=doc["kind"],
                 before=_weights(doc.get("before")), before_token=doc.get("beforeToken"),
                 after=_weights(doc["after"]) or {}, after_token=doc.get("afterToken"), at=doc.get("at") or "",
                 undoes=undoes, target=doc.get("target"), run=doc.get("run"), shard_by=doc.get("shardBy"), file=file)


def _upgrade_run(r: dict[str, Any]) -> dict[str, Any]:
    """A record of App Engine's run journal before v2 (``event``: start, step, finish, fail)."""
    event = {"start": "run-start", "step": "run-step", "finish": "run-finish", "fail": "run-fail"}.get(r.get("event"))
    out = {**r, "event": event}
    if event == "run-step" and "step" not in out:
        out["step"] = out.get("index")
    return out


def _lines(path: Path | None) -> Iterator[dict[str, Any]]:
    if path is None or not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: the rest of the journal still counts


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _sortable(at: Any) -> str:
    """An ISO time comparable across the old journals' precisions (seconds, microseconds): UTC, microseconds."""
    try:
        t = dt.datetime.fromisoformat(str(at))
    except ValueError:
        return ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


# -- the traffic tools' calls, by state directory ----------------------------------------------------------
def append(directory: Path, *, cloud: Cloud = "aws", **move: Any) -> Entry:
    return Journal(directory, cloud).append(**move)


def entries(directory: Path, cloud: Cloud = "aws") -> list[Entry]:
    return Journal(directory, cloud).entries()


def last_undoable(directory: Path, service: str, major: str, *, target: str | None = None,
                  cloud: Cloud = "aws") -> tuple[Entry, str | None] | None:
    return Journal(directory, cloud).last_undoable(target=target, service=service, major=major)
