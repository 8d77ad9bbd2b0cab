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


# -- hostile YAML: anchors, aliases, merges, tags, binary and very long scalars, deep nesting -------------------------
# Every run ends in a model or spec errors (never another exception) within 2 s; examples are bounded so the
# suite stays fast.

import time  # noqa: E402

from meshspec.infra.spec.yamlpos import LIMITS  # noqa: E402

RUNS: list[float] = []


def timed_check(text: str) -> None:
    start = time.perf_counter()
    check(text)
    took = time.perf_counter() - start
    RUNS.append(took)
    assert took < 2.0, took


names = st.sampled_from(["a", "b", "c", "base", "x"])
tags = st.sampled_from(["", "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!!binary ", "!custom ",
                        "!!python/object/apply:os.system ", "!!map ", "!!seq ", "!!set ", "!!merge "])
plain = st.sampled_from(["1", "0123", "1.10", "true", "~", "yes", "x", "''", '"q"', "[]", "{}", "0x1F", ".inf"])


@st.composite
def hostile_fragment(draw, depth=0):
    kind = draw(st.sampled_from(["scalar", "anchor", "alias", "merge", "list", "map", "deep", "long", "binary"]
                                if depth < 3 else ["scalar", "alias", "long", "binary"]))
    if kind == "scalar":
        return draw(tags) + draw(plain)
    if kind == "anchor":
        return f"&{draw(names)} " + draw(hostile_fragment(depth + 1))
    if kind == "alias":
        return f"*{draw(names)}"
    if kind == "merge":
        return "{<<: " + draw(st.sampled_from([f"*{draw(names)}", f"[*{draw(names)}, *{draw(names)}]", "3"])) \
            + ", k: " + draw(hostile_fragment(depth + 1)) + "}"
    if kind == "list":
        items = draw(st.lists(hostile_fragment(depth + 1), max_size=4))
        return draw(tags.filter(lambda t: t in ("", "!!seq ", "!!set "))) + "[" + ", ".join(items) + "]"
    if kind == "map":
        items = draw(st.lists(st.tuples(names, hostile_fragment(depth + 1)), max_size=4))
        return draw(tags.filter(lambda t: t in ("", "!!map ", "!custom "))) \
            + "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if kind == "deep":
        n = draw(st.sampled_from([10, 63, 64, 65, 300, 5000]))
        return "[" * n + "]" * n
    if kind == "long":
        n = draw(st.sampled_from([1000, LIMITS.scalar_chars, LIMITS.scalar_chars + 1]))
        return '"' + "x" * n + '"'
    return '"' + draw(st.binary(max_size=40)).decode("latin-1").encode("unicode_escape").decode("ascii") \
        .replace('"', '\\"') + '"'


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(st.lists(st.tuples(names, hostile_fragment()), min_size=1, max_size=5))
def test_hostile_documents(pairs):
    timed_check("".join(f"{k}{i}: {v}\n" for i, (k, v) in enumerate(pairs)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_PATHS[:60]), hostile_fragment())
def test_hostile_values_inside_the_example(path, fragment):
    # the shop with one value replaced by a hostile fragment, and anchors to alias at the top
    data = copy.deepcopy(SHOP_DATA)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = "@@FRAGMENT@@"
    head = "x-a: &a {cpu: 512}\nx-b: &b [1, 2]\nx-c: &c x\nx-base: &base {k: v}\nx-x: &x 1\n"
    text = head + yaml.safe_dump(data, default_flow_style=False).replace("'@@FRAGMENT@@'", fragment)
    timed_check(text)


def test_binary_bytes_as_a_file(tmp_path):
    # raw bytes, not text: every one is refused with a position or read as YAML, never a traceback
    from meshspec.infra.spec import load_spec

    for i, blob in enumerate([bytes(range(256)), b"\xff\xfe\x00a", b"a: \x00\n", b"\xef\xbb\xbfa: 1\r\n"]):
        spec = tmp_path / f"b{i}.yaml"
        spec.write_bytes(blob)
        result = load_spec(spec, today=TODAY)
        assert result.errors and all(e.line is not None for e in result.errors if e.code in ("not-utf8", "yaml-syntax"))


def test_the_fuzz_ran_and_stayed_fast():
    # after the property tests above (pytest runs a module's tests in file order): how many runs, how slow
    assert len(RUNS) >= 150, len(RUNS)
    assert max(RUNS) < 2.0
    print(f"hostile fuzz: {len(RUNS)} runs, slowest {max(RUNS):.3f} s")  # shown with pytest -s
