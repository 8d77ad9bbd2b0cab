"""Contract changes and their classification: one row per rule, plus the user-service case from the issue."""
from __future__ import annotations

import copy
import json

import pytest

from .conftest import EXAMPLES
from meshspec.infra.contracts import compare, parse_contract

RESP = "/properties/getUser/properties/response"
REQ = "/properties/getUser/properties/request"


def _base() -> dict:
    return json.loads((EXAMPLES / "contracts" / "user-service-v1.json").read_text())


def _contract(doc: dict, name: str = "c.json"):
    c = parse_contract(json.dumps(doc, indent=2), name)
    assert c.ok, c.problems
    return c


def _req(doc: dict) -> dict:
    return doc["properties"]["getUser"]["properties"]["request"]


def _resp(doc: dict) -> dict:
    return doc["properties"]["getUser"]["properties"]["response"]


def _classify(change) -> list[tuple[str, bool | None, str]]:
    old = _base()
    new = copy.deepcopy(old)
    change(new)
    return [(c.rule, c.breaking, c.pointer) for c in compare(_contract(old), _contract(new))]


def merge_names_and_rename_username(d):
    """The issue's case: firstName + lastName merged into name, username renamed to email."""
    r = _resp(d)
    r["properties"] = {"userId": {"type": "string"}, "name": {"type": "string"},
                       "email": {"type": "string", "format": "email"}}
    r["required"] = ["userId", "name", "email"]


def add_company(d):
    _resp(d)["properties"]["company"] = {"type": "string"}


def rename_username(d):
    r = _resp(d)
    r["properties"]["email"] = r["properties"].pop("username")
    r["required"] = ["userId", "firstName", "lastName", "email"]


def set_(path, value):
    def change(d):
        node = d
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return change


def chain(*changes):
    def change(d):
        for c in changes:
            c(d)
    return change


EP = ("properties", "getUser")
R = EP + ("properties", "request")
S = EP + ("properties", "response")
RP = R + ("properties",)
SP = S + ("properties",)

CASES = [
    # (id, change, expected (rule, breaking, pointer) list)
    ("user-service merge and rename", merge_names_and_rename_username, [
        ("field-removed", True, f"{RESP}/properties/firstName"),
        ("field-removed", True, f"{RESP}/properties/lastName"),
        ("field-removed", True, f"{RESP}/properties/username"),
        ("response-field-added", False, f"{RESP}/properties/name"),
        ("response-field-added", False, f"{RESP}/properties/email"),
    ]),
    ("company added to the response", add_company, [("response-field-added", False, f"{RESP}/properties/company")]),
    ("username renamed to email", rename_username, [("field-renamed", True, f"{RESP}/properties/email")]),
    ("response field type changed", set_(SP + ("userId",), {"type": "integer"}),
     [("type-changed", True, f"{RESP}/properties/userId/type")]),
    ("request field type changed", set_(RP + ("userId",), {"type": "integer"}),
     [("type-changed", True, f"{REQ}/properties/userId/type")]),
    ("response may now be null", set_(SP + ("userId",), {"type": ["string", "null"]}),
     [("type-changed", True, f"{RESP}/properties/userId/type")]),
    ("new required request field", chain(set_(RP + ("tenant",), {"type": "string"}),
                                         set_(R + ("required",), ["userId", "tenant"])),
     [("required-request-field-added", True, f"{REQ}/properties/tenant")]),
    ("optional request field added", set_(RP + ("fields",), {"type": "string"}),
     [("optional-request-field-added", False, f"{REQ}/properties/fields")]),
    ("request field removed", set_(R + ("properties",), {}),
     [("field-removed", True, f"{REQ}/properties/userId")]),
    ("request field made optional", set_(R + ("required",), []),
     [("request-field-made-optional", False, f"{REQ}/required")]),
    ("response field made optional", set_(S + ("required",), ["userId", "firstName", "lastName"]),
     [("response-field-made-optional", True, f"{RESP}/required")]),
    ("new endpoint", set_(("properties", "listUsers"), {
        "type": "object", "x-meshspec-endpoint": "GET /user-service/v1/users",
        "properties": {"request": {"type": "object"}, "response": {"type": "object"}}}),
     [("endpoint-added", False, "/properties/listUsers")]),
    ("endpoint removed", lambda d: d["properties"].__setitem__("other", d["properties"].pop("getUser")) or
     d["properties"]["other"].__setitem__("x-meshspec-endpoint", "GET /user-service/v1/people/{userId}"),
     [("endpoint-removed", True, "/properties/getUser"), ("endpoint-added", False, "/properties/other")]),
    ("endpoint path changed", set_(EP + ("x-meshspec-endpoint",), "GET /user-service/v1/people/{userId}"),
     [("endpoint-moved", True, "/properties/getUser/x-meshspec-endpoint")]),
    ("endpoint key renamed, same route", lambda d: d["properties"].__setitem__("fetchUser", d["properties"].pop("getUser")),
     [("endpoint-key-renamed", False, "/properties/fetchUser")]),
    ("allOf changed: a person must look", set_(SP + ("userId",), {"type": "string", "allOf": [{"minLength": 3}]}),
     [("unchecked-keyword", None, f"{RESP}/properties/userId/allOf")]),
    ("request now accepts extra fields: nothing breaks", lambda d: _req(d).pop("additionalProperties"), []),
]


@pytest.mark.parametrize("change,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classification(change, expected):
    assert _classify(change) == expected


def _enum_pair(side: str, old: list | None, new: list | None):
    a, b = _base(), _base()
    for doc, values in ((a, old), (b, new)):
        target = _req(doc) if side == "request" else _resp(doc)
        field = {"type": "string"} if values is None else {"type": "string", "enum": values}
        target["properties"]["kind"] = field
    return [(c.rule, c.breaking) for c in compare(_contract(a), _contract(b))]


@pytest.mark.parametrize("side,old,new,expected", [
    ("request", ["a", "b"], ["a"], [("request-enum-value-removed", True)]),
    ("request", ["a"], ["a", "b"], [("request-enum-value-added", False)]),
    ("request", None, ["a"], [("request-enum-added", True)]),
    ("response", ["a"], ["a", "b"], [("response-enum-value-added", True)]),
    ("response", ["a", "b"], ["a"], [("response-enum-value-removed", False)]),
    ("response", ["a"], None, [("response-enum-removed", True)]),
], ids=["request value taken away", "request value added", "request restricted", "response value added",
        "response value taken away", "response unrestricted"])
def test_enums(side, old, new, expected):
    assert _enum_pair(side, old, new) == expected


@pytest.mark.parametrize("side,old,new,expected", [
    ("request", {"type": "integer"}, {"type": "number"}, [("type-widened", False)]),
    ("response", {"type": "number"}, {"type": "integer"}, [("type-narrowed", False)]),
    ("response", {"type": "integer"}, {"type": "number"}, [("type-changed", True)]),
    ("request", {"type": "integer", "minimum": 1}, {"type": "integer", "minimum": 5},
     [("request-constraint-tightened", True)]),
    ("request", {"type": "string", "maxLength": 5}, {"type": "string"}, [("request-constraint-loosened", False)]),
    ("response", {"type": "string", "maxLength": 5}, {"type": "string"}, [("response-constraint-loosened", True)]),
    ("response", {"type": "string"}, {"type": "string", "format": "email"}, [("response-constraint-tightened", False)]),
    ("request", {"type": "string"}, {"type": "string", "pattern": "^[a-z]+$"}, [("request-constraint-tightened", True)]),
], ids=["request integer to number", "response number to integer", "response integer to number",
        "request minimum raised", "request maxLength dropped", "response maxLength dropped",
        "response format added", "request pattern added"])
def test_types_and_constraints(side, old, new, expected):
    a, b = _base(), _base()
    (_req(a) if side == "request" else _resp(a))["properties"]["n"] = old
    (_req(b) if side == "request" else _resp(b))["properties"]["n"] = new
    assert [(c.rule, c.breaking) for c in compare(_contract(a), _contract(b))] == expected


def test_request_refusing_extra_fields_is_breaking():
    a, b = _base(), _base()
    _req(a).pop("additionalProperties")
    assert [(c.rule, c.breaking) for c in compare(_contract(a), _contract(b))] == [
        ("request-additional-properties-refused", True)]


def test_nested_fields_and_refs_are_followed():
    """A field removed inside a $defs object is found, and its pointer names the definition."""
    def doc(fields):
        d = _base()
        d["$defs"] = {"address": {"type": "object", "properties": fields, "required": list(fields)}}
        _resp(d)["properties"]["address"] = {"$ref": "#/$defs/address"}
        return d
    old = doc({"city": {"type": "string"}, "zip": {"type": "string"}})
    new = doc({"city": {"type": "string"}})
    changes = compare(_contract(old), _contract(new))
    assert [(c.rule, c.breaking, c.pointer) for c in changes] == [
        ("field-removed", True, "/$defs/address/properties/zip")]
    assert changes[0].message == "response field 'address.zip' was removed"


def test_recursive_schema_terminates():
    d = _base()
    d["$defs"] = {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}}
    _resp(d)["properties"]["tree"] = {"$ref": "#/$defs/node"}
    assert compare(_contract(d), _contract(copy.deepcopy(d))) == []


def test_user_service_messages_name_the_fields():
    old, new = _base(), _base()
    merge_names_and_rename_username(new)
    messages = [c.message for c in compare(_contract(old), _contract(new)) if c.breaking]
    assert messages == ["response field 'firstName' was removed", "response field 'lastName' was removed",
                        "response field 'username' was removed"]
