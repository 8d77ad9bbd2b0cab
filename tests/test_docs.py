"""The docs follow the code: the spec reference names every key the model accepts, and the backends' page holds
the capability table the backends' own rows make, so neither can silently fall behind."""
from __future__ import annotations

import typing

from pydantic import BaseModel

from meshspec.infra.mesh.docs import capability_table
from meshspec.infra.spec import model

from .conftest import ROOT


def _models(root: type[BaseModel] = model.Spec) -> list[type[BaseModel]]:
    """Every model reachable from the spec's root, a backend's settings included."""
    seen: list[type[BaseModel]] = []

    def walk(tp: object) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in seen:
                seen.append(tp)
                for f in tp.model_fields.values():
                    walk(f.annotation)
        for arg in typing.get_args(tp):
            walk(arg)

    walk(root)
    return seen


def test_every_spec_key_is_documented():
    doc = (ROOT / "docs" / "spec.md").read_text()
    models = _models()
    assert {"Mesh", "Migration", "Deployment", "Service", "Version"} <= {m.__name__ for m in models}
    missing = sorted({f"{m.__name__}.{f.alias}" for m in models for f in m.model_fields.values()
                      if f"`{f.alias}`" not in doc})
    assert not missing, f"document these keys in docs/spec.md: {missing}"


def test_the_capability_table_is_the_backends_rows():
    table = capability_table()
    assert table.startswith("| | App Mesh | ECS Service Connect | VPC Lattice |\n")
    assert table in (ROOT / "docs" / "backends.md").read_text(), \
        "docs/backends.md: paste meshspec.infra.mesh.docs.capability_table() over the table"
