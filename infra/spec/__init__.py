"""The meshspec spec: model, loader and checks. Everything else in meshspec reads a :class:`Spec`.

The names below load on first use (PEP 562), so a module of this package (``.base``, which a mesh backend's
settings derive from while the model is being built) imports without pulling in the loader and the model."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {"SpecError": ".errors", "SpecInvalid": ".errors", "format_path": ".errors",
          "LoadResult": ".loader", "load_spec": ".loader", "load_spec_or_raise": ".loader", "load_text": ".loader",
          "API_VERSION": ".model", "Spec": ".model", "live_majors": ".model", "major_path": ".model",
          "shares": ".model"}

__all__ = sorted(_WHERE)

if TYPE_CHECKING:
    from .errors import SpecError, SpecInvalid, format_path
    from .loader import LoadResult, load_spec, load_spec_or_raise, load_text
    from .model import API_VERSION, Spec, live_majors, major_path, shares


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
