"""The pure App Engine planner: fractions as gcloud computes them, desired state, dispatch rules, plan order
and every refusal, without any I/O.

GIVEN a spec (or desired state) and an observed application, WHEN planned, THEN the actions and their order,
or the refusal and its message, are as App Engine needs them.
"""
from __future__ import annotations

import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import TODAY
from meshspec.infra.appengine import dispatch
from meshspec.infra.appengine.apply import promote_plan, rollback_plan
from meshspec.infra.appengine.desired import desired_state, source_url
from meshspec.infra.appengine.fractions import FractionError, allocations
from meshspec.infra.appengine.plan import (CreateVersion, PlanRefused, SetDispatch, SetServingStatus, SetSplit,
                                  plan)
from meshspec.infra.appengine.state import DispatchRule, Observed, ServiceState, Split, VersionState
from meshspec.infra.errors import UserError
import yaml

from meshspec.infra.spec import Spec, load_text

GCLOUD_LIB = Path("/usr/lib/google-cloud-sdk/lib")


def spec_of(services_yaml: str, tmp_path: Path | None = None):
    text = f"""apiVersion: meshspec/v1
project: shop
gcp: {{project: shop-prod-4711, location: europe-west}}
services:
{services_yaml}"""
    result = load_text(text, today=TODAY)
    assert result.ok, [e.render() for e in result.errors]
    return result.spec


def unchecked_spec_of(services_yaml: str):
    """A spec that validate refuses (it finds what the plan would refuse first), built past validate, so the
    plan's own refusal is tested too."""
    result = load_text(f"""apiVersion: meshspec/v1
project: shop
gcp: {{project: shop-prod-4711, location: europe-west}}
services:
{services_yaml}""", today=TODAY)
    assert result.errors and all(e.code in ("quota-appengine", "version-artifact") for e in result.errors), \
        [e.render() for e in result.errors]
    data = yaml.safe_load(f"""apiVersion: meshspec/v1
project: shop
gcp: {{project: shop-prod-4711, location: europe-west}}
services:
{services_yaml}""")
    return Spec.model_validate(data)


DEFAULT = """  default:
    appengine: {environment: standard, runtime: python312, defaultService: true}
    majors: {v1: {path: /, contract: c.json}}
    versions: [{name: d1, source: gs://bkt/d1.zip, traffic: 100}]
"""


def observed(*services: ServiceState, rules=()) -> Observed:
    return Observed("shop-prod-4711", "shop-prod-4711.appspot.com", tuple(rules), {s.id: s for s in services})


def v(id_, **kw) -> VersionState:
    return VersionState(id_, **{"source_url": f"https://storage.googleapis.com/bkt/{id_}.zip", "runtime": "python312",
                                **kw})


def svc(id_, split: dict | None, *versions: VersionState, shard="COOKIE") -> ServiceState:
    return ServiceState(id_, Split.of(shard, split) if split else None, tuple(versions))


# --- fractions ------------------------------------------------------------------------------------------

def test_fractions_give_the_remainder_to_the_largest_share_first_by_version_id():
    assert allocations({"a": 1, "b": 1, "c": 1}, "ip") == {"a": D("0.34"), "b": D("0.33"), "c": D("0.33")}
    assert allocations({"c": 1, "b": 1, "a": 1}, "cookie") == {"a": D("0.334"), "b": D("0.333"), "c": D("0.333")}
    assert allocations({"apple": D(90), "banana": D(10)}, "random") == {"apple": D("0.9"), "banana": D("0.1")}


def test_fractions_leave_out_versions_with_no_share():
    assert allocations({"a": D(100), "b": D(0)}, "cookie") == {"a": D(1)}


def test_fails_when_a_share_rounds_to_zero_and_says_which_and_why():
    with pytest.raises(FractionError) as err:
        allocations({"apple": D("99.6"), "banana": D("0.4")}, "ip", service="user-service")
    assert str(err.value) == ("version banana of user-service would get 0.4% of the traffic, which rounds to 0 with "
                              "2 decimals (ip splits); App Engine refuses a zero allocation")
    assert "at least 1%" in err.value.hint and "cookie and random splits take 3 decimals" in err.value.hint


def test_fails_when_nothing_takes_traffic():
    with pytest.raises(FractionError, match="sends no traffic to any version"):
        allocations({"a": 0}, "cookie", service="s")


@pytest.mark.skipif(not (GCLOUD_LIB / "googlecloudsdk").is_dir(), reason="gcloud is not installed")
@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(1, 1000), min_size=1, max_size=5),
       st.sampled_from(["ip", "cookie", "random"]))
def test_fractions_equal_gclouds_own_function(weights, split_by):
    """The same numbers as googlecloudsdk.api_lib.app.service_util.ParseTrafficAllocations, or the same refusal."""
    sys.path[:0] = [str(GCLOUD_LIB), str(GCLOUD_LIB / "third_party")]
    try:
        from googlecloudsdk.api_lib.app.service_util import ParseTrafficAllocations, ServicesSplitTrafficError
    except Exception:  # pragma: no cover - an SDK too old or too new to import on its own
        pytest.skip("gcloud's library does not import here")
    finally:
        del sys.path[:2]
    try:
        theirs = ParseTrafficAllocations(weights, split_by)
    except ServicesSplitTrafficError:
        with pytest.raises(FractionError):
            allocations(weights, split_by)
        return
    ours = allocations(weights, split_by)
    places = 2 if split_by == "ip" else 3
    assert {k: round(x, places) for k, x in theirs.items()} == {k: float(x) for k, x in ours.items()}
    assert sum(ours.values()) == 1


# --- desired state --------------------------------------------------------------------------------------

def test_desired_state_of_the_shop_example(shop_spec):
    d = desired_state(shop_spec)
    assert [(s.id, s.spec_service) for s in d.services] == [("user-service", "user-service"), ("default", "web-app")]
    us = d.service("user-service")
    assert us.split == Split.of("COOKIE", {"apple": D("0.9"), "banana": D("0.1")})
    assert us.versions[0].source_url == "https://storage.googleapis.com/shop-builds/user-service/apple.zip"
    assert [r.render() for r in d.dispatch_rules] == [
        "*/user-service/v1/* -> user-service", "*/user-service/v2/* -> user-service", "*/* -> default"]


def test_majors_as_services_give_each_major_its_service_split_and_rule():
    spec = spec_of(DEFAULT + """  users:
    appengine: {environment: standard, runtime: python312, splitBy: ip, majorsAsServices: true}
    majors:
      v1: {contract: c.json, status: retired}
      v2: {contract: c.json}
      v3: {contract: c.json, path: /u/v3/}
    versions:
      - {name: apple, source: gs://bkt/a.zip, traffic: {v2: 100, v3: 50}}
      - {name: banana, source: gs://bkt/b.zip, traffic: {v3: 50}}
""")
    d = desired_state(spec)
    assert [s.id for s in d.services] == ["default", "users-v2", "users-v3"]
    assert d.unmanaged_services == ("users-v1",)
    assert d.service("users-v2").split == Split.of("IP", {"apple": 1})
    assert d.service("users-v3").split == Split.of("IP", {"apple": D("0.5"), "banana": D("0.5")})
    assert [r.render() for r in d.dispatch_rules] == ["*/users/v2/* -> users-v2", "*/u/v3/* -> users-v3",
                                                      "*/* -> default"]


def test_image_versions_deploy_from_the_container_and_gs_sources_become_storage_urls():
    spec = spec_of(DEFAULT + """  flex:
    appengine: {environment: flexible, runtime: custom}
    majors: {v1: {contract: c.json}}
    versions: [{name: f1, image: gcr.io/p/flex:1, traffic: 100}]
""")
    f1 = desired_state(spec).service("flex").versions[0]
    assert (f1.image, f1.source_url, f1.env) == ("gcr.io/p/flex:1", None, "flexible")
    assert source_url("gs://bucket/dir/app.zip") == "https://storage.googleapis.com/bucket/dir/app.zip"


# --- dispatch rules -------------------------------------------------------------------------------------

def test_rules_put_longer_prefixes_first_and_keep_rules_of_services_outside_the_spec():
    ours = dispatch.rules_for([("/", "web"), ("/a/v1/", "a"), ("/a/v10/", "a10")])
    assert [r.path for r in ours] == ["/a/v10/*", "/a/v1/*", "/*"]
    theirs = (DispatchRule("*", "/legacy/*", "old"), DispatchRule("*", "/a/v1/*", "legacy"),
              DispatchRule("*", "/gone/*", "a"))
    rules, notes = dispatch.merge(ours, theirs, managed={"web", "a", "a10"})
    assert rules == ours + (DispatchRule("*", "/legacy/*", "old"),)
    assert notes == ["dispatch rule */a/v1/* -> legacy is replaced: the spec routes /a/v1/* elsewhere"]


def test_fails_when_the_spec_needs_more_than_20_dispatch_rules():
    services = "".join(f"""  s{i}:
    appengine: {{environment: standard, runtime: python312}}
    majors: {{v1: {{contract: c.json}}}}
    versions: [{{name: x, source: gs://bkt/x.zip, traffic: 100}}]
""" for i in range(21))
    d = desired_state(unchecked_spec_of(DEFAULT + services))
    with pytest.raises(PlanRefused) as err:
        plan(d, observed(svc("default", {"d1": 1}, v("d1"))))
    assert "the spec needs 22 dispatch rules; App Engine allows at most 20 per application" in str(err.value)
    assert "nothing was sent" in str(err.value)
    assert "majorsAsServices: false" in err.value.hint and "retire majors" in err.value.hint


def test_fails_when_domain_and_path_pass_100_characters():
    long = "/" + "x" * 97 + "/"
    d = desired_state(unchecked_spec_of(DEFAULT + f"""  s:
    appengine: {{environment: standard, runtime: python312}}
    majors: {{v1: {{contract: c.json, path: {long}}}}}
    versions: [{{name: x, source: gs://bkt/x.zip, traffic: 100}}]
"""))
    with pytest.raises(PlanRefused) as err:
        plan(d, observed(svc("default", {"d1": 1}, v("d1"))))
    assert f"dispatch rule *{long}* -> s is 101 characters long (domain plus path); App Engine allows 100" \
        in str(err.value)
    assert "shorter path (majors.<major>.path)" in err.value.hint


def test_fails_when_a_path_has_a_star_inside():
    assert dispatch.problems([DispatchRule("*", "/a*/b*", "s")]) == [
        ("dispatch path '/a*/b*' has a '*' before its end", "App Engine takes a single '*', at the end of the path")]


# --- plans ----------------------------------------------------------------------------------------------

def test_a_new_app_plans_the_default_service_first_then_splits_then_dispatch(shop_spec):
    p = plan(desired_state(shop_spec), observed())
    assert [a.describe() for a in p.actions] == [
        "create version default/20261123t101500 (standard, nodejs22, source "
        "https://storage.googleapis.com/shop-builds/web-app/20261123t101500.zip)",
        "create version user-service/apple (standard, python312, source "
        "https://storage.googleapis.com/shop-builds/user-service/apple.zip)",
        "create version user-service/banana (standard, python312, source "
        "https://storage.googleapis.com/shop-builds/user-service/banana.zip)",
        # default's first version takes all its traffic: no split to write for it
        "set split of user-service: (new service) -> apple=90%, banana=10% (by cookie)",
        "update dispatch rules (3 rules): +*/user-service/v1/* -> user-service, +*/user-service/v2/* -> "
        "user-service, +*/* -> default"]
    assert p.notes == () and p.touched == ()


def test_an_applied_spec_plans_nothing(shop_spec):
    d = desired_state(shop_spec)
    obs = observed(
        svc("default", {"base": 1}, v("base")),
        svc("user-service", {"apple": D("0.9"), "banana": D("0.1")},
            v("apple", source_url="https://storage.googleapis.com/shop-builds/user-service/apple.zip"),
            v("banana", source_url=None)),
        svc("default", {"20261123t101500": 1}, v("20261123t101500", runtime="nodejs22", source_url=None)),
        rules=d.dispatch_rules)
    p = plan(d, obs)
    assert p.actions == () and not p.has_changes
    assert p.touched == ("user-service", "default")


def test_a_canary_moves_the_split_before_the_old_version_is_stopped_or_deleted():
    spec = spec_of(DEFAULT + """  api:
    appengine: {environment: flexible, runtime: custom, splitBy: random}
    majors: {v1: {contract: c.json}}
    versions:
      - {name: b, image: gcr.io/p/api:b, traffic: 10}
      - {name: c, image: gcr.io/p/api:c, traffic: 90}
""")
    d = desired_state(spec)
    obs = observed(svc("default", {"d1": 1}, v("d1")),
                   svc("api", {"a": D("0.5"), "b": D("0.5")}, v("a", env="flexible", source_url=None),
                       v("b", env="flexible", source_url=None, image="gcr.io/p/api:b", runtime="custom"), shard="RANDOM"),
                   rules=d.dispatch_rules)
    p = plan(d, obs)
    assert [a.describe() for a in p.actions] == [
        "create version api/c (flexible, custom, image gcr.io/p/api:c)",
        "set split of api: a=50%, b=50% (by random) -> b=10%, c=90% (by random)",
        "stop version api/a",
    ]
    assert [a.kind for a in plan(d, obs, prune="delete").actions][-1] == "delete-version"
    keep = plan(d, obs, prune="keep")
    assert [a.kind for a in keep.actions] == ["create-version", "set-split"]
    assert "version api/a is no longer in the spec; kept (--prune keep)" in keep.notes
    assert isinstance(p.actions[1], SetSplit) and p.actions[1].gains() == ["c"]


def test_standard_automatic_versions_are_not_stopped_but_noted():
    spec = spec_of(DEFAULT)
    p = plan(desired_state(spec), observed(svc("default", {"d1": 1}, v("d1"), v("old")),
                                           rules=(DispatchRule("*", "/*", "default"),)))
    assert p.actions == ()
    assert "cannot stop a standard version with automatic scaling" in p.notes[0]


def test_a_stopped_version_the_spec_names_is_started_before_the_split():
    spec = spec_of(DEFAULT.replace("traffic: 100}]", "traffic: 50}, {name: d2, source: gs://bkt/d2.zip, "
                                                     "traffic: 50}]"))
    obs = observed(svc("default", {"d1": 1}, v("d1"), v("d2", serving_status="STOPPED")),
                   rules=(DispatchRule("*", "/*", "default"),))
    p = plan(desired_state(spec), obs)
    assert [type(a) for a in p.actions] == [SetServingStatus, SetSplit]


def test_fails_when_a_deployed_version_would_get_different_code():
    spec = spec_of(DEFAULT)
    obs = observed(svc("default", {"d1": 1}, v("d1", source_url="https://storage.googleapis.com/bkt/other.zip",
                                                 runtime="python311")))
    with pytest.raises(PlanRefused) as err:
        plan(desired_state(spec), obs)
    assert ("version default/d1 is already deployed with different code (runtime python311 -> python312; source "
            "https://storage.googleapis.com/bkt/other.zip -> https://storage.googleapis.com/bkt/d1.zip)") in str(err.value)
    assert err.value.hint == "App Engine versions are immutable: give the new code a new version name"


def test_fails_when_the_app_has_no_default_service_and_the_desired_state_names_none(shop_spec):
    """The spec check asks for defaultService; the planner refuses on its own for desired state built otherwise."""
    from dataclasses import replace

    d = desired_state(shop_spec)
    web = replace(d.service("default"), id="web-app")
    d = replace(d, services=(d.service("user-service"), web),
                dispatch_rules=d.dispatch_rules[:2] + (DispatchRule("*", "/*", "web-app"),))
    with pytest.raises(PlanRefused) as err:
        plan(d, observed())
    assert ("apps/shop-prod-4711 has no default service, and App Engine creates no other service before it (this "
            "plan would create user-service, web-app)") in str(err.value)


def test_the_default_service_is_created_first_on_a_new_app():
    spec = spec_of("""  a-first:
    appengine: {environment: standard, runtime: python312}
    majors: {v1: {contract: c.json}}
    versions: [{name: x, source: gs://bkt/x.zip, traffic: 100}]
""" + DEFAULT)
    p = plan(desired_state(spec), observed())
    assert [(a.kind, a.service) for a in p.actions if isinstance(a, CreateVersion)] == [
        ("create-version", "default"), ("create-version", "a-first")]


MIGRATE = DEFAULT + """  api:
    appengine: {environment: standard, runtime: python312, migrateTraffic: true}
    majors: {v1: {contract: c.json}}
    versions: [{name: new, source: gs://bkt/new.zip, traffic: 100}]
"""


def test_migration_is_gradual_on_an_existing_service_and_plain_on_a_new_one():
    d = desired_state(spec_of(MIGRATE))
    assert d.service("api").versions[0].warmup
    base = svc("default", {"d1": 1}, v("d1"))
    fresh = plan(d, observed(base))
    assert [a for a in fresh.actions if isinstance(a, SetSplit)] == []  # its first version takes all traffic
    existing = plan(d, observed(base, svc("api", {"old": 1}, v("old", warmup=True))))
    assert [a.describe() for a in existing.actions if isinstance(a, SetSplit)] == [
        "migrate traffic gradually of api: old=100% (by cookie) -> new=100% (by cookie)"]


def test_fails_when_migrating_to_a_version_without_warmup():
    d = desired_state(spec_of(MIGRATE))
    obs = observed(svc("default", {"d1": 1}, v("d1")),
                   svc("api", {"old": 1}, v("old"), v("new", source_url="https://storage.googleapis.com/bkt/new.zip")))
    with pytest.raises(PlanRefused, match="deployed without warmup requests, which gradual migration needs"):
        plan(d, obs)


def test_fails_when_migrating_a_flexible_service_before_anything_is_sent():
    """The spec check refuses it too; the planner refuses it on its own for desired state built otherwise."""
    from dataclasses import replace

    d = desired_state(spec_of(MIGRATE))
    api = replace(d.service("api"), env="flexible")
    d = replace(d, services=(d.services[0], api))
    with pytest.raises(PlanRefused) as err:
        plan(d, observed(svc("default", {"d1": 1}, v("d1")), svc("api", {"old": 1}, v("old", env="flexible"))))
    assert "service api asks for migrateTraffic, which App Engine refuses in the flexible environment" in str(err.value)


def test_dispatch_rules_need_their_service_to_exist():
    d = desired_state(spec_of(DEFAULT))
    from dataclasses import replace

    d = replace(d, dispatch_rules=d.dispatch_rules + (DispatchRule("*", "/x/*", "nowhere"),))
    with pytest.raises(PlanRefused, match="targets service nowhere, which does not exist"):
        plan(d, observed(svc("default", {"d1": 1}, v("d1"))))


def test_a_dispatch_change_is_one_action_listing_what_changes():
    d = desired_state(spec_of(DEFAULT))
    p = plan(d, observed(svc("default", {"d1": 1}, v("d1"))))
    assert [a.describe() for a in p.actions] == ["update dispatch rules (1 rules): +*/* -> default"]
    assert isinstance(p.actions[0], SetDispatch)
    assert p.to_json()["actions"][0]["after"] == [{"domain": "*", "path": "/*", "service": "default"}]


# --- promote and rollback plans -------------------------------------------------------------------------

def test_promote_starts_a_stopped_version_then_gives_it_everything():
    obs = observed(svc("api", {"a": 1}, v("a"), v("b", serving_status="STOPPED"), shard="IP"))
    p = promote_plan(obs, "api", "b")
    assert [a.describe() for a in p.actions] == ["start version api/b",
                                                 "set split of api: a=100% (by ip) -> b=100% (by ip)"]
    assert promote_plan(obs, "api", "a").actions == ()


def test_fails_to_promote_a_version_that_does_not_exist():
    with pytest.raises(UserError) as err:
        promote_plan(observed(svc("api", {"a": 1}, v("a"))), "api", "zz")
    assert (err.value.message, err.value.hint) == ("version zz does not exist in service api", "versions: a")


def test_rollback_refuses_when_an_old_version_was_deleted():
    with pytest.raises(UserError) as err:
        rollback_plan(observed(svc("api", {"b": 1}, v("b"))), "api", Split.of("IP", {"a": 1}), "run run1")
    assert "version(s) a no longer exist" in err.value.message


def test_rollback_refuses_a_service_that_is_new_since_the_run():
    with pytest.raises(UserError, match="did not exist before run run1"):
        rollback_plan(observed(svc("api", {"b": 1}, v("b"))), "api", None, "run run1")


@pytest.mark.parametrize("artifact,message", [
    ("source: http://example.com/app.zip", "source 'http://example.com/app.zip' is not a Cloud Storage object"),
    ("source: gs://bkt/has space.zip", "is not a Cloud Storage object"),
])
def test_fails_when_a_source_is_not_a_cloud_storage_object(artifact, message):
    spec = unchecked_spec_of(DEFAULT.replace("source: gs://bkt/d1.zip", artifact))
    with pytest.raises(PlanRefused, match=message):
        plan(desired_state(spec), observed())


def test_fails_when_an_image_has_no_tag_or_digest():
    spec = unchecked_spec_of(DEFAULT + """  flex:
    appengine: {environment: flexible, runtime: custom}
    majors: {v1: {contract: c.json}}
    versions: [{name: f1, image: gcr.io/p/flex, traffic: 100}]
""")
    with pytest.raises(PlanRefused) as err:
        plan(desired_state(spec), observed(svc("default", {"d1": 1}, v("d1"))))
    assert "version flex/f1: image 'gcr.io/p/flex' is not a fully qualified image with a tag or digest" in str(err.value)


# --- journal --------------------------------------------------------------------------------------------

def test_the_journal_skips_a_line_cut_short_and_an_unfinished_run_lends_its_before_splits(tmp_path):
    from meshspec.infra.appengine.journal import Journal

    j = Journal(tmp_path)
    first = j.start("apply", "app", {"api": Split.of("IP", {"a": 1})}, [{"kind": "set-split", "service": "api"}])
    j.step(first, 1, {"kind": "set-split", "service": "api"})
    with j.path.open("a") as fh:
        fh.write('{"event": "step", "run": "' + first.id + '", "ind')  # killed mid-write
    second = j.start("apply", "app", {"api": Split.of("IP", {"b": 1})}, [{"kind": "set-split", "service": "api"}])
    assert second.inherited_from == first.id and second.before["api"] == Split.of("IP", {"a": 1})
    j.finish(second)
    runs = j.runs()
    assert [(r.outcome, len(r.steps)) for r in runs] == [(None, 1), ("finished", 0)]
    change = j.split_before_last_change("app", "api")
    assert change.label == f"run {second.id}" and change.before == Split.of("IP", {"a": 1})
    third = j.start("apply", "app", {"api": Split.of("IP", {"b": 1})}, [])
    assert third.inherited_from is None  # the last run finished


def test_fails_when_the_application_is_in_another_location_than_the_spec_says(shop_spec):
    # GIVEN the shop (gcp.location: europe-west) and an application App Engine created in us-central
    desired = desired_state(shop_spec)
    observed_app = Observed(desired.app_id, location="us-central")
    # WHEN planned / THEN refused before anything is sent, saying where the application is
    with pytest.raises(PlanRefused) as exc:
        plan(desired, observed_app)
    assert "apps/shop-prod-4711 is in us-central, but the spec says gcp.location: europe-west" in str(exc.value)
    assert exc.value.hint.startswith("App Engine fixes an application's location when it is created: set "
                                     "gcp.location: us-central")
    assert plan(desired, Observed(desired.app_id, location="europe-west")).actions  # the same place: planned
