"""The shop's A/B test synthesized: App Mesh routes and VPC Lattice listener rules per cohort, with header and cookie
matches in the declared priority before the major's weighted route (template assertions on the pricing stack)."""
from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from meshspec.infra.spec import load_spec_or_raise
from meshspec.stacks.app import build, new_app, synthesize

from .conftest import EXAMPLES, TODAY

STACK = "shop-svc-pricing"


def synth_pricing(tmp_path_factory, example: str) -> Template:
    spec = load_spec_or_raise(EXAMPLES / example, today=TODAY)
    result = synthesize(build(spec, new_app(str(tmp_path_factory.mktemp(example)), validation=False), only=[STACK]))
    return Template.from_json(result.stacks[STACK])


@pytest.fixture(scope="module")
def appmesh(tmp_path_factory) -> Template:
    return synth_pricing(tmp_path_factory, "shop.yaml")


@pytest.fixture(scope="module")
def lattice(tmp_path_factory) -> Template:
    return synth_pricing(tmp_path_factory, "shop-lattice.yaml")


def routes_by_name(t: Template) -> dict[str, dict]:
    return {r["Properties"]["RouteName"]: r["Properties"]["Spec"] for r in t.find_resources("AWS::AppMesh::Route").values()}


def test_app_mesh_routes_each_cohort_before_the_weights(appmesh):
    routes = routes_by_name(appmesh)
    # THEN one route per cohort, in the declared priority, then one per sticky version, then the major's weights
    assert sorted(routes, key=lambda n: routes[n]["Priority"]) == [
        "pricing-v1-testers-b", "pricing-v1-testers-a", "pricing-v1-sticky-p-41", "pricing-v1-sticky-p-42",
        "pricing-v1"]
    assert [routes[n]["Priority"] for n in sorted(routes, key=lambda n: routes[n]["Priority"])] == [0, 1, 2, 3, 4]
    testers = routes["pricing-v1-testers-b"]["HttpRoute"]
    assert testers["Match"] == {"Prefix": "/pricing/v1/", "Headers": [{"Name": "x-shop-cohort", "Invert": False,
                                                                      "Match": {"Exact": "b"}}]}
    (target,) = testers["Action"]["WeightedTargets"]
    assert target["Weight"] == 100 and "Nodep42" in str(target["VirtualNode"])
    sticky = routes["pricing-v1-sticky-p-41"]["HttpRoute"]
    assert sticky["Match"]["Headers"] == [{"Name": "cookie", "Invert": False,
                                           "Match": {"Regex": r"^(.*;\s*)?shop-ab=p-41(;.*)?$"}}]
    assert "Nodep41" in str(sticky["Action"]["WeightedTargets"][0]["VirtualNode"])
    # AND the major's own route is unchanged but for its priority
    assert routes["pricing-v1"]["HttpRoute"]["Match"] == {"Prefix": "/pricing/v1/"}
    assert [t["Weight"] for t in routes["pricing-v1"]["HttpRoute"]["Action"]["WeightedTargets"]] == [90, 10]


def test_every_task_names_the_cohort_cookie(appmesh):
    envs = [c.get("Environment", []) for td in appmesh.find_resources("AWS::ECS::TaskDefinition").values()
            for c in td["Properties"]["ContainerDefinitions"]]
    apps = [e for e in envs if {"Name": "MESHSPEC_VERSION", "Value": "p-41"} in e or
            {"Name": "MESHSPEC_VERSION", "Value": "p-42"} in e]
    assert len(apps) == 2
    assert all({"Name": "MESHSPEC_COHORT_COOKIE_V1", "Value": "shop-ab"} in e for e in apps)


def test_lattice_rules_match_headers_and_the_cookie_in_priority(lattice):
    rules = {r["Properties"]["Name"]: r["Properties"] for r in lattice.find_resources("AWS::VpcLattice::Rule").values()}
    ordered = sorted(rules, key=lambda n: rules[n]["Priority"])
    assert ordered == ["pricing-v1-testers-b", "pricing-v1-testers-a", "pricing-v1-sticky-p-41",
                       "pricing-v1-sticky-p-42", "pricing-v1"]
    assert [rules[n]["Priority"] for n in ordered] == [1, 2, 3, 4, 5]
    testers = rules["pricing-v1-testers-b"]
    assert testers["Match"]["HttpMatch"] == {
        "PathMatch": {"Match": {"Prefix": "/pricing/v1/"}, "CaseSensitive": True},
        "HeaderMatches": [{"Name": "x-shop-cohort", "Match": {"Exact": "b"}, "CaseSensitive": True}]}
    weights = {str(t["TargetGroupIdentifier"]): t["Weight"] for t in testers["Action"]["Forward"]["TargetGroups"]}
    assert sorted(weights.values()) == [0, 100]  # every version's group, the cohort's at 100 (runtime shifts need no new group)
    assert any("p42" in k.lower() and w == 100 for k, w in weights.items()), weights
    cookie = rules["pricing-v1-sticky-p-42"]["Match"]["HttpMatch"]["HeaderMatches"]
    assert cookie == [{"Name": "cookie", "Match": {"Contains": "shop-ab=p-42"}, "CaseSensitive": True}]
    assert "HeaderMatches" not in rules["pricing-v1"]["Match"]["HttpMatch"]


def test_lattice_auth_policy_is_per_path_not_per_rule(lattice):
    (policy,) = lattice.find_resources("AWS::VpcLattice::AuthPolicy").values()
    text = str(policy["Properties"]["Policy"])
    assert text.count("/pricing/v1/") == 1  # the cohort rules add no statement: callers are per major
