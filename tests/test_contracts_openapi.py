"""OpenAPI contracts: reading (refs, refusals, one error with its place) and the classification, a test per check.

Each case edits a small document (``_doc``) on one side or both and asserts exactly the findings that come out,
with their level, so a check that fires too often fails as surely as one that does not fire."""
from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
import yaml

from meshspec.infra.contracts.openapi import Where, load_openapi
from meshspec.infra.contracts.openapi_diff import compare_openapi

TODAY = dt.date(2026, 12, 6)
GET, PUT, OTHER = "GET /svc/v1/items/{id}", "PUT /svc/v1/items/{id}", "GET /svc/v1/other"


def _doc() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "svc", "version": "1.0.0"},
        "servers": [{"url": "/svc/v1"}],
        "security": [{"key": []}],
        "paths": {
            "/items/{id}": {
                "get": {
                    "operationId": "getItem",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 10, "enum": ["a", "b"]}},
                    ],
                    "responses": {
                        "200": {"description": "ok",
                                "headers": {"X-Rate": {"required": True, "schema": {"type": "integer"}},
                                            "X-Note": {"schema": {"type": "string"}}},
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                        "404": {"description": "not found"},
                    },
                },
                "put": {
                    "operationId": "putItem",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ItemIn"}}}},
                    "responses": {"204": {"description": "stored"}},
                },
            },
            "/other": {"get": {"operationId": "other", "responses": {"200": {"description": "ok"}}}},
        },
        "components": {
            "securitySchemes": {
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "oauth": {"type": "oauth2", "flows": {"clientCredentials": {
                    "tokenUrl": "https://auth.example/token", "scopes": {"read": "r", "write": "w"}}}},
            },
            "schemas": {
                "Item": {"type": "object", "required": ["id", "name"], "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string", "maxLength": 50},
                    "size": {"type": "integer", "minimum": 0, "maximum": 10},
                    "kind": {"type": "string", "enum": ["x", "y"]},
                    "note": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                }},
                "ItemIn": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 50},
                    "size": {"type": "integer", "minimum": 0, "maximum": 10},
                    "kind": {"type": "string", "enum": ["x", "y"]},
                    "email": {"type": "string"},
                    "code": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                    "note": {"type": "string"},
                }},
            },
        },
    }


def _load(doc: dict, rel: str = "c/svc-v1.yaml", files: dict[str, str] | None = None):
    text = yaml.safe_dump(doc, sort_keys=False)
    c = load_openapi(rel, text, lambda r: (files or {}).get(r))
    assert c.problems == [], c.problems
    return c


def _diff(old: dict, new: dict) -> list[tuple[str, str, str]]:
    return [(c.rule, c.level, c.operation) for c in compare_openapi(_load(old), _load(new), TODAY)]


def _item(d):
    return d["components"]["schemas"]["Item"]["properties"]


def _item_in(d):
    return d["components"]["schemas"]["ItemIn"]["properties"]


def _get(d):
    return d["paths"]["/items/{id}"]["get"]


def _put(d):
    return d["paths"]["/items/{id}"]["put"]


def _deprecate(d, sunset):
    d["paths"]["/other"]["get"].update({"deprecated": True, **({"x-sunset": sunset} if sunset else {})})


# (name, change to the old document, change to the new document, the findings exactly)
CASES = [
    # operations and paths
    ("path removed", None, lambda d: d["paths"].pop("/other"),
     [("api-path-removed-without-deprecation", "error", OTHER)]),
    ("operation removed", None, lambda d: d["paths"]["/items/{id}"].pop("put"),
     [("api-removed-without-deprecation", "error", PUT)]),
    ("removed before its sunset", lambda d: _deprecate(d, "2027-01-31"), lambda d: d["paths"].pop("/other"),
     [("api-path-removed-before-sunset", "error", OTHER)]),
    ("removed after its sunset", lambda d: _deprecate(d, "2026-11-30"), lambda d: d["paths"].pop("/other"),
     [("api-path-removed-with-deprecation", "info", OTHER)]),
    ("operation added", None, lambda d: d["paths"].__setitem__("/new", {"get": {"responses": {"200": {"description": "x"}}}}),
     [("endpoint-added", "info", "GET /svc/v1/new")]),
    ("deprecated", None, lambda d: _deprecate(d, None), [("endpoint-deprecated", "info", OTHER)]),
    ("deprecated with sunset", None, lambda d: _deprecate(d, "2027-05-01"),
     [("endpoint-deprecated-with-sunset", "info", OTHER)]),
    ("reactivated", lambda d: _deprecate(d, None), None, [("endpoint-reactivated", "info", OTHER)]),
    ("sunset deleted", lambda d: _deprecate(d, "2027-05-01"), lambda d: _deprecate(d, None),
     [("sunset-deleted", "error", OTHER)]),
    ("sunset moved earlier", lambda d: _deprecate(d, "2027-05-01"), lambda d: _deprecate(d, "2027-02-01"),
     [("api-sunset-date-changed-too-small", "error", OTHER)]),
    # parameters
    ("required parameter added", None,
     lambda d: _get(d)["parameters"].append({"name": "r", "in": "header", "required": True, "schema": {"type": "string"}}),
     [("new-required-request-parameter", "error", GET)]),
    ("optional parameter added", None,
     lambda d: _get(d)["parameters"].append({"name": "o", "in": "query", "schema": {"type": "string"}}),
     [("new-optional-request-parameter", "info", GET)]),
    ("parameter became required", None, lambda d: _get(d)["parameters"][1].__setitem__("required", True),
     [("request-parameter-became-required", "error", GET)]),
    ("parameter became optional", lambda d: _get(d)["parameters"][1].__setitem__("required", True), None,
     [("request-parameter-became-optional", "info", GET)]),
    ("parameter removed", None, lambda d: _get(d)["parameters"].pop(1), [("request-parameter-removed", "warning", GET)]),
    ("path parameter retyped", None, lambda d: _get(d)["parameters"][0].__setitem__("schema", {"type": "integer"}),
     [("request-parameter-type-changed", "error", GET)]),
    ("path parameter became enum", None,
     lambda d: _get(d)["parameters"][0]["schema"].__setitem__("enum", ["a1", "b2"]),
     [("request-parameter-became-enum", "error", GET)]),
    ("parameter maxLength decreased", None, lambda d: _get(d)["parameters"][1]["schema"].__setitem__("maxLength", 5),
     [("request-parameter-max-length-decreased", "error", GET)]),
    ("parameter maxLength increased", None, lambda d: _get(d)["parameters"][1]["schema"].__setitem__("maxLength", 50),
     [("request-parameter-max-length-increased", "info", GET)]),
    ("parameter enum value removed", None, lambda d: _get(d)["parameters"][1]["schema"].__setitem__("enum", ["a"]),
     [("request-parameter-enum-value-removed", "error", GET)]),
    ("parameter enum value added", None,
     lambda d: _get(d)["parameters"][1]["schema"].__setitem__("enum", ["a", "b", "c"]),
     [("request-parameter-enum-value-added", "info", GET)]),
    ("parameter pattern added", None, lambda d: _get(d)["parameters"][1]["schema"].__setitem__("pattern", "^[a-z]$"),
     [("request-parameter-pattern-added", "error", GET)]),
    ("parameter default changed", lambda d: _get(d)["parameters"][1]["schema"].__setitem__("default", "a"),
     lambda d: _get(d)["parameters"][1]["schema"].__setitem__("default", "b"),
     [("request-parameter-default-value-changed", "error", GET)]),
    # request body
    ("required request property added", None,
     lambda d: (_item_in(d).__setitem__("owner", {"type": "string"}),
                d["components"]["schemas"]["ItemIn"]["required"].append("owner")),
     [("new-required-request-property", "error", PUT)]),
    ("optional request property added", None, lambda d: _item_in(d).__setitem__("owner", {"type": "string"}),
     [("new-optional-request-property", "info", PUT)]),
    ("read-only required request property added", None,
     lambda d: (_item_in(d).__setitem__("owner", {"type": "string", "readOnly": True}),
                d["components"]["schemas"]["ItemIn"]["required"].append("owner")),
     [("new-optional-request-property", "info", PUT)]),
    ("request property became required", None, lambda d: d["components"]["schemas"]["ItemIn"]["required"].append("size"),
     [("request-property-became-required", "error", PUT)]),
    ("request property became optional", None, lambda d: d["components"]["schemas"]["ItemIn"].__setitem__("required", []),
     [("request-property-became-optional", "info", PUT)]),
    ("request property removed", None, lambda d: _item_in(d).pop("note"), [("request-property-removed", "warning", PUT)]),
    ("request property retyped", None, lambda d: _item_in(d).__setitem__("size", {"type": "string"}),
     [("request-property-type-changed", "error", PUT)]),
    ("request property widened", None, lambda d: _item_in(d)["size"].__setitem__("type", "number"),
     [("request-property-type-generalized", "info", PUT)]),
    ("request property format added", None, lambda d: _item_in(d)["email"].__setitem__("format", "email"),
     [("request-property-type-changed", "error", PUT)]),
    ("request property format removed", lambda d: _item_in(d)["email"].__setitem__("format", "email"), None,
     [("request-property-type-generalized", "info", PUT)]),
    ("request property became enum", None, lambda d: _item_in(d)["code"].__setitem__("enum", ["c1"]),
     [("request-property-became-enum", "error", PUT)]),
    ("request property enum value removed", None, lambda d: _item_in(d)["kind"].__setitem__("enum", ["x"]),
     [("request-property-enum-value-removed", "error", PUT)]),
    ("request property enum value added", None, lambda d: _item_in(d)["kind"].__setitem__("enum", ["x", "y", "z"]),
     [("request-property-enum-value-added", "info", PUT)]),
    ("request property maxLength decreased", None, lambda d: _item_in(d)["name"].__setitem__("maxLength", 20),
     [("request-property-max-length-decreased", "error", PUT)]),
    ("request property minLength increased", None, lambda d: _item_in(d)["name"].__setitem__("minLength", 3),
     [("request-property-min-length-increased", "error", PUT)]),
    ("request property maximum decreased", None, lambda d: _item_in(d)["size"].__setitem__("maximum", 5),
     [("request-property-max-decreased", "error", PUT)]),
    ("request property minimum increased", None, lambda d: _item_in(d)["size"].__setitem__("minimum", 1),
     [("request-property-min-increased", "error", PUT)]),
    ("request property maximum removed", None, lambda d: _item_in(d)["size"].pop("maximum"),
     [("request-property-max-unset", "info", PUT)]),
    ("request property maxLength set", None, lambda d: _item_in(d)["code"].__setitem__("maxLength", 8),
     [("request-property-max-length-set", "error", PUT)]),
    ("request property exclusiveMinimum set", None, lambda d: _item_in(d)["size"].__setitem__("exclusiveMinimum", 0),
     [("request-property-exclusive-min-set", "error", PUT)]),
    ("request array maxItems decreased", None, lambda d: _item_in(d)["tags"].__setitem__("maxItems", 2),
     [("request-property-max-items-decreased", "error", PUT)]),
    ("request array items retyped", None, lambda d: _item_in(d)["tags"].__setitem__("items", {"type": "integer"}),
     [("request-property-type-changed", "error", PUT)]),
    ("request property pattern added", None, lambda d: _item_in(d)["code"].__setitem__("pattern", "^[A-Z]+$"),
     [("request-property-pattern-added", "error", PUT)]),
    ("request property pattern changed", lambda d: _item_in(d)["code"].__setitem__("pattern", "^[A-Z]+$"),
     lambda d: _item_in(d)["code"].__setitem__("pattern", "^[A-Z0-9]+$"),
     [("request-property-pattern-changed", "warning", PUT)]),
    ("request property pattern removed", lambda d: _item_in(d)["code"].__setitem__("pattern", "^[A-Z]+$"), None,
     [("request-property-pattern-removed", "info", PUT)]),
    ("request property no longer nullable", lambda d: _item_in(d)["note"].__setitem__("type", ["string", "null"]), None,
     [("request-property-became-not-nullable", "error", PUT)]),
    ("request property refuses unknown properties", None,
     lambda d: d["components"]["schemas"]["ItemIn"].__setitem__("additionalProperties", False),
     [("request-body-additional-properties-refused", "error", PUT)]),
    ("request body became optional", None, lambda d: _put(d)["requestBody"].__setitem__("required", False),
     [("request-body-became-optional", "info", PUT)]),
    ("request body became required", lambda d: _put(d)["requestBody"].__setitem__("required", False), None,
     [("request-body-became-required", "error", PUT)]),
    ("request body removed", None, lambda d: _put(d).pop("requestBody"), [("request-body-removed", "error", PUT)]),
    ("required request body added", lambda d: _put(d).pop("requestBody"), None,
     [("request-body-added-required", "error", PUT)]),
    ("request media type removed", None,
     lambda d: _put(d)["requestBody"].__setitem__("content", {"application/xml": {"schema": {"type": "object"}}}),
     [("request-body-media-type-removed", "error", PUT), ("request-body-media-type-added", "info", PUT)]),
    ("request alternative removed",
     lambda d: _item_in(d).__setitem__("ref", {"anyOf": [{"type": "string"}, {"type": "integer"}]}),
     lambda d: _item_in(d).__setitem__("ref", {"anyOf": [{"type": "string"}]}),
     [("request-property-any-of-removed", "error", PUT)]),
    # responses
    ("required response property removed", None, lambda d: (_item(d).pop("name"),
                                                           d["components"]["schemas"]["Item"]["required"].remove("name")),
     [("response-required-property-removed", "error", GET)]),
    ("optional response property removed", None, lambda d: _item(d).pop("note"),
     [("response-optional-property-removed", "warning", GET)]),
    ("response property added", None, lambda d: _item(d).__setitem__("company", {"type": "string"}),
     [("response-optional-property-added", "info", GET)]),
    ("response property retyped", None, lambda d: _item(d).__setitem__("id", {"type": "integer"}),
     [("response-property-type-changed", "error", GET)]),
    ("response property narrowed", lambda d: _item(d)["size"].__setitem__("type", "number"), None,
     [("response-property-type-specialized", "info", GET)]),
    ("response property format removed", lambda d: _item(d)["note"].__setitem__("format", "date"), None,
     [("response-property-type-generalized", "error", GET)]),
    ("response property may be null (3.1)", None, lambda d: _item(d)["note"].__setitem__("type", ["string", "null"]),
     [("response-property-became-nullable", "error", GET)]),
    ("response property may be absent", None, lambda d: d["components"]["schemas"]["Item"]["required"].remove("name"),
     [("response-property-became-optional", "error", GET)]),
    ("response property always sent", None, lambda d: d["components"]["schemas"]["Item"]["required"].append("note"),
     [("response-property-became-required", "info", GET)]),
    ("response enum value added", None, lambda d: _item(d)["kind"].__setitem__("enum", ["x", "y", "z"]),
     [("response-property-enum-value-added", "error", GET)]),
    ("response enum value removed", None, lambda d: _item(d)["kind"].__setitem__("enum", ["x"]),
     [("response-property-enum-value-removed", "info", GET)]),
    ("response maxLength increased", None, lambda d: _item(d)["name"].__setitem__("maxLength", 100),
     [("response-property-max-length-increased", "error", GET)]),
    ("response maximum removed", None, lambda d: _item(d)["size"].pop("maximum"),
     [("response-property-max-unset", "error", GET)]),
    ("response minimum decreased", None, lambda d: _item(d)["size"].__setitem__("minimum", -1),
     [("response-property-min-decreased", "error", GET)]),
    ("response array items retyped", None, lambda d: _item(d)["tags"].__setitem__("items", {"type": "integer"}),
     [("response-property-type-changed", "error", GET)]),
    ("response alternative added",
     lambda d: _item(d).__setitem__("ref", {"oneOf": [{"type": "string"}]}),
     lambda d: _item(d).__setitem__("ref", {"oneOf": [{"type": "string"}, {"type": "integer"}]}),
     [("response-property-one-of-added", "error", GET)]),
    ("success status removed", None, lambda d: _get(d)["responses"].pop("200"),
     [("response-success-status-removed", "error", GET)]),
    ("non-success status removed", None, lambda d: _get(d)["responses"].pop("404"),
     [("response-non-success-status-removed", "info", GET)]),
    ("success status added", None, lambda d: _get(d)["responses"].__setitem__("203", {"description": "x"}),
     [("response-success-status-added", "info", GET)]),
    ("response media type removed", None,
     lambda d: _get(d)["responses"]["200"].__setitem__("content", {"text/plain": {"schema": {"type": "string"}}}),
     [("response-media-type-removed", "error", GET), ("response-media-type-added", "info", GET)]),
    ("required response header removed", None, lambda d: _get(d)["responses"]["200"]["headers"].pop("X-Rate"),
     [("required-response-header-removed", "error", GET)]),
    ("optional response header removed", None, lambda d: _get(d)["responses"]["200"]["headers"].pop("X-Note"),
     [("optional-response-header-removed", "warning", GET)]),
    ("response header became optional", None,
     lambda d: _get(d)["responses"]["200"]["headers"]["X-Rate"].__setitem__("required", False),
     [("response-header-became-optional", "error", GET)]),
    # security
    ("security added to an open operation", lambda d: d["paths"]["/other"]["get"].__setitem__("security", []), None,
     [("api-security-added", "error", OTHER)]),
    ("security scheme replaced", None, lambda d: d.__setitem__("security", [{"oauth": ["read"]}]),
     [("api-security-added", "error", op) for op in (GET, PUT, OTHER)]),
    ("security scope added", lambda d: d.__setitem__("security", [{"oauth": ["read"]}]),
     lambda d: d.__setitem__("security", [{"oauth": ["read", "write"]}]),
     [("api-security-scope-added", "error", op) for op in (GET, PUT, OTHER)]),
    ("security scope dropped", lambda d: d.__setitem__("security", [{"oauth": ["read", "write"]}]),
     lambda d: d.__setitem__("security", [{"oauth": ["read"]}]),
     [("api-security-scope-removed", "info", op) for op in (GET, PUT, OTHER)]),
    ("security made optional", None, lambda d: d.__setitem__("security", [{"key": []}, {}]),
     [("api-security-removed", "info", op) for op in (GET, PUT, OTHER)]),
    ("security alternative added", None, lambda d: d.__setitem__("security", [{"key": []}, {"oauth": []}]),
     [("api-security-removed", "info", op) for op in (GET, PUT, OTHER)]),
]


@pytest.mark.parametrize("name,before,after,expected", CASES, ids=[c[0] for c in CASES])
def test_classification(name, before, after, expected):
    old, new = _doc(), _doc()
    for doc, change in ((old, before), (new, after)):
        if change:
            change(doc)
    assert _diff(old, new) == expected


def test_every_error_level_check_named_in_the_issue_has_a_case():
    """Removed operations and paths, path parameters, new required parameters and request properties, tightened
    request constraints (types, enums, lengths, ranges, patterns, formats), removed or retyped response properties,
    response properties that may now be null or absent, removed success statuses, added security requirements."""
    rules = {rule for _, _, _, found in CASES for rule, _, _ in found}
    for rule in ("api-path-removed-without-deprecation", "api-removed-without-deprecation",
                 "request-parameter-type-changed", "new-required-request-parameter", "new-required-request-property",
                 "request-property-type-changed", "request-property-enum-value-removed",
                 "request-property-max-length-decreased", "request-property-min-increased",
                 "request-property-pattern-added", "response-required-property-removed",
                 "response-property-type-changed", "response-property-became-nullable",
                 "response-property-became-optional", "response-success-status-removed", "api-security-added"):
        assert rule in rules, rule


def test_nothing_changes_when_a_schema_moves_into_components_or_a_parameter_is_renamed():
    old, new = _doc(), _doc()
    item = new["components"]["schemas"].pop("Item")
    _get(new)["responses"]["200"]["content"]["application/json"]["schema"] = item  # inline now
    new["paths"]["/items/{itemId}"] = new["paths"].pop("/items/{id}")
    for op in new["paths"]["/items/{itemId}"].values():
        op["parameters"][0]["name"] = "itemId"
    new["servers"] = [{"url": "https://api.example/"}]  # the prefix moves from the server into the paths
    new["paths"] = {f"/svc/v1{k}": v for k, v in new["paths"].items()}
    assert _diff(old, new) == []


def test_nullable_in_openapi_3_0():
    old, new = _doc(), _doc()
    for d in (old, new):
        d["openapi"] = "3.0.3"
    _item(new)["note"]["nullable"] = True
    assert _diff(old, new) == [("response-property-became-nullable", "error", GET)]


def test_all_of_parts_read_as_one_object():
    old, new = _doc(), _doc()
    for d in (old, new):
        base = d["components"]["schemas"]["Item"]
        d["components"]["schemas"]["Base"] = {"type": "object", "required": ["id"], "properties": {"id": base["properties"].pop("id")}}
        base["required"].remove("id")
        d["components"]["schemas"]["Item"] = {"allOf": [{"$ref": "#/components/schemas/Base"}, base]}
    new["components"]["schemas"]["Base"]["properties"]["id"]["type"] = "integer"
    assert _diff(old, new) == [("response-property-type-changed", "error", GET)]


def test_a_change_in_a_sibling_file_is_found_there_with_its_line():
    files_old, files_new = {}, {}
    for files, id_type in ((files_old, "string"), (files_new, "integer")):
        files["c/schemas.yaml"] = "Item:\n  type: object\n  required: [id]\n  properties:\n    id:\n      type: " \
                                  f"{id_type}\n"
    docs = []
    for files in (files_old, files_new):
        d = _doc()
        _get(d)["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "schemas.yaml#/Item"}
        docs.append(load_openapi("c/svc-v1.yaml", yaml.safe_dump(d, sort_keys=False), files.get))
    old, new = docs
    assert old.problems == [] and new.problems == []
    [change] = compare_openapi(old, new, TODAY)
    assert (change.rule, change.operation) == ("response-property-type-changed", GET)
    assert new.display(change.new) == "c/schemas.yaml" and new.line(change.new) == 6
    assert old.line(change.old) == 5


def test_lines_in_both_documents():
    old, new = _doc(), _doc()
    _item(new).pop("note")
    o, n = _load(old), _load(new)
    [change] = compare_openapi(o, n, TODAY)
    text_old = yaml.safe_dump(old, sort_keys=False).splitlines()
    text_new = yaml.safe_dump(new, sort_keys=False).splitlines()
    assert text_old[o.line(change.old) - 1].strip() == "note:"
    assert text_new[n.line(change.new) - 1].strip() == "properties:"  # where note was, in the new document


# -- reading ----------------------------------------------------------------------------------------------------

def _problems(text: str, files: dict[str, str] | None = None, rel: str = "c/svc-v1.yaml"):
    c = load_openapi(rel, text, lambda r: (files or {}).get(r))
    return [(p.rule, p.file, p.line, p.message) for p in c.problems]


def test_a_remote_ref_is_refused():
    d = _doc()
    _get(d)["responses"]["404"] = {"$ref": "https://schemas.example/errors.yaml#/NotFound"}
    [(rule, file, line, message)] = _problems(yaml.safe_dump(d, sort_keys=False))
    assert rule == "contract-ref-remote" and file == "c/svc-v1.yaml" and line is not None
    assert "points to another host; meshspec reads only local files" in message


def test_a_missing_sibling_file_is_one_error():
    d = _doc()
    _get(d)["responses"]["404"] = {"$ref": "errors.yaml#/NotFound"}
    [(rule, _, _, message)] = _problems(yaml.safe_dump(d, sort_keys=False))
    assert rule == "contract-ref-missing" and "the file c/errors.yaml cannot be read" in message


def test_a_ref_to_nothing_is_one_error():
    d = _doc()
    _get(d)["responses"]["404"] = {"$ref": "#/components/responses/Nope"}
    [(rule, _, _, message)] = _problems(yaml.safe_dump(d, sort_keys=False))
    assert rule == "contract-ref-missing" and "has no /components/responses/Nope" in message


def test_an_invalid_document_is_one_error_with_its_line():
    d = _doc()
    _item(d)["size"]["type"] = "int"
    text = yaml.safe_dump(d, sort_keys=False)
    [(rule, file, line, message)] = _problems(text)
    assert rule == "contract-openapi" and file == "c/svc-v1.yaml"
    assert text.splitlines()[line - 1].strip() == "type: int"
    assert message.startswith("not a valid OpenAPI 3.1 document: 'int' is not valid")


def test_an_undeclared_path_parameter_is_placed_on_its_operation():
    d = _doc()
    _get(d)["parameters"].pop(0)
    text = yaml.safe_dump(d, sort_keys=False)
    [(rule, _, line, message)] = _problems(text)
    assert rule == "contract-openapi" and "Path parameter 'id' for 'get' operation" in message
    assert text.splitlines()[line - 1].strip() == "get:"


def test_openapi_2_and_yaml_errors_are_refused():
    assert _problems("swagger: '2.0'\nopenapi: 2.0.0\n")[0][0] == "contract-openapi"
    [(rule, _, line, message)] = _problems("openapi: 3.1.0\ninfo: [\n")
    assert rule == "contract-yaml" and line == 3 and message.startswith("not valid YAML")
    [(rule, _, line, _)] = _problems('{"openapi": "3.1.0",}', rel="c/x.json")
    assert (rule, line) == ("contract-json", 1)


def test_json_documents_read_as_well():
    c = load_openapi("c/svc.json", json.dumps(_doc()), lambda r: None)
    assert c.problems == [] and sorted(o.key for o in c.operations.values()) == [GET, OTHER, PUT]


def test_a_contract_beside_the_spec_folder_refers_to_its_siblings():
    d = _doc()
    _get(d)["responses"]["404"] = {"$ref": "common.yaml#/NotFound"}
    files = {"../api/common.yaml": "NotFound:\n  description: no such item\n"}
    c = load_openapi("../api/svc-v1.yaml", yaml.safe_dump(d, sort_keys=False), files.get)
    assert c.problems == [] and "../api/common.yaml" in c.files


# -- robustness: the base document is not validated again, so odd values must not make the comparison raise ------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


_PLACES = [p for p in _paths(_doc()) if p]
_JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(_PLACES), _JUNK, st.booleans())
def test_no_odd_value_makes_the_comparison_raise(place, junk, on_old):
    odd = _doc()
    parent = odd
    for part in place[:-1]:
        parent = parent[part]
    parent[place[-1]] = junk
    odd_c = load_openapi("c/svc-v1.yaml", yaml.safe_dump(odd, sort_keys=False), lambda r: None, validate=False)
    good = _load(_doc())
    changes = compare_openapi(odd_c, good, TODAY) if on_old else compare_openapi(good, odd_c, TODAY)
    assert all(c.level in ("error", "warning", "info") for c in changes)


def test_a_validation_verdict_is_kept_on_disk_by_content(tmp_path, monkeypatch):
    from meshspec.infra.contracts import openapi

    monkeypatch.setenv("MESHSPEC_CACHE_DIR", str(tmp_path))
    d = _doc()
    d["info"]["version"] = "9.9.9-cache-test"
    _item(d)["size"]["type"] = "int"
    text = yaml.safe_dump(d, sort_keys=False)
    first = _problems(text)
    assert [p[0] for p in first] == ["contract-openapi"] and len(list((tmp_path / "openapi").iterdir())) == 1
    openapi._cached_first_error.cache_clear()  # as a new process would start

    def refuse(*args):
        raise AssertionError("validated again")

    monkeypatch.setattr(openapi, "_first_error", refuse)
    assert _problems(text) == first  # same verdict, same line, from the cache
    _item(d)["size"]["type"] = "integer"
    with pytest.raises(AssertionError, match="validated again"):
        _problems(yaml.safe_dump(d, sort_keys=False))  # changed content: validated anew


def test_problems_come_in_document_order():
    d = _doc()
    _get(d)["responses"]["404"] = {"$ref": "https://a.example/x.yaml#/A"}
    _put(d)["responses"]["204"] = {"$ref": "https://b.example/x.yaml#/B"}
    found = _problems(yaml.safe_dump(d, sort_keys=False))
    assert [p[3].split("'")[1] for p in found] == ["https://a.example/x.yaml#/A", "https://b.example/x.yaml#/B"]
    assert found[0][2] < found[1][2]


def test_a_ref_into_a_list_gives_the_line_of_the_item():
    d = _doc()
    d["paths"]["/other"]["get"]["parameters"] = [{"$ref": "#/paths/~1items~1{id}/get/parameters/1"}]
    c = _load(d)
    op = c.operations["GET /svc/v1/other"]
    param, where = c.deref(op.node["parameters"][0], Where(c.rel, ()))
    assert param["name"] == "q" and where.path == ("paths", "/items/{id}", "get", "parameters", 1)
    assert c.line(where) is not None and yaml.safe_dump(d, sort_keys=False).splitlines()[c.line(where) - 1].strip() \
        == "- name: q"


def test_scopes_of_mixed_types_in_an_unvalidated_base_do_not_raise():
    # found by the hypothesis test above: `security: [{oauth: [0, "read"]}]` made sorting the scopes raise
    odd = _doc()
    odd["security"] = [{"oauth": [0, "read"]}]
    odd_c = load_openapi("c/svc-v1.yaml", yaml.safe_dump(odd, sort_keys=False), lambda r: None, validate=False)
    changes = compare_openapi(odd_c, _load(_doc()), TODAY)
    assert all(c.level in ("error", "warning", "info") for c in changes)
