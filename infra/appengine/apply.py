"""Apply a plan, one write at a time, journaled; and promote and rollback, which are small plans of their own.

Every run first reads the live state and plans against it, so a rerun after an interruption plans only what is
left, and an applied spec plans nothing. A write that fails for good (not retriable, retries exhausted, an
operation that ends in error or passes its deadline) stops the run with a message listing what was done and
what was not; nothing after it is sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import requests
from google.api_core import exceptions as gexc

from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Spec

from . import smoke as smoke_mod
from .client import AdminApi, OperationFailed, describe_error
from .desired import desired_state
from .journal import Journal
from .plan import Action, CreateVersion, DeleteVersion, Plan, Prune, SetDispatch, SetServingStatus, SetSplit, plan
from .progress import Progress
from .state import Desired, Observed, Split

FAILURES = (gexc.GoogleAPICallError, gexc.RetryError, OperationFailed, requests.exceptions.RequestException)


class ApplyFailed(UserError):
    """A write failed for good; the message says what was and was not done."""


class SmokeFailed(ApplyFailed):
    pass


@dataclass
class Options:
    smoke: bool = False
    smoke_template: str | None = None
    smoke_timeout: float = 10.0
    smoke_attempts: int = 3
    # Called after step k (1-based) has been written and journaled: the tests' fault-injection hook.
    after_step: Callable[[int, Action], None] | None = None


@dataclass
class Result:
    plan: Plan
    done: list[Action] = field(default_factory=list)
    run_id: str | None = None


def make_plan(api: AdminApi, spec: Spec, prune: Prune = "stop") -> tuple[Desired, Observed, Plan]:
    """Validate and read: the desired state, one observation of the app, and the plan between them."""
    desired = desired_state(spec)
    observed = api.observe(desired.app_id, [s.id for s in desired.services])
    return desired, observed, plan(desired, observed, prune=prune)


def run_plan(api: AdminApi, the_plan: Plan, observed: Observed, desired: Desired | None, journal: Journal,
             progress: Progress, options: Options | None = None, *, command: str = "apply",
             undoes: tuple[str, int] | None = None) -> Result:
    """Send the plan's writes in order, each journaled once it finished (a split's write also as a move, which
    ``meshspec traffic rollback`` can undo). ``undoes``: a rollback's, the move it undoes."""
    options = options or Options()
    result = Result(the_plan)
    if not the_plan.actions:
        return result
    before = {sid: s.split for sid, s in observed.services.items()}
    for a in the_plan.actions:
        if isinstance(a, SetSplit):
            before.setdefault(a.service, None)
    run = journal.start(command, the_plan.app_id, before, [a.to_json() for a in the_plan.actions], undoes=undoes)
    result.run_id = run.id
    total = len(the_plan.actions)
    for i, action in enumerate(the_plan.actions, 1):
        if options.smoke and isinstance(action, SetSplit):
            _smoke(action, observed, desired, options, progress, result, journal, run)
        progress.begin(i, total, action.describe())
        try:
            _execute(api, the_plan.app_id, action, progress.tick)
        except FAILURES as exc:
            progress.end("failed")
            reason = describe_error(exc) if not isinstance(exc, OperationFailed) else str(exc)
            journal.fail(run, f"step {i}: {reason}")
            raise ApplyFailed(_stopped(command, i, action, reason, result.done, the_plan.actions),
                              hint=_hint(exc, command)) from exc
        progress.end()
        journal.step(run, i, action.to_json())
        if isinstance(action, SetSplit):
            journal.move(run, action.service, action.before, action.after)
        result.done.append(action)
        if options.after_step:
            options.after_step(i, action)
    journal.finish(run)
    return result


def _execute(api: AdminApi, app: str, a: Action, tick) -> None:
    if isinstance(a, CreateVersion):
        api.create_version(app, a.service, a.version, on_tick=tick)
    elif isinstance(a, SetServingStatus):
        api.set_serving_status(app, a.service, a.version, a.status, on_tick=tick)
    elif isinstance(a, SetSplit):
        api.set_split(app, a.service, a.after, a.migrate, on_tick=tick)
    elif isinstance(a, DeleteVersion):
        api.delete_version(app, a.service, a.version, on_tick=tick)
    elif isinstance(a, SetDispatch):
        api.set_dispatch(app, a.after, on_tick=tick)
    else:  # pragma: no cover - the Action union is closed
        raise TypeError(a)


def _smoke(action: SetSplit, observed: Observed, desired: Desired | None, options: Options, progress: Progress,
           result: Result, journal: Journal, run) -> None:
    ds = desired.service(action.service) if desired else None
    paths = ds.paths if ds else ("/",)
    health = ds.versions[0].health_path if ds and ds.versions else "/healthz"
    for version in action.gains():
        base = smoke_mod.base_url(version, action.service, observed.app_id, observed.default_hostname,
                                  options.smoke_template)
        for prefix in paths:
            url = smoke_mod.url_for(base, prefix, health)
            r = smoke_mod.check(url, timeout=options.smoke_timeout, attempts=options.smoke_attempts)
            progress.say(f"smoke {action.service}/{version}: {url}: {'ok' if r.ok else 'FAILED'} ({r.detail})")
            if not r.ok:
                index = len(result.done) + 1
                journal.fail(run, f"smoke check failed before step {index}: {url}: {r.detail}")
                raise SmokeFailed(
                    _stopped(run.command, index, action, f"smoke check {url} answered {r.detail}", result.done,
                             result.plan.actions),
                    hint="fix the version and rerun; no traffic has moved to it")


def _stopped(command: str, index: int, action: Action, reason: str, done: list[Action], actions) -> str:
    lines = [f"{command} stopped at step {index}/{len(actions)} ({action.describe()}): {reason}"]
    lines.append("done:" if done else "done: nothing")
    lines += [f"  {i}. {a.describe()}" for i, a in enumerate(done, 1)]
    rest = list(actions)[len(done):]
    lines.append("not done:")
    lines += [f"  {i}. {a.describe()}" for i, a in enumerate(rest, len(done) + 1)]
    return "\n".join(lines)


def _hint(exc: BaseException, command: str) -> str:
    if isinstance(exc, OperationFailed) and exc.timed_out:
        return f"the operation may still finish; rerun `meshspec appengine {command}`: it continues from the live state"
    if isinstance(exc, (gexc.RetryError, requests.exceptions.RequestException, gexc.ServerError,
                        gexc.TooManyRequests)):
        return f"App Engine did not answer in time; rerun `meshspec appengine {command}` later: it continues " \
               "from the live state"
    return f"fix the cause, then rerun `meshspec appengine {command}`: it plans only what is left"


# -- promote and rollback -------------------------------------------------------------------------------
def _observe_one(api: AdminApi, app: str, service: str) -> Observed:
    observed = api.observe(app, [service])
    if service not in observed.services:
        known = ", ".join(sorted(observed.services)) or "none"
        raise UserError(f"service {service} does not exist in apps/{app}", hint=f"services: {known}")
    return observed


def promote_plan(observed: Observed, service: str, version: str) -> Plan:
    """All traffic to ``version`` (pure); a stopped version is started first."""
    svc = observed.services[service]
    ov = svc.version(version)
    if ov is None:
        known = ", ".join(v.id for v in svc.versions or ()) or "none"
        raise UserError(f"version {version} does not exist in service {service}", hint=f"versions: {known}")
    actions: list[Action] = []
    if ov.serving_status == "STOPPED":
        actions.append(SetServingStatus(service, version, "SERVING"))
    shard = svc.split.shard_by if svc.split and svc.split.shard_by != "UNSPECIFIED" else "COOKIE"
    target = Split.of(shard, {version: 1})
    if not target.same_as(svc.split):
        actions.append(SetSplit(service, svc.split, target))
    return Plan(observed.app_id, tuple(actions), touched=(service,))


def rollback_plan(observed: Observed, service: str, split: Split | None, label: str) -> Plan:
    """Back to ``split`` (pure): start the versions it names that were stopped; refuse if one was deleted.
    ``label`` names the change undone (``run 1a2b3c``, ``shift #4``)."""
    if split is None:
        raise UserError(f"service {service} did not exist before {label}, so there is no split to go back to",
                        hint=f"promote a version instead: meshspec appengine promote {service} VERSION")
    svc = observed.services[service]
    actions: list[Action] = []
    missing = [v for v, _ in split.allocations if svc.version(v) is None]
    if missing:
        raise UserError(f"cannot restore the split of {service} from before {label}: version(s) "
                        f"{', '.join(missing)} no longer exist", hint="deploy them again (apply a spec naming them) "
                        "or promote an existing version; --prune stop (the default) keeps old versions for this")
    for v, _ in split.allocations:
        if svc.version(v).serving_status == "STOPPED":
            actions.append(SetServingStatus(service, v, "SERVING"))
    if not split.same_as(svc.split):
        actions.append(SetSplit(service, svc.split, split))
    return Plan(observed.app_id, tuple(actions), touched=(service,))


def promote(api: AdminApi, app: str, service: str, version: str, journal: Journal, progress: Progress,
            options: Options | None = None) -> Result:
    observed = _observe_one(api, app, service)
    return run_plan(api, promote_plan(observed, service, version), observed, None, journal, progress, options,
                    command="promote")


def rollback(api: AdminApi, app: str, service: str, journal: Journal, progress: Progress,
             options: Options | None = None) -> Result:
    """Back to the split ``service`` had before its last change, whichever command made it (apply, promote,
    rollback, or a traffic shift, promote or canary: they share the journal)."""
    change = journal.split_before_last_change(app, service)
    if change is None:
        message, hint = _nothing_recorded(journal, app, service)
        raise UserError(message, hint=hint)
    observed = _observe_one(api, app, service)
    return run_plan(api, rollback_plan(observed, service, change.before, change.label), observed, None, journal,
                    progress, options, command="rollback", undoes=change.undoes)


def _nothing_recorded(journal: Journal, app: str, service: str) -> tuple[str, str]:
    """Why a rollback finds nothing, and what to do: no journal where it looked, or one that records other
    services of the app (said by name), or none of it."""
    if not journal.core.exists():
        return (f"there is no journal at {journal.path}: nothing records a change to the split of {service}",
                "the journal lives beside the spec apply used: give --spec with its path, --state-dir DIR or "
                "$MESHSPEC_STATE_DIR")
    touched = sorted({a["service"] for r in journal.runs() if r.app == app for a in r.plan
                      if a.get("kind") in ("set-split", "create-version")} - {service})
    return (f"the journal {journal.path} records no change to the split of {service} in apps/{app}",
            f"it records changes to {', '.join(touched)}: give one of them (App Engine service ids)" if touched
            else "apply, promote and rollback journal the split before they change it; this app has none")
