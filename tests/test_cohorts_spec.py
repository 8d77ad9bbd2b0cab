"""A/B cohorts in the spec: the routes they become, and every refusal with its message (issue #20)."""
from __future__ import annotations

import copy
import json

import pytest

from meshspec.infra.spec import load_spec
from meshspec.infra.spec import cohorts as C
from meshspec.infra.spec.loader import load_text

from .conftest import EXAMPLES, TODAY

TESTERS = {"name": "testers", "priority": 1, "header": "x-cohort", "value": "b", "version": "p-42"}


def doc(backend: str = "appmesh", cohorts=(TESTERS,), sticky: dict | None = None, protocol: str = "http",
        weights=(90, 10)) -> dict:
    """pricing runs p-41 and p-42 side by side on ECS, with the cohorts given on its v1."""
    major = {"contract": "p.json"}
    if cohorts:
        major["cohorts"] = [dict(c) for c in cohorts]
    if sticky is not None:
        major["sticky"] = sticky
    return {
        "apiVersion": "meshspec/v1", "project": "shop",
        "aws": {"region": "eu-west-1", "clusters": [{"name": "core", "platform": "ecs"}],
                "mesh": {"backend": backend}},
        "services": {"pricing": {
            "cluster": "core", "protocol": protocol, "majors": {"v1": major},
            "versions": [{"name": "p-41", "image": "img:41", "traffic": weights[0]},
                         {"name": "p-42", "image": "img:42", "traffic": weights[1]}]}},
    }


def on_appengine(d: dict) -> dict:
    """The same service on App Engine (the default service, standard environment, cookie split)."""
    d = copy.deepcopy(d)
    svc = d["services"]["pricing"]
    del svc["cluster"], svc["protocol"]
    svc["appengine"] = {"environment": "standard", "runtime": "python312", "defaultService": True}
    for v in svc["versions"]:
        v["source"] = f"gs://shop-builds/{v.pop('image').replace(':', '-')}.zip"
    d["gcp"] = {"project": "shop-prod-4711", "location": "europe-west"}
    del d["aws"]
    return d


def check(d: dict):
    return load_text(json.dumps(d), file="spec.yaml", today=TODAY)


def errors(result, code: str | None = None):
    found = [e for e in result.problems if e.severity == "error" and (code is None or e.code == code)]
    return found


def one(result, code: str):
    found = errors(result, code)
    assert len(found) == 1, [e.render() for e in result.problems]
    return found[0]


# -- the routes -------------------------------------------------------------------------------------------------
def test_cohorts_are_matched_by_priority_then_the_sticky_routes_longest_version_first():
    d = doc(cohorts=[{**TESTERS, "name": "second", "priority": 7, "value": "a", "version": "p-41"},
                     {**TESTERS, "priority": 3},
                     {"name": "staff", "priority": 5, "header": "X-Staff", "version": "p-42"}],
            sticky={"cookie": "shop-ab"})
    d["services"]["pricing"]["versions"][0]["name"] = "p-4"
    d["services"]["pricing"]["majors"]["v1"]["cohorts"][0]["version"] = "p-4"
    r = check(d)
    assert r.ok, [e.render() for e in r.problems]
    got = [(x.name, x.kind, x.field, x.value, x.version, x.sticky) for x in C.routes(r.spec.services["pricing"], "v1")]
    assert got == [("testers", "header", "x-cohort", "b", "p-42", False),
                   ("staff", "header-present", "x-staff", None, "p-42", False),  # header names in lower case
                   ("second", "header", "x-cohort", "a", "p-4", False),
                   ("sticky-p-42", "cookie", "shop-ab", "p-42", "p-42", True),   # p-42 before p-4
                   ("sticky-p-4", "cookie", "shop-ab", "p-4", "p-4", True)]
    assert C.route_count(r.spec.services["pricing"]) == 5


def test_sticky_routes_only_versions_that_take_traffic():
    r = check(doc(cohorts=(), sticky={"cookie": "shop-ab"}, weights=(100, 0)))
    assert [x.name for x in C.routes(r.spec.services["pricing"], "v1")] == ["sticky-p-41"]


def test_the_cookie_regex_matches_the_cookie_among_others_and_nothing_longer():
    import re

    from meshspec.backends.appmesh.names import cookie_regex

    rx = re.compile(cookie_regex("shop-ab", "p-42"))
    assert rx.fullmatch("shop-ab=p-42") and rx.fullmatch("a=1; shop-ab=p-42; b=2") and rx.fullmatch("a=1;shop-ab=p-42")
    assert not rx.fullmatch("shop-ab=p-421") and not rx.fullmatch("xshop-ab=p-42") and not rx.fullmatch("shop-ab=p.42")
    assert cookie_regex("a.b", "x+y") == r"^(.*;\s*)?a\.b=x\+y(;.*)?$"


def test_a_value_may_be_a_number():
    r = check(doc(cohorts=[{**TESTERS, "value": 1}]))
    assert r.ok and r.spec.services["pricing"].majors["v1"].cohorts[0].value == "1"


# -- the example ------------------------------------------------------------------------------------------------
def test_the_shop_example_runs_an_ab_test_on_pricing():
    r = load_spec(EXAMPLES / "shop.yaml", today=TODAY)
    assert r.ok
    svc = r.spec.services["pricing"]
    assert [(x.name, x.describe(), x.version) for x in C.routes(svc, "v1")] == [
        ("testers-b", "header x-shop-cohort = b", "p-42"), ("testers-a", "header x-shop-cohort = a", "p-41"),
        ("sticky-p-41", "cookie shop-ab = p-41", "p-41"), ("sticky-p-42", "cookie shop-ab = p-42", "p-42")]
    assert C.sticky_cookies(svc) == {"v1": "shop-ab"}


# -- refusals on every platform ---------------------------------------------------------------------------------
def test_fails_when_a_cohort_names_an_unknown_version():
    e = one(check(doc(cohorts=[{**TESTERS, "version": "p-43"}])), "unknown-version")
    assert e.key_path == "services.pricing.majors.v1.cohorts[0].version"
    assert e.message == "version 'p-43' is not a version of pricing"
    assert e.allowed == "p-41, p-42" and e.hint == "did you mean 'p-42'?"


@pytest.mark.parametrize("cohort, given", [
    ({"name": "x", "priority": 1, "version": "p-42"}, "neither header nor cookie"),
    ({"name": "x", "priority": 1, "header": "x-a", "cookie": "c", "value": "1", "version": "p-42"},
     "both header and cookie")])
def test_fails_when_a_cohort_matches_neither_or_both(cohort, given):
    e = one(check(doc(cohorts=[cohort])), "cohort-match")
    assert e.message == "a cohort matches either a header or a cookie" and e.given == given


def test_fails_when_a_cookie_cohort_has_no_value():
    e = one(check(doc(cohorts=[{"name": "x", "priority": 1, "cookie": "beta", "version": "p-42"}])), "cohort-match")
    assert e.key_path == "services.pricing.majors.v1.cohorts[0].cookie"
    assert e.message == "a cookie cohort needs the cookie's value"


def test_fails_when_the_cookie_header_is_matched_as_a_header():
    e = one(check(doc(cohorts=[{**TESTERS, "header": "Cookie"}])), "cohort-match")
    assert e.message == "cookies are matched by name: use cookie: NAME with value: VALUE"


def test_fails_when_a_header_value_has_an_outer_space():
    e = one(check(doc(cohorts=[{**TESTERS, "value": " b"}])), "cohort-value")
    assert e.message == "' b' cannot be matched as visible ASCII characters and inner spaces"


def test_fails_on_service_connect_with_a_cookie_cohort():
    cookie = {"name": "c", "priority": 1, "cookie": "beta", "value": "yes", "version": "p-41"}
    e = one(check(doc("service-connect", cohorts=[cookie], weights=(100, 0))), "backend-unsupported")
    assert e.message == ("ECS Service Connect cannot match a cookie: it cannot send the requests with cookie beta = yes "
                         "to one version")


def test_fails_when_a_cookie_value_holds_a_semicolon():
    e = one(check(doc(cohorts=[{"name": "x", "priority": 1, "cookie": "c", "value": "a;b", "version": "p-42"}])),
            "cohort-value")
    assert e.message.startswith("'a;b' cannot be matched as a cookie value")


def test_fails_when_two_cohorts_share_a_priority_or_a_name():
    r = check(doc(cohorts=[TESTERS, {**TESTERS, "value": "c"}]))
    assert one(r, "cohort-priority").message == ("priority 1 is already taken by cohorts[0]: the order of the two "
                                                  "would be undefined")
    assert one(r, "cohort-name").message == "cohort 'testers' is already defined at cohorts[0]"


def test_fails_when_a_cohort_takes_the_sticky_routes_names():
    e = one(check(doc(cohorts=[{**TESTERS, "name": "sticky-b"}])), "cohort-name")
    assert e.message == "cohort names starting with 'sticky-' are meshspec's (the routes of the sticky cookie)"


def test_fails_when_an_earlier_cohort_catches_a_later_ones_requests():
    present = {"name": "any", "priority": 1, "header": "x-cohort", "version": "p-41"}
    e = one(check(doc(cohorts=[present, {**TESTERS, "priority": 2}])), "cohort-shadowed")
    assert e.key_path == "services.pricing.majors.v1.cohorts[1]"
    assert e.message == ("cohort testers (header x-cohort = b) is never reached: cohort any (header x-cohort present) "
                         "comes first and catches its requests")


def test_fails_when_a_cohort_catches_the_sticky_cookies_holders():
    grab = {"name": "grab", "priority": 1, "cookie": "shop-ab", "value": "p-42", "version": "p-41"}
    e = one(check(doc(cohorts=[grab], sticky={"cookie": "shop-ab"})), "cohort-shadowed")
    assert e.key_path == "services.pricing.majors.v1.cohorts[0]"
    assert e.message.startswith("the sticky cookie's route (cookie shop-ab = p-42) is never reached: cohort grab")


def test_fails_when_a_retired_major_has_cohorts():
    d = doc()
    d["services"]["pricing"]["majors"]["v1"]["status"] = "retired"
    d["services"]["pricing"]["majors"]["v2"] = {"contract": "p2.json"}
    e = one(check(d), "cohort-retired")
    assert e.key_path == "services.pricing.majors.v1.cohorts"
    assert e.message == "v1 is retired and takes no traffic: its cohorts would route nothing"


def test_fails_when_a_grpc_service_asks_for_cookies():
    cookie = {"name": "c", "priority": 1, "cookie": "beta", "value": "1", "version": "p-42"}
    r = check(doc(protocol="grpc", cohorts=[cookie], sticky={"cookie": "shop-ab"}))
    assert [e.key_path for e in errors(r, "cohort-grpc")] == ["services.pricing.majors.v1.cohorts[0].cookie",
                                                             "services.pricing.majors.v1.sticky"]
    assert check(doc(protocol="grpc")).ok  # a header cohort is gRPC metadata


@pytest.mark.parametrize("bad, path, message", [
    ({"cohorts": [{**TESTERS, "priority": 0}]}, "cohorts[0].priority", "should be greater than or equal to 1"),
    ({"cohorts": [{**TESTERS, "header": "x cohort"}]}, "cohorts[0].header", "not a valid value here"),
    ({"cohorts": [{**TESTERS, "value": 1.5}]}, "cohorts[0].value", "value must be text (quote it) or a whole number"),
    ({"cohorts": [{**TESTERS, "value": True}]}, "cohorts[0].value", "value must be text (quote it) or a whole number"),
    ({"cohorts": [{**TESTERS, "weight": 1}]}, "cohorts[0].weight", "unknown key 'weight'"),
    ({"sticky": {"cookie": "a b"}}, "sticky.cookie", "not a valid value here"),
    ({"sticky": {}}, "sticky.cookie", "required key 'cookie' is missing")])
def test_field_rules(bad, path, message):
    d = doc()
    d["services"]["pricing"]["majors"]["v1"].update(bad)
    r = check(d)
    (e,) = r.errors
    assert e.key_path == f"services.pricing.majors.v1.{path}", e.render()
    assert e.message == message, e.render()


def test_fails_with_the_messages_of_cookies_on_grpc():
    cookie = {"name": "c", "priority": 1, "cookie": "beta", "value": "1", "version": "p-42"}
    found = errors(check(doc(protocol="grpc", cohorts=[cookie], sticky={"cookie": "shop-ab"})), "cohort-grpc")
    assert [(e.message, e.allowed) for e in found] == [
        ("pricing speaks gRPC, whose calls carry no cookies", "header cohorts (gRPC metadata) on a gRPC service"),
        ("pricing speaks gRPC, whose calls carry no cookies: nothing would keep a caller in its version",
         "sticky on http and http2 services")]
    assert found[1].hint == "route gRPC callers with a header cohort"


# -- App Engine ---------------------------------------------------------------------------------------------------
def test_the_ab_test_plans_on_app_engine_with_its_own_cookie():
    r = check(on_appengine(doc(cohorts=(), sticky={"cookie": "GOOGAPPUID"})))
    assert r.ok, [e.render() for e in r.problems]


def test_fails_on_app_engine_with_header_cohorts_naming_lattice():
    e = one(check(on_appengine(doc())), "cohort-unsupported")
    assert e.key_path == "services.pricing.majors.v1.cohorts[0]"
    assert e.message == ("App Engine routes by host and path only: it cannot send the requests with header x-cohort "
                         "= b to one version")
    assert e.hint == "run the service on AWS with aws.mesh.backend: lattice (VPC Lattice matches a request header's value)"


def test_fails_on_app_engine_with_a_cookie_of_its_own_naming_lattice():
    e = one(check(on_appengine(doc(cohorts=(), sticky={"cookie": "shop-ab"}))), "cohort-unsupported")
    assert e.key_path == "services.pricing.majors.v1.sticky.cookie"
    assert e.message == ("App Engine's cookie split reads its own cookie, GOOGAPPUID, and no other: it cannot keep "
                         "users by shop-ab")
    assert e.allowed == "GOOGAPPUID" and "aws.mesh.backend: lattice" in e.hint


def test_fails_on_app_engine_when_the_b_share_is_finer_than_its_cookie_split():
    """App Engine's quota for an A/B test's shares: cookie split allocations take 3 decimals (0.1 % of users)."""
    r = check(on_appengine(doc(cohorts=(), sticky={"cookie": "GOOGAPPUID"}, weights=(99.95, 0.05))))
    assert [(e.key_path, e.message) for e in r.errors] == [
        ("services.pricing.versions[0].traffic", "99.95% of v1 cannot be expressed: App Engine cookie splits take "
                                                 "fractions with at most 3 decimals"),
        ("services.pricing.versions[1].traffic", "0.05% of v1 cannot be expressed: App Engine cookie splits take "
                                                 "fractions with at most 3 decimals")]
    assert check(on_appengine(doc(cohorts=(), sticky={"cookie": "GOOGAPPUID"}, weights=(99.9, 0.1)))).ok


def test_fails_on_app_engine_when_sticky_meets_an_ip_split():
    d = on_appengine(doc(cohorts=(), sticky={"cookie": "GOOGAPPUID"}))
    d["services"]["pricing"]["appengine"]["splitBy"] = "ip"
    e = one(check(d), "cohort-split")
    assert e.message == "sticky keeps users with App Engine's cookie split, but pricing splits by ip"


# -- mesh backends ----------------------------------------------------------------------------------------------
def test_fails_on_service_connect_naming_lattice():
    r = check(doc("service-connect", sticky={"cookie": "shop-ab"}, weights=(100, 0)))
    found = errors(r, "backend-unsupported")
    assert [(e.key_path, e.message) for e in found] == [
        ("services.pricing.majors.v1.cohorts[0]", "ECS Service Connect cannot match a request header's value: it "
                                                  "cannot send the requests with header x-cohort = b to one version"),
        ("services.pricing.majors.v1.sticky", "ECS Service Connect cannot match a cookie, so it cannot keep a user in "
                                              "one version by shop-ab")]
    # the backends that can are found by the feature they declare, never by name: lattice (App Mesh has ended)
    assert [e.hint for e in found] == [
        "run the spec with aws.mesh.backend: lattice (VPC Lattice matches a request header's value)",
        "run the spec with aws.mesh.backend: lattice (VPC Lattice matches a cookie)"]


def test_fails_when_migrating_to_service_connect_with_cohorts():
    d = doc(weights=(100, 0))
    d["aws"]["mesh"]["migration"] = {"to": "service-connect"}
    assert one(check(d), "backend-unsupported").key_path == "services.pricing.majors.v1.cohorts[0]"


def test_lattice_takes_header_and_cookie_cohorts():
    r = check(doc("lattice", cohorts=[TESTERS, {"name": "c", "priority": 2, "cookie": "beta", "value": "yes",
                                                "version": "p-42"}], sticky={"cookie": "shop-ab"}))
    assert r.ok, [e.render() for e in r.problems]


def test_fails_on_lattice_when_a_header_must_only_be_present():
    e = one(check(doc("lattice", cohorts=[{"name": "staff", "priority": 1, "header": "x-staff", "version": "p-42"}])),
            "backend-unsupported")
    assert e.key_path == "services.pricing.majors.v1.cohorts[0].value"
    assert e.message == "VPC Lattice matches a header's value, not whether x-staff is present"
    assert e.hint == ("no supported backend matches whether a request header is present (App Mesh did until "
                      "2026-09-30): give the header's value, then run the spec with aws.mesh.backend: lattice")
    assert check(doc("appmesh", cohorts=[{"name": "staff", "priority": 1, "header": "x-staff", "version": "p-42"}])).ok


def test_the_backends_named_are_those_on_the_services_platform():
    """A backend installed beside meshspec's that matches headers on ECS only is named for ECS services, not EKS."""
    from meshspec.infra.mesh import Backend, registry

    class EcsHeaders(Backend):
        name, title, summary = "ecs-headers", "ECS Headers", "a test backend"
        platforms = frozenset({"ecs"})
        features = frozenset({"header-match"})

    staff = {"name": "staff", "priority": 1, "header": "x-staff", "version": "p-42"}
    registry.register(EcsHeaders())
    try:
        hints = {}
        for platform in ("ecs", "eks"):
            d = doc("lattice", cohorts=[staff])
            d["aws"]["clusters"][0]["platform"] = platform
            hints[platform] = one(check(d), "backend-unsupported").hint
    finally:
        registry.unregister("ecs-headers")
    assert hints["ecs"].endswith("then run the spec with aws.mesh.backend: lattice or ecs-headers")
    assert hints["eks"].endswith("then run the spec with aws.mesh.backend: lattice")


def test_fails_on_lattice_when_a_cookie_value_is_part_of_a_later_one():
    short = {"name": "short", "priority": 1, "cookie": "shop-ab", "value": "p-4", "version": "p-41"}
    e = one(check(doc("lattice", cohorts=[short], sticky={"cookie": "shop-ab"}, weights=(0, 100))), "cohort-shadowed")
    assert e.key_path == "services.pricing.majors.v1.cohorts[0]"
    assert e.message == ("VPC Lattice matches a cookie by \"the cookie header contains NAME=VALUE\": cohort short's "
                         "'shop-ab=p-4' is part of 'shop-ab=p-42', so its rule, which comes first, catches "
                         "sticky-p-42's requests")
    assert check(doc("appmesh", cohorts=[short], sticky={"cookie": "shop-ab"})).ok  # App Mesh matches exactly


def test_fails_when_cohort_rules_exceed_lattices_rules_per_listener():
    many = [{**TESTERS, "name": f"c{i}", "priority": i, "value": f"v{i}"} for i in range(1, 10)]
    e = one(check(doc("lattice", cohorts=many, sticky={"cookie": "shop-ab"})), "quota-lattice")
    assert e.key_path == "services.pricing.majors"
    assert e.message == ("1 major rule(s) and 11 cohort rule(s) make 12 listener rules; VPC Lattice allows 10 per "
                         "listener")
    assert check(doc("lattice", cohorts=many[:9])).ok  # 1 + 9


def test_fails_on_lattice_when_a_header_name_or_value_is_too_long():
    r = check(doc("lattice", cohorts=[{**TESTERS, "header": "x-" + "h" * 39, "value": "v" * 129}]))
    assert sorted(e.message for e in errors(r, "quota-lattice")) == [
        f"VPC Lattice would match {'v' * 129!r} (129 characters); a header match value takes at most 128",
        "the header name is 41 characters; a VPC Lattice header match takes at most 40"]


def test_fails_on_lattice_when_a_rule_name_is_too_long():
    e = one(check(doc("lattice", cohorts=[{**TESTERS, "name": "c" * 60}])), "quota-lattice")
    assert e.message == (f"the listener rule name 'pricing-v1-{'c' * 60}' is 71 characters; VPC Lattice allows 63")


def test_fails_when_cohort_routes_exceed_app_meshs_routes_per_router():
    many = [{**TESTERS, "name": f"c{i}", "priority": i, "value": f"v{i}"} for i in range(1, 51)]
    e = one(check(doc("appmesh", cohorts=many)), "quota-appmesh")
    assert e.message == "1 major route(s) and 50 cohort route(s) make 51 routes; App Mesh allows 50 per router"
    assert check(doc("appmesh", cohorts=many[:49])).ok


def test_fails_on_app_mesh_when_a_header_name_or_cookie_regex_is_too_long():
    r = check(doc("appmesh", cohorts=[{**TESTERS, "header": "x-" + "h" * 49},
                                      {"name": "c", "priority": 2, "cookie": "k" * 100, "value": "v" * 150,
                                       "version": "p-42"}]))
    assert sorted(e.message for e in errors(r, "quota-appmesh")) == [
        "App Mesh would match the cookie header against 268 characters; a header match takes at most 255",
        "the header name is 51 characters; an App Mesh header match takes at most 50"]


# -- the shop's A/B test on each platform -------------------------------------------------------------------------
def shop_with_pricing_on_appengine(*, cookie: str = "shop-ab", keep_header_cohorts: bool = True) -> dict:
    """examples/shop.yaml with pricing (the A/B test) moved to App Engine, as a team moving it would write it."""
    import yaml

    d = yaml.safe_load((EXAMPLES / "shop.yaml").read_text())
    svc = d["services"]["pricing"]
    del svc["cluster"], svc["port"], svc["cpu"], svc["memory"]
    svc.pop("slo", None)  # objectives are measured on AWS series only (refused on App Engine: aws-only)
    svc["appengine"] = {"environment": "standard", "runtime": "python312"}
    for v in svc["versions"]:
        v["source"] = f"gs://shop-builds/pricing/{v.pop('image').rsplit(':', 1)[1]}.zip"
    major = svc["majors"]["v1"]
    major["sticky"]["cookie"] = cookie
    if not keep_header_cohorts:
        del major["cohorts"]
    return d


def test_the_shops_ab_test_on_app_engine_is_refused_where_app_engine_cannot_follow_it():
    r = load_text(json.dumps(shop_with_pricing_on_appengine(), default=str), file="shop.yaml", today=TODAY)
    assert [(e.code, e.key_path) for e in r.errors] == [
        ("cohort-unsupported", "services.pricing.majors.v1.cohorts[0]"),
        ("cohort-unsupported", "services.pricing.majors.v1.cohorts[1]"),
        ("cohort-unsupported", "services.pricing.majors.v1.sticky.cookie")]
    assert all("aws.mesh.backend: lattice" in e.hint for e in r.errors)


def test_the_shops_ab_test_plans_on_app_engine_as_a_cookie_split():
    from decimal import Decimal

    from meshspec.infra.appengine.desired import desired_state
    from meshspec.infra.appengine.plan import SetSplit, plan
    from meshspec.infra.appengine.state import Observed, ServiceState, Split, VersionState

    r = load_text(json.dumps(shop_with_pricing_on_appengine(cookie="GOOGAPPUID", keep_header_cohorts=False),
                             default=str), file="shop.yaml", today=TODAY)
    assert r.ok, [e.render() for e in r.errors]
    desired = desired_state(r.spec)
    pricing = desired.service("pricing")
    assert pricing.sticky and pricing.split == Split.of("COOKIE", {"p-41": Decimal("0.9"), "p-42": Decimal("0.1")})
    assert not desired.service("user-service").sticky  # a cookie split without sticky is no A/B test of meshspec's
    # GIVEN the app with pricing deployed, split 50/50 by ip; WHEN planned, THEN the cookie split and its note
    versions = tuple(VersionState(v, source_url=f"https://storage.googleapis.com/shop-builds/pricing/{v[2:]}.zip",
                                  runtime="python312") for v in ("p-41", "p-42"))
    obs = Observed("shop-prod-4711", "shop-prod-4711.appspot.com", (), {
        "default": ServiceState("default", None, ()),
        "pricing": ServiceState("pricing", Split.of("IP", {"p-41": 0.5, "p-42": 0.5}), versions)})
    only_pricing = type(desired)(desired.app_id, (pricing,), ())
    p = plan(only_pricing, obs, prune="keep")
    (split,) = [a for a in p.actions if isinstance(a, SetSplit)]
    assert split.after.render() == "p-41=90%, p-42=10% (by cookie)"
    assert ("pricing is an A/B test: from this split on, App Engine keeps each user in one version by its GOOGAPPUID "
            "cookie (p-41=90%, p-42=10% (by cookie))") in p.notes
    # WHEN the experiment's allocations change later, THEN the plan says users move
    obs2 = Observed("shop-prod-4711", "shop-prod-4711.appspot.com", (), {
        "default": ServiceState("default", None, ()),
        "pricing": ServiceState("pricing", Split.of("COOKIE", {"p-41": 0.8, "p-42": 0.2}), versions)})
    assert ("pricing is an A/B test kept by App Engine's GOOGAPPUID cookie: changing the allocations of p-41, p-42 "
            "moves some of their users to another version; compare cohorts over windows that do not straddle this "
            "change") in plan(only_pricing, obs2, prune="keep").notes


def test_the_shops_ab_test_plans_and_applies_on_the_app_engine_emulator(gae_emulator, tmp_path, capsys, monkeypatch):
    """`meshspec appengine plan` and `apply` on the shop with pricing's A/B test on App Engine, against the Admin API
    emulator (the real client over REST): pricing's split is by cookie, 90/10, and the plan says users are kept."""
    import yaml

    from meshspec.infra.cli.main import main
    from tests.appengine_fixtures import GAE_PROJECT, T

    doc = shop_with_pricing_on_appengine(cookie="GOOGAPPUID", keep_header_cohorts=False)
    doc["gcp"].update(project=GAE_PROJECT, location="us-central")  # the emulator's application
    spec = tmp_path / "shop.yaml"
    (tmp_path / "contracts").symlink_to(EXAMPLES / "contracts")
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setenv("MESHSPEC_APPENGINE_ENDPOINT", gae_emulator.url)
    assert main(["appengine", "plan", str(spec), "--detailed-exitcode"]) == 2
    out = capsys.readouterr()[0]
    assert ("pricing is an A/B test: from this split on, App Engine keeps each user in one version by its GOOGAPPUID "
            "cookie (p-41=90%, p-42=10% (by cookie))") in out
    assert main(["appengine", "apply", str(spec), "--state-dir", str(tmp_path / "st"), "--poll-interval", "0.01"]) == 0
    split = gae_emulator.clients().services.get_service(
        request={"name": f"apps/{GAE_PROJECT}/services/pricing"}, timeout=T).split
    assert dict(split.allocations) == {"p-41": 0.9, "p-42": 0.1} and split.shard_by.name == "COOKIE"
    capsys.readouterr()
    assert main(["appengine", "plan", str(spec), "--detailed-exitcode"]) == 0


def test_the_shops_ab_test_is_refused_on_service_connect_naming_lattice(tmp_path, capsys):
    """examples/shop-service-connect.yaml with pricing's A/B test from examples/shop.yaml: validate refuses it (synth and
    plan run the same checks first)."""
    import yaml

    from meshspec.infra.cli.main import main

    ab = yaml.safe_load((EXAMPLES / "shop.yaml").read_text())["services"]["pricing"]["majors"]["v1"]
    doc = yaml.safe_load((EXAMPLES / "shop-service-connect.yaml").read_text())
    # the Service Connect shop runs p-42 alone (one revision per service): its testers' cohort and the sticky cookie
    doc["services"]["pricing"]["majors"]["v1"].update(cohorts=ab["cohorts"][:1], sticky=ab["sticky"])
    r = load_text(json.dumps(doc, default=str), file="shop-service-connect.yaml", today=TODAY)
    assert [(e.code, e.key_path, e.message) for e in r.errors] == [
        ("backend-unsupported", "services.pricing.majors.v1.cohorts[0]", "ECS Service Connect cannot match a request "
         "header's value: it cannot send the requests with header x-shop-cohort = b to one version"),
        ("backend-unsupported", "services.pricing.majors.v1.sticky", "ECS Service Connect cannot match a cookie, so "
         "it cannot keep a user in one version by shop-ab")]
    assert {e.hint for e in r.errors} == {
        "run the spec with aws.mesh.backend: lattice (VPC Lattice matches a request header's value)",
        "run the spec with aws.mesh.backend: lattice (VPC Lattice matches a cookie)"}
    spec = tmp_path / "shop-service-connect.yaml"
    (tmp_path / "contracts").symlink_to(EXAMPLES / "contracts")
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["validate", str(spec)]) == 1
    assert "ECS Service Connect cannot match a cookie" in capsys.readouterr()[1]
