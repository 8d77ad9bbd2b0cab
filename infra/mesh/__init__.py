"""Mesh backends behind one interface (:mod:`.interface`), found through one registry (:mod:`.registry`).

The backends themselves live in ``backends/<name>/`` (``meshspec.backends.<name>``); nothing outside a
backend's package names it. docs/backends.md, "Adding a backend", lists the files a new one touches.
"""
from . import registry
from .interface import Backend, CapabilityRow, Join, Role

__all__ = ["Backend", "CapabilityRow", "Join", "Role", "registry"]
