"""App Mesh's keys under ``aws.mesh``."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field


def settings() -> dict[str, tuple[Any, Any]]:
    return {"egress_filter": (Literal["DROP_ALL", "ALLOW_ALL"], Field(
        "DROP_ALL", description="App Mesh only: whether services may call out of the mesh. Default: DROP_ALL."))}
