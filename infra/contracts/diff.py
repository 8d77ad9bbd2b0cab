"""Classify the changes between two versions of one contract: breaking or not, rule by rule.

The direction decides: a consumer *sends* the request, so the provider must keep accepting everything it
accepted (it may widen); a consumer *reads* the response, so the provider must keep sending everything it
sent, in the same shape (it may add). Each change says the rule it broke or kept, and the JSON pointer in
the new file (for a removed field: where it was, whose closest existing ancestor gives the line).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from .contract import Contract, pointer

Side = Literal["request", "response"]
MAX_DEPTH = 64

# Rule ids, the words docs/contracts.md explains. Breaking ones first.
BREAKING_RULES = (
    "endpoint-removed", "endpoint-moved", "field-removed", "field-renamed", "type-changed",
    "required-request-field-added", "request-field-made-required", "request-enum-value-removed",
    "request-enum-added", "response-enum-value-added", "response-enum-removed", "response-field-made-optional",
    "request-constraint-tightened", "response-constraint-loosened", "request-additional-properties-refused",
)
SAFE_RULES = (
    "endpoint-added", "optional-request-field-added", "response-field-added", "request-field-made-optional",
    "response-field-made-required", "request-enum-value-added", "response-enum-value-removed", "type-widened",
    "type-narrowed", "request-constraint-loosened", "response-constraint-tightened", "endpoint-key-renamed",
)
# Keywords meshspec does not reason about: a change in them is reported for a person to judge.
UNCHECKED = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "patternProperties", "prefixItems",
             "dependentRequired", "dependentSchemas", "unevaluatedProperties", "contains")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_TEXTUAL = ("pattern", "format")
_NOISE = ("description", "title", "examples", "example", "$comment", "default", "deprecated")


@dataclass(frozen=True)
class Change:
    rule: str
    breaking: bool | None  # None: meshspec cannot tell; a person must look
    pointer: str
    message: str


def compare(old: Contract, new: Contract) -> list[Change]:
    """Every change between two parsed, valid contracts, in file order."""
    out: list[Change] = []
    old_eps, new_eps = old.endpoints(), new.endpoints()
    pairs: list[tuple[str, str]] = [(k, k) for k in old_eps if k in new_eps]
    gone = [k for k in old_eps if k not in new_eps]
    fresh = [k for k in new_eps if k not in old_eps]
    # Consumers call routes, not keys: a key renamed with the same route is the same endpoint.
    for k in list(gone):
        match = next((n for n in fresh if new_eps[n][0] == old_eps[k][0]), None)
        if match is not None:
            gone.remove(k)
            fresh.remove(match)
            pairs.append((k, match))
            out.append(Change("endpoint-key-renamed", False, pointer(("properties", match)),
                              f"endpoint {old_eps[k][0]} is now named {match!r} (was {k!r}); the route is unchanged"))
    for k in gone:
        out.append(Change("endpoint-removed", True, pointer(("properties", k)),
                          f"endpoint {old_eps[k][0]} ({k}) was removed"))
    for k in fresh:
        out.append(Change("endpoint-added", False, pointer(("properties", k)),
                          f"endpoint {new_eps[k][0]} ({k}) was added"))
    for ok, nk in pairs:
        (o_route, o_ep), (n_route, n_ep) = old_eps[ok], new_eps[nk]
        base = ("properties", nk)
        if o_route != n_route:
            out.append(Change("endpoint-moved", True, pointer(base + ("x-meshspec-endpoint",)),
                              f"endpoint {nk} moved from {o_route} to {n_route}"))
        for side in ("request", "response"):
            w = _Walk(old.doc, new.doc, side, out)
            w.schema(o_ep["properties"][side], n_ep["properties"][side], base + ("properties", side), side, 0)
    return out


def _canon(schema: Any) -> str:
    if isinstance(schema, dict):
        schema = {k: v for k, v in schema.items() if k not in _NOISE}
    return json.dumps(schema, sort_keys=True)


def _types(schema: dict[str, Any]) -> set[str] | None:
    t = schema.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else set(t)


def _covers(wide: set[str] | None, narrow: set[str] | None) -> bool:
    """Does every value of type ``narrow`` also have type ``wide``? (integer is a number.)"""
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _fmt_types(t: set[str] | None) -> str:
    return "any" if t is None else " or ".join(sorted(t))


def _enum(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    e = schema.get("enum")
    return list(e) if isinstance(e, list) else None


class _Walk:
    def __init__(self, old_root: Any, new_root: Any, side: Side, out: list[Change]):
        self.old_root, self.new_root, self.side, self.out = old_root, new_root, side, out
        self.seen: set[tuple[int, int]] = set()

    def add(self, rule: str, breaking: bool | None, path: tuple, message: str) -> None:
        self.out.append(Change(rule, breaking, pointer(path), message))

    def resolve(self, schema: Any, root: Any, path: tuple) -> tuple[Any, tuple]:
        """Follow local ``$ref``s; the pointer then names the definition, where the change is made."""
        for _ in range(MAX_DEPTH):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#")):
                break
            parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in schema["$ref"][1:].lstrip("/").split("/") if p)
            target: Any = root
            for p in parts:
                target = target.get(p) if isinstance(target, dict) else None
            if target is None:
                break
            schema, path = target, parts
        return schema, path

    def schema(self, o: Any, n: Any, path: tuple, what: str, depth: int) -> None:
        o, _ = self.resolve(o, self.old_root, path)
        n, path = self.resolve(n, self.new_root, path)
        if depth > MAX_DEPTH or (id(o), id(n)) in self.seen:  # recursive $defs
            return
        self.seen.add((id(o), id(n)))
        if isinstance(o, bool) or isinstance(n, bool):
            if o != n:
                self.add("type-changed" if self.side == "response" or n is False else "type-widened",
                         self.side == "response" or n is False, path, f"{what} changed from schema {o} to {n}")
            return
        if not isinstance(o, dict) or not isinstance(n, dict):
            return
        if not self.types(o, n, path, what):
            return  # a changed type makes the rest of the comparison noise
        self.enums(o, n, path, what)
        self.bounds(o, n, path, what)
        self.objects(o, n, path, what, depth)
        if "items" in o and "items" in n:
            self.schema(o["items"], n["items"], path + ("items",), f"{what}[]", depth + 1)
        for k in UNCHECKED:
            if _canon(o.get(k)) != _canon(n.get(k)):
                self.add("unchecked-keyword", None, path + (k,),
                         f"{what}: {k} changed; meshspec does not classify {k}, check by hand whether consumers break")

    def types(self, o: dict, n: dict, path: tuple, what: str) -> bool:
        ot, nt = _types(o), _types(n)
        if ot == nt:
            return True
        msg = f"{what} changed type from {_fmt_types(ot)} to {_fmt_types(nt)}"
        if self.side == "request" and _covers(nt, ot):
            self.add("type-widened", False, path + ("type",), msg + " (accepts more)")
            return True
        if self.side == "response" and _covers(ot, nt):
            self.add("type-narrowed", False, path + ("type",), msg + " (sends a subset)")
            return True
        self.add("type-changed", True, path + ("type",), msg)
        return False

    def enums(self, o: dict, n: dict, path: tuple, what: str) -> None:
        oe, ne = _enum(o), _enum(n)
        if oe == ne:
            return
        key = path + ("enum" if "enum" in n or "enum" in o else "const",)
        if self.side == "request":
            if oe is None:
                self.add("request-enum-added", True, key, f"{what} now accepts only {ne}")
                return
            if ne is None:
                self.add("request-enum-value-added", False, key, f"{what} no longer restricts its values")
                return
            for v in [v for v in oe if v not in ne]:
                self.add("request-enum-value-removed", True, key, f"{what} no longer accepts {v!r}")
            for v in [v for v in ne if v not in oe]:
                self.add("request-enum-value-added", False, key, f"{what} now also accepts {v!r}")
        else:
            if ne is None:
                self.add("response-enum-removed", True, key, f"{what} may now hold any value (was one of {oe})")
                return
            if oe is None:
                self.add("response-enum-value-removed", False, key, f"{what} is now one of {ne}")
                return
            for v in [v for v in ne if v not in oe]:
                self.add("response-enum-value-added", True, key, f"{what} may now be {v!r}, which consumers do not expect")
            for v in [v for v in oe if v not in ne]:
                self.add("response-enum-value-removed", False, key, f"{what} is no longer {v!r}")

    def bounds(self, o: dict, n: dict, path: tuple, what: str) -> None:
        req = self.side == "request"
        for keys, stricter in ((_LOWER, lambda a, b: a > b), (_UPPER, lambda a, b: a < b)):
            for k in keys:
                ov, nv = o.get(k), n.get(k)
                if ov == nv:
                    continue
                tighter = ov is None or (nv is not None and stricter(nv, ov))
                msg = f"{what}: {k} {'added' if ov is None else 'removed' if nv is None else 'changed'} ({ov} → {nv})"
                if tighter:
                    self.add("request-constraint-tightened" if req else "response-constraint-tightened", req,
                             path + (k,), msg)
                else:
                    self.add("request-constraint-loosened" if req else "response-constraint-loosened", not req,
                             path + (k,), msg)
        for k in _TEXTUAL:
            ov, nv = o.get(k), n.get(k)
            if ov == nv:
                continue
            msg = f"{what}: {k} {'added' if ov is None else 'removed' if nv is None else 'changed'} ({ov} → {nv})"
            if req:
                loose = nv is None
                self.add("request-constraint-loosened" if loose else "request-constraint-tightened", not loose,
                         path + (k,), msg)
            else:
                tight = ov is None
                self.add("response-constraint-tightened" if tight else "response-constraint-loosened", not tight,
                         path + (k,), msg)

    def objects(self, o: dict, n: dict, path: tuple, what: str, depth: int) -> None:
        op, np_ = o.get("properties") or {}, n.get("properties") or {}
        oreq, nreq = set(o.get("required") or ()), set(n.get("required") or ())
        removed = [k for k in op if k not in np_]
        added = [k for k in np_ if k not in op]
        side = self.side
        renamed: dict[str, str] = {}
        if len(removed) == 1 and len(added) == 1:
            r, a = removed[0], added[0]
            ro, _ = self.resolve(op[r], self.old_root, ())
            an, _ = self.resolve(np_[a], self.new_root, ())
            if isinstance(ro, dict) and isinstance(an, dict) and _types(ro) == _types(an):
                renamed[r] = a
        for k in removed:
            if k in renamed:
                self.add("field-renamed", True, path + ("properties", renamed[k]),
                         f"{side} field {_name(what, k)!r} was renamed to {_name(what, renamed[k])!r}")
            else:
                self.add("field-removed", True, path + ("properties", k), f"{side} field {_name(what, k)!r} was removed")
        for k in added:
            if k in renamed.values():
                continue
            if side == "request":
                if k in nreq:
                    self.add("required-request-field-added", True, path + ("properties", k),
                             f"request field {_name(what, k)!r} was added as required; consumers do not send it")
                else:
                    self.add("optional-request-field-added", False, path + ("properties", k),
                             f"optional request field {_name(what, k)!r} was added")
            else:
                self.add("response-field-added", False, path + ("properties", k),
                         f"response field {_name(what, k)!r} was added")
        for k in op:
            if k not in np_:
                continue
            kp = path + ("properties", k)
            if side == "request" and k in nreq and k not in oreq:
                self.add("request-field-made-required", True, path + ("required",),
                         f"request field {_name(what, k)!r} is now required; consumers may not send it")
            elif side == "request" and k in oreq and k not in nreq:
                self.add("request-field-made-optional", False, path + ("required",),
                         f"request field {_name(what, k)!r} is now optional")
            elif side == "response" and k in oreq and k not in nreq:
                self.add("response-field-made-optional", True, path + ("required",),
                         f"response field {_name(what, k)!r} is now optional; consumers rely on it being there")
            elif side == "response" and k in nreq and k not in oreq:
                self.add("response-field-made-required", False, path + ("required",),
                         f"response field {_name(what, k)!r} is now always sent")
            self.schema(op[k], np_[k], kp, _name(what, k), depth + 1)
        if side == "request" and o.get("additionalProperties", True) is not False \
                and n.get("additionalProperties", True) is False:
            self.add("request-additional-properties-refused", True, path + ("additionalProperties",),
                     f"{what} now refuses fields it does not list; consumers sending extra fields break")


def _name(what: str, key: str) -> str:
    """``request``/``response`` are the roots; below them fields read as dotted paths (address.city)."""
    return key if what in ("request", "response") else f"{what}.{key}"
