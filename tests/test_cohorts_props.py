"""Cohort routes in the backend-neutral props (constructs_lib.mesh.base), App Mesh's routes and Lattice's binding:
each kind of match as the construct renders it, and the eager refusals a user of the constructs meets, each with
its message."""
from __future__ import annotations

import pytest

from meshspec.backends.lattice.constructs.binding import cohort_rules
from meshspec.constructs_lib.mesh.base import CohortRoute, MajorRoute, MeshServiceProps, PropsError


def props(*cohorts: CohortRoute, protocol: str = "http") -> MeshServiceProps:
    return MeshServiceProps(name="pricing", port=8080, versions=("a", "b"), protocol=protocol, majors=(
        MajorRoute("v1", "/pricing/v1/", {"a": 90, "b": 10}, cohorts=tuple(cohorts)),))


def test_fails_when_a_cohort_names_a_version_the_service_does_not_list():
    with pytest.raises(PropsError) as caught:
        props(CohortRoute("pricing-v1-x", "c", "x-cohort", "b"))
    assert str(caught.value) == ("majors['v1'].cohorts['pricing-v1-x'].version is 'c', which versions does not list "
                                 "(versions: ['a', 'b'])")


def test_fails_when_a_cookie_has_no_value_or_another_header():
    with pytest.raises(PropsError) as caught:
        props(CohortRoute("pricing-v1-x", "b", "x-cohort", "1", cookie="beta"))
    assert str(caught.value) == ("majors['v1'].cohorts['pricing-v1-x'] matches cookie 'beta' with header 'x-cohort' "
                                 "and value '1': a cookie is matched in the cookie header, with a value")


def test_fails_when_two_routes_share_a_name():
    with pytest.raises(PropsError) as caught:
        props(CohortRoute("pricing-v1", "b", "x-cohort", "b"))
    assert str(caught.value) == "routes of 'pricing' are named ['pricing-v1'] twice: route names are unique per service"


def test_lattice_rules_of_cohorts_and_the_refusal_of_a_presence_match():
    p = props(CohortRoute("pricing-v1-t", "b", "x-cohort", "b"),
              CohortRoute("pricing-v1-s", "a", "cookie", "a", cookie="shop-ab"))
    rules = cohort_rules(p, p.majors[0])
    assert [(r.name, r.path_prefix, dict(r.weights), r.header, r.cohort_match) for r in rules] == [
        ("pricing-v1-t", "/pricing/v1/", {"b": 100}, None, ("x-cohort", "exact", "b")),
        ("pricing-v1-s", "/pricing/v1/", {"a": 100}, None, ("cookie", "contains", "shop-ab=a"))]
    grpc = props(CohortRoute("pricing-v1-t", "b", "x-cohort", "b"), protocol="grpc")
    (rule,) = cohort_rules(grpc, grpc.majors[0])
    assert rule.header == ("content-type", "prefix", "application/grpc")  # the major's own match stays
    present = props(CohortRoute("pricing-v1-p", "b", "x-staff"))
    with pytest.raises(PropsError) as caught:
        cohort_rules(present, present.majors[0])
    assert str(caught.value) == "cohort pricing-v1-p: VPC Lattice matches a header's value, not whether x-staff is present"


# -- App Mesh: a route per cohort, each kind of match ---------------------------------------------------------------
def appmesh_routes(protocol: str, *cohorts: CohortRoute, majors: int = 1) -> dict[str, dict]:
    from tests.cdk_support import template
    from tests.test_cdk_mesh import meshed, pricing

    two = (MajorRoute("v1", "/pricing/v1/", {"p-41": 90, "p-42": 10}, cohorts=tuple(cohorts)),
           MajorRoute("v2", "/pricing/v2/", {"p-41": 0, "p-42": 100}))
    s, binding = meshed(pricing(protocol=protocol, majors=two[:majors]))
    assert set(binding.cohort_routes) == {c.name for c in cohorts}
    return {r["Properties"]["RouteName"]: r["Properties"]["Spec"]
            for r in template(s).find_resources("AWS::AppMesh::Route").values()}


def test_app_mesh_renders_a_header_value_a_present_header_and_a_cookie_before_the_major():
    routes = appmesh_routes("http", CohortRoute("pricing-v1-t", "p-42", "x-cohort", "b"),
                            CohortRoute("pricing-v1-staff", "p-42", "x-staff"),
                            CohortRoute("pricing-v1-beta", "p-41", "cookie", "yes", cookie="beta"))
    assert {n: r["Priority"] for n, r in routes.items()} == {"pricing-v1-t": 0, "pricing-v1-staff": 1,
                                                             "pricing-v1-beta": 2, "pricing-v1": 3}
    headers = {n: r["HttpRoute"]["Match"]["Headers"] for n, r in routes.items() if n != "pricing-v1"}
    assert headers == {
        "pricing-v1-t": [{"Name": "x-cohort", "Invert": False, "Match": {"Exact": "b"}}],
        # present: any value (Envoy fails a regex on an absent header)
        "pricing-v1-staff": [{"Name": "x-staff", "Invert": False, "Match": {"Regex": ".*"}}],
        "pricing-v1-beta": [{"Name": "cookie", "Invert": False, "Match": {"Regex": r"^(.*;\s*)?beta=yes(;.*)?$"}}]}
    assert all(r["HttpRoute"]["Match"]["Prefix"] == "/pricing/v1/" for r in routes.values())
    assert [len(r["HttpRoute"]["Action"]["WeightedTargets"]) for n, r in routes.items() if n != "pricing-v1"] == [1] * 3


def test_app_mesh_grpc_cohorts_keep_the_majors_header_and_http2_its_route_type():
    routes = appmesh_routes("grpc", CohortRoute("pricing-v1-t", "p-42", "x-cohort", "b"), majors=2)
    assert routes["pricing-v1-t"]["GrpcRoute"]["Match"]["Metadata"] == [
        {"Name": "x-api-major", "Invert": False, "Match": {"Exact": "v1"}},
        {"Name": "x-cohort", "Invert": False, "Match": {"Exact": "b"}}]
    assert routes["pricing-v1-t"]["Priority"] < routes["pricing-v1"]["Priority"]
    routes = appmesh_routes("http2", CohortRoute("pricing-v1-t", "p-42", "x-cohort", "b"))
    assert set(routes["pricing-v1-t"]) == {"Http2Route", "Priority"}


def test_match_and_priority_limits_are_out_of_reach_once_routes_are_counted():
    """validate counts routes per router and rules per listener (test_cohorts_spec.py); at those counts, a gRPC
    service's cohort routes (the major's header and the cohort's: the most matches one carries) stay within each
    backend's matches per route and priority range."""
    from meshspec.backends.appmesh import quotas as mq
    from meshspec.backends.lattice import quotas as lq

    def cohorts(n: int, version: str) -> tuple[CohortRoute, ...]:
        return tuple(CohortRoute(f"pricing-v1-c{i}", version, "x-cohort", f"v{i}") for i in range(n))

    # App Mesh: two majors and 48 cohorts fill a router
    routes = appmesh_routes("grpc", *cohorts(mq.ROUTES_PER_ROUTER - 2, "p-42"), majors=2)
    assert len(routes) == mq.ROUTES_PER_ROUTER
    assert max(len(r["GrpcRoute"]["Match"]["Metadata"]) for r in routes.values()) == 2 <= mq.MATCHES_PER_ROUTE
    assert max(r["Priority"] for r in routes.values()) == mq.ROUTES_PER_ROUTER - 1 <= mq.PRIORITY_MAX
    # VPC Lattice: a listener's rules get priorities 1..n; a cohort rule matches the gRPC header and its own
    p = props(*cohorts(lq.RULES_PER_LISTENER - 1, "b"), protocol="grpc")
    rules = cohort_rules(p, p.majors[0])
    assert {(r.header is not None) + (r.cohort_match is not None) for r in rules} == {2}
    assert 2 <= lq.MATCHES_PER_RULE and lq.RULES_PER_LISTENER <= lq.PRIORITY_MAX
