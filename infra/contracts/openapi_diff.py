"""Classify the changes between two versions of one major's OpenAPI document, operation by operation.

Operations are matched by method and full path (server prefix plus path, parameter names blanked), so moving a
path between ``servers`` and ``paths``, renaming a path parameter, or moving a schema into ``components`` is no
change: ``$ref``s are followed on both sides before anything is compared. The direction decides, as for JSON
Schema contracts: a consumer *sends* the request (the provider must go on accepting all it accepted) and *reads*
the response (the provider must go on sending all it sent, in the same shape).

Rule ids are oasdiff's where oasdiff has the check (``oasdiff checks changelog`` lists them), so a team that
knows one tool reads the other; levels follow oasdiff's except where docs/contracts.md says why not.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from .openapi import OpenAPIContract, Operation, Where, template

Level = Literal["error", "warning", "info"]
MAX_DEPTH = 48
_LOWER = {"minimum": "min", "exclusiveMinimum": "exclusive-min", "minLength": "min-length", "minItems": "min-items",
          "minProperties": "min-properties"}
_UPPER = {"maximum": "max", "exclusiveMaximum": "exclusive-max", "maxLength": "max-length", "maxItems": "max-items",
          "maxProperties": "max-properties"}
_UNCHECKED = ("not", "if", "then", "else", "patternProperties", "prefixItems", "dependentRequired",
              "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "contains", "propertyNames")
_NOISE = ("description", "title", "example", "examples", "$comment", "externalDocs", "xml", "deprecated")


@dataclass(frozen=True)
class OpChange:
    rule: str
    level: Level
    operation: str            # METHOD /full/path, as in the new document (the old one for a removed operation)
    route: str                # the same with parameter names blanked: what consumers are matched on
    message: str
    new: Where | None         # where in the new document (for a removal: the closest place still there)
    old: Where | None         # where in the old document

    @property
    def breaking(self) -> bool | None:
        return {"error": True, "info": False}.get(self.level)


def compare_openapi(old: OpenAPIContract, new: OpenAPIContract, today: dt.date) -> list[OpChange]:
    """Every change between two valid documents, operation by operation, in the new document's order."""
    out: list[OpChange] = []
    new_paths = {template(o.full) for o in new.operations.values()}
    for route, o in old.operations.items():
        if route not in new.operations:
            out.append(_removed(o, template(o.full) in new_paths, new, today))
    for route, n in new.operations.items():
        o = old.operations.get(route)
        if o is None:
            out.append(OpChange("endpoint-added", "info", n.key, route, f"{n.key} was added", n.where, None))
            continue
        _Op(old, new, o, n, out).run()
    return out


def _removed(o: Operation, path_kept: bool, new: OpenAPIContract, today: dt.date) -> OpChange:
    kind = "api" if path_kept else "api-path"
    what = "operation" if path_kept else "path"
    where = Where(new.rel, ("paths",))
    sunset = o.sunset
    if not o.deprecated:
        return OpChange(f"{kind}-removed-without-deprecation", "error", o.key, o.route,
                        f"{o.key} was removed ({what} removed) without being deprecated first", where, o.where)
    if sunset is not None and sunset > today:
        return OpChange(f"{kind}-removed-before-sunset", "error", o.key, o.route,
                        f"{o.key} was removed before its sunset date {sunset}", where, o.where)
    return OpChange(f"{kind}-removed-with-deprecation", "info", o.key, o.route,
                    f"{o.key} was removed after its deprecation" + (f" (sunset {sunset})" if sunset else ""),
                    where, o.where)


class _Op:
    """The comparison of one operation present on both sides."""

    def __init__(self, old: OpenAPIContract, new: OpenAPIContract, o: Operation, n: Operation, out: list[OpChange]):
        self.old, self.new, self.o, self.n, self.out = old, new, o, n, out
        self.seen: set[tuple[int, int, str]] = set()
        self.ctx = ""  # the part of the operation a schema belongs to: "response 200, application/json"

    def label(self, name: str) -> str:
        return f"{self.ctx}: {name}" if name else self.ctx

    def add(self, rule: str, level: Level, message: str, nw: Where | None, ow: Where | None) -> None:
        self.out.append(OpChange(rule, level, self.n.key, self.n.route, message, nw, ow))

    def run(self) -> None:
        self.lifecycle()
        self.parameters()
        self.request_body()
        self.responses()
        self.security()

    # -- deprecation and sunset ---------------------------------------------------------------------------------
    def lifecycle(self) -> None:
        o, n = self.o, self.n
        at = Where(n.where.rel, n.where.path + ("deprecated",))
        if n.deprecated and not o.deprecated:
            if n.sunset:
                self.add("endpoint-deprecated-with-sunset", "info", f"{n.key} was deprecated, sunset {n.sunset}",
                         at, o.where)
            else:
                self.add("endpoint-deprecated", "info", f"{n.key} was deprecated", at, o.where)
        elif o.deprecated and not n.deprecated:
            self.add("endpoint-reactivated", "info", f"{n.key} is no longer deprecated", n.where, o.where)
        elif o.deprecated and n.deprecated and o.sunset and not n.sunset:
            self.add("sunset-deleted", "error", f"{n.key} is still deprecated but lost its sunset date {o.sunset}; "
                     "consumers planned for it", n.where, o.where)
        elif o.deprecated and n.deprecated and o.sunset and n.sunset and n.sunset < o.sunset:
            self.add("api-sunset-date-changed-too-small", "error", f"{n.key}'s sunset moved earlier, from {o.sunset} "
                     f"to {n.sunset}; consumers planned for the old date",
                     Where(n.where.rel, n.where.path + ("x-sunset",)), o.where)

    # -- parameters ---------------------------------------------------------------------------------------------
    def _params(self, c: OpenAPIContract, op: Operation) -> dict[tuple[str, str], tuple[dict, Where]]:
        """(in, name) → parameter, the operation's overriding the path item's; path parameters by position."""
        out: dict[tuple[str, str], tuple[dict, Where]] = {}
        for owner, where in ((op.item, op.item_where), (op.node, op.where)):
            params, pw = c.deref(owner.get("parameters") or [], Where(where.rel, where.path + ("parameters",)))
            for i, p in enumerate(params if isinstance(params, list) else []):
                p, w = c.deref(p, Where(pw.rel, pw.path + (i,)))
                if isinstance(p, dict) and isinstance(p.get("name"), str):
                    out[(str(p.get("in")), p["name"])] = (p, w)
        names = [s[1:-1] for s in _segments(op.path) if s.startswith("{")]
        return {(("path", f"#{names.index(k[1])}") if k[0] == "path" and k[1] in names else k): v
                for k, v in out.items()}

    def parameters(self) -> None:
        old, new = self._params(self.old, self.o), self._params(self.new, self.n)
        for key, (p, w) in old.items():
            if key not in new:
                label = f"{key[0]} parameter {p['name']!r}"
                if p.get("deprecated") is True:
                    self.add("request-parameter-removed-with-deprecation", "info", f"the deprecated {label} was "
                             "removed", self.n.where, w)
                else:
                    self.add("request-parameter-removed", "warning", f"the {label} was removed; consumers still "
                             "sending it may be refused", self.n.where, w)
        for key, (p, w) in new.items():
            label = f"{p.get('in')} parameter {p['name']!r}"
            if key not in old:
                if p.get("in") == "path":
                    self.add("new-request-path-parameter", "error", f"the {label} was added", w, None)
                elif p.get("required") is True:
                    self.add("new-required-request-parameter", "error", f"the required {label} was added; "
                             "consumers do not send it", w, None)
                else:
                    self.add("new-optional-request-parameter", "info", f"the optional {label} was added", w, None)
                continue
            op_, ow = old[key]
            if p.get("required") is True and op_.get("required") is not True:
                self.add("request-parameter-became-required", "error", f"the {label} became required", w, ow)
            elif op_.get("required") is True and p.get("required") is not True:
                self.add("request-parameter-became-optional", "info", f"the {label} became optional", w, ow)
            if p.get("required") is not True and "default" in _d(p.get("schema")) | _d(op_.get("schema")):
                self._default(op_, p, label, ow, w)
            if "schema" in p and "schema" in op_:
                self.ctx = label
                self.schema(op_["schema"], p["schema"], _at(ow, "schema"), _at(w, "schema"), "request", "parameter",
                            "", 0)

    def _default(self, op_: dict, p: dict, label: str, ow: Where, w: Where) -> None:
        od, nd = _d(op_.get("schema")).get("default", _NONE), _d(p.get("schema")).get("default", _NONE)
        if od == nd:
            return
        verb = "added" if od is _NONE else "removed" if nd is _NONE else "changed"
        self.add(f"request-parameter-default-value-{verb}", "error", f"the default of the optional {label} was "
                 f"{verb}: consumers that leave it out get another behaviour", w, ow)

    # -- request body -------------------------------------------------------------------------------------------
    def request_body(self) -> None:
        ob, ow = self.old.deref(self.o.node.get("requestBody"), _at(self.o.where, "requestBody"))
        nb, nw = self.new.deref(self.n.node.get("requestBody"), _at(self.n.where, "requestBody"))
        if not isinstance(ob, dict) and not isinstance(nb, dict):
            return
        if not isinstance(ob, dict):
            if nb.get("required") is True:
                self.add("request-body-added-required", "error", "a required request body was added", nw, None)
            else:
                self.add("request-body-added-optional", "info", "an optional request body was added", nw, None)
            return
        if not isinstance(nb, dict):
            self.add("request-body-removed", "error", "the request body was removed", self.n.where, ow)
            return
        if nb.get("required") is True and ob.get("required") is not True:
            self.add("request-body-became-required", "error", "the request body became required", nw, ow)
        elif ob.get("required") is True and nb.get("required") is not True:
            self.add("request-body-became-optional", "info", "the request body became optional", nw, ow)
        self.content(ob, nb, ow, nw, "request", "request body")

    def content(self, ob: dict, nb: dict, ow: Where, nw: Where, side: str, what: str) -> None:
        oc, ocw = self.old.deref(ob.get("content"), _at(ow, "content"))
        nc, ncw = self.new.deref(nb.get("content"), _at(nw, "content"))
        oc, nc = _d(oc), _d(nc)
        for mt in oc:
            if mt not in nc:
                self.add(f"{side}-{'body-' if side == 'request' else ''}media-type-removed", "error",
                         f"{what}: media type {mt} was removed", ncw, _at(ocw, mt))
        for mt in nc:
            if mt not in oc:
                self.add(f"{side}-{'body-' if side == 'request' else ''}media-type-added", "info",
                         f"{what}: media type {mt} was added", _at(ncw, mt), None)
                continue
            om, omw = self.old.deref(oc[mt], _at(ocw, mt))
            nm, nmw = self.new.deref(nc[mt], _at(ncw, mt))
            if isinstance(om, dict) and isinstance(nm, dict) and "schema" in om and "schema" in nm:
                self.ctx = f"{what}, {mt}"
                self.schema(om["schema"], nm["schema"], _at(omw, "schema"), _at(nmw, "schema"), side, "body", "", 0)

    # -- responses ----------------------------------------------------------------------------------------------
    def responses(self) -> None:
        ors, orw = self.old.deref(self.o.node.get("responses"), _at(self.o.where, "responses"))
        nrs, nrw = self.new.deref(self.n.node.get("responses"), _at(self.n.where, "responses"))
        ors, nrs = _d(ors), _d(nrs)
        for code in ors:
            if code not in nrs:
                ok = _success(code)
                self.add(f"response-{'success' if ok else 'non-success'}-status-removed", "error" if ok else "info",
                         f"response {code} was removed" + ("; consumers expect it" if ok else ""), nrw, _at(orw, code))
        for code in nrs:
            if code not in ors:
                self.add(f"response-{'success' if _success(code) else 'non-success'}-status-added", "info",
                         f"response {code} was added", _at(nrw, code), None)
                continue
            o, ow = self.old.deref(ors[code], _at(orw, code))
            n, nw = self.new.deref(nrs[code], _at(nrw, code))
            if isinstance(o, dict) and isinstance(n, dict):
                self.headers(o, n, ow, nw, code)
                self.content(o, n, ow, nw, "response", f"response {code}")

    def headers(self, o: dict, n: dict, ow: Where, nw: Where, code: str) -> None:
        oh, ohw = self.old.deref(o.get("headers"), _at(ow, "headers"))
        nh, nhw = self.new.deref(n.get("headers"), _at(nw, "headers"))
        oh, nh = _d(oh), _d(nh)
        lower = {k.lower(): k for k in nh}
        for name, h in oh.items():
            h, hw = self.old.deref(h, _at(ohw, name))
            if name.lower() not in lower:
                req = isinstance(h, dict) and h.get("required") is True
                self.add("required-response-header-removed" if req else "optional-response-header-removed",
                         "error" if req else "warning", f"response {code}: header {name} was removed", nhw, hw)
                continue
            key = lower[name.lower()]
            x, xw = self.new.deref(nh[key], _at(nhw, key))
            if isinstance(h, dict) and isinstance(x, dict):
                if h.get("required") is True and x.get("required") is not True:
                    self.add("response-header-became-optional", "error", f"response {code}: header {name} became "
                             "optional", xw, hw)
                if "schema" in h and "schema" in x:
                    self.ctx = f"response {code}, header {name}"
                    self.schema(h["schema"], x["schema"], _at(hw, "schema"), _at(xw, "schema"), "response", "header",
                                "", 0)
        olower = {k.lower() for k in oh}
        for name in nh:
            if name.lower() not in olower:
                self.add("response-header-added", "info", f"response {code}: header {name} was added",
                         _at(nhw, name), None)

    # -- security -----------------------------------------------------------------------------------------------
    def security(self) -> None:
        """Alternatives (OpenAPI's list) of requirements (schemes with scopes, all needed): a caller meeting an old
        alternative must meet a new one, else the change refuses it."""
        o, ow = _security(self.old, self.o)
        n, nw = _security(self.new, self.n)
        if o == n:
            return
        open_before, open_now = not o or any(not a for a in o), not n or any(not a for a in n)
        if open_before and not open_now:
            self.add("api-security-added", "error", f"{self.n.key} now requires {_fmt_security(n)}; it took calls "
                     "without credentials", nw, ow)
            return
        refused = False
        for alt in ([] if open_now else o):
            if any(_satisfies(alt, other) for other in n):
                continue
            refused = True
            if any(set(other) == set(alt) for other in n):
                self.add("api-security-scope-added", "error", f"callers with {_fmt_security([alt])} now lack a "
                         f"scope: {_fmt_security(n)} is required", nw, ow)
            else:
                self.add("api-security-added", "error", f"callers with {_fmt_security([alt])} are refused: "
                         f"{_fmt_security(n)} is required", nw, ow)
        if refused or open_before:
            return
        if open_now:
            self.add("api-security-removed", "info", f"{self.n.key} now takes calls without credentials", nw, ow)
            return
        for alt in n:
            if alt in o:
                continue
            fewer = any(set(x) == set(alt) and _satisfies(x, alt) for x in o)
            self.add("api-security-scope-removed" if fewer else "api-security-removed", "info",
                     f"{_fmt_security([alt])} is now enough to call {self.n.key}", nw, ow)

    # -- schemas ------------------------------------------------------------------------------------------------
    def schema(self, o: Any, n: Any, ow: Where, nw: Where, side: str, subject: str, name: str, depth: int) -> None:
        o, ow = self.old.deref(o, ow)
        n, nw = self.new.deref(n, nw)
        key = (id(o), id(n), side)
        if depth > MAX_DEPTH or key in self.seen:
            return  # recursive schemas end here
        self.seen.add(key)
        p = f"{side}-{subject}"
        if isinstance(o, bool) or isinstance(n, bool):
            if o != n and _json(o) != _json(n):
                self.add(f"{p}-type-changed", "error", f"{self.label(name)} changed from {_json(o)} to {_json(n)}", nw, ow)
            return
        if not isinstance(o, dict) or not isinstance(n, dict):
            return
        o, n = _merge_all_of(self.old, o, ow), _merge_all_of(self.new, n, nw)
        if not self.types(o, n, ow, nw, side, p, name):
            return  # another type: what follows would be noise
        self.enums(o, n, ow, nw, side, p, name)
        self.bounds(o, n, ow, nw, side, p, name)
        self.pattern(o, n, ow, nw, side, p, name)
        self.properties(o, n, ow, nw, side, name, depth)
        if isinstance(o.get("items"), (dict, bool)) and isinstance(n.get("items"), (dict, bool)):
            self.schema(o["items"], n["items"], _at(ow, "items"), _at(nw, "items"), side,
                        "property" if subject == "body" else subject, f"{name or 'items'}[]", depth + 1)
        for kw in ("anyOf", "oneOf"):
            self.alternatives(kw, o, n, ow, nw, side, subject, p, name, depth)
        for kw in _UNCHECKED:
            ov, nv = o.get(kw), n.get(kw)
            if ov == nv:
                continue
            if _json(ov) != _json(nv):
                self.add("unchecked-keyword", "warning", f"{self.label(name)}: {kw} changed; meshspec does not classify {kw}, "
                         "check by hand whether consumers break", _at(nw, kw) if kw in n else nw, ow)

    def types(self, o: dict, n: dict, ow: Where, nw: Where, side: str, p: str, name: str) -> bool:
        ot, nt = _types(o), _types(n)
        onull, nnull = _nullable(o, ot), _nullable(n, nt)
        if onull != nnull:
            if nnull:
                self.add(f"{p}-became-nullable", "error" if side != "request" else "info",
                         f"{self.label(name)} may now be null" + ("; consumers do not expect it" if side != "request" else ""),
                         nw, ow)
            else:
                self.add(f"{p}-became-not-nullable", "error" if side == "request" else "info",
                         f"{self.label(name)} may no longer be null" + ("; consumers may send null" if side == "request" else ""),
                         nw, ow)
        ot, nt = (ot - {"null"} if ot else ot), (nt - {"null"} if nt else nt)
        if ot != nt:
            msg = f"{self.label(name)}: type changed from {_fmt_types(ot)} to {_fmt_types(nt)}"
            if side == "request" and _covers(nt, ot):
                self.add(f"{p}-type-generalized", "info", msg + " (accepts more)", _at(nw, "type"), ow)
            elif side != "request" and _covers(ot, nt):
                self.add(f"{p}-type-specialized", "info", msg + " (sends a subset)", _at(nw, "type"), ow)
            elif side != "request" and _covers(nt, ot):
                self.add(f"{p}-type-generalized", "error", msg + " (may send values consumers do not expect)",
                         _at(nw, "type"), ow)
                return True
            else:
                self.add(f"{p}-type-changed", "error", msg, _at(nw, "type") if "type" in n else nw, ow)
                return False
        of, nf = o.get("format"), n.get("format")
        if of != nf:
            msg = f"{self.label(name)}: format changed from {of or 'none'} to {nf or 'none'}"
            at = _at(nw, "format") if nf is not None else nw
            if side == "request":
                self.add(f"{p}-type-generalized" if nf is None else f"{p}-type-changed",
                         "info" if nf is None else "error", msg, at, ow)
            else:
                self.add(f"{p}-type-specialized" if of is None else f"{p}-type-generalized" if nf is None
                         else f"{p}-type-changed", "info" if of is None else "error", msg, at, ow)
        return True

    def enums(self, o: dict, n: dict, ow: Where, nw: Where, side: str, p: str, name: str) -> None:
        oe, ne = _enum(o), _enum(n)
        if oe == ne:
            return
        at = _at(nw, "enum" if "enum" in n else "const") if ("enum" in n or "const" in n) else nw
        if side == "request":
            if oe is None:
                self.add(f"{p}-became-enum", "error", f"{self.label(name)} now accepts only {_list(ne)}", at, ow)
            elif ne is None:
                self.add(f"{p}-enum-value-added", "info", f"{self.label(name)} is no longer restricted to {_list(oe)}", at, ow)
            else:
                for v in [v for v in oe if v not in ne]:
                    self.add(f"{p}-enum-value-removed", "error", f"{self.label(name)} no longer accepts {v!r}", at, ow)
                for v in [v for v in ne if v not in oe]:
                    self.add(f"{p}-enum-value-added", "info", f"{self.label(name)} now also accepts {v!r}", at, ow)
        else:
            if ne is None:
                self.add(f"{p}-enum-value-added", "error", f"{self.label(name)} may now hold any value (was one of {_list(oe)})",
                         at, ow)
            elif oe is None:
                self.add(f"{p}-enum-value-removed", "info", f"{self.label(name)} is now one of {_list(ne)}", at, ow)
            else:
                for v in [v for v in ne if v not in oe]:
                    self.add(f"{p}-enum-value-added", "error", f"{self.label(name)} may now be {v!r}, which consumers do not "
                             "expect", at, ow)
                for v in [v for v in oe if v not in ne]:
                    self.add(f"{p}-enum-value-removed", "info", f"{self.label(name)} is no longer {v!r}", at, ow)

    def bounds(self, o: dict, n: dict, ow: Where, nw: Where, side: str, p: str, name: str) -> None:
        for keys, lower in ((_LOWER, True), (_UPPER, False)):
            for kw, label in keys.items():
                ov, nv = o.get(kw), n.get(kw)
                if ov == nv:
                    continue
                if not all(isinstance(v, (int, float, type(None))) for v in (ov, nv)):
                    continue  # not a number: the validator says so; there is nothing to compare
                if isinstance(ov, bool) or isinstance(nv, bool):  # OpenAPI 3.0's boolean exclusiveMinimum/Maximum
                    tighter, verb = bool(nv), "set" if nv else "unset"
                elif ov is None:
                    tighter, verb = True, "set"
                elif nv is None:
                    tighter, verb = False, "unset"
                else:
                    tighter = nv > ov if lower else nv < ov
                    verb = "increased" if nv > ov else "decreased"
                breaking = tighter if side == "request" else not tighter
                self.add(f"{p}-{label}-{verb}", "error" if breaking else "info",
                         f"{self.label(name)}: {kw} {verb} ({_show(ov)} → {_show(nv)})",
                         _at(nw, kw) if nv is not None else nw, ow)

    def pattern(self, o: dict, n: dict, ow: Where, nw: Where, side: str, p: str, name: str) -> None:
        op_, np_ = o.get("pattern"), n.get("pattern")
        if op_ == np_:
            return
        verb = "added" if op_ is None else "removed" if np_ is None else "changed"
        level: Level = "warning" if verb == "changed" else \
            ("error" if verb == "added" else "info") if side == "request" else ("info" if verb == "added" else "error")
        self.add(f"{p}-pattern-{verb}", level, f"{self.label(name)}: pattern {verb} ({op_ or 'none'} → {np_ or 'none'})"
                 + ("; meshspec cannot tell whether the new pattern accepts all the old one did" if verb == "changed"
                    else ""), _at(nw, "pattern") if np_ is not None else nw, ow)

    def properties(self, o: dict, n: dict, ow: Where, nw: Where, side: str, name: str, depth: int) -> None:
        op_, np_ = _d(o.get("properties")), _d(n.get("properties"))
        oreq, nreq = _names(o.get("required")), _names(n.get("required"))
        if not op_ and not np_ and not oreq and not nreq:
            return
        opw, npw = _at(ow, "properties"), _at(nw, "properties")
        for k, sub in op_.items():
            if k in np_:
                continue
            sub_, sw = self.old.deref(sub, _locate_prop(o, k, opw))
            label = f"{_prop(name, k)!r} ({self.ctx})"
            if side == "request":
                self.add("request-property-removed", "warning", f"request property {label} was removed; consumers "
                         "still sending it may be refused", npw, sw)
            elif _flag(sub_, "writeOnly"):
                continue
            elif k in oreq:
                self.add("response-required-property-removed", "error", f"response property {label} was removed",
                         npw, sw)
            else:
                self.add("response-optional-property-removed", "warning", f"optional response property {label} was "
                         "removed; consumers reading it get nothing", npw, sw)
        for k, sub in np_.items():
            sub_, sw = self.new.deref(sub, _locate_prop(n, k, npw))
            label = f"{_prop(name, k)!r} ({self.ctx})"
            if k not in op_:
                if side == "request":
                    if k in nreq and not _flag(sub_, "readOnly"):
                        self.add("new-required-request-property", "error", f"required request property {label} was "
                                 "added; consumers do not send it", sw, None)
                    else:
                        self.add("new-optional-request-property", "info", f"optional request property {label} was "
                                 "added", sw, None)
                elif not _flag(sub_, "writeOnly"):
                    self.add(f"response-{'required' if k in nreq else 'optional'}-property-added", "info",
                             f"response property {label} was added", sw, None)
                continue
            old_sub, osw = self.old.deref(op_[k], _locate_prop(o, k, opw))
            if side == "request" and not _flag(sub_, "readOnly"):
                if k in nreq and k not in oreq:
                    self.add("request-property-became-required", "error", f"request property {label} became "
                             "required; consumers may not send it", sw, osw)
                elif k in oreq and k not in nreq:
                    self.add("request-property-became-optional", "info", f"request property {label} became optional",
                             sw, osw)
            elif side != "request" and not _flag(sub_, "writeOnly"):
                if k in oreq and k not in nreq:
                    self.add("response-property-became-optional", "error", f"response property {label} may now be "
                             "absent; consumers rely on it", sw, osw)
                elif k in nreq and k not in oreq:
                    self.add("response-property-became-required", "info", f"response property {label} is now "
                             "always sent", sw, osw)
            self.schema(op_[k], sub, _locate_prop(o, k, opw), _locate_prop(n, k, npw), side, "property",
                        _prop(name, k), depth + 1)
        if side == "request" and o.get("additionalProperties", True) is not False \
                and n.get("additionalProperties", True) is False:
            self.add(f"request-{'property' if name else 'body'}-additional-properties-refused", "error",
                     f"{self.label(name)} now refuses properties it does not list", nw, ow)

    def alternatives(self, kw: str, o: dict, n: dict, ow: Where, nw: Where, side: str, subject: str, p: str,
                     name: str, depth: int) -> None:
        oa, na = o.get(kw), n.get(kw)
        if not isinstance(oa, list) and not isinstance(na, list):
            return
        label = "any-of" if kw == "anyOf" else "one-of"
        ok = {self._alt_key(self.old, s, _at(_at(ow, kw), i)): (s, _at(_at(ow, kw), i))
              for i, s in enumerate(_l(oa))}
        nk = {self._alt_key(self.new, s, _at(_at(nw, kw), i)): (s, _at(_at(nw, kw), i))
              for i, s in enumerate(_l(na))}
        for k, (s, w) in ok.items():
            if k not in nk:
                self.add(f"{p}-{label}-removed", "error" if side == "request" else "info",
                         f"{self.label(name)}: a {kw} alternative ({k}) was removed", _at(nw, kw) if kw in n else nw, w)
        for k, (s, w) in nk.items():
            if k not in ok:
                self.add(f"{p}-{label}-added", "info" if side == "request" else "error",
                         f"{self.label(name)}: a {kw} alternative ({k}) was added", w, ow)
            else:
                self.schema(ok[k][0], s, ok[k][1], w, side, subject, f"{name}<{k}>", depth + 1)

    def _alt_key(self, c: OpenAPIContract, s: Any, w: Where) -> str:
        if isinstance(s, dict) and isinstance(s.get("$ref"), str):
            return s["$ref"].rsplit("/", 1)[-1]
        resolved, _ = c.deref(s, w)
        return _json(resolved)[:60]


_NONE = object()


def _d(x: Any) -> dict:
    """The value if it is a mapping, else an empty one: the base document is not validated again."""
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return x if isinstance(x, list) else []


def _names(x: Any) -> set[str]:
    return {v for v in _l(x) if isinstance(v, str)}


def _at(w: Where, key: str | int) -> Where:
    return Where(w.rel, w.path + (key,))


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _success(code: Any) -> bool:
    return str(code).startswith("2")


def _json(v: Any) -> str:
    if isinstance(v, dict):
        v = {k: x for k, x in v.items() if k not in _NOISE and not str(k).startswith("x-")}
    return json.dumps(v, sort_keys=True, default=str)


def _show(v: Any) -> str:
    return "none" if v is None else json.dumps(v)


def _list(values: list[Any]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _types(s: dict) -> set[str] | None:
    t = s.get("type")
    if isinstance(t, str):
        return {t}
    return {x for x in t if isinstance(x, str)} if isinstance(t, list) else None


def _nullable(s: dict, types: set[str] | None) -> bool:
    return s.get("nullable") is True or bool(types and "null" in types) or (
        isinstance(s.get("enum"), list) and None in s["enum"])


def _covers(wide: set[str] | None, narrow: set[str] | None) -> bool:
    if wide is None or not wide:
        return True
    if narrow is None or not narrow:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _fmt_types(t: set[str] | None) -> str:
    return "any" if not t else " or ".join(sorted(t))


def _enum(s: dict) -> list[Any] | None:
    if "const" in s:
        return [s["const"]]
    e = s.get("enum")
    return [v for v in e if v is not None] if isinstance(e, list) else None


def _flag(s: Any, key: str) -> bool:
    return isinstance(s, dict) and s.get(key) is True


def _prop(name: str, key: str) -> str:
    """Properties read as dotted paths below the body: ``address.city``, ``items[].id``."""
    return f"{name}.{key}" if name else key


def _locate_prop(s: dict, key: str, default: Where) -> Where:
    src = s.get("x-meshspec-prop-at", {}).get(key)
    return src if src is not None else _at(default, key)


def _merge_all_of(c: OpenAPIContract, s: dict, where: Where) -> dict:
    """``allOf`` of object schemas read as one object (the usual way to extend a base schema); where each
    property came from is kept, so findings point at the right file and line."""
    parts = s.get("allOf")
    if not isinstance(parts, list):
        return s
    merged: dict[str, Any] = {k: v for k, v in s.items() if k != "allOf"}
    props: dict[str, Any] = dict(_d(s.get("properties")))
    at: dict[str, Where] = {k: _at(_at(where, "properties"), k) for k in props}
    required = sorted(_names(s.get("required")))
    for i, part in enumerate(parts):
        part, pw = c.deref(part, _at(_at(where, "allOf"), i))
        if not isinstance(part, dict):
            return s
        part = _merge_all_of(c, part, pw)
        for k, v in _d(part.get("properties")).items():
            props.setdefault(k, v)
            at.setdefault(k, part.get("x-meshspec-prop-at", {}).get(k) or _at(_at(pw, "properties"), k))
        required += [r for r in sorted(_names(part.get("required"))) if r not in required]
        for k, v in part.items():
            if k not in ("properties", "required", "x-meshspec-prop-at") and k not in merged:
                merged[k] = v
    merged["properties"], merged["required"], merged["x-meshspec-prop-at"] = props, required, at
    return merged


def _security(c: OpenAPIContract, op: Operation) -> tuple[list[dict[str, list[str]]], Where]:
    if "security" in op.node:
        sec, w = op.node["security"], _at(op.where, "security")
    else:
        sec, w = (c.doc or {}).get("security"), Where(c.rel, ("security",))
    alts = []
    for alt in sec if isinstance(sec, list) else []:
        if isinstance(alt, dict):
            alts.append({str(k): sorted(map(str, v)) if isinstance(v, list) else [] for k, v in alt.items()})
    return alts, w


def _satisfies(have: dict[str, list[str]], need: dict[str, list[str]]) -> bool:
    """Does a caller holding ``have`` meet the requirement ``need``? (every scheme, every scope)"""
    return all(k in have and set(v) <= set(have[k]) for k, v in need.items())


def _fmt_security(alts: list[dict[str, list[str]]]) -> str:
    return " or ".join(" and ".join(f"{k}" + (f" [{', '.join(v)}]" if v else "") for k, v in a.items()) or "none"
                       for a in alts) or "nothing"
