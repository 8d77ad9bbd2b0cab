"""The interface every traffic backend implements, and how a service finds its backend.

A backend moves one service major's traffic between code versions on one platform: App Mesh routes
(:mod:`.appmesh`), App Engine splits (:mod:`.appengine`); VPC Lattice listener rules can be added the same way
(docs/traffic.md, "Adding a backend"). Everything above this interface (shift, promote, rollback, canary,
status) is platform-neutral.

Concurrency contract: ``read_weights`` returns a *token* naming the exact state read (App Mesh: each route's
``metadata.version``; App Engine: the split itself, as the API has no etag). ``set_weights`` must refuse with
:class:`Conflict`, writing nothing, when the live token is no longer the expected one.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Service, Spec

from .weights import Weights, fmt


@dataclass(frozen=True)
class Live:
    """One major's live weights, the token of the state they were read from, and the resources read."""

    weights: Weights
    token: str
    resources: tuple[str, ...]
    # Other majors that share this split (App Engine without majorsAsServices): they change together.
    shared_with: tuple[str, ...] = ()


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

    #: short platform name shown in output ("appmesh", "appengine", "lattice")
    name: str
    #: decimal places of a percentage the platform takes (App Mesh 0; App Engine cookie/random 1, ip 0)
    places: int

    def target(self, service: str, major: str) -> str:
        """A human name of what is changed, e.g. ``mesh shop-mesh route pricing-router/pricing-v1``."""

    def read_weights(self, service: str, major: str) -> Live:
        """Live weights per version (versions with 0 included where the platform lists them) and a token."""

    def check_versions(self, service: str, major: str, versions: list[str]) -> list[str]:
        """The subset of ``versions`` with nothing deployed to send ``major``'s traffic to (no virtual node, …)."""

    def set_weights(self, service: str, major: str, weights: Weights, expected_token: str) -> Live:
        """Write ``weights`` (complete, summing to 100) if the live token is still ``expected_token``."""


@dataclass
class Context:
    """What a backend factory may use: the state directory (locks) and optional pre-built clients (tests)."""

    state_dir: Path
    boto3_session: Any = None   # default: boto3.Session(region_name=spec.aws.region), endpoints from the env
    appengine_api: Any = None   # default: meshspec.infra.appengine.client.AdminApi from the environment, made once
    monitoring_api: Any = None  # default: meshspec.infra.traffic.cloudmonitoring.MonitoringApi from the environment, made once
    clients: dict[str, Any] = field(default_factory=dict)  # boto3 clients, made once per process

    def aws_client(self, spec: Spec, name: str) -> Any:
        """The boto3 client ``name`` (appmesh, vpc-lattice, cloudwatch), made once from ``boto3_session``."""
        if name not in self.clients:
            import boto3

            session = self.boto3_session or boto3.Session(region_name=spec.aws.region if spec.aws else None)
            self.clients[name] = session.client(name)
        return self.clients[name]


BackendFactory = Callable[[Spec, str, Context], TrafficBackend]

#: platform key → factory. ``platform_of`` picks the key; successors register theirs here.
REGISTRY: dict[str, BackendFactory] = {}


def register(key: str) -> Callable[[BackendFactory], BackendFactory]:
    def deco(factory: BackendFactory) -> BackendFactory:
        REGISTRY[key] = factory
        return factory
    return deco


def platform_of(spec: Spec, service: Service) -> str:
    """``appengine`` for App Engine services; for AWS services, the spec's mesh backend (``appmesh``)."""
    if service.appengine is not None:
        return "appengine"
    return spec.aws.mesh.backend if spec.aws else "appmesh"


def backend_for(spec: Spec, name: str, ctx: Context,
                overrides: dict[str, BackendFactory] | None = None) -> TrafficBackend:
    """The backend that controls ``name``'s traffic. ``overrides`` lets tests and callers inject factories."""
    from . import appengine, appmesh, lattice, service_connect  # noqa: F401  (register the built-in backends)

    service = spec.services[name]
    key = platform_of(spec, service)
    factory = (overrides or {}).get(key) or REGISTRY.get(key)
    if factory is None:
        raise UserError(f"no traffic backend for platform {key!r} (service {name})",
                        hint=f"known: {', '.join(sorted(REGISTRY))}")
    return factory(spec, name, ctx)


# -- a lock shared by every meshspec process on this machine ------------------------------------------------
def state_dir(spec_file: str | os.PathLike | None = None) -> Path:
    """Where meshspec keeps the shift journal, canary state and locks: ``$MESHSPEC_STATE_DIR`` or
    ``.meshspec/`` beside the spec file."""
    env = os.environ.get("MESHSPEC_STATE_DIR")
    if env:
        return Path(env)
    base = Path(spec_file).resolve().parent if spec_file else Path.cwd()
    return base / ".meshspec"


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

