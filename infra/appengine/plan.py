"""``plan(desired, observed) -> Plan``: the ordered writes that take App Engine from what is to what the spec asks.

Pure: no I/O. Order is the safe one: versions are created (or started) before any split names them, splits move
before dispatch rules send paths to a service, and versions leave only after the splits stop sending them
traffic. Everything Google would refuse is refused here, before the first write (``PlanRefused``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from meshspec.infra.errors import UserError

from . import dispatch
from .state import Desired, DesiredService, DesiredVersion, DispatchRule, Observed, Split

Prune = Literal["stop", "delete", "keep"]
PRUNE_CHOICES = ("stop", "delete", "keep")


class PlanRefused(UserError):
    """The spec asks for something App Engine would refuse; nothing was sent."""


@dataclass(frozen=True)
class CreateVersion:
    service: str
    version: DesiredVersion
    kind: str = "create-version"

    def describe(self) -> str:
        what = f"image {self.version.image}" if self.version.image else f"source {self.version.source_url}"
        return f"create version {self.service}/{self.version.id} ({self.version.env}, {self.version.runtime}, {what})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "service": self.service, "version": self.version.to_json()}


@dataclass(frozen=True)
class SetServingStatus:
    service: str
    version: str
    status: str  # SERVING | STOPPED
    kind: str = "set-serving-status"

    def describe(self) -> str:
        verb = "start" if self.status == "SERVING" else "stop"
        return f"{verb} version {self.service}/{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "service": self.service, "version": self.version, "servingStatus": self.status}


@dataclass(frozen=True)
class SetSplit:
    service: str
    before: Split | None
    after: Split
    migrate: bool = False
    kind: str = "set-split"

    def describe(self) -> str:
        how = "migrate traffic gradually" if self.migrate else "set split"
        was = self.before.render() if self.before else "(new service)"
        return f"{how} of {self.service}: {was} -> {self.after.render()}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "service": self.service, "before": self.before.to_json() if self.before else None,
                "after": self.after.to_json(), "migrateTraffic": self.migrate}

    def gains(self) -> list[str]:
        """Versions whose share grows: the ones a smoke check should reach first."""
        old = self.before.as_dict if self.before else {}
        return [v for v, a in self.after.allocations if a > old.get(v, 0)]


@dataclass(frozen=True)
class DeleteVersion:
    service: str
    version: str
    kind: str = "delete-version"

    def describe(self) -> str:
        return f"delete version {self.service}/{self.version} (no longer in the spec, no traffic)"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "service": self.service, "version": self.version}


@dataclass(frozen=True)
class SetDispatch:
    before: tuple[DispatchRule, ...]
    after: tuple[DispatchRule, ...]
    service: str = ""
    kind: str = "set-dispatch"

    def describe(self) -> str:
        added = [r for r in self.after if r not in self.before]
        removed = [r for r in self.before if r not in self.after]
        parts = [f"+{r.render()}" for r in added] + [f"-{r.render()}" for r in removed]
        if not parts:
            parts = ["reorder"]
        return f"update dispatch rules ({len(self.after)} rules): " + ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "before": [r.to_json() for r in self.before],
                "after": [r.to_json() for r in self.after]}


Action = CreateVersion | SetServingStatus | SetSplit | DeleteVersion | SetDispatch


@dataclass(frozen=True)
class Plan:
    app_id: str
    actions: tuple[Action, ...]
    notes: tuple[str, ...] = ()
    touched: tuple[str, ...] = ()  # services whose versions were listed

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app_id, "changes": len(self.actions),
                "actions": [a.to_json() for a in self.actions], "notes": list(self.notes)}

    def render(self) -> list[str]:
        if not self.actions:
            lines = [f"apps/{self.app_id}: no changes"]
        else:
            lines = [f"apps/{self.app_id}: {len(self.actions)} change(s)"]
            lines += [f"  {i}. {a.describe()}" for i, a in enumerate(self.actions, 1)]
        lines += [f"  note: {n}" for n in self.notes]
        return lines


def plan(desired: Desired, observed: Observed, *, prune: Prune = "stop") -> Plan:
    """The ordered actions; raises PlanRefused listing every reason Google would refuse them."""
    refusals: list[tuple[str, str]] = []
    notes: list[str] = []
    creates: list[Action] = []
    starts: list[Action] = []
    splits: list[Action] = []
    prunes: list[Action] = []
    existing = set(observed.services)
    if desired.location and observed.location and desired.location != observed.location:
        refusals.append((f"apps/{desired.app_id} is in {observed.location}, but the spec says gcp.location: "
                         f"{desired.location}", f"App Engine fixes an application's location when it is created: set "
                         f"gcp.location: {observed.location}, or use a project whose application is in "
                         f"{desired.location}"))

    for ds in desired.services:
        obs = observed.services.get(ds.id)
        for dv in ds.versions:
            ov = obs.version(dv.id) if obs else None
            if ov is None:
                creates.append(CreateVersion(ds.id, dv))
                refusals += _artifact(ds.id, dv)
                continue
            refusals += _immutable(ds.id, dv, ov)
            if ov.serving_status == "STOPPED":
                starts.append(SetServingStatus(ds.id, dv.id, "SERVING"))
        if ds.split is not None and not ds.split.same_as(obs.split if obs else _initial_split(ds, creates)):
            # A new service's first version takes all its traffic; there is nothing to migrate from.
            migrate = ds.migrate and obs is not None
            splits.append(SetSplit(ds.id, obs.split if obs else None, ds.split, migrate))
            if migrate:
                refusals += _migration(ds, obs)
            if ds.sticky:
                notes.append(_sticky_note(ds, obs.split if obs else None))
        named = {v.id for v in ds.versions}
        after = ds.split or (obs.split if obs else None)
        for ov in (obs.versions or ()) if obs else ():
            if ov.id in named:
                continue
            if after is not None and ov.id in after.as_dict:
                notes.append(f"version {ds.id}/{ov.id} is no longer in the spec but still takes traffic "
                             "(the service has no live major to set a split for); kept")
                continue
            if prune == "keep":
                notes.append(f"version {ds.id}/{ov.id} is no longer in the spec; kept (--prune keep)")
            elif prune == "delete":
                prunes.append(DeleteVersion(ds.id, ov.id))
            elif ov.serving_status == "STOPPED":
                continue
            elif ov.stoppable:
                prunes.append(SetServingStatus(ds.id, ov.id, "STOPPED"))
            else:
                notes.append(f"version {ds.id}/{ov.id} is no longer in the spec and takes no traffic; App Engine "
                             "cannot stop a standard version with automatic scaling (it scales to zero); "
                             "--prune delete deletes it")

    for sid in desired.unmanaged_services:
        if sid in existing:
            notes.append(f"service {sid} serves a retired major: its dispatch rule goes, the service stays; "
                         "delete it by hand once nobody calls it")
    managed = {s.id for s in desired.services}
    for sid in sorted(existing - managed - set(desired.unmanaged_services)):
        notes.append(f"service {sid} is not in the spec; meshspec leaves it alone")

    rules, rule_notes = dispatch.merge(desired.dispatch_rules, observed.dispatch_rules, managed)
    notes += rule_notes
    kept = len(rules) - len(desired.dispatch_rules)
    refusals += dispatch.problems(rules, kept)
    will_exist = existing | {a.service for a in creates}
    for r in rules:
        if r.service not in will_exist:
            refusals.append((f"dispatch rule {r.render()} targets service {r.service}, which does not exist",
                             "App Engine needs a dispatch rule's service to exist first"))
    dispatch_actions: list[Action] = []
    if rules != tuple(observed.dispatch_rules):
        dispatch_actions.append(SetDispatch(tuple(observed.dispatch_rules), rules))

    new_services = [a.service for a in creates if a.service not in existing]
    if new_services and "default" not in existing:
        if "default" in new_services:
            creates.sort(key=lambda a: a.service != "default")  # stable: default's versions go first
        else:
            refusals.append((
                f"apps/{desired.app_id} has no default service, and App Engine creates no other service before it "
                f"(this plan would create {', '.join(sorted(set(new_services)))})",
                "mark one App Engine service with appengine.defaultService: true, or deploy the default service "
                "first"))

    if refusals:
        lines = [f"{m}" for m, _ in refusals]
        hints = sorted({h for _, h in refusals})
        raise PlanRefused(
            f"App Engine would refuse this plan ({len(refusals)} problem(s)); nothing was sent:\n  - "
            + "\n  - ".join(lines), hint="; ".join(hints), details=[{"message": m, "hint": h} for m, h in refusals])
    touched = tuple(s for s in (d.id for d in desired.services) if s in existing)
    return Plan(desired.app_id, tuple(creates + starts + splits + dispatch_actions + prunes), tuple(notes), touched)


def _sticky_note(ds: DesiredService, before: Split | None) -> str:
    """What a split change does to an A/B test's cohorts: App Engine routes each user by the value of its
    GOOGAPPUID cookie, so changed allocations move some users to another version mid-experiment."""
    if before is None or before.shard_by != "COOKIE":
        return (f"{ds.id} is an A/B test: from this split on, App Engine keeps each user in one version by its "
                f"GOOGAPPUID cookie ({ds.split.render()})")
    changed = sorted(v for v in {*ds.split.as_dict, *before.as_dict}
                     if ds.split.as_dict.get(v) != before.as_dict.get(v))
    return (f"{ds.id} is an A/B test kept by App Engine's GOOGAPPUID cookie: changing the allocations of "
            f"{', '.join(changed)} moves some of their users to another version; compare cohorts over windows "
            "that do not straddle this change")


def _initial_split(ds: DesiredService, creates: list[Action]) -> Split | None:
    """The split App Engine gives a new service: all traffic on the first version created in it."""
    first = next((a.version.id for a in creates if isinstance(a, CreateVersion) and a.service == ds.id), None)
    return Split.of("UNSPECIFIED", {first: 1}) if first else None


STORAGE_URL = re.compile(r"^https://storage\.googleapis\.com/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/\S+$")
IMAGE = re.compile(r"^\S+/\S+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


def _artifact(sid: str, dv: DesiredVersion) -> list[tuple[str, str]]:
    """ZipInfo.sourceUrl is a Cloud Storage URL; ContainerInfo.image is fully qualified with a tag or digest."""
    if dv.image is not None and not IMAGE.match(dv.image):
        return [(f"version {sid}/{dv.id}: image {dv.image!r} is not a fully qualified image with a tag or digest",
                 "give the image as REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST")]
    if dv.source_url is not None and not STORAGE_URL.match(dv.source_url):
        return [(f"version {sid}/{dv.id}: source {dv.source_url!r} is not a Cloud Storage object",
                 "give the source as gs://BUCKET/OBJECT.zip")]
    return []


def _immutable(sid: str, dv: DesiredVersion, ov) -> list[tuple[str, str]]:
    """A deployed version's code and environment cannot change; new code needs a new version name."""
    out = []
    diffs = []
    if ov.env and ov.env != dv.env:
        diffs.append(f"environment {ov.env} -> {dv.env}")
    if ov.runtime and dv.runtime and ov.runtime != dv.runtime:
        diffs.append(f"runtime {ov.runtime} -> {dv.runtime}")
    if ov.source_url and dv.source_url and ov.source_url != dv.source_url:
        diffs.append(f"source {ov.source_url} -> {dv.source_url}")
    if ov.image and dv.image and ov.image != dv.image:
        diffs.append(f"image {ov.image} -> {dv.image}")
    if diffs:
        out.append((f"version {sid}/{dv.id} is already deployed with different code ({'; '.join(diffs)})",
                    "App Engine versions are immutable: give the new code a new version name"))
    return out


def _migration(ds: DesiredService, obs) -> list[tuple[str, str]]:
    """Gradual migration (UpdateServiceRequest.migrate_traffic): standard only, one target, warmup + automatic."""
    out = []
    if ds.env == "flexible":
        out.append((f"service {ds.id} asks for migrateTraffic, which App Engine refuses in the flexible environment",
                    "set appengine.migrateTraffic: false; the split then moves at once"))
        return out
    targets = [v for v, _ in ds.split.allocations]
    if len(targets) != 1:
        out.append((f"service {ds.id}: migrateTraffic moves all traffic to one version, the split names "
                    f"{len(targets)} ({', '.join(targets)})", "give one version 100% or set migrateTraffic: false"))
        return out
    ov = obs.version(targets[0]) if obs else None
    if ov is not None and not ov.warmup:
        out.append((f"version {ds.id}/{targets[0]} was deployed without warmup requests, which gradual migration "
                    "needs", "deploy the code as a new version (meshspec enables warmup when migrateTraffic is on)"))
    if ov is not None and ov.env == "standard" and ov.scaling not in (None, "automatic"):
        out.append((f"version {ds.id}/{targets[0]} uses {ov.scaling} scaling; gradual migration needs automatic "
                    "scaling", "deploy the code as a new version with automatic scaling"))
    return out
