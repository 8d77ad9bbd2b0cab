"""Spec problems as data: every check yields these; the CLI decides how to print them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from meshspec.infra.errors import SpecInvalid  # re-exported; defined beside UserError so the CLI needs no pydantic

__all__ = ["Described", "Path", "Problems", "SpecError", "SpecInvalid", "format_path", "show"]


Path = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """Render a key path the way users write it: ``services.user-service.versions[1].traffic``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


@dataclass(frozen=True)
class SpecError:
    """One problem in one spec file, with enough context to fix it without reading the code."""

    file: str
    path: Path
    message: str
    code: str
    line: int | None = None
    column: int | None = None
    given: str | None = None
    allowed: str | None = None
    hint: str | None = None
    severity: str = "error"

    @property
    def key_path(self) -> str:
        return format_path(self.path)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = self.key_path
        return data

    def render(self) -> str:
        """``file:line:col: error: key.path: message (given: …; allowed: …)`` then an indented hint."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity}: " + (f"{self.key_path}: " if self.path else "") + self.message
        extra = []
        if self.given is not None:
            extra.append(f"given: {self.given}")
        if self.allowed is not None:
            extra.append(f"allowed: {self.allowed}")
        if extra:
            text += f" ({'; '.join(extra)})"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


@dataclass
class Problems:
    """Collector that checks append to; keeps errors and warnings apart."""

    file: str
    positions: Any = None  # meshspec.infra.spec.yamlpos.Positions
    items: list[SpecError] = field(default_factory=list)

    def add(self, path: Path, message: str, code: str, *, given: Any = None, allowed: str | None = None,
            hint: str | None = None, severity: str = "error", at_key: bool = False) -> None:
        line = column = None
        if self.positions is not None:
            mark = self.positions.find(path, at_key=at_key)
            if mark is not None:
                line, column = mark
        self.items.append(SpecError(
            file=self.file, path=tuple(path), message=message, code=code, line=line, column=column,
            given=None if given is None else show(given), allowed=allowed, hint=hint, severity=severity))

    def warn(self, path: Path, message: str, code: str, **kw: Any) -> None:
        self.add(path, message, code, severity="warning", **kw)

    @property
    def errors(self) -> list[SpecError]:
        return [e for e in self.items if e.severity == "error"]

    @property
    def warnings(self) -> list[SpecError]:
        return [e for e in self.items if e.severity == "warning"]


class Described(str):
    """A description of what was given (not the user's value itself): printed without quotes."""


def show(value: Any, limit: int = 80) -> str:
    """A short, unambiguous rendering of a user's value for messages."""
    if isinstance(value, Described):
        text = str(value)
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "a mapping" if len(value) > 4 else "{" + ", ".join(f"{k}: {show(v, 20)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "a list" if len(value) > 6 else "[" + ", ".join(show(v, 20) for v in value) + "]"
    elif value is None:
        text = "null"
    elif value is True or value is False:
        text = "true" if value else "false"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
