"""Which service stack a service lives in: a stable, pure function of the service name alone.

A service's slot is a hash of its name modulo a fixed number of slots, so adding or removing a service never
moves another one (moving a service between stacks would delete and recreate its resources). Only slots that
hold services become stacks.

Sizing: CloudFormation allows 500 resources, 200 outputs and a 1 MB template per stack. A meshed service with
two code versions is about 25 resources on ECS; App Mesh allows 200 virtual nodes per mesh, so a mesh holds at
most 200 services. Spread by a hash over 32 slots, 200 services put at most about 16 services (~400
resources) in a slot; `stacks.limits` checks every synthesized stack anyway and says what to do when one
overflows.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Iterable

SLOTS = 32


def slot(name: str, slots: int = SLOTS) -> int:
    """The slot of one service: the first 8 bytes of SHA-256 of its name, modulo ``slots``."""
    if slots < 1:
        raise ValueError(f"slots must be at least 1, got {slots}")
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % slots


def assign(names: Iterable[str], slots: int = SLOTS) -> dict[int, list[str]]:
    """Non-empty slots → their services (sorted), in slot order."""
    out: dict[int, list[str]] = defaultdict(list)
    for n in sorted(set(names)):
        out[slot(n, slots)].append(n)
    return dict(sorted(out.items()))
