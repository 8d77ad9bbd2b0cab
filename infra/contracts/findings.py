"""Findings of ``meshspec contracts check`` as data, and their three renderings (text, JSON, GitHub)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One classified change or refusal, with enough context to act on it in a pull request."""

    severity: str  # "error" fails the check, "warning" and "notice" do not
    rule: str
    message: str
    file: str
    pointer: str = ""
    service: str | None = None
    major: str | None = None
    line: int | None = None
    breaking: bool | None = None
    consumers: tuple[str, ...] = ()
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["consumers"] = list(self.consumers)
        return data

    @property
    def subject(self) -> str:
        return f"{self.service}/{self.major}" if self.service and self.major else (self.service or "spec")

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        ptr = f" {self.pointer}" if self.pointer else ""
        text = f"{where}: {self.severity}: {self.subject}{ptr}: {self.message} [{self.rule}]"
        if self.consumers:
            text += f"\n    consumers: {', '.join(self.consumers)}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def github(self) -> str:
        """A GitHub Actions workflow command; GitHub shows it on the file's line in the pull request."""
        kind = {"error": "error", "warning": "warning"}.get(self.severity, "notice")
        props = [f"file={_prop(self.file)}"]
        if self.line:
            props.append(f"line={self.line}")
        props.append(f"title={_prop(f'meshspec {self.rule}')}")
        text = f"{self.subject}{' ' + self.pointer if self.pointer else ''}: {self.message}"
        if self.consumers:
            text += f"\nconsumers: {', '.join(self.consumers)}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return f"::{kind} {','.join(props)}::{_data(text)}"


def _data(s: str) -> str:
    # docs.github.com/actions/reference/workflow-commands-for-github-actions (escaping in toolkit/command.ts)
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(s: str) -> str:
    return _data(s).replace(":", "%3A").replace(",", "%2C")


@dataclass
class Report:
    base: str
    findings: list[Finding] = field(default_factory=list)
    majors: list[dict[str, Any]] = field(default_factory=list)  # per-major summaries of breaking changes

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "contracts check",
            "ok": self.ok,
            "base": self.base,
            "errorCount": len(self.errors),
            "warningCount": len(self.warnings),
            "breakingCount": sum(1 for f in self.findings if f.breaking),
            "findings": [f.to_json() for f in self.findings],
            "majors": self.majors,
        }
