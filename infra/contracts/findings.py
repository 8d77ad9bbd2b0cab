"""Findings of ``meshspec contracts check`` as data, and their renderings (text, JSON, GitHub, JUnit XML)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
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
    operation: str | None = None   # METHOD /full/path, for changes found in an operation
    base_file: str | None = None   # where the changed thing was in the base
    base_line: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["consumers"] = list(self.consumers)
        data["baseFile"], data["baseLine"] = data.pop("base_file"), data.pop("base_line")
        return data

    @property
    def subject(self) -> str:
        return f"{self.service}/{self.major}" if self.service and self.major else (self.service or "spec")

    @property
    def base(self) -> str | None:
        if self.base_file is None:
            return None
        return f"{self.base_file}:{self.base_line}" if self.base_line else self.base_file

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        ptr = f" {self.operation}" if self.operation else f" {self.pointer}" if self.pointer else ""
        text = f"{where}: {self.severity}: {self.subject}{ptr}: {self.message} [{self.rule}]"
        if self.base:
            text += f"\n    was: {self.base}"
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
        where = self.operation or self.pointer
        text = f"{self.subject}{' ' + where if where else ''}: {self.message}"
        if self.base:
            text += f"\nwas: {self.base}"
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
    checked: list[tuple[str, str]] = field(default_factory=list)  # (service, major) of every contract checked

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

    def junit(self) -> str:
        """JUnit XML, which CI systems show as test results: a suite per major (and one for the spec), a test
        case per operation with findings (or per contract, passing, when it has none); errors are failures,
        warnings and non-breaking changes the case's output."""
        cases: dict[str, dict[str, list[Finding]]] = {}
        for name, major in self.checked:
            cases.setdefault(f"{name}/{major}", {})
        for f in self.findings:
            suite = f.subject
            case = f.operation or (f"{f.rule} {f.pointer}".strip() if suite == "spec" or not f.major else "contract")
            cases.setdefault(suite, {}).setdefault(case, []).append(f)
        root = ET.Element("testsuites", name="meshspec contracts check",
                          tests="0", failures=str(len(self.errors)), errors="0")
        total = 0
        for suite, by_case in cases.items():
            if not by_case:
                by_case = {"contract": []}
            s = ET.SubElement(root, "testsuite", name=suite, tests=str(len(by_case)), errors="0",
                              failures=str(sum(1 for fs in by_case.values() for f in fs if f.severity == "error")))
            total += len(by_case)
            for case, found in by_case.items():
                c = ET.SubElement(s, "testcase", classname=suite, name=case)
                for f in found:
                    if f.severity == "error":
                        fail = ET.SubElement(c, "failure", type=f.rule, message=f.message)
                        fail.text = f.render()
                out = "\n".join(f.render() for f in found if f.severity != "error")
                if out:
                    ET.SubElement(c, "system-out").text = out
        root.set("tests", str(total))
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
