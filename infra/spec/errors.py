"""Spec problems as data: every check yields these; the CLI decides how to print them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from meshspec.infra.errors import SpecInvalid  # re-exported; defined beside UserError so the CLI needs no pydantic

from .secrets import SECRET_NAME, SECRETISH_NAME, mask, masked_value

__all__ = ["Described", "Path", "Problems", "SpecError", "SpecInvalid", "format_path", "show"]


Path = tuple[str | int, ...]
MAX_PROBLEMS = 500  # per file


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

    def __post_init__(self) -> None:
        # No secret in any message: whatever a check put in, credential shapes are masked here, once.
        for name in ("message", "given", "allowed", "hint"):
            text = getattr(self, name)
            if text:
                object.__setattr__(self, name, mask(text))
        if any(isinstance(p, str) and mask(p) != p for p in self.path):
            object.__setattr__(self, "path", tuple(mask(p) if isinstance(p, str) else p for p in self.path))

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
    limit: int = MAX_PROBLEMS  # past it, problems are counted, not kept: a file of junk is reported in bounded time
    dropped: int = 0

    def add(self, path: Path, message: str, code: str, *, given: Any = None, allowed: str | None = None,
            hint: str | None = None, severity: str = "error", at_key: bool = False) -> None:
        if len(self.items) >= self.limit:
            self.dropped += 1
            return
        if given is not None and not isinstance(given, Described) and _secret_env(path):
            given = Described(masked_value(given))
        line = column = None
        if self.positions is not None:
            found = self.positions.locate(path, at_key=at_key)
            if found is not None:
                line, column, note = found
                if note:  # the value is written elsewhere (an anchor) and came here through a merge or an alias
                    message = f"{message} ({note})"
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


def _secret_env(path: Path) -> bool:
    """A path to an env variable whose name says or suggests a secret: its value is never shown."""
    return (len(path) >= 4 and path[0] == "services" and path[2] == "env" and isinstance(path[3], str)
            and bool(SECRET_NAME.search(path[3].upper()) or SECRETISH_NAME.search(path[3].upper())))


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
