"""The interface every traffic backend implements, and what they share (the live state, conflicts, the state
directory and its locks). :mod:`.backend` picks a service's backend.

A traffic backend moves one service major's traffic between code versions on one platform: App Engine splits
(:mod:`.appengine`), or on AWS whatever the spec's mesh backend keeps weights in (its ``traffic`` hook:
``meshspec.backends.<name>.traffic``). Everything above this interface (shift, promote, rollback, canary,
status) is platform-neutral.

Concurrency contract: ``read_weights`` returns a *token* naming the exact state read (a route's version, a
digest of a rule or a split where the API has no etag). ``set_weights`` must refuse with :class:`Conflict`,
writing nothing, when the live token is no longer the expected one.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from meshspec.infra import journal
from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Spec

from .weights import Weights, fmt


@dataclass(frozen=True)
class Live:
    """One major's live weights, the token of the state they were read from, and the resources read."""

    weights: Weights
    token: str
    resources: tuple[str, ...]
    # Other majors that share this split (App Engine without majorsAsServices): they change together.
    shared_with: tuple[str, ...] = ()
    # App Engine: how the split is sharded (the journal keeps it, so `appengine rollback` restores it exactly).
    shard_by: str | None = None


class Conflict(UserError):
    """The live state changed since it was read: nothing was written."""

    def __init__(self, target: str, expected: str, live: Live):
        super().__init__(
            f"{target} changed since it was read (expected {expected}, found {live.token}); nothing was "
            f"written. Its weights now: {fmt(live.weights)}",
            hint="someone else shifted this major; run `meshspec traffic status` and decide again")
        self.live = live


class NotDeployed(UserError):
    """The resource a backend needs (route, node, App Engine service or version) does not exist."""


class TrafficBackend(Protocol):
    """Moves the traffic of one service major between code versions on one platform.

    Implementations must not write in ``read_weights``/``check_versions``, must write all resources of a major
    or none (restoring what they wrote if a later write fails), and must raise :class:`Conflict` before any write
    when ``expected_token`` is stale.
    """

    #: short platform name shown in output (a mesh backend's name, or "appengine")
    name: str
    #: decimal places of a percentage the platform takes (AWS backends 0; App Engine cookie/random 1, ip 0)
    places: int
    #: what is missing when a version has nothing deployed ("no virtual node", "no such version")
    missing: str

    def target(self, service: str, major: str) -> str:
        """A human name of what is changed, e.g. ``mesh shop-mesh route pricing-router/pricing-v1``."""

    def read_weights(self, service: str, major: str) -> Live:
        """Live weights per version (versions with 0 included where the platform lists them) and a token."""

    def check_versions(self, service: str, major: str, versions: list[str]) -> list[str]:
        """The subset of ``versions`` with nothing deployed to send ``major``'s traffic to (no virtual node, …)."""

    def set_weights(self, service: str, major: str, weights: Weights, expected_token: str) -> Live:
        """Write ``weights`` (complete, summing to 100) if the live token is still ``expected_token``."""

    def for_cohort(self, cohort: str) -> "TrafficBackend":
        """Optional: the same backend on one A/B cohort's route of a major (``naming.cohort_route``): its reads,
        writes, token and lock, so shift, promote, rollback and status work on it unchanged. A backend without
        cohort routes leaves it out (``meshspec traffic --cohort`` then says so)."""

    def version_address(self, service: str, major: str, version: str) -> str | None:
        """The version's own address (with the major's path and the health check) that the canary smoke-checks,
        or None when a version has no address of its own."""


@dataclass
class Context:
    """What a backend factory may use: the state directory (locks) and optional pre-built clients (tests)."""

    state_dir: Path
    boto3_session: Any = None   # default: boto3.Session(region_name=spec.aws.region), endpoints from the env
    appengine_api: Any = None   # default: meshspec.infra.appengine.client.AdminApi from the environment, made once
    monitoring_api: Any = None  # default: meshspec.infra.traffic.cloudmonitoring.MonitoringApi from the environment, made once
    clients: dict[str, Any] = field(default_factory=dict)  # boto3 clients, made once per process

    def aws_client(self, spec: Spec, name: str) -> Any:
        """The boto3 client ``name`` (``cloudwatch``, a mesh backend's), made once from ``boto3_session``."""
        if name not in self.clients:
            import boto3

            session = self.boto3_session or boto3.Session(region_name=spec.aws.region if spec.aws else None)
            self.clients[name] = session.client(name)
        return self.clients[name]


# -- a lock shared by every meshspec process on this machine ------------------------------------------------
def state_dir(spec_file: str | os.PathLike | None = None) -> Path:
    """Where meshspec keeps the journal, canary state and locks (:func:`meshspec.infra.journal.state_dir`, the one
    location rule): ``$MESHSPEC_STATE_DIR`` or ``.meshspec/`` beside the spec file."""
    return journal.state_dir(spec_file=spec_file)


APPENGINE = "appengine"


def cloud_of(backend: TrafficBackend) -> journal.Cloud:
    """Which cloud's journal a backend's moves go to: App Engine's are Google's, every mesh backend's AWS's."""
    return "gcp" if backend.name == APPENGINE else "aws"


@contextlib.contextmanager
def write_lock(directory: Path, key: str) -> Iterator[None]:
    """Serialise check-then-write on one major between meshspec processes (and threads) on this machine.

    Neither App Mesh nor App Engine offers a conditional update, so a backend re-reads the token right before
    writing. This lock closes the window between that re-read and the write for writers on this machine;
    writers elsewhere are caught afterwards (App Mesh: the returned version is not ours + 1) and reported.
    """
    locks = directory / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

