"""Which code versions a change gives more traffic: what CI runs ``meshspec canary`` for after a deploy."""
from __future__ import annotations

from decimal import Decimal

from meshspec.infra.spec import Spec
from meshspec.infra.spec.model import live_majors, shares


#: the canary's default steps (``meshspec canary --steps``) above the share a deploy gave the version
STEPS = (Decimal(10), Decimal(50), Decimal(100))


def canary_steps(share: Decimal) -> str:
    """``--steps`` for a version deployed at ``share``: first judged there, then the default steps above it."""
    return ",".join(f"{s:g}" for s in [share, *(s for s in STEPS if s > share)])


def grown_versions(old: Spec | None, new: Spec) -> list[dict]:
    """Per service and live major, each version whose share is larger in ``new`` than in ``old`` (a version new
    to the major counts from 0), with the canary's ``steps`` from that share on. A major that took no traffic
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
