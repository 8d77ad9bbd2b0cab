"""validate finds what the App Engine plan would refuse, at the spec position that causes it: dispatch rules
(count and length), services and versions per app, the artifacts. A property test holds the two together:
whatever App Engine spec validate accepts, the plan against an empty app does not refuse."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshspec.infra.appengine.desired import desired_state
from meshspec.infra.appengine.plan import PlanRefused, plan
from meshspec.infra.appengine.state import Observed
from meshspec.infra.spec import load_text

from .conftest import SHOP, TODAY


def load(text: str):
    return load_text(text, file="spec.yaml", today=TODAY)


def majors_yaml(n: int, path: str | None = None) -> str:
    return "".join(f"      v{i}: {{contract: c.json{', path: ' + path.format(i=i) if path else ''}}}\n"
                   for i in range(1, n + 1))


HEAD = """\
apiVersion: meshspec/v1
project: shop
gcp: {project: shop-prod-4711, location: europe-west}
services:
  web:
    appengine: {environment: standard, runtime: nodejs22, defaultService: true}
    majors: {v1: {contract: c.json, path: /}}
    versions: [{name: w1, source: gs://bkt/w1.zip, traffic: 100}]
"""


def service(name: str, majors: int = 1, *, as_services: bool = False, versions: int = 1, path: str | None = None):
    vs = "".join(f"      - {{name: x{i}, source: gs://bkt/x{i}.zip, traffic: {100 if i == 0 else 0}}}\n"
                 for i in range(versions))
    flag = ", majorsAsServices: true" if as_services else ""
    return (f"  {name}:\n    appengine: {{environment: standard, runtime: python312{flag}}}\n    majors:\n"
            f"{majors_yaml(majors, path)}    versions:\n{vs}")


def test_22_majors_need_23_dispatch_rules_and_app_engine_allows_20():
    # the case: the shop's user-service with 22 majors, beside web-app on /
    shop = SHOP.read_text()
    v2 = shop[shop.index("      v2:\n", shop.index("  user-service:")):]
    v2 = v2[:v2.index("\n", v2.index("contract:")) + 1]  # the v2 entry as the example writes it
    text = shop.replace(v2, v2 + "".join(v2.replace("v2:", f"v{i}:", 1) for i in range(3, 23)), 1)
    errs = [e for e in load(text).errors if e.code == "quota-appengine"]
    [err] = errs
    majors_line = text[:text.index("      v1:", text.index("  user-service:"))].count("\n") + 1  # its first entry
    assert (err.line, err.key_path) == (majors_line, "services.user-service.majors")
    assert err.message == ("App Engine would need 23 dispatch rules, one per live major's path (user-service: 22, "
                           "web-app: 1); an app allows 20 (App Engine quota: dispatch rules per app)")
    assert err.allowed == "at most 20 live majors over all App Engine services"
    assert "retire majors" in err.hint


def test_retired_majors_take_no_dispatch_rule():
    text = HEAD + service("api", 22)
    assert [e.code for e in load(text).errors] == ["quota-appengine"]  # 22 + web's / = 23
    for i in (20, 21, 22):
        text = text.replace(f"      v{i}: {{contract: c.json}}\n", f"      v{i}: {{contract: c.json, status: retired}}\n")
    assert load(text).errors == []  # 19 + 1 = 20
    assert len(desired_state(load(text).spec).dispatch_rules) == 20


def test_a_dispatch_rule_longer_than_100_characters_is_refused_at_the_majors_path():
    long = "/" + "p" * 97 + "/"
    [err] = load(HEAD + service("api", 1, path=long)).errors
    assert (err.key_path, err.code) == ("services.api.majors.v1.path", "quota-appengine")
    assert err.message.startswith("the dispatch rule for /ppp")
    assert "is 101 characters" in err.message and err.allowed == "a path of at most 98 characters"


def test_services_per_app():
    text = HEAD + "".join(service(f"s{i}", 1) for i in range(105))
    codes = [(e.key_path, e.code) for e in load(text).errors]
    assert ("services", "quota-appengine") in codes
    err = next(e for e in load(text).errors if "services; an app allows 105" in e.message)
    assert err.message == "App Engine would hold 106 services; an app allows 105 (App Engine quota: services per app)"


def test_versions_per_app_at_the_service_that_holds_most():
    text = HEAD + service("api", 3, as_services=True, versions=70) + service("small", 1, versions=2)
    err = next(e for e in load(text).errors if e.code == "quota-appengine")
    assert err.key_path == "services.api.versions"
    assert err.message.startswith("App Engine would hold 213 versions (api: 210)")
    assert "majorsAsServices: false" in err.hint


@pytest.mark.parametrize("artifact,path,allowed", [
    ("source: http://example.com/app.zip", "services.web.versions[0].source", "gs://BUCKET/OBJECT.zip"),
    ("source: gs://b/app.zip", "services.web.versions[0].source", "gs://BUCKET/OBJECT.zip"),
])
def test_a_source_app_engine_cannot_deploy_is_refused_at_validate(artifact, path, allowed):
    [err] = load(HEAD.replace("source: gs://bkt/w1.zip", artifact)).errors
    assert (err.key_path, err.code) == (path, "version-artifact")
    assert allowed in err.allowed


def test_an_image_without_tag_or_digest_is_refused_at_validate():
    text = HEAD + "  flex:\n    appengine: {environment: flexible, runtime: custom}\n" \
        "    majors: {v1: {contract: c.json}}\n    versions: [{name: f1, image: gcr.io/p/flex, traffic: 100}]\n"
    [err] = load(text).errors
    assert (err.key_path, err.code, err.given) == ("services.flex.versions[0].image", "version-artifact",
                                                   "'gcr.io/p/flex'")


app_engine_service = st.fixed_dictionaries({
    "majors": st.integers(1, 12),
    "as_services": st.booleans(),
    "versions": st.integers(1, 3),
    "path_len": st.sampled_from([0, 10, 95, 99]),
    "source": st.sampled_from(["gs://bkt/a.zip", "gs://b/a.zip", "https://storage.googleapis.com/bkt/a.zip",
                               "http://x/a.zip"]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(app_engine_service, min_size=1, max_size=4))
def test_whatever_validate_accepts_the_plan_does_not_refuse(services):
    text = HEAD
    for i, s in enumerate(services):
        path = ("/" + "p" * s["path_len"] + "{i}/") if s["path_len"] else None
        block = service(f"s{i}", s["majors"], as_services=s["as_services"], versions=s["versions"], path=path)
        text += block.replace("gs://bkt/x", s["source"].rsplit("/", 1)[0] + "/x")
    result = load(text)
    if not result.ok:
        return
    try:
        plan(desired_state(result.spec), Observed(app_id="shop-prod-4711", services={}, dispatch_rules=()))
    except PlanRefused as exc:  # pragma: no cover - the assertion below says what validate missed
        pytest.fail(f"validate accepted a spec the plan refuses: {exc}")
