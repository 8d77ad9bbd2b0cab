"""The canary loop: per step shift, wait, measure, decide; roll back at once or promote at the end.

Every event (shift, decision, rollback, interruption) is appended to a JSON state file, written atomically
after each event, so a canary can be resumed after an interruption (``--resume``). The clock, the sleeper,
the metrics source and the smoke check are injected, so tests run without waiting.

"Last safe weights" are the weights of the last step whose analysis passed (before the first: the weights
found when the canary started). Ctrl-C puts those back and says what they are.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from meshspec.infra.errors import UserError

from meshspec.infra import journal

from . import weights as W
from .analysis import Decision, Thresholds, decide
from .base import Conflict, Context, TrafficBackend, cloud_of
from .figures import MetricsSource

Clock = Callable[[], dt.datetime]
Sleeper = Callable[[float], None]
Smoke = Callable[[str], tuple[bool, str]]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Params:
    service: str
    major: str
    version: str
    steps: tuple[Decimal, ...]
    interval_s: float
    thresholds: Thresholds
    #: end at the last step instead of promoting to 100 %: a lasting split (the spec's share, an A/B test) judged
    hold: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "major": self.major, "version": self.version,
                "steps": [float(s) if s != s.to_integral_value() else int(s) for s in self.steps],
                "intervalSeconds": self.interval_s, "thresholds": self.thresholds.to_json(), "hold": self.hold}


def parse_steps(text: str, places: int, where: str) -> tuple[Decimal, ...]:
    try:
        steps = tuple(Decimal(s.strip().rstrip("%")) for s in text.split(",") if s.strip())
    except ArithmeticError:
        raise UserError(f"--steps {text!r}: give percentages separated by commas, e.g. 1,10,50,100") from None
    if not steps:
        raise UserError("--steps needs at least one percentage")
    if any(s <= 0 or s > 100 for s in steps) or list(steps) != sorted(set(steps)):
        raise UserError(f"--steps {text!r}: percentages must rise strictly, each above 0 and at most 100")
    W.check_precision({f"step {s}": s for s in steps}, places, where)
    return steps


def state_path(directory: Path, service: str, major: str) -> Path:
    return directory / f"canary-{service}-{major}.json"


class Canary:
    def __init__(self, backend: TrafficBackend, params: Params, ctx: Context, *, versions: list[str],
                 metrics: MetricsSource, clock: Clock = utcnow, sleep: Sleeper | None = None,
                 smoke: Smoke | None = None, say: Callable[[str], None] = lambda _: None,
                 state_file: Path | None = None):
        import time

        self.backend, self.p, self.ctx = backend, params, ctx
        self.versions = versions
        self.metrics, self.clock, self.sleep = metrics, clock, sleep or time.sleep
        self.smoke, self.say = smoke, say
        self.path = state_file or state_path(ctx.state_dir, params.service, params.major)
        self.state: dict[str, Any] = {}

    # -- state file ------------------------------------------------------------------------------------
    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, default=str) + "\n")
        os.replace(tmp, self.path)

    def _event(self, **fields: Any) -> None:
        self.state["events"].append({"at": self.clock().isoformat(), **fields})
        self._save()

    def _weights(self, key: str) -> W.Weights:
        return {k: Decimal(str(v)) for k, v in self.state[key].items()}

    # -- entry point -----------------------------------------------------------------------------------
    def run(self, *, resume: bool = False, abandon: bool = False) -> dict[str, Any]:
        """Hold the canary's lock for the whole run: one canary process per major, even with --resume."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(f"another canary process is running on {self.p.service}/{self.p.major} "
                                f"(state in {self.path})", hint="wait for it, or stop it with Ctrl-C") from None
            try:
                return self._run(resume=resume, abandon=abandon)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _run(self, *, resume: bool, abandon: bool) -> dict[str, Any]:
        svc, major = self.p.service, self.p.major
        existing = json.loads(self.path.read_text()) if self.path.exists() else None
        unfinished = existing is not None and existing.get("status") in ("running", "interrupted")
        if unfinished and not (resume or abandon):
            raise UserError(f"a canary of {existing['version']} on {svc}/{major} is {existing['status']} "
                            f"(step {existing['step'] + 1} of {len(existing['params']['steps'])}, "
                            f"state in {self.path})",
                            hint="--resume to go on from there, or --abandon to start a new one")
        if resume:
            if not unfinished:
                raise UserError(f"there is no unfinished canary of {svc}/{major} to resume in {self.path}")
            if existing["version"] != self.p.version:
                raise UserError(f"the unfinished canary is of version {existing['version']}, not {self.p.version}")
            self.state = existing
            live = self.backend.read_weights(svc, major)
            if live.token != self.state["liveToken"] and self._adopt_last_write(live.token):
                self._event(action="adopt", note="the last write landed before the state file was saved",
                            weights=self.state["liveWeights"], token=live.token)
            if live.token != self.state["liveToken"]:
                raise UserError(f"{svc}/{major} changed since the canary last wrote it: live {W.fmt(live.weights)} "
                                f"({live.token}); nothing was changed",
                                hint="start a new canary with --abandon once you know why")
            self.state["status"] = "running"
            self._event(action="resume", step=self.state["step"])
        else:
            self._start()
        try:
            return self._loop()
        except KeyboardInterrupt:
            return self._interrupted()
        except Conflict:
            raise  # recorded as status conflict; someone else's weights are left alone
        except UserError as exc:  # e.g. CloudWatch unreachable mid-step: no judgement, so back to safe weights
            note = self._interrupted(reason=exc.message)["events"][-1]["note"]
            raise UserError(f"{exc.message}; the canary stopped, {note}",
                            hint="fix the cause, then --resume (the state file has every event)") from None

    def _adopt_last_write(self, live_token: str) -> bool:
        """A canary killed between its write and saving the state: the journal has the write; take it as ours."""
        found = journal.last_undoable(self.ctx.state_dir, self.p.service, self.p.major, target=self.state["target"],
                                      cloud=cloud_of(self.backend))
        if found is None:
            return False
        entry, _ = found
        if entry.kind != "canary" or entry.before_token != self.state["liveToken"] or entry.after_token != live_token:
            return False
        self.state["liveWeights"], self.state["liveToken"] = W.to_json(entry.after), live_token
        return True

    def _start(self) -> None:
        svc, major, version = self.p.service, self.p.major, self.p.version
        live = self.backend.read_weights(svc, major)
        if self.backend.check_versions(svc, major, [version]):
            raise UserError(f"{svc}: nothing is deployed for version {version} on {self.backend.name}; "
                            "nothing was changed", hint="deploy the version first")
        start = {**{v: Decimal(0) for v in self.versions}, **live.weights}
        others = {v: w for v, w in start.items() if v != version and w > 0}
        if not others:
            raise UserError(f"{version} already takes all of {svc}/{major}'s traffic; nothing to canary")
        # All step weights are computed (and validated) before the first write.
        for s in self.p.steps:
            W.validate_full(W.step_weights(start, version, s, places=self.backend.places), self.backend.places,
                            self.backend.name)
        self.state = {
            "kind": "meshspec-canary", "service": svc, "major": major, "version": version,
            "platform": self.backend.name, "target": self.backend.target(svc, major), "params": self.p.to_json(),
            "baseline": max(others, key=lambda v: (others[v], v)), "startWeights": W.to_json(start),
            "startToken": live.token, "lastSafeWeights": W.to_json(start), "liveWeights": W.to_json(start),
            "liveToken": live.token, "step": 0, "status": "running", "events": [],
        }
        self._event(action="start", weights=W.to_json(start), token=live.token)
        url = self.backend.version_address(svc, major, version) if self.smoke is not None else None
        if url is not None:
            ok, what = self.smoke(url)
            self._event(action="smoke", ok=ok, detail=what)
            self.say(f"smoke check: {what}")
            if not ok:
                self.state["status"] = "failed"
                self._event(action="stop", reason="smoke check of the version's own address failed")
                raise UserError(f"smoke check failed: {what}; no traffic was moved")

    def _write(self, weights: W.Weights) -> None:
        svc, major = self.p.service, self.p.major
        before, token = self._weights("liveWeights"), self.state["liveToken"]
        if W.same(before, weights):
            return
        live = self.backend.set_weights(svc, major, weights, token)
        journal.append(self.ctx.state_dir, cloud=cloud_of(self.backend), target=self.state["target"], service=svc,
                       major=major, kind="canary", before=before, before_token=token, after=live.weights,
                       after_token=live.token, at=self.clock().isoformat(),
                       shard_by={"after": live.shard_by} if live.shard_by else None)
        self.state["liveWeights"], self.state["liveToken"] = W.to_json(live.weights), live.token

    def _loop(self) -> dict[str, Any]:
        start = self._weights("startWeights")
        steps = self.p.steps
        places = self.backend.places
        while self.state["step"] < len(steps):
            i = self.state["step"]
            percent = steps[i]
            target = W.step_weights(start, self.p.version, percent, places=places)
            try:
                self._write(target)
            except Conflict as exc:
                self.state["status"] = "conflict"
                self._event(action="stop", step=i, reason=exc.message)
                raise
            self._event(action="shift", step=i, percent=float(percent), weights=W.to_json(target),
                        token=self.state["liveToken"])
            self.say(f"step {i + 1}/{len(steps)}: {W.fmt(target)}")
            decision = self._observe(i, last=i == len(steps) - 1 and not self.p.hold)
            if decision.action == "rollback":
                return self._rollback(i, decision)
            self.state["lastSafeWeights"] = W.to_json(target)
            self.state["step"] = i + 1
            self._save()
        if self.p.hold:  # judged at every step and kept at the last: no promotion past what was asked
            self.state["status"] = "held"
            self._event(action="hold", weights=self.state["liveWeights"], token=self.state["liveToken"])
            self.say(f"held: {W.fmt(self._weights('liveWeights'))}")
            return self.state
        final = W.promote(start, self.p.version)
        self._write(final)
        self.state["lastSafeWeights"] = W.to_json(final)
        self.state["status"] = "promoted"
        self._event(action="promote", weights=W.to_json(final), token=self.state["liveToken"])
        self.say(f"promoted: {W.fmt(final)}")
        return self.state

    def _observe(self, i: int, last: bool) -> Decision:
        extensions = 0
        while True:
            begin = self.clock()
            self.sleep(self.p.interval_s)
            end = self.clock()
            names = [self.p.version, self.state["baseline"]]
            figures = self.metrics.figures(self.p.service, self.p.major, names, begin, end)
            decision = self._with_smoke(decide(figures[self.p.version], figures.get(self.state["baseline"]),
                                               self.p.thresholds, last_step=last, extensions=extensions))
            self._event(action="decision", step=i, decision=decision.action, reasons=decision.reasons,
                        window={"start": begin.isoformat(), "end": end.isoformat()},
                        figures={"canary": figures[self.p.version].to_json(),
                                 "baseline": figures[self.state["baseline"]].to_json()})
            self.say(f"  {decision.action}: {'; '.join(decision.reasons)}")
            if decision.action != "extend":
                return decision
            extensions += 1

    def _with_smoke(self, decision: Decision) -> Decision:
        """App Engine: the version's own address is checked again after every interval; failing it rolls back
        whatever the figures say (they arrive minutes late, the smoke check does not)."""
        url = (self.backend.version_address(self.p.service, self.p.major, self.p.version)
               if self.smoke is not None else None)
        if url is None:
            return decision
        ok, what = self.smoke(url)
        reasons = [*decision.reasons, f"smoke check: {what}"]
        return Decision(decision.action if ok else "rollback", reasons)

    def _rollback(self, i: int, decision: Decision) -> dict[str, Any]:
        """The canary out at once: 0 %, the other versions back to their proportions at the start."""
        back = W.step_weights(self._weights("startWeights"), self.p.version, Decimal(0), places=self.backend.places)
        self._write(back)
        self.state["status"] = "rolled-back"
        self.state["lastSafeWeights"] = W.to_json(back)
        self._event(action="rollback", step=i, weights=W.to_json(back), token=self.state["liveToken"],
                    reasons=decision.reasons)
        self.say(f"rolled back to {W.fmt(back)}")
        return self.state

    def _interrupted(self, reason: str = "Ctrl-C") -> dict[str, Any]:
        safe = self._weights("lastSafeWeights")
        try:
            self._write(safe)
            note = f"left at the last safe weights {W.fmt(safe)}"
        except UserError as exc:  # a conflict: someone else wrote; leave their weights alone
            note = f"could not restore the last safe weights {W.fmt(safe)}: {exc.message}"
        self.state["status"] = "interrupted"
        self._event(action="interrupt", step=self.state["step"], weights=self.state["liveWeights"], note=note,
                    reason=reason)
        self.say(f"interrupted: {note}; resume with --resume")
        return self.state
