"""The shift journal: every write meshspec makes to live weights, so ``traffic rollback`` can undo it.

One JSON object per line in ``<state dir>/traffic-journal.jsonl`` (append-only). Rollback undoes the newest
write of a major that is not undone yet, and itself is journaled as an undo, so repeated rollbacks walk back
through the history. The journal is local to the machine (or the shared state directory, if
``MESHSPEC_STATE_DIR`` points at one): a shift made elsewhere is not in it, and the token check catches that.
"""
from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .weights import Weights, to_json

FILE = "traffic-journal.jsonl"


@dataclass(frozen=True)
class Entry:
    index: int
    service: str
    major: str
    kind: str  # shift | promote | rollback | canary
    before: Weights
    before_token: str
    after: Weights
    after_token: str
    at: str
    undoes: int | None = None
    cohort: str | None = None  # a cohort route of the major (A/B test), else the major's weighted route


def append(directory: Path, *, service: str, major: str, kind: str, before: Weights, before_token: str,
           after: Weights, after_token: str, at: str, undoes: int | None = None,
           cohort: str | None = None) -> Entry:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    doc: dict[str, Any] = {"index": -1, "service": service, "major": major, "kind": kind,
                           "before": to_json(before), "beforeToken": before_token,
                           "after": to_json(after), "afterToken": after_token, "at": at}
    if undoes is not None:
        doc["undoes"] = undoes
    if cohort is not None:
        doc["cohort"] = cohort
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # index and append as one step between processes
        try:
            fh.seek(0)
            doc["index"] = sum(1 for line in fh if line.strip())
            fh.write(json.dumps(doc, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return _entry(doc)


def _entry(doc: dict[str, Any]) -> Entry:
    w = lambda d: {k: Decimal(str(v)) for k, v in d.items()}  # noqa: E731
    return Entry(index=doc["index"], service=doc["service"], major=doc["major"], kind=doc["kind"],
                 before=w(doc["before"]), before_token=doc["beforeToken"], after=w(doc["after"]),
                 after_token=doc["afterToken"], at=doc["at"], undoes=doc.get("undoes"), cohort=doc.get("cohort"))


def entries(directory: Path) -> list[Entry]:
    path = directory / FILE
    if not path.exists():
        return []
    return [_entry(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def last_undoable(directory: Path, service: str, major: str, cohort: str | None = None) -> tuple[Entry, str] | None:
    """The newest write of ``service/major`` (or of one of its cohort routes) that no rollback has undone yet,
    and the token the live state must still have for the undo to be safe (the entry's own, or that of the
    rollback that led back to it)."""
    stack: list[tuple[Entry, str]] = []
    for e in entries(directory):
        if (e.service, e.major, e.cohort) != (service, major, cohort):
            continue
        if e.kind == "rollback":
            if stack and stack[-1][0].index == e.undoes:
                stack.pop()
                if stack:
                    stack[-1] = (stack[-1][0], e.after_token)
        else:
            stack.append((e, e.after_token))
    return stack[-1] if stack else None
