"""Stack layout at scale: stable under any sequence of added and removed services, and every stack under
CloudFormation's quotas at 500 services (estimates; tests/test_stack_quotas.py ties them to real templates)."""
from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshspec.infra import sharding
from meshspec.infra.spec import load_text
from meshspec.infra.spec import quotas as q
from meshspec.infra.spec.stack_quotas import estimate

from .conftest import ROOT, TODAY

sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_spec import generate  # noqa: E402

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
OPS = st.lists(st.tuples(st.sampled_from(["add", "remove"]), NAMES, st.sampled_from(["catalog", "recommendations"])),
               max_size=40)


def with_services(spec, names: dict[str, str]):
    """The spec with exactly these services (name → the example service it copies: ECS or EKS)."""
    template = spec.services
    return spec.model_copy(update={"services": {n: template[src] for n, src in names.items()}})


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_adding_or_removing_services_never_moves_another(shop_spec, ops):
    current = {n: n for n in shop_spec.aws_services()}
    before = sharding.placement(with_services(shop_spec, current))
    for op, name, src in ops:
        if op == "add":
            current.setdefault(name, src)
        else:
            current.pop(name if name in current else next(iter(current), name), None)
        spec = with_services(shop_spec, current)
        after = sharding.placement(spec)
        assert {s: after[s] for s in before if s in after} == {s: before[s] for s in before if s in after}
        stacks = [s for s in sharding.layout(spec) if s.kind == "service"]
        assert all(len(s.services) == 1 for s in stacks)
        assert len({s.name for s in sharding.layout(spec)}) == len(sharding.layout(spec))  # names never clash
        before = after


@pytest.fixture(scope="module")
def bench500():
    """benchmarks/gen_spec.py's 500 services. App Mesh's 200 virtual nodes per mesh refuse it (correctly); the
    loader still returns the spec, and CloudFormation's quotas must not be what refuses it."""
    result = load_text(generate(500), file="bench500.yaml", today=TODAY)
    assert {e.code for e in result.errors} == {"quota-appmesh"}
    return result.spec


def test_500_services_layout_and_estimates(bench500):
    layout = sharding.layout(bench500)
    assert len([s for s in layout if s.kind == "service"]) == 500
    assert len(layout) == 500 + 1 + 2  # shared, two clusters, no shared queries
    for e in estimate(bench500):
        assert e.resources < q.CFN_RESOURCES_PER_STACK and e.outputs < q.CFN_OUTPUTS_PER_STACK
        assert e.template_bytes < q.CFN_TEMPLATE_BYTES and e.parameters < q.CFN_PARAMETERS_PER_STACK
    # cross-stack references: a service stack depends on the shared stack and its cluster's stack only
    assert {len(s.depends_on) for s in layout if s.kind == "service"} == {2}


def test_layout_says_what_each_stack_holds_and_depends_on(shop_spec):
    by_name = {s.name: s for s in sharding.layout(shop_spec)}
    assert list(by_name) == ["shop-shared", "shop-core", "shop-ml", "shop-svc-catalog", "shop-svc-pricing",
                             "shop-svc-erp-connector", "shop-svc-recommendations", "shop-queries"]
    assert by_name["shop-svc-recommendations"].depends_on == ("shop-shared", "shop-ml")
    assert by_name["shop-queries"].services == ("catalog", "pricing")
    assert by_name["shop-queries"].depends_on == ("shop-svc-catalog", "shop-svc-pricing")


def test_partial_synth_writes_the_stacks_a_service_feeds_and_what_they_need(shop_spec):
    # pricing's stack, catalog's (it calls pricing), erp-connector's (pricing calls it: its auth policy on
    # Lattice), the queries stack (a shared query reads pricing's log group), and what they depend on
    assert sharding.fed_by(shop_spec, ["pricing"]) == ["shop-svc-catalog", "shop-svc-pricing", "shop-svc-erp-connector",
                                                       "shop-queries"]
    assert sharding.for_services(shop_spec, ["recommendations"]) == [
        "shop-shared", "shop-core", "shop-ml", "shop-svc-catalog", "shop-svc-recommendations"]


def test_a_view_holds_only_what_its_stack_reads(shop_spec):
    views = sharding.views(shop_spec)
    catalog = views["shop-svc-catalog"].spec
    # itself, what it uses, and who uses it (web-app, on App Engine: Lattice's auth policy admits AWS callers only)
    assert list(catalog.services) == ["catalog", "pricing", "recommendations", "web-app"]
    assert catalog.services["web-app"].uses == ["catalog/v1"] and catalog.services["web-app"].cluster is None
    assert catalog.services["pricing"].port == 8080
    with pytest.raises(AttributeError, match="image|versions"):
        catalog.services["pricing"].versions  # noqa: B018: a neighbour's versions feed no other stack
    assert [c.name for c in catalog.aws.clusters] == ["core"]
    with pytest.raises(AttributeError, match="not among this stack's inputs"):
        views["shop-shared"].spec.services.items()
    with pytest.raises(AttributeError, match="not among this stack's inputs"):
        views["shop-core"].spec.defaults.tracing
    assert views["shop-shared"].facts == {"meshed": True}
    assert views["shop-ml"].facts == {}  # App Mesh: the cluster opens no ports to Lattice


def test_inputs_change_only_where_a_view_changes(shop_spec):
    before = sharding.inputs(shop_spec)
    svc = shop_spec.services["erp-connector"]
    moved = shop_spec.model_copy(update={"services": {**shop_spec.services,
                                                     "erp-connector": svc.model_copy(update={"cpu": 512})}})
    after = sharding.inputs(moved)
    assert [s for s in after if after[s] != before[s]] == ["shop-svc-erp-connector"]
    cluster = shop_spec.aws.clusters[0].model_copy(update={"container_insights": "on"})
    aws = shop_spec.aws.model_copy(update={"clusters": [cluster, *shop_spec.aws.clusters[1:]]})
    after = sharding.inputs(shop_spec.model_copy(update={"aws": aws}))
    # the core cluster's stack, the shared stack (its clusters change it: EKS tags its subnets) and the stacks
    # built against core; not ml's stack nor its services' (they are built against the shared stack's own view)
    assert [s for s in after if after[s] != before[s]] == [
        "shop-shared", "shop-core", "shop-svc-catalog", "shop-svc-pricing", "shop-svc-erp-connector"]


def test_a_workers_part_holds_the_views_its_stacks_read_and_no_other(shop_spec):
    import pickle

    views = sharding.views(shop_spec)
    # a service stack: the shared stack, its own cluster (not ml), itself; not the other services' stacks
    part = sharding.part(shop_spec, ["shop-svc-pricing"], views)
    assert list(part.views) == ["shop-shared", "shop-core", "shop-svc-pricing"]
    assert [s.name for s in part.layout] == [s.name for s in sharding.layout(shop_spec)]  # the whole layout
    # the shared stack is built against every cluster (they change its template)
    assert list(sharding.part(shop_spec, ["shop-shared"], views).views) == ["shop-shared", "shop-core", "shop-ml"]
    assert list(sharding.part(shop_spec, ["shop-queries"]).views) == ["shop-shared", "shop-queries"]
    # computed alone (``views(only=...)``) or taken from every view: the same views
    alone = sharding.part(shop_spec, ["shop-svc-pricing"])
    assert {n: sharding.canonical(v) for n, v in alone.views.items()} == {
        n: sharding.canonical(v) for n, v in part.views.items()}
    # it crosses to a worker by pickle, and what a view leaves out still refuses there
    back = pickle.loads(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    assert {n: sharding.canonical(v) for n, v in back.views.items()} == {
        n: sharding.canonical(v) for n, v in part.views.items()}
    catalog = back.views["shop-svc-pricing"].spec.services["catalog"]  # pricing's caller: a neighbour
    assert catalog.uses == ["pricing/v1"]
    with pytest.raises(AttributeError, match="not among this stack's inputs"):
        catalog.versions  # noqa: B018
    with pytest.raises(AttributeError, match="not among this stack's inputs"):
        back.views["shop-shared"].spec.services.items()
