"""Traffic shares → App Engine allocations, computed exactly as ``gcloud app services set-traffic`` does.

gcloud (googlecloudsdk/api_lib/app/service_util.py, ParseTrafficAllocations) divides each share by the total,
rounds to 2 decimals for ip splits and 3 otherwise, refuses a share that rounds to 0, and gives the rounding
remainder to the largest share (the first by version id on a tie). Versions with a share of 0 are left out:
a version takes no traffic by not being in the split.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from meshspec.infra.errors import UserError

from .state import PLACES, SHARD_BY, Split


class FractionError(UserError):
    """A share that App Engine cannot express."""


def places_for(split_by: str) -> int:
    return PLACES[SHARD_BY.get(split_by, split_by)]


def allocations(shares: Mapping[str, Decimal | float | int], split_by: str, *, service: str = "") -> dict[str, Decimal]:
    """Fractions in (0, 1] summing to exactly 1 for the non-zero ``shares`` (percentages or any weights)."""
    places = places_for(split_by)
    step = Decimal(1).scaleb(-places)
    given = {v: Decimal(str(s)) for v, s in shares.items() if Decimal(str(s)) != 0}
    where = f" of {service}" if service else ""
    if any(s < 0 for s in given.values()):
        bad = next(v for v, s in given.items() if s < 0)
        raise FractionError(f"the traffic split{where} gives version {bad} a negative share ({given[bad]})")
    total = sum(given.values(), Decimal(0))
    if total == 0:
        raise FractionError(f"the traffic split{where} sends no traffic to any version",
                            hint="give at least one version a share above 0")
    out: dict[str, Decimal] = {}
    for version, share in given.items():
        # float division then round(), as gcloud does, so the same input gives the same allocation.
        fraction = Decimal(str(round(float(share) / float(total), places))).quantize(step)
        if fraction == 0:
            pct = share * 100 / total
            raise FractionError(
                f"version {version}{where} would get {pct.normalize():f}% of the traffic, which rounds to 0 with "
                f"{places} decimals ({split_by} splits); App Engine refuses a zero allocation",
                hint=(f"give {version} at least {(step * 100).normalize():f}% or 0 (no traffic)"
                      + ("; cookie and random splits take 3 decimals" if places == 2 else "")))
        out[version] = fraction
    difference = sum(out.values(), Decimal(0)) - 1
    if difference:
        largest = max(out.values())
        first = next(v for v in sorted(out) if out[v] == largest)
        out[first] -= difference
    return out


def split_for(shares: Mapping[str, Decimal], split_by: str, *, service: str = "") -> Split:
    return Split.of(SHARD_BY[split_by], allocations(shares, split_by, service=service))
