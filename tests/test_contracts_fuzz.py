"""Properties of the change classifier on generated message schemas: nothing changes against itself, adding
to a response never breaks, taking a field away always does, and no input makes it raise."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from meshspec.infra.contracts import compare, parse_contract

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
leaf = st.one_of(
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "integer", "number", "boolean"])),
    st.builds(lambda vs: {"type": "string", "enum": sorted(set(vs))}, st.lists(names, min_size=1, max_size=3)),
)


def _obj(props: dict) -> dict:
    return {"type": "object", "properties": props, "required": sorted(props)[: len(props) // 2]}


fields = st.recursive(leaf, lambda inner: st.one_of(
    st.dictionaries(names, inner, min_size=1, max_size=3).map(_obj),
    st.builds(lambda i: {"type": "array", "items": i}, inner)), max_leaves=8)
messages = st.dictionaries(names, fields, min_size=1, max_size=4).map(_obj)


def _contract(request: dict, response: dict):
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {
        "op": {"type": "object", "x-meshspec-endpoint": "POST /s/v1/op",
               "properties": {"request": request, "response": response}}}}
    c = parse_contract(json.dumps(doc), "c.json")
    assert c.ok, c.problems
    return c


@settings(max_examples=60, deadline=None)
@given(messages, messages)
def test_a_contract_against_itself_has_no_change(request, response):
    assert compare(_contract(request, response), _contract(request, response)) == []


@settings(max_examples=60, deadline=None)
@given(messages, messages, names, fields)
def test_adding_a_response_field_never_breaks(request, response, name, field):
    new = json.loads(json.dumps(response))
    if name in new["properties"]:
        return
    new["properties"][name] = field
    changes = compare(_contract(request, response), _contract(request, new))
    assert [(c.rule, c.breaking) for c in changes] == [("response-field-added", False)]


@settings(max_examples=60, deadline=None)
@given(messages, messages, st.sampled_from(["request", "response"]), st.data())
def test_removing_a_field_always_breaks(request, response, side, data):
    old = {"request": request, "response": response}
    new = json.loads(json.dumps(old))
    gone = data.draw(st.sampled_from(sorted(new[side]["properties"])))
    del new[side]["properties"][gone]
    new[side]["required"] = [r for r in new[side]["required"] if r != gone]
    changes = compare(_contract(**old), _contract(**new))
    assert any(c.breaking and c.rule in ("field-removed", "field-renamed") for c in changes)
    assert all(c.breaking is not False or c.rule == "request-field-made-optional" for c in changes)


@settings(max_examples=60, deadline=None)
@given(messages, messages, messages, messages)
def test_any_two_contracts_compare_without_error(r1, s1, r2, s2):
    for c in compare(_contract(r1, s1), _contract(r2, s2)):
        assert c.pointer.startswith("/") and c.message and (c.breaking in (True, False, None))
