"""Contract files: one JSON Schema 2020-12 document per API major, checked before anything compares them.

A contract is an object schema whose properties are endpoints; each endpoint carries
``x-meshspec-endpoint: "METHOD /path"`` and a ``request`` and a ``response`` object schema. The file is
checked twice with jsonschema: against the 2020-12 meta-schema (is it a JSON Schema at all?) and against
``CONTRACT_SHAPE`` below (is it a meshspec contract?). Then the few rules a schema cannot say: the
endpoint paths lie under the major's path prefix, ``x-meshspec`` names the right service and major, and
``$ref`` stays inside the file (meshspec never fetches a schema over the network).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from meshspec.infra.spec.errors import Problems
from meshspec.infra.spec.yamlpos import Positions, parse

DIALECT = "https://json-schema.org/draft/2020-12/schema"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ENDPOINT = re.compile(rf"^({'|'.join(METHODS)}) (/[^\s]*)$")

# The shape of a meshspec contract, as data (cfgv's way): errors come out with a JSON pointer each.
CONTRACT_SHAPE: dict[str, Any] = {
    "$schema": DIALECT,
    "type": "object",
    "required": ["$schema", "type", "properties"],
    "properties": {
        "$schema": {"const": DIALECT},
        "type": {"const": "object"},
        "x-meshspec": {
            "type": "object",
            "properties": {"service": {"type": "string"}, "major": {"type": "string"}},
            "additionalProperties": False,
        },
        "properties": {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/$defs/endpoint"}},
    },
    "$defs": {
        "endpoint": {
            "type": "object",
            "required": ["x-meshspec-endpoint", "properties"],
            "properties": {
                "x-meshspec-endpoint": {"type": "string", "pattern": ENDPOINT.pattern},
                "properties": {
                    "type": "object",
                    "required": ["request", "response"],
                    "properties": {"request": {"$ref": "#/$defs/message"}, "response": {"$ref": "#/$defs/message"}},
                    "additionalProperties": False,
                },
            },
        },
        "message": {"type": "object", "required": ["type"], "properties": {"type": {"const": "object"}}},
    },
}



@functools.cache
def _validators() -> tuple[Any, Any]:
    """The meta-schema and shape validators, built on first use: importing jsonschema costs validate time."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(Draft202012Validator.META_SCHEMA), Draft202012Validator(CONTRACT_SHAPE)


def pointer(path: tuple[str | int, ...] | list[str | int]) -> str:
    """RFC 6901 JSON pointer of a key path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def unpointer(ptr: str) -> tuple[str, ...]:
    if not ptr:
        return ()
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in ptr.lstrip("/").split("/"))


@dataclass(frozen=True)
class ContractProblem:
    pointer: str
    message: str
    rule: str
    line: int | None = None  # set where the contract knows it (OpenAPI); else from ``Contract.line``
    file: str | None = None  # set when the problem is in a file the contract refers to


@dataclass
class Contract:
    """One parsed contract file and where each of its values sits (for line numbers in findings)."""

    file: str
    doc: Any
    positions: Positions = field(default_factory=Positions)
    problems: list[ContractProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.doc is not None and not self.problems

    def line(self, ptr: str) -> int | None:
        """Line of ``ptr``, or of its closest ancestor that exists (a removed field points at its object)."""
        path: tuple[str | int, ...] = unpointer(ptr)
        found = self.positions.find(path, at_key=True)
        return found[0] if found else None

    def endpoints(self) -> dict[str, tuple[str, Any]]:
        """Endpoint name → (``METHOD /path``, endpoint schema)."""
        props = self.doc.get("properties", {}) if isinstance(self.doc, dict) else {}
        return {k: (v.get("x-meshspec-endpoint", ""), v) for k, v in props.items() if isinstance(v, dict)}


def parse_contract(text: str, file: str) -> Contract:
    """Parse and check one contract's text; every problem is collected, nothing raises."""
    doc, positions, problems = _parse(text)
    return Contract(file, doc, positions, list(problems))


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Any, Positions, tuple[ContractProblem, ...]]:
    """Cached by text: in CI most contracts are the same at the base and now, and the meta-schema check
    costs a few milliseconds a file. Callers only read the results."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, Positions(), (ContractProblem(
            "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", "contract-json"),)
    found = Problems("<contract>")
    try:  # JSON is YAML: the spec's position-keeping parser gives every value its line
        _, positions = parse(text, found)
    except Exception:  # pragma: no cover - positions are a nicety; findings then carry no line
        positions = Positions()
    # json.loads keeps the last of two equal keys without a word; the YAML parser says so.
    problems = [ContractProblem(pointer(e.path), f"{e.message} (JSON keeps only the last one)", "contract-duplicate-key")
                for e in found.items if e.code == "duplicate-key"]
    problems.extend(_schema_problems(doc))
    if not problems:
        problems.extend(_ref_problems(doc, ()))
    return doc, positions, tuple(problems)


def _schema_problems(doc: Any) -> Iterator[ContractProblem]:
    meta_validator, shape_validator = _validators()
    meta = sorted(meta_validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for err in meta:
        yield ContractProblem(pointer(list(err.absolute_path)), f"not a valid JSON Schema 2020-12: {err.message}",
                              "contract-schema")
    if meta:
        return
    for err in sorted(shape_validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        yield ContractProblem(pointer(list(err.absolute_path)), _shape_message(err), "contract-shape")


def _shape_message(err: Any) -> str:
    where = list(err.absolute_path)
    if err.validator == "pattern" and where and where[-1] == "x-meshspec-endpoint":
        return (f"endpoint {err.instance!r} is not METHOD /path "
                f"(METHOD one of {', '.join(METHODS)}, e.g. \"GET /user-service/v2/users/{{userId}}\")")
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        what = {"x-meshspec-endpoint": "an endpoint needs x-meshspec-endpoint: \"METHOD /path\"",
                "request": "an endpoint's properties need a request schema",
                "response": "an endpoint's properties need a response schema",
                "$schema": f"a contract declares \"$schema\": \"{DIALECT}\"",
                }.get(missing, f"required key {missing!r} is missing")
        return what
    if err.validator == "const" and where == ["$schema"]:
        return f"meshspec contracts are JSON Schema 2020-12: \"$schema\" must be {DIALECT!r}, not {err.instance!r}"
    if err.validator == "const" and where and where[-1] == "type":
        return f"must be an object schema (type: object), not type {err.instance!r}"
    if err.validator == "minProperties":
        return "a contract lists at least one endpoint under properties"
    if err.validator == "additionalProperties" and len(where) >= 2 and where[-1] == "properties":
        return f"an endpoint has only request and response: {err.message}"
    return err.message


def _ref_problems(node: Any, path: tuple[str | int, ...]) -> Iterator[ContractProblem]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield ContractProblem(pointer(path + ("$ref",)), f"$ref {ref!r} points outside the file; meshspec "
                                  "compares self-contained contracts (put shared parts under $defs)", "contract-ref")
        for k, v in node.items():
            yield from _ref_problems(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _ref_problems(v, path + (i,))


def check_against_spec(contract: Contract, service: str, major: str, prefix: str) -> list[ContractProblem]:
    """Rules that need the spec: the contract names its own service and major, and serves under its path."""
    out: list[ContractProblem] = []
    if not contract.ok:
        return out
    tag = contract.doc.get("x-meshspec") or {}
    for key, want in (("service", service), ("major", major)):
        if key in tag and tag[key] != want:
            out.append(ContractProblem(pointer(("x-meshspec", key)), f"the contract says {key} {tag[key]!r}, but "
                                       f"the spec uses it for {service}/{major}", "contract-mismatch"))
    seen: dict[str, str] = {}
    for name, (route, _) in contract.endpoints().items():
        ptr = pointer(("properties", name, "x-meshspec-endpoint"))
        path = ENDPOINT.match(route).group(2)  # type: ignore[union-attr]  # shape-checked above
        if not (path + "/").startswith(prefix) and path != prefix.rstrip("/"):
            out.append(ContractProblem(ptr, f"endpoint {route} is outside {service}/{major}'s path prefix {prefix}",
                                       "contract-path"))
        if route in seen:
            out.append(ContractProblem(ptr, f"endpoint {route} is also declared by {seen[route]!r}",
                                       "contract-duplicate-endpoint"))
        seen.setdefault(route, name)
    return out
