"""The capability table of docs/backends.md, rendered from the backends' rows (tests/test_docs.py checks that the
page holds exactly this table, so a backend's package is the one place its row is written)."""
from __future__ import annotations

from .interface import Backend, CapabilityRow
from .registry import all_backends


def capability_table(backends: list[Backend] | None = None) -> str:
    """The Markdown table: a column per backend (listing order), a row per ``CapabilityRow.ROWS``."""
    columns = [(b.title, b.capability_row()) for b in (all_backends() if backends is None else backends)]
    columns = [(title, row) for title, row in columns if row is not None]
    lines = ["| | " + " | ".join(title for title, _ in columns) + " |",
             "| --- |" + " --- |" * len(columns)]
    lines += [f"| {name} | " + " | ".join(row.cells[name] for _, row in columns) + " |" for name in CapabilityRow.ROWS]
    return "\n".join(lines) + "\n"
