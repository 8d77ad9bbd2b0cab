"""Load a spec file: YAML with positions → field rules (pydantic) → cross-reference rules (checks).

Every problem becomes a :class:`SpecError` with file, line, column and key path; nothing raises for a bad
spec. ``load_spec_or_raise`` is the convenience for code that needs a valid spec (stacks, planners).
"""
from __future__ import annotations

import copy
import datetime as dt
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from . import checks, model
from .errors import Described, Path, Problems, SpecError, SpecInvalid, format_path
from .model import Spec
from .yamlpos import LIMITS, parse

# Pattern → words, so errors say what is allowed instead of printing a regular expression.
_PATTERN_WORDS = {
    model.DNS_LABEL: "a DNS label: lowercase letters, digits and hyphens, starting with a letter, at most 63",
    model.VERSION_ID: "lowercase letters, digits and hyphens, at most 63, not starting or ending with a hyphen",
    model.MAJOR: "v1, v2, … (a 'v' and a number)",
    model.ENV_NAME: "letters, digits and underscores, not starting with a digit",
    model.CONNECTION_ARN: "the ARN of a CodeConnections connection, arn:aws:codeconnections:REGION:ACCOUNT:connection/ID",
    model.PIPELINE_NAME: "at most 80 letters, digits, - and _ (CodePipeline's names, which its CodeBuild projects' "
                         "names start with)",
    model.REPOSITORY: "owner/name",
    model.BRANCH: "a git branch name",
    model.SPEC_PATH: "a relative path to a .yaml or .yml file inside the repository (no leading /, no ..)",
    model.KMS_KEY_ARN: "a KMS key's ARN, arn:aws:kms:REGION:ACCOUNT:key/ID",
    model.INSTANCE_TYPE: "an EC2 instance type such as m6i.large",
    model.KUBERNETES_VERSION: "a Kubernetes minor version such as 1.33",
    model.AWS_REGION: "an AWS region such as eu-west-1",
    model.AWS_ACCOUNT: "a 12-digit AWS account id, quoted",
    model.AWS_ZONE: "an availability zone of the region such as eu-west-1a",
    model.GCP_PROJECT: "a Google Cloud project id: 6 to 30 lowercase letters, digits and hyphens, starting with a "
                       "letter, not ending with a hyphen",
    model.GCP_LOCATION: "an App Engine location such as europe-west or us-central",
    model.APPENGINE_RUNTIME: "an App Engine runtime id such as python312 or nodejs22",
    model.HEADER_NAME: "a header or cookie name (an HTTP token: letters, digits and !#$%&'*+.^_`|~-, at most "
                       "100; each backend's own limit is checked too)",
    model.HEADER_VALUE: "visible ASCII characters and inner spaces, at most 255",
    model.MAJOR_PATH: "a URL path prefix that starts and ends with /, such as /pricing/v1/ (unreserved "
                      "characters between the slashes)",
    model.HEALTH_PATH: "a URL path starting with /, without spaces, such as /healthz",
    model.QUERY_NAME: "a name of letters, digits, spaces and _./-, starting with a letter or digit, at most 201",
    model.USES_REF: "SERVICE/vN, such as pricing/v1",
    model.OPERATION: "an HTTP method and a path, such as GET /prices/{id}",
    model.COOKIE_VALUE: "cookie characters (visible ASCII but space, quote, comma, semicolon and backslash), at "
                        "most 255",
}


_TYPE_WORDS = {
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number", "decimal_parsing": "a number",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text", "dict_type": "a mapping (key: value)", "list_type": "a list",
    "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
    "date_parsing": "a date YYYY-MM-DD", "date_from_datetime_parsing": "a date YYYY-MM-DD", "date_type": "a date YYYY-MM-DD",
}


@dataclass
class LoadResult:
    file: str
    spec: Spec | None
    problems: list[SpecError] = field(default_factory=list)
    base_dir: FsPath | None = None

    @property
    def errors(self) -> list[SpecError]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[SpecError]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.errors


def load_spec(path: str | FsPath, *, today: dt.date | None = None) -> LoadResult:
    """Read and check one spec file; contract paths are resolved against the file's folder."""
    path = FsPath(path)
    text, err = read_spec_text(path)
    if err is not None:
        return LoadResult(str(path), None, [err])
    return load_text(text, file=str(path), base_dir=path.parent, today=today)


def read_spec_text(path: FsPath) -> tuple[str, SpecError | None]:
    """The file as text: UTF-8, with or without a byte-order mark, any line endings. A file that is not UTF-8
    is an error at the line and column of its first bad byte; one far over the size limit is not read at all."""
    try:
        with path.open("rb") as f:
            raw = f.read(4 * LIMITS.chars + 4)  # UTF-8 takes at most 4 bytes a character
            more = bool(f.read(1))
    except OSError as exc:
        return "", SpecError(file=str(path), path=(), code="unreadable",
                             message=f"cannot read the spec: {exc.strerror or exc}")
    if more:
        return "", SpecError(file=str(path), path=(), code="yaml-too-large", line=1, column=1,
                             message="the file is far longer than meshspec reads; it was not read",
                             given=f"more than {len(raw)} bytes", allowed=f"at most {LIMITS.chars} characters",
                             hint="split the services over several specs")
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw  # a UTF-8 byte-order mark
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return "", _not_utf8(str(path), body, exc)


def _not_utf8(file: str, raw: bytes, exc: UnicodeDecodeError) -> SpecError:
    """Where the first byte that is not UTF-8 is: line, and column in characters (the line's valid start)."""
    bad = exc.start
    line_start = raw.rfind(b"\n", 0, bad) + 1
    line = raw.count(b"\n", 0, bad) + 1
    column = len(raw[line_start:bad].decode("utf-8", errors="replace")) + 1
    utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    return SpecError(
        file=file, path=(), code="not-utf8", line=line, column=column,
        message="the spec is UTF-16, not UTF-8" if utf16 else
        f"the spec is not UTF-8: byte 0x{raw[bad]:02x} at this position is not a valid UTF-8 character",
        given=f"byte 0x{raw[bad]:02x}", allowed="UTF-8 text (a byte-order mark and CRLF line endings are fine)",
        hint=f"save the file as UTF-8; from Latin-1: iconv -f latin1 -t utf-8 {file} > {file}.new")


def load_text(text: str, *, file: str = "<spec>", base_dir: FsPath | None = None,
              today: dt.date | None = None) -> LoadResult:
    problems = Problems(file)
    data, _ = parse(text, problems)
    if data is None:  # a syntax error or a crossed limit (nothing further can be said reliably), or nothing at all
        if not problems.items:
            problems.add((), "the spec is empty", "empty",
                         allowed=f"a mapping starting with apiVersion: {model.API_VERSION}")
        return LoadResult(file, None, problems.items, base_dir)
    if not isinstance(data, dict):
        problems.add((), "the spec must be a mapping", "not-a-mapping", given=type(data).__name__,
                     allowed=f"a mapping starting with apiVersion: {model.API_VERSION}")
        return LoadResult(file, None, problems.items, base_dir)
    if data.get("apiVersion") not in (None, model.API_VERSION):
        problems.add(("apiVersion",), "unsupported apiVersion", "api-version", given=data.get("apiVersion"),
                     allowed=model.API_VERSION)
        return LoadResult(file, None, problems.items, base_dir)
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
    spec, complete, stood_in = _validate(data, problems)
    if spec is not None:
        before = len(problems.items)
        checks.run_all(spec, problems, base_dir=base_dir, today=today or dt.date.today(),
                       all_services=set(data.get("services") or {}) if isinstance(data.get("services"), dict) else set(),
                       complete=complete)
        _check_typed_env(spec, problems)
        if stood_in:  # a rule about a key whose bad value a default stood in for would repeat that error
            problems.items[before:] = [e for e in problems.items[before:] if not _mentions(e, stood_in)]
    if problems.dropped:
        problems.items.append(SpecError(
            file=file, path=(), code="too-many-problems", severity="error",
            message=f"{problems.dropped} more problem(s) not shown: meshspec reports the first {problems.limit}",
            hint="fix these and validate again"))
    return LoadResult(file, spec if complete else None, problems.items, base_dir)


# Top-level keys starting with x- are the spec's place for YAML anchors that services merge (`<<: *common`), as
# in Compose files' extension fields; nothing reads them.
EXTENSION_PREFIX = "x-"


def _typed(raw: Any) -> bool:
    """Whether a scalar was written plain (no quotes, no tag), so YAML gave it a type."""
    return raw is not None and not raw.style and raw.tag is None


def _as_read(value: Any, raw: str) -> tuple[str, str, bool]:
    """(what YAML made of an unquoted scalar, how that changed it, whether a leading zero was dropped)."""
    if isinstance(value, bool):
        return "true or false", "", False
    what = "a number"
    zero = isinstance(value, int) and re.match(r"^[-+]?0[0-9]", raw) is not None
    if zero:
        return what, " and dropped its leading zero", True
    shown = str(value)
    return what, ("" if shown == raw else f" ({shown})"), False


def _quote_needed(loc: Path, given: Any, problems: Problems) -> bool:
    """A text key given a plain scalar that YAML read as a number or a boolean: say so, with the value as
    written and a hint to quote it (an account id whose leading zero YAML dropped is an error of its own)."""
    raw = problems.positions.scalar(loc) if problems.positions is not None else None
    if not _typed(raw):
        return False
    text = raw.value
    what, change, zero = _as_read(given, text)
    key = loc[-1] if loc and isinstance(loc[-1], str) else "this value"
    problems.add(loc, f"YAML reads the unquoted {text} as {what}{change}, but {key} is text",
                 "leading-zero-dropped" if zero else "quote-needed", given=Described(text), allowed="text (quoted)",
                 hint=f'quote it: {key}: "{text}"')
    return True


def _check_typed_env(spec: Spec, problems: Problems) -> None:
    """An unquoted env value that YAML turned into a number the service would see written otherwise (007 → 7,
    1.10 → 1.1, 1e3 → 1000.0, 0x1F → 31)."""
    if problems.positions is None:
        return
    for name, svc in spec.services.items():
        for key, value in svc.env.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            loc = ("services", name, "env", key)
            raw = problems.positions.scalar(loc)
            if not _typed(raw) or str(value) == raw.value:
                continue
            _, change, zero = _as_read(value, raw.value)
            problems.add(loc, f"YAML reads the unquoted {raw.value} as the number {value}"
                         f"{' and dropped its leading zero' if zero else ''}: the variable would be {value}",
                         "leading-zero-dropped" if zero else "quote-needed", given=Described(raw.value),
                         allowed="a value the service sees as written",
                         hint=f'quote it: {key}: "{raw.value}"')


def _mentions(e: SpecError, paths: list[str]) -> bool:
    text = " ".join(x for x in (e.key_path, e.message, e.allowed or "", e.hint or "") if x)
    return any(p in text for p in paths)


# Keys whose value decides which rules apply: with a bad one, a default in its place would let rules of the wrong
# backend or platform speak, so cross-reference rules do not run.
_DECIDING = ("backend", "platform", "apiVersion", "project")


def _validate(data: dict[str, Any], problems: Problems) -> tuple[Spec | None, bool, list[str]]:
    """Field rules for the whole spec; on failure, the valid services alone (and defaults in place of bad keys
    outside them), so that cross-reference rules still run on them and one run reports everything.
    Returns (spec, complete, the key paths a default stood in for)."""
    try:
        return Spec.model_validate(data), True, []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    for err in errors:
        if len(problems.items) >= problems.limit:  # a file of junk: count the rest, do not describe it
            problems.dropped += 1
            continue
        _from_pydantic(err, data, problems)
    services = data.get("services")
    bad = {e["loc"][1] for e in errors if len(e["loc"]) > 1 and e["loc"][0] == "services"}
    outside = [e["loc"] for e in errors if e["loc"][:1] != ("services",) or len(e["loc"]) < 2]
    if not isinstance(services, dict):
        return None, False, []
    if outside:
        pruned = _without(data, outside)
        if pruned is None:
            return None, False, []  # a problem outside the services that no default can stand in for
        data = pruned
    rest = {k: v for k, v in services.items() if k not in bad}
    if not rest:
        return None, False, []
    try:
        return Spec.model_validate({**data, "services": rest}), False, [format_path(loc) for loc in outside]
    except ValidationError:
        return None, False, []  # e.g. a required key was the bad one: cross-references would mislead


def _without(data: dict[str, Any], locs: list[tuple]) -> dict[str, Any] | None:
    """A copy of ``data`` without the keys at ``locs`` (errors outside the services, already reported), so the
    defaults stand in for them and the cross-reference rules can still check the services. None when a key decides
    which rules apply (``_DECIDING``) or a location is not a key of a mapping."""
    out = copy.deepcopy(data)
    for loc in locs:
        if not loc or not isinstance(loc[-1], str) or loc[-1] in _DECIDING:
            return None
        parent: Any = out
        for key in loc[:-1]:
            if isinstance(parent, dict) and key in parent:
                parent = parent[key]
            elif isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent):
                parent = parent[key]
            else:
                return None
        if not isinstance(parent, dict) or loc[-1] not in parent:
            return None
        del parent[loc[-1]]
    return out


def load_spec_or_raise(path: str | FsPath, *, today: dt.date | None = None) -> Spec:
    result = load_spec(path, today=today)
    if not result.ok:
        raise SpecInvalid(result.errors)
    return result.spec  # type: ignore[return-value]


def _from_pydantic(err: dict[str, Any], data: Any, problems: Problems) -> None:
    loc: Path = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind == "extra_forbidden":
        allowed_keys = _allowed_keys(loc[:-1])
        hint = None
        close = difflib.get_close_matches(str(loc[-1]), allowed_keys, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {close[0]!r}?"
        problems.add(loc, f"unknown key {loc[-1]!r}", "unknown-key", given=str(loc[-1]),
                     allowed=", ".join(allowed_keys), hint=hint, at_key=True)
        return
    if kind == "missing":
        problems.add(loc, f"required key {loc[-1]!r} is missing", "missing-key",
                     allowed=f"add {loc[-1]} under {_parent(loc)}")
        return
    if kind == "string_type" and isinstance(given, (int, float)) and _quote_needed(loc, given, problems):
        return
    allowed = None
    message = err["msg"]
    if kind == "literal_error":
        allowed = ctx.get("expected")
        message = "not one of the allowed values"
    elif kind == "string_pattern_mismatch":
        allowed = _PATTERN_WORDS.get(ctx.get("pattern", ""), f"text matching {ctx.get('pattern')}")
        message = "not a valid value here"
    elif "allowed" in ctx:
        allowed = str(ctx["allowed"])
    elif kind in _TYPE_WORDS:
        allowed = _TYPE_WORDS[kind]
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than", "too_short", "too_long"):
        allowed = message.removeprefix("Input should be ").removeprefix("Input should have ")
        allowed = allowed.removeprefix("List should have ").removeprefix("Dictionary should have ")
    message = message.replace("Input should", "should")
    code = {"literal_error": "not-allowed", "string_pattern_mismatch": "bad-format"}.get(kind, kind.replace("_", "-"))
    problems.add(loc, message, code, given=given, allowed=allowed)


def _parent(loc: Path) -> str:
    from .errors import format_path

    return format_path(loc[:-1]) if len(loc) > 1 else "the top level"


def _allowed_keys(loc: Path) -> list[str]:
    """The keys the model allows at ``loc``, for did-you-mean suggestions."""
    tp: Any = Spec
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if f is None:
                return []
            tp = f.annotation
        elif typing.get_origin(tp) in (dict, list):
            tp = typing.get_args(tp)[-1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated so the walk reaches the model or container type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp
