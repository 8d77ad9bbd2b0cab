"""The spec reference names every key the model accepts, so it cannot silently fall behind."""
from __future__ import annotations

from pydantic import BaseModel

from meshspec.infra.spec import model

from .conftest import ROOT


def _models():
    return [m for m in vars(model).values()
            if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == model.__name__
            and not m.__name__.startswith("_")]


def test_every_spec_key_is_documented():
    doc = (ROOT / "docs" / "spec.md").read_text()
    missing = sorted({f"{m.__name__}.{f.alias}" for m in _models() for f in m.model_fields.values()
                      if f"`{f.alias}`" not in doc})
    assert not missing, f"document these keys in docs/spec.md: {missing}"
