"""The stacks built from the shop example and from a 100-service spec; stable sharding (GIVEN / WHEN / THEN)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import naming, sharding
from infra.errors import UserError
from infra.spec import quotas
from stacks.app import build, new_app, synthesize
from stacks.limits import StackSize, size
from stacks.shared import APPMESH_WARNING_ID
from tests.cdk_support import big_spec_text, load


@pytest.fixture(scope="module")
def shop(shop_spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("shop")
    built = build(shop_spec, new_app(str(out), validation=False))
    return built, synthesize(built)


@pytest.fixture(scope="module")
def hundred(tmp_path_factory):
    # GIVEN 100 meshed services of two code versions each on one ECS cluster
    spec = load(big_spec_text(100))
    out = tmp_path_factory.mktemp("big")
    # WHEN synthesized (once for the module)
    built = build(spec, new_app(str(out), validation=False))
    return spec, built, synthesize(built)


def test_shop_has_a_shared_stack_a_stack_per_cluster_and_sharded_service_stacks(shop):
    built, result = shop
    names = set(result.stacks)
    assert {"shop-shared", "shop-core", "shop-ml"} <= names
    services = {n for n in names if "-services-" in n}
    assert services == {naming.stack_services("shop", c, sharding.slot(s))
                        for s, c in (("catalog", "core"), ("pricing", "core"), ("erp-connector", "core"),
                                     ("recommendations", "ml"))}
    assert built.placement["pricing"] == naming.stack_services("shop", "core", sharding.slot("pricing"))
    assert "shop-queries" in names  # slow-checkouts spans catalog and pricing


def test_environment_comes_from_the_spec_without_lookups(shop):
    _, result = shop
    manifest = json.loads((Path(result.directory) / "manifest.json").read_text())
    envs = {a["environment"] for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    assert envs == {"aws://111122223333/eu-west-1"}
    assert "missing" not in manifest  # no context lookups were needed
    subnets = [r["Properties"]["AvailabilityZone"] for r in result.stacks["shop-shared"]["Resources"].values()
               if r["Type"] == "AWS::EC2::Subnet"]
    assert sorted(set(subnets)) == ["eu-west-1a", "eu-west-1b"]


def test_app_mesh_end_of_support_is_one_warning(shop):
    _, result = shop
    mesh = [w for w in result.warnings if "App Mesh" in w]
    assert len(mesh) == 1
    assert "2026-09-30" in mesh[0] and "service-connect" in mesh[0] and "lattice" in mesh[0]
    assert APPMESH_WARNING_ID in mesh[0]


def test_a_use_outside_the_mesh_is_warned_about(shop):
    _, result = shop
    assert any("recommendations uses user-service/v2 outside the mesh" in w for w in result.warnings)


def test_resource_names_follow_infra_naming(shop):
    _, result = shop
    res = [r for t in result.stacks.values() for r in t["Resources"].values()]
    nodes = {r["Properties"]["VirtualNodeName"] for r in res if r["Type"] == "AWS::AppMesh::VirtualNode"}
    assert nodes == {naming.virtual_node(s, v) for s, v in (("catalog", "c-2026-11"), ("pricing", "p-41"),
                                                            ("pricing", "p-42"), ("erp-connector", "e-7"),
                                                            ("recommendations", "r-3"))}
    routers = {r["Properties"]["VirtualRouterName"] for r in res if r["Type"] == "AWS::AppMesh::VirtualRouter"}
    assert naming.virtual_router("pricing") in routers
    routes = {r["Properties"]["RouteName"] for r in res if r["Type"] == "AWS::AppMesh::Route"}
    assert naming.route("pricing", "v1") in routes
    groups = {r["Properties"].get("LogGroupName") for r in res if r["Type"] == "AWS::Logs::LogGroup"}
    assert naming.log_group("shop", "catalog") in groups


def test_app_engine_services_get_no_aws_resources(shop):
    _, result = shop
    text = json.dumps(result.stacks)
    assert "user-service-apple" not in text and "web-app" not in text


def test_pricing_routes_carry_the_spec_weights(shop):
    _, result = shop
    (route,) = [r for t in result.stacks.values() for r in t["Resources"].values()
                if r["Type"] == "AWS::AppMesh::Route" and r["Properties"]["RouteName"] == "pricing-v1"]
    assert [t["Weight"] for t in route["Properties"]["Spec"]["HttpRoute"]["Action"]["WeightedTargets"]] == [90, 10]


def test_kubernetes_manifests_are_written_for_the_eks_service(shop):
    _, result = shop
    (path,) = result.manifests
    assert path.endswith("recommendations.json")


def test_100_services_synthesize_into_stacks_within_cloudformation_limits(hundred):
    spec, built, result = hundred
    # THEN every service has a stack, and no stack is near a CloudFormation limit
    assert set(built.placement) == set(spec.services)
    for name, t in result.stacks.items():
        s = size(name, t)
        assert s.problems() == []
        assert s.resources <= quotas.CFN_RESOURCES_PER_STACK * 0.8, s
    assert len([n for n in result.stacks if "-services-" in n]) == len(sharding.assign(spec.services))


def test_limits_name_the_stack_and_the_limit():
    s = StackSize("big-core-services-01", resources=612, outputs=3, parameters=1, template_bytes=1_200_000)
    assert s.problems() == ["big-core-services-01 has 612 resources; CloudFormation allows 500",
                            "big-core-services-01 has 1200000 template bytes; CloudFormation allows 1000000"]


def test_fails_when_a_shard_overflows(tmp_path):
    # GIVEN 30 services forced into one slot / WHEN synthesized / THEN meshspec refuses and says what to do
    spec = load(big_spec_text(30))
    with pytest.raises(UserError, match="Number of resources in stack 'big-core-services-00': [0-9]{3} is greater than "
                                        "allowed maximum of 500") as exc:
        synthesize(build(spec, new_app(str(tmp_path), validation=False), slots=1))
    assert "SLOTS" in exc.value.hint


def test_fails_when_the_spec_has_no_aws_section():
    spec = load("apiVersion: meshspec/v1\nproject: p\ngcp: {project: proj-12345, location: europe-west}\n"
                "services:\n  a:\n    appengine: {environment: standard, runtime: python312, defaultService: true}\n"
                "    majors: {v1: {contract: c.json}}\n    versions: [{name: x, source: gs://b/x.zip, traffic: 100}]\n")
    with pytest.raises(UserError, match="the spec has no aws section"):
        build(spec, new_app(validation=False))


# -- sharding: pure and stable --------------------------------------------------------------------------------
names = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), unique=True, max_size=60)


@settings(max_examples=50, deadline=None)
@given(names, st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))
def test_adding_or_removing_a_service_never_moves_another(existing, extra):
    before = {n: s for s, members in sharding.assign(existing).items() for n in members}
    after = {n: s for s, members in sharding.assign(existing + [extra]).items() for n in members}
    removed = {n: s for s, members in sharding.assign(existing[1:]).items() for n in members}
    assert all(after[n] == before[n] for n in existing)
    assert all(removed[n] == before[n] for n in existing[1:])


def test_slot_is_a_fixed_function_of_the_name():
    # pinned values: a change here would move services between stacks in users' accounts
    assert [sharding.slot(n) for n in ("catalog", "pricing", "erp-connector", "recommendations")] == [27, 27, 30, 22]
    assert sharding.slot("pricing") == int.from_bytes(__import__("hashlib").sha256(b"pricing").digest()[:8], "big") % 32


def test_only_non_empty_slots_become_stacks():
    assigned = sharding.assign(["a", "b", "c"])
    assert all(assigned.values()) and sum(len(v) for v in assigned.values()) == 3


def test_fails_when_slots_is_zero():
    with pytest.raises(ValueError, match="slots must be at least 1, got 0"):
        sharding.slot("a", 0)
