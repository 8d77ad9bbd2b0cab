"""``meshspec traffic`` on A/B cohort routes: status, shift, promote, rollback and the refusal of a concurrent
change, against App Mesh in moto (server mode, real HTTP and botocore)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from meshspec.infra.cli.main import main
from meshspec.infra.spec import load_spec_or_raise
from meshspec.infra import journal
from meshspec.infra.traffic import ops
from meshspec.infra.traffic.backend import Conflict, Context, backend_for
from tests.conftest import TODAY
from tests.test_traffic_compare import AB_SPEC
from tests.traffic_support import MESH, appmesh, aws, build_mesh, moto_server, write_spec  # noqa: F401

COHORT_ROUTES = {"testers": ("x-cohort", {"exact": "b"}, "banana"),
                 "sticky-banana": ("cookie", {"regex": r"^(.*;\s*)?shop-ab=banana(;.*)?$"}, "banana"),
                 "sticky-apple": ("cookie", {"regex": r"^(.*;\s*)?shop-ab=apple(;.*)?$"}, "apple")}


def build_cohort_routes(routes: dict = COHORT_ROUTES) -> None:
    """The cohort routes of checkout/v1 as the stacks name and order them (before the major's route)."""
    for priority, (name, (header, match, version)) in enumerate(routes.items()):
        appmesh().create_route(meshName=MESH, virtualRouterName="checkout-router", routeName=f"checkout-v1-{name}",
                               spec={"priority": priority, "httpRoute": {
                                   "match": {"prefix": "/checkout/v1/", "headers": [{"name": header, "match": match}]},
                                   "action": {"weightedTargets": [{"virtualNode": f"checkout-{version}",
                                                                   "weight": 100}]}}})


def cohort_route(name: str) -> tuple[dict[str, int], int]:
    r = appmesh().describe_route(meshName=MESH, virtualRouterName="checkout-router",
                                 routeName=f"checkout-v1-{name}")["route"]
    return ({t["virtualNode"][len("checkout-"):]: t["weight"] for t in r["spec"]["httpRoute"]["action"]["weightedTargets"]},
            r["metadata"]["version"])


@pytest.fixture
def spec_file(tmp_path: Path, aws: str) -> Path:  # noqa: F811
    build_mesh()
    build_cohort_routes()
    return write_spec(tmp_path, AB_SPEC)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_shows_each_cohort_route_beside_the_spec(spec_file, capsys):
    code, out, err = cli(capsys, "traffic", "status", spec_file, "checkout", "--format", "json")
    assert code == 0, err
    rows = {(r["major"], r.get("cohort")): r for r in json.loads(out)["rows"]}
    assert set(rows) == {("v1", None), ("v2", None), ("v1", "testers"), ("v1", "sticky-apple"),
                         ("v1", "sticky-banana")}
    assert rows["v1", "testers"]["spec"] == {"apple": 0, "banana": 100, "cherry": 0}
    assert rows["v1", "testers"]["live"] == {"banana": 100} and rows["v1", "testers"]["drift"] is False
    assert rows["v1", "testers"]["token"] == "checkout-v1-testers@1"
    assert rows["v1", "testers"]["target"] == "mesh shop-mesh route checkout-router/checkout-v1-testers"
    code, out, err = cli(capsys, "traffic", "status", spec_file, "checkout")
    assert any(line.split()[:4] == ["checkout", "v1", "cohort", "testers"] for line in out.splitlines())


def test_shift_a_cohort_route_then_roll_it_back(spec_file, capsys):
    before = spec_file.read_text()
    # WHEN the testers' route moves to apple
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--cohort", "testers",
                         "--to", "apple=100")
    assert code == 0, err
    assert cohort_route("testers") == ({"banana": 0, "apple": 100}, 2)
    # THEN the major's own route and the other cohorts are untouched; the journal names the cohort's route
    assert cohort_route("sticky-banana") == ({"banana": 100}, 1)
    (entry,) = journal.entries(spec_file.parent / ".meshspec")
    assert (entry.service, entry.major, entry.kind) == ("checkout", "v1", "shift")
    assert entry.target == "mesh shop-mesh route checkout-router/checkout-v1-testers"
    assert "checkout/v1 cohort testers on mesh shop-mesh route checkout-router/checkout-v1-testers:" in err
    assert "-          - {name: testers, priority: 1, header: x-cohort, value: b, version: banana}" in err
    assert "+          - {name: testers, priority: 1, header: x-cohort, value: b, version: apple}" in err
    assert spec_file.read_text() == before  # printed, not written, without --write-spec
    # AND a rollback of the cohort restores its route, not the major's weights
    code, out, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1", "--cohort", "testers")
    assert code == 0, err
    assert cohort_route("testers") == ({"banana": 100, "apple": 0}, 3)
    code, out, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1")
    assert code == 1 and "no shift of checkout/v1 is recorded" in err


def test_promote_a_cohort_and_write_it_into_the_spec(spec_file, capsys):
    code, out, err = cli(capsys, "traffic", "promote", spec_file, "checkout", "--major", "v1", "--cohort", "testers",
                         "--version", "apple", "--write-spec", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["change"]["cohort"] == "testers" and doc["spec"]["written"] is True
    assert "{name: testers, priority: 1, header: x-cohort, value: b, version: apple}" in spec_file.read_text()
    assert load_spec_or_raise(spec_file, today=TODAY).services["checkout"].majors["v1"].cohorts[0].version == "apple"


def test_a_sticky_route_can_be_shifted_but_not_folded_into_the_spec(spec_file, capsys):
    # Sending B's cookie holders back to A ends the experiment for them at once, without waiting for a deploy
    code, out, err = cli(capsys, "traffic", "promote", spec_file, "checkout", "--major", "v1", "--cohort",
                         "sticky-banana", "--version", "apple")
    assert code == 0, err
    assert cohort_route("sticky-banana") == ({"banana": 0, "apple": 100}, 2)
    assert ("warning: these weights cannot be folded into the spec: sticky-banana is the route of the sticky "
            "cookie's holders") in err
    code, out, err = cli(capsys, "traffic", "promote", spec_file, "checkout", "--major", "v1", "--cohort",
                         "sticky-banana", "--version", "apple", "--write-spec")
    assert code == 1 and "--write-spec: sticky-banana is the route of the sticky cookie's holders" in err


def test_a_concurrent_change_of_a_cohort_route_is_refused_and_nothing_written(spec_file):
    spec = load_spec_or_raise(spec_file, today=TODAY)
    ctx = Context(state_dir=spec_file.parent / ".meshspec")
    view = ops.cohort_backend(backend_for(spec, "checkout", ctx), "testers")
    change = ops.plan(spec, view, "checkout", "v1", "shift", ops.shift_weights(spec, "checkout", {"apple": Decimal(100)}, view),
                      cohort="testers")
    # GIVEN someone else points the testers at apple and back to banana meanwhile (same weights, new version)
    for target in ("apple", "banana"):
        appmesh().update_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v1-testers",
                               spec={"httpRoute": {"match": {"prefix": "/checkout/v1/", "headers": [
                                   {"name": "x-cohort", "match": {"exact": "b"}}]}, "action": {"weightedTargets": [
                                       {"virtualNode": f"checkout-{target}", "weight": 100}]}}})
    # WHEN meshspec writes what it planned on the old state, THEN it refuses before writing
    with pytest.raises(Conflict) as caught:
        ops.apply(change, view, ctx, "2026-11-23T10:00:00+00:00")
    assert caught.value.message.startswith("mesh shop-mesh route checkout-router/checkout-v1-testers changed since "
                                           "it was read (expected checkout-v1-testers@1, found checkout-v1-testers@3)")
    assert cohort_route("testers") == ({"banana": 100}, 3)
    assert journal.entries(ctx.state_dir) == []


def test_unknown_cohort_and_platforms_without_cohort_routes_are_refused(spec_file, capsys):
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--cohort", "tester",
                         "--to", "apple=100")
    assert code == 1 and "checkout/v1 has no cohort 'tester'" in err and "did you mean 'testers'?" in err
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v2", "--cohort", "testers",
                         "--to", "apple=100")
    assert code == 1 and "checkout/v2 has no cohort 'testers'" in err
    assert "its spec declares no cohorts or sticky cookie" in err


def test_an_undeployed_cohort_route_says_so(spec_file, capsys):
    appmesh().delete_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v1-testers")
    code, out, err = cli(capsys, "traffic", "status", spec_file, "checkout")
    assert code == 0  # the other rows were read
    assert ("checkout/v1 cohort testers: checkout/v1: App Mesh has no route checkout-v1-testers in router "
            "checkout-router of mesh shop-mesh") in err


# -- VPC Lattice: a cohort is a listener rule --------------------------------------------------------------------
@pytest.fixture
def lattice_world(tmp_path: Path, aws: str):  # noqa: F811
    from tests.lattice_support import build_lattice, install_rule_shim, lattice

    install_rule_shim()
    ids = build_lattice()
    c = lattice()
    for priority, (name, version) in enumerate((("testers", "banana"), ("sticky-banana", "banana"),
                                                ("sticky-apple", "apple")), start=10):
        header = {"name": "x-cohort", "match": {"exact": "b"}} if name == "testers" else {
            "name": "cookie", "match": {"contains": f"shop-ab={version}"}}
        rule = c.create_rule(serviceIdentifier=ids["service"], listenerIdentifier=ids["listener"],
                             name=f"checkout-v1-{name}", priority=priority,
                             match={"httpMatch": {"pathMatch": {"match": {"prefix": "/checkout/v1/"}},
                                                  "headerMatches": [header]}},
                             action={"forward": {"targetGroups": [{"targetGroupIdentifier": ids["tg"][version],
                                                                   "weight": 100}]}})
        ids[name] = rule["id"]
    spec = AB_SPEC.replace("    name: shop-mesh   # the mesh the routes live in\n",
                           "    name: shop-mesh   # the mesh the routes live in\n    backend: lattice\n")
    return write_spec(tmp_path, spec), ids


def test_lattice_cohort_rule_shift_rollback_and_concurrent_change(lattice_world, capsys):
    from tests.lattice_support import lattice, rule_weights

    spec_file, ids = lattice_world
    code, out, err = cli(capsys, "traffic", "status", spec_file, "checkout", "--format", "json")
    rows = {(r["major"], r.get("cohort")): r for r in json.loads(out)["rows"]}
    assert code == 0 and rows["v1", "testers"]["live"] == {"banana": 100} and rows["v1", "testers"]["drift"] is False
    assert rows["v1", "testers"]["target"] == "Lattice service shop-checkout rule checkout-http/checkout-v1-testers"
    # shift the testers' rule to apple: that rule only
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--cohort", "testers",
                         "--to", "apple=100")
    assert code == 0, err
    assert rule_weights(ids, "testers") == {"banana": 0, "apple": 100}
    assert rule_weights(ids, "v1") == {"apple": 90, "banana": 10} and rule_weights(ids, "sticky-banana") == {"banana": 100}
    # someone else changes the rule; meshspec's rollback refuses, nothing is written
    lattice().update_rule(serviceIdentifier=ids["service"], listenerIdentifier=ids["listener"],
                          ruleIdentifier=ids["testers"], action={"forward": {"targetGroups": [
                              {"targetGroupIdentifier": ids["tg"]["banana"], "weight": 50},
                              {"targetGroupIdentifier": ids["tg"]["apple"], "weight": 50}]}})
    code, out, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1", "--cohort", "testers")
    assert code == 1 and "checkout/v1 cohort testers changed since the last recorded shift" in err
    assert rule_weights(ids, "testers") == {"banana": 50, "apple": 50}
    code, out, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1", "--cohort", "testers",
                         "--force")
    assert code == 0, err
    assert rule_weights(ids, "testers") == {"banana": 100, "apple": 0}


def test_a_cohort_split_between_versions_is_written_but_not_folded(spec_file, capsys):
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--cohort", "testers",
                         "--to", "apple=50,banana=50")
    assert code == 0, err
    assert cohort_route("testers") == ({"banana": 50, "apple": 50}, 2)
    assert ("warning: these weights cannot be folded into the spec: cohort testers splits its requests (apple=50, "
            "banana=50), but a cohort in the spec sends them to one version") in err


def test_a_backend_without_cohort_routes_says_so():
    class NoCohorts:
        name = "plain"

    with pytest.raises(Exception) as caught:
        ops.cohort_backend(NoCohorts(), "testers")
    assert caught.value.message == ("plain has no cohort routes: its weights are the only traffic meshspec shifts "
                                    "there")
    assert ops.cohort_backend(NoCohorts, None) is NoCohorts  # no cohort: the backend itself
