"""OpenAPI 3.0 and 3.1 contracts: read every file a document refers to, refuse remote ``$ref``s, validate with
openapi-spec-validator, and index the operations under their full path (server prefix plus path).

Why openapi-spec-validator: it is the validator the Python OpenAPI tools share (openapi-core, moto), checks 3.0
and 3.1 against the official schemas plus what a schema cannot say (path parameters declared, operation ids
unique, defaults valid), and resolves ``$ref``s through jsonschema-path. What it does not keep is where a value
sits; so meshspec parses each file with the spec's own position-keeping parser and follows ``$ref``s itself
with a JSON pointer walk (a dozen lines), to give every finding a file and a line.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import posixpath
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlsplit

from meshspec.infra.spec.errors import Problems
from meshspec.infra.spec.yamlpos import Positions, parse

from .contract import ContractProblem, pointer

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_REFS = 64  # a chain of $refs longer than this is a loop
_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")
_PARAM = re.compile(r"\{[^}/]*\}")
# Files are handed to the validator under a deep fake folder, so that a contract's "../" stays inside it.
_URI_ROOT = "file:///meshspec/1/2/3/4/5/6/7/8/"

Read = Callable[[str], "str | None"]


def template(path: str) -> str:
    """A path with its parameter names blanked: ``/users/{id}`` and ``/users/{userId}`` are one route."""
    return _PARAM.sub("{}", path)


def is_openapi(data: Any) -> bool:
    return isinstance(data, dict) and "openapi" in data


@dataclass(frozen=True)
class Where:
    """A node's place: the file (relative to the spec's folder) and the key path inside it."""

    rel: str
    path: tuple[str | int, ...] = ()


@dataclass
class File:
    rel: str
    display: str
    data: Any
    positions: Positions

    def line(self, path: tuple) -> int | None:
        found = self.positions.find(path, at_key=True)
        return found[0] if found else None


class Routed:
    """What names an operation (``method`` and ``full``, set by the dataclass that mixes it in): ``key`` as the
    document writes it, ``route`` with the parameters' names blanked (one route whatever they are called)."""

    method: str
    full: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.full}"

    @property
    def route(self) -> str:
        return f"{self.method} {template(self.full)}"


@dataclass
class Operation(Routed):
    method: str           # upper case
    path: str             # as the document's paths key
    full: str             # server prefix + path: what a consumer calls
    node: dict[str, Any]
    where: Where
    item: dict[str, Any]  # the path item (for its parameters)
    item_where: Where
    servers: tuple[str, ...]

    @property
    def deprecated(self) -> bool:
        return self.node.get("deprecated") is True

    @property
    def sunset(self) -> dt.date | None:
        return _date(self.node.get("x-sunset"))


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


@dataclass
class OpenAPIContract:
    """One OpenAPI document and the sibling files it refers to, checked; nothing raises."""

    rel: str
    file: str  # the main file as people see it
    files: dict[str, File] = field(default_factory=dict)
    problems: list[ContractProblem] = field(default_factory=list)
    operations: dict[str, Operation] = field(default_factory=dict)  # route (names blanked) → operation
    kind = "openapi"

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def doc(self) -> Any:
        return self.files[self.rel].data if self.rel in self.files else None

    def line(self, where: Where) -> int | None:
        f = self.files.get(where.rel)
        return f.line(where.path) if f else None

    def display(self, where: Where) -> str:
        f = self.files.get(where.rel)
        return f.display if f else where.rel

    def deref(self, node: Any, where: Where) -> tuple[Any, Where]:
        """Follow ``$ref``s (inside the file or to a sibling) to the node they name, and where it is."""
        for _ in range(MAX_REFS):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                return node, where
            target = _target(where.rel, node["$ref"])
            if target is None or target[0] not in self.files:
                return node, where  # refused or missing: already a problem of the document
            rel, path = target
            found, path = _walk_path(self.files[rel].data, path)
            if found is _MISSING:
                return node, where
            node, where = found, Where(rel, path)
        return node, where


_MISSING = object()


def _walk(data: Any, path: tuple) -> Any:
    return _walk_path(data, path)[0]


def _walk_path(data: Any, path: tuple) -> tuple[Any, tuple]:
    """The node at a JSON pointer's parts, and the parts with list indexes as numbers (for line lookups)."""
    out: list[str | int] = []
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
            out.append(part)
        elif isinstance(data, list) and str(part).isdigit() and int(part) < len(data):
            data = data[int(part)]
            out.append(int(part))
        else:
            return _MISSING, tuple(out)
    return data, tuple(out)


def _target(rel: str, ref: str) -> tuple[str, tuple[str, ...]] | None:
    """``$ref`` → (file relative to the spec's folder, key path inside it); None for a remote reference."""
    if _REMOTE.match(ref):
        return None
    file_part, _, fragment = ref.partition("#")
    target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), unquote(file_part))) if file_part else rel
    parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in unquote(fragment).split("/")[1:]) \
        if fragment.startswith("/") else ()
    return target, parts


def _refs(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    stack = [(node, path)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                yield path + ("$ref",), ref
            stack.extend(reversed([(v, path + (k,)) for k, v in node.items()]))  # document order
        elif isinstance(node, list):
            stack.extend(reversed([(v, path + (i,)) for i, v in enumerate(node)]))


def load_openapi(rel: str, text: str, read: Read, display: Callable[[str], str] = lambda r: r, *,
                 validate: bool = True) -> OpenAPIContract:
    """Parse the document and every sibling file it refers to, then validate the whole.

    ``read`` gives a file's text by its path relative to the spec's folder (a file on disk, or ``git show``).
    ``validate=False`` skips openapi-spec-validator (the slow part): for a base that was validated when it
    was merged; comparing tolerates odd documents.
    """
    c = OpenAPIContract(rel, display(rel))
    pending = [(rel, text)]
    while pending:
        cur, body = pending.pop()
        parsed = _parse_file(body, cur.endswith(".json"))
        if isinstance(parsed, ContractProblem):
            c.files[cur] = File(cur, display(cur), None, Positions())
            c.problems.append(_located(parsed, c, cur))
            continue
        data, positions = parsed
        c.files[cur] = File(cur, display(cur), data, positions)
        for path, ref in _refs(data):
            where = Where(cur, path)
            target = _target(cur, ref)
            if target is None:
                c.problems.append(_problem(c, where, f"$ref {ref!r} points to another host; meshspec reads only "
                                           "local files (copy it next to the contract and refer to it by a "
                                           "relative path)", "contract-ref-remote"))
                continue
            if target[0] in c.files or any(target[0] == p for p, _ in pending):
                continue
            sibling = read(target[0])
            if sibling is None:
                c.problems.append(_problem(c, where, f"$ref {ref!r}: the file {target[0]} cannot be read",
                                           "contract-ref-missing"))
                c.files[target[0]] = File(target[0], display(target[0]), None, Positions())
                continue
            pending.append((target[0], sibling))
    if c.problems:
        return c
    root = c.doc
    if not is_openapi(root):
        c.problems.append(_problem(c, Where(rel), "not an OpenAPI document (no top-level openapi field); a "
                                   "contract is an OpenAPI 3.0/3.1 document (YAML or JSON) or a JSON Schema "
                                   "contract (a .json file)", "contract-openapi"))
        return c
    version = str(root.get("openapi"))
    if not re.match(r"^3\.[01]\.\d+$", version):
        c.problems.append(_problem(c, Where(rel, ("openapi",)), f"openapi {version!r}: meshspec reads OpenAPI "
                                   "3.0 and 3.1 documents (openapi: 3.0.x or 3.1.x)", "contract-openapi"))
        return c
    dangling = _dangling(c)
    if dangling:
        c.problems.append(dangling)
        return c
    invalid = _validate(c, version) if validate else None
    if invalid is not None:
        c.problems.append(invalid)
        return c
    _index(c)
    return c


def _dangling(c: OpenAPIContract) -> ContractProblem | None:
    for rel, f in c.files.items():
        for path, ref in _refs(f.data):
            target = _target(rel, ref)
            if target is None:
                continue
            data = c.files[target[0]].data if target[0] in c.files else None
            if _walk(data, target[1]) is _MISSING:
                return _problem(c, Where(rel, path), f"$ref {ref!r} names nothing: {target[0]} has no "
                                f"{pointer(target[1]) or 'document'}", "contract-ref-missing")
    return None


def _parse_file(text: str, is_json: bool) -> tuple[Any, Positions] | ContractProblem:
    found = Problems("<contract>")
    if is_json:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return ContractProblem("", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                   "contract-json", exc.lineno)
    data, positions = parse(text, found)
    first = next((e for e in found.items if e.severity == "error"), None)
    if first is not None:
        return ContractProblem(pointer(first.path), first.message, "contract-yaml", first.line)
    return data, positions


def _problem(c: OpenAPIContract, where: Where, message: str, rule: str) -> ContractProblem:
    return ContractProblem(pointer(where.path), message, rule, c.line(where), c.display(where))


def _located(p: ContractProblem, c: OpenAPIContract, rel: str) -> ContractProblem:
    return ContractProblem(p.pointer, p.message, p.rule, p.line, c.display(Where(rel)))


# -- validation -----------------------------------------------------------------------------------------------

def _validate(c: OpenAPIContract, version: str) -> ContractProblem | None:
    """openapi-spec-validator on the whole document; the first error, placed in its file and line."""
    err = _cached_first_error(c.rel, _frozen(c), version)
    if err is None:
        return None
    logical, message = err
    where = _locate(c, logical)
    return ContractProblem(pointer(where.path), f"not a valid OpenAPI {version[:3]} document: {message}",
                           "contract-openapi", c.line(where), c.display(where))


def _frozen(c: OpenAPIContract) -> str:
    return json.dumps({rel: f.data for rel, f in c.files.items()}, sort_keys=True, default=str)


def cache_dir() -> Path:
    """Where validation results are kept between runs: ``$MESHSPEC_CACHE_DIR``, else the user's cache folder."""
    if os.environ.get("MESHSPEC_CACHE_DIR"):
        return Path(os.environ["MESHSPEC_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "meshspec"


@functools.lru_cache(maxsize=256)
def _cached_first_error(rel: str, files_json: str, version: str) -> tuple[tuple, str] | None:
    """openapi-spec-validator costs tens of milliseconds a contract (seconds for a large one), so its verdict is
    kept on disk by content (and the validator's version): a validate run pays only for contracts that changed.
    The cache holds hashes and verdicts, never contract text; any trouble reading or writing it is ignored."""
    from importlib.metadata import version as installed

    key = hashlib.sha256("\0".join((installed("openapi-spec-validator"), _CACHE_FORMAT, rel, version,
                                     files_json)).encode()).hexdigest()
    path = cache_dir() / "openapi" / f"{key}.json"
    try:
        found = json.loads(path.read_text())
        return None if found is None else (tuple(found[0]), found[1])
    except (OSError, ValueError, TypeError, IndexError):
        pass
    result = _first_error(rel, files_json, version)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(None if result is None else [list(result[0]), result[1]]))
        tmp.replace(path)
    except OSError:
        pass
    return result


_CACHE_FORMAT = "1"


def _first_error(rel: str, files_json: str, version: str) -> tuple[tuple, str] | None:
    """Cached by content: validating is the slow part, and in CI most contracts are the same at the base."""
    from jsonschema.exceptions import best_match
    from jsonschema_path import SchemaPath
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    files = json.loads(files_json)
    by_path = {_uri_path(r): data for r, data in files.items()}

    def handler(uri: str) -> Any:
        return by_path[posixpath.normpath(unquote(urlsplit(uri).path))]

    base = OpenAPIV30SpecValidator if version.startswith("3.0") else OpenAPIV31SpecValidator
    path = SchemaPath.from_dict(files[rel], base_uri="file://" + _uri_path(rel), handlers={"file": handler})
    try:
        err = best_match(_located_errors(base, path))
    except Exception as exc:  # noqa: BLE001 - a validator crash on odd input is still one error, not a traceback
        return (), f"{type(exc).__name__}: {exc}"
    if err is None:
        return None
    where = tuple(getattr(err, "meshspec_where", ())) + tuple(err.absolute_path)
    return where, _short(err)


def _uri_path(rel: str) -> str:
    return posixpath.normpath(urlsplit(_URI_ROOT).path + rel)


def _located_errors(base: type, path: Any) -> Iterator[Any]:
    """The validator's keyword checks report paths relative to the schema they check; each innermost keyword
    validator adds where that schema is (its SchemaPath's parts), so every error has a document path."""
    validator = _with_positions(base)(path)
    yield from validator.iter_errors()


@functools.cache
def _with_positions(base: type) -> type:
    def wrap(kw: type) -> type:
        def call(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            here = next((a.parts for a in args if hasattr(a, "parts")), None)
            for err in kw.__call__(self, *args, **kwargs):
                if here is not None and not hasattr(err, "meshspec_where"):
                    err.meshspec_where = tuple(here)
                yield err
        return type(kw.__name__, (kw,), {"__call__": call})

    return type(base.__name__, (base,), {"keyword_validators": {k: wrap(v) if k != "__root__" else v
                                                                   for k, v in base.keyword_validators.items()}})


def _short(err: Any) -> str:
    text = err.message
    if len(text) > 200:
        what = {"oneOf": "matches none of the allowed forms", "anyOf": "matches none of the allowed forms",
                "additionalProperties": "has keys the OpenAPI schema does not allow",
                "required": "lacks a required key"}.get(err.validator, f"fails {err.validator}")
        text = f"this value {what}"
    return text


def _locate(c: OpenAPIContract, logical: tuple) -> Where:
    """A path through the document as the validator walked it (across ``$ref``s) → the file and key path."""
    node, where = c.doc, Where(c.rel)
    for part in logical:
        node, where = c.deref(node, where)
        if isinstance(node, dict) and part in node:
            node, where = node[part], Where(where.rel, where.path + (part,))
        elif isinstance(node, dict) and str(part) in node:
            node, where = node[str(part)], Where(where.rel, where.path + (str(part),))
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node, where = node[part], Where(where.rel, where.path + (part,))
        else:
            break
    return where


# -- operations -----------------------------------------------------------------------------------------------

def server_paths(servers: Any) -> tuple[str, ...]:
    """The path part of each server URL, variables at their defaults; ``/`` when there is none (OpenAPI's rule)."""
    out = []
    for s in servers if isinstance(servers, list) else []:
        if not isinstance(s, dict) or not isinstance(s.get("url"), str):
            continue
        url = s["url"]
        variables = s.get("variables")
        for name, var in (variables if isinstance(variables, dict) else {}).items():
            if isinstance(var, dict) and "default" in var:
                url = url.replace("{" + name + "}", str(var["default"]))
        path = urlsplit(url).path if re.match(r"^[a-z][a-z0-9+.-]*://", url, re.I) else url.split("?")[0]
        out.append("/" + path.strip("/") if path.strip("/") else "")
    return tuple(dict.fromkeys(out)) or ("",)


def _index(c: OpenAPIContract) -> None:
    root = c.doc
    top = server_paths(root.get("servers"))
    paths, paths_where = c.deref(root.get("paths"), Where(c.rel, ("paths",)))
    for raw, item in (paths if isinstance(paths, dict) else {}).items():
        item, item_where = c.deref(item, Where(paths_where.rel, paths_where.path + (raw,)))
        if not isinstance(item, dict):
            continue
        at_item = server_paths(item["servers"]) if item.get("servers") else top
        for method in METHODS:
            if method not in item:
                continue
            op, op_where = c.deref(item[method], Where(item_where.rel, item_where.path + (method,)))
            if not isinstance(op, dict):
                continue
            servers = server_paths(op["servers"]) if op.get("servers") else at_item
            full = servers[0] + raw
            o = Operation(method.upper(), raw, full, op, op_where, item, item_where, servers)
            if o.route in c.operations:
                c.problems.append(_problem(c, op_where, f"{o.key} is also declared as "
                                           f"{c.operations[o.route].key}", "contract-duplicate-endpoint"))
                continue
            c.operations[o.route] = o
            sunset = op.get("x-sunset")
            if sunset is not None and _date(sunset) is None:
                c.problems.append(_problem(c, Where(op_where.rel, op_where.path + ("x-sunset",)),
                                           f"x-sunset {sunset!r} is not a date (YYYY-MM-DD)", "contract-sunset"))
