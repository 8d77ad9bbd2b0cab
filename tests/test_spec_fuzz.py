"""Property: whatever YAML comes in, the loader returns a model or spec errors, never another exception."""
from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshspec.infra.spec import load_text

from .conftest import SHOP, TODAY

SHOP_DATA = yaml.safe_load(SHOP.read_text())

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)


def check(text: str) -> None:
    result = load_text(text, file="fuzz.yaml", today=TODAY)
    assert (result.spec is not None) or result.errors
    for e in result.problems:
        assert e.render()  # every problem renders


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text(text):
    check(text)


@settings(max_examples=150, deadline=None)
@given(values)
def test_random_yaml_documents(doc):
    check(yaml.safe_dump(doc))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = [p for p in _paths(SHOP_DATA) if p]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), values, st.booleans()), min_size=1, max_size=3))
def test_mutated_example(mutations):
    data = copy.deepcopy(SHOP_DATA)
    for path, value, delete in mutations:
        node = data
        try:
            for part in path[:-1]:
                node = node[part]
            if delete:
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    check(yaml.safe_dump(data, default_flow_style=False))
