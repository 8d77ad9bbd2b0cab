"""Which code versions a change gives more traffic: what CI runs ``meshspec canary`` for after a deploy."""
from __future__ import annotations

from decimal import Decimal

from meshspec.infra.spec import Spec
from meshspec.infra.spec.model import live_majors, shares


def grown_versions(old: Spec | None, new: Spec) -> list[dict]:
    """Per service and live major, each version whose share is larger in ``new`` than in ``old`` (a version or
    major that did not exist counts from 0). A version the only one of its major (100 % from the start) has
    nothing to compare with and is left out: a canary needs a baseline that takes traffic."""
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
                                "from": float(prev), "to": float(share)})
    return out
