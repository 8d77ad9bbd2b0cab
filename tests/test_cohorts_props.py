"""Cohort routes in the backend-neutral props (constructs_lib.mesh.base) and Lattice's binding: the eager refusals a
user of the constructs meets, each with its message."""
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
