"""Which code versions a change gives more traffic: what CI runs ``meshspec canary`` for after a deploy."""
from __future__ import annotations

from decimal import Decimal

from meshspec.infra.spec import Spec
from meshspec.infra.spec.model import live_majors, shares


def canary_steps(share: Decimal) -> str:
    """``--steps`` for a version deployed at ``share``: judged there and held there (CI runs ``meshspec canary
    --hold``). The spec stays the source of truth: a larger share is the next change to the spec, judged in turn."""
    return f"{share:g}"


def grown_versions(old: Spec | None, new: Spec) -> list[dict]:
    """Per service and live major, each version whose share is larger in ``new`` than in ``old`` (a version new
    to the major counts from 0), with the canary's ``steps`` (that share). A major that took no traffic
    before (new, or a service new to the spec) is left out: a canary needs a baseline version."""
    out = []
    for name, svc in new.services.items():
        before = old.services.get(name) if old is not None else None
        for major in live_majors(svc):
            now = shares(svc, major)
            was = shares(before, major) if before is not None and major in before.majors else {}
            if not any(was.values()):
                continue
            for version, share in now.items():
                prev = was.get(version, Decimal(0))
                if share > prev:
                    out.append({"service": name, "major": major, "version": version,
                                "from": float(prev), "to": float(share), "steps": canary_steps(share)})
    return out
