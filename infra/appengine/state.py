"""App Engine state as plain data: what the Admin API reports (observed) and what the spec asks (desired).

Both sides use the same small types so the planner compares like with like. Enum values are the API's names
(``COOKIE``, ``SERVING``); the client edge converts from and to the library's integer enums.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

SHARD_BY = {"ip": "IP", "cookie": "COOKIE", "random": "RANDOM"}
# Decimals App Engine accepts in an allocation (TrafficSplit.allocations, types/service.py).
PLACES = {"IP": 2, "COOKIE": 3, "RANDOM": 3, "UNSPECIFIED": 3}


@dataclass(frozen=True)
class Split:
    """A service's traffic split: allocations are fractions in (0, 1] summing to 1, sorted by version."""

    shard_by: str
    allocations: tuple[tuple[str, Decimal], ...]

    @classmethod
    def of(cls, shard_by: str, allocations: Mapping[str, Decimal | float | str]) -> "Split":
        places = PLACES.get(shard_by, 3)
        q = Decimal(1).scaleb(-places)
        return cls(shard_by, tuple(sorted((v, Decimal(str(a)).quantize(q)) for v, a in allocations.items())))

    @property
    def as_dict(self) -> dict[str, Decimal]:
        return dict(self.allocations)

    def same_as(self, other: "Split | None") -> bool:
        """Same traffic: equal allocations, and equal sharding unless one version takes everything."""
        if other is None:
            return False
        if self.allocations != other.allocations:
            return False
        return self.shard_by == other.shard_by or len(self.allocations) == 1

    def render(self) -> str:
        parts = ", ".join(f"{v}={_pct(a)}" for v, a in self.allocations)
        return f"{parts} (by {self.shard_by.lower()})" if parts else "(none)"

    def to_json(self) -> dict[str, Any]:
        return {"shardBy": self.shard_by, "allocations": {v: str(a) for v, a in self.allocations}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Split":
        return cls.of(data["shardBy"], {v: Decimal(a) for v, a in data["allocations"].items()})


def _pct(a: Decimal) -> str:
    return f"{(a * 100).normalize():f}%"


def split_target(app: str, service: str) -> str:
    """How the traffic tools and the journal name one App Engine service's split."""
    return f"App Engine apps/{app}/services/{service} split"


def split_token(split: Split | None) -> str:
    """A digest of the split: the token its state is read and written under (the Admin API has no etag)."""
    doc = split.to_json() if split else None
    return "split:" + hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def percent(split: Split | None) -> dict[str, Decimal] | None:
    """A split's allocations as percentages (0.1 → 10), as the traffic tools keep weights."""
    if split is None:
        return None
    return {v: percent_of(a) for v, a in split.allocations}


def percent_of(fraction: Decimal) -> Decimal:
    p = (Decimal(fraction) * 100).normalize()
    return p.quantize(Decimal(1)) if p == p.to_integral_value() else p


@dataclass(frozen=True)
class VersionState:
    """One observed version."""

    id: str
    env: str = "standard"
    serving_status: str = "SERVING"
    runtime: str = ""
    source_url: str | None = None
    image: str | None = None
    warmup: bool = False
    scaling: str | None = None  # automatic | basic | manual

    @property
    def stoppable(self) -> bool:
        """Admin API versions.patch takes servingStatus for flexible, and for basic or manual scaling in standard."""
        return self.env == "flexible" or self.scaling in ("basic", "manual")


@dataclass(frozen=True)
class ServiceState:
    id: str
    split: Split | None
    versions: tuple[VersionState, ...] | None = None  # None: not listed (the service is not touched)

    def version(self, vid: str) -> VersionState | None:
        return next((v for v in self.versions or () if v.id == vid), None)


@dataclass(frozen=True)
class DispatchRule:
    domain: str
    path: str
    service: str

    def render(self) -> str:
        return f"{self.domain}{self.path} -> {self.service}"

    def to_json(self) -> dict[str, str]:
        return {"domain": self.domain, "path": self.path, "service": self.service}


@dataclass(frozen=True)
class Observed:
    """What the Admin API reported: the application, its services, and the versions of touched services."""

    app_id: str
    default_hostname: str = ""
    dispatch_rules: tuple[DispatchRule, ...] = ()
    services: Mapping[str, ServiceState] = field(default_factory=dict)
    location: str = ""  # the application's locationId; "" when not known


@dataclass(frozen=True)
class DesiredVersion:
    id: str
    env: str
    runtime: str
    source_url: str | None
    image: str | None
    warmup: bool
    health_path: str
    env_variables: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "env": self.env, "runtime": self.runtime}
        if self.source_url:
            out["sourceUrl"] = self.source_url
        if self.image:
            out["image"] = self.image
        if self.warmup:
            out["warmup"] = True
        return out


@dataclass(frozen=True)
class DesiredService:
    """One App Engine service the spec manages (a spec service, or one major of it with majorsAsServices)."""

    id: str
    spec_service: str
    env: str
    versions: tuple[DesiredVersion, ...]
    split: Split | None  # None: no live major, traffic is left as it is
    migrate: bool
    paths: tuple[str, ...]  # major path prefixes it serves (for smoke checks)
    # An A/B test keeps each user in one version (a major's sticky: App Engine's cookie split on GOOGAPPUID).
    sticky: bool = False

    def version(self, vid: str) -> DesiredVersion | None:
        return next((v for v in self.versions if v.id == vid), None)


@dataclass(frozen=True)
class Desired:
    app_id: str
    services: tuple[DesiredService, ...]
    dispatch_rules: tuple[DispatchRule, ...]
    unmanaged_services: tuple[str, ...] = ()  # e.g. services of retired majors: left alone
    location: str = ""  # gcp.location: where the application must be (App Engine fixes it at creation)

    def service(self, sid: str) -> DesiredService | None:
        return next((s for s in self.services if s.id == sid), None)
