"""meshspec traffic status/shift/promote/rollback against App Mesh in moto (server mode, real HTTP and botocore)."""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from meshspec.infra.cli.main import main
from meshspec.infra.errors import UserError
from meshspec.infra.spec import load_spec_or_raise
from meshspec.infra import journal
from meshspec.infra.traffic.backend import Conflict, Context, backend_for
from tests.conftest import TODAY
from tests.traffic_support import MESH, appmesh, aws, build_mesh, moto_server, route, write_spec  # noqa: F401


@pytest.fixture
def spec_file(tmp_path: Path, aws: str) -> Path:  # noqa: F811
    build_mesh()
    return write_spec(tmp_path)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def backend(spec_file: Path, service: str = "checkout"):
    spec = load_spec_or_raise(spec_file, today=TODAY)
    return backend_for(spec, service, Context(state_dir=spec_file.parent / ".meshspec"))


# -- status ---------------------------------------------------------------------------------------------
def test_status_shows_live_beside_spec_without_drift(spec_file, capsys):
    build_mesh({"v1": {"p-41": 100}}, nodes=("p-41",), service="pricing")
    code, out, err = cli(capsys, "traffic", "status", spec_file, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    rows = {(r["service"], r["major"]): r for r in doc["rows"]}
    assert rows["checkout", "v1"]["live"] == {"apple": 90, "banana": 10}
    assert rows["checkout", "v1"]["spec"] == {"apple": 90, "banana": 10, "cherry": 0}
    assert rows["checkout", "v1"]["drift"] is False
    assert rows["checkout", "v1"]["token"] == "checkout-v1@1"
    assert rows["pricing", "v1"]["live"] == {"p-41": 100}
    assert doc["drift"] is False


def test_status_marks_drift_and_detailed_exitcode(spec_file, capsys):
    appmesh().update_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v2", spec={
        "httpRoute": {"match": {"prefix": "/checkout/v2/"}, "action": {"weightedTargets": [
            {"virtualNode": "checkout-apple", "weight": 50}, {"virtualNode": "checkout-banana", "weight": 50}]}}})
    code, out, err = cli(capsys, "traffic", "status", spec_file, "checkout", "--detailed-exitcode")
    assert code == 2
    lines = {tuple(line.split()[:2]): line for line in out.splitlines()[1:]}
    assert "DRIFT" in lines["checkout", "v2"] and "apple=50, banana=50" in lines["checkout", "v2"]
    assert "DRIFT" not in lines["checkout", "v1"]


def test_status_of_an_undeployed_service_says_so(spec_file, capsys):
    code, out, err = cli(capsys, "traffic", "status", spec_file, "pricing")
    assert code == 1
    assert "App Mesh has no route pricing-v1 in router pricing-router of mesh shop-mesh" in err


def test_status_unknown_service(spec_file, capsys):
    code, _, err = cli(capsys, "traffic", "status", spec_file, "chekout")
    assert code == 1
    assert "service 'chekout' is not in the spec" in err and "did you mean 'checkout'?" in err


# -- shift ----------------------------------------------------------------------------------------------
def test_shift_keeps_the_others_proportions_and_prints_the_spec_fold(spec_file, capsys):
    before = spec_file.read_text()
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--to", "banana=30")
    assert code == 0, err
    assert route("v1") == ({"apple": 70, "banana": 30}, 2)
    assert route("v2") == ({"apple": 90, "banana": 10}, 1)  # another major: untouched
    assert "before: apple=90, banana=10" in err and "after:  apple=70, banana=30, cherry=0" in err
    assert "--write-spec" in err and "+        traffic: {v1: 70, v2: 90}" in err
    assert spec_file.read_text() == before  # no --write-spec: the spec is not touched
    (entry,) = journal.entries(spec_file.parent / ".meshspec")
    assert (entry.kind, entry.before, entry.after_token) == ("shift", {"apple": 90, "banana": 10}, "checkout-v1@2")


def test_shift_write_spec_keeps_comments_and_layout(spec_file, capsys):
    before = spec_file.read_text()
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1",
                         "--to", "banana=30", "--write-spec", "--format", "json")
    assert code == 0, err
    after = spec_file.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert changed == [("        traffic: 90   # the stable one", "        traffic: {v1: 70, v2: 90} # the stable one"),
                       ("        traffic: 10", "        traffic: {v1: 30, v2: 10}")]
    assert len(before.splitlines()) == len(after.splitlines())
    assert load_spec_or_raise(spec_file, today=TODAY).services["checkout"].versions[0].traffic == {
        "v1": Decimal(70), "v2": Decimal(90)}
    doc = json.loads(out)
    assert doc["spec"]["written"] is True and doc["change"]["after"] == {"apple": 70, "banana": 30, "cherry": 0}


def test_shift_full_set_and_dry_run(spec_file, capsys):
    code, _, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v2",
                       "--to", "apple=40,banana=60", "--dry-run")
    assert code == 0, err
    assert "dry run: nothing written" in err
    assert route("v2") == ({"apple": 90, "banana": 10}, 1)
    code, _, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v2", "--to", "apple=40",
                       "--to", "banana=60")
    assert code == 0, err
    assert route("v2") == ({"apple": 40, "banana": 60}, 2)


# -- promote / rollback ---------------------------------------------------------------------------------
def test_promote_then_rollback_twice_walks_back(spec_file, capsys):
    assert cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--to", "banana=50")[0] == 0
    assert cli(capsys, "traffic", "promote", spec_file, "checkout", "--major", "v1", "--version", "banana")[0] == 0
    assert route("v1") == ({"apple": 0, "banana": 100}, 3)
    code, _, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1")
    assert code == 0, err
    assert route("v1")[0] == {"apple": 50, "banana": 50}
    code, _, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1")
    assert code == 0, err
    assert route("v1")[0] == {"apple": 90, "banana": 10}
    code, _, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1")
    assert code == 1 and "no shift of checkout/v1 is recorded" in err
    assert route("v1") == ({"apple": 90, "banana": 10}, 5)


def test_rollback_refuses_when_someone_shifted_since(spec_file, capsys):
    assert cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--to", "banana=20")[0] == 0
    appmesh().update_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v1", spec={
        "httpRoute": {"match": {"prefix": "/checkout/v1/"}, "action": {"weightedTargets": [
            {"virtualNode": "checkout-apple", "weight": 60}, {"virtualNode": "checkout-banana", "weight": 40}]}}})
    code, _, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1")
    assert code == 1
    assert "changed since the last recorded shift" in err and "live apple=60, banana=40" in err
    assert route("v1") == ({"apple": 60, "banana": 40}, 3)
    code, _, err = cli(capsys, "traffic", "rollback", spec_file, "checkout", "--major", "v1", "--force")
    assert code == 0, err
    assert route("v1") == ({"apple": 90, "banana": 10}, 4)


# -- concurrency ----------------------------------------------------------------------------------------
def test_a_stale_token_is_refused_and_nothing_is_written(spec_file):
    b = backend(spec_file)
    live = b.read_weights("checkout", "v1")
    appmesh().update_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v1", spec={
        "httpRoute": {"match": {"prefix": "/checkout/v1/"}, "action": {"weightedTargets": [
            {"virtualNode": "checkout-apple", "weight": 80}, {"virtualNode": "checkout-banana", "weight": 20}]}}})
    with pytest.raises(Conflict) as exc:
        b.set_weights("checkout", "v1", {"apple": Decimal(0), "banana": Decimal(100)}, live.token)
    assert "expected checkout-v1@1, found checkout-v1@2" in exc.value.message
    assert "apple=80, banana=20" in exc.value.message
    assert route("v1") == ({"apple": 80, "banana": 20}, 2)


def test_two_shifts_at_once_one_wins_the_other_is_refused(spec_file):
    """Both read the same state, then both write: exactly one lands, the other is refused, nothing is lost."""
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}
    wanted = {"a": {"apple": Decimal(70), "banana": Decimal(30)}, "b": {"apple": Decimal(20), "banana": Decimal(80)}}

    def shift(name: str) -> None:
        b = backend(spec_file)  # each its own client, as two operators would have
        live = b.read_weights("checkout", "v1")
        barrier.wait()
        try:
            results[name] = b.set_weights("checkout", "v1", wanted[name], live.token)
        except Conflict as exc:
            results[name] = exc

    threads = [threading.Thread(target=shift, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [n for n, r in results.items() if not isinstance(r, Conflict)]
    losers = [n for n, r in results.items() if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    weights, version = route("v1")
    assert version == 2  # exactly one write
    assert weights == {k: int(v) for k, v in wanted[winners[0]].items()}
    assert results[losers[0]].live.weights == wanted[winners[0]]  # the loser is told what won


# -- bad input: a clear error and the route untouched -----------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["chekout", "--major", "v1", "--to", "banana=5"], "service 'chekout' is not in the spec"),
    (["checkout", "--major", "v3", "--to", "banana=5"], "checkout has no major 'v3'"),
    (["checkout", "--to", "banana=5"], "checkout serves 2 live majors (v1, v2); say which with --major"),
    (["checkout", "--major", "v1", "--to", "banan=5"], "checkout has no version 'banan' in the spec"),
    (["checkout", "--major", "v1", "--to", "apple=80,banana=30"], "the weights given sum to 110%, more than 100%"),
    (["checkout", "--major", "v1", "--to", "apple=50,banana=40"],
     "the weights given sum to 90% and the other versions (cherry) take no traffic now"),
    (["checkout", "--major", "v1", "--to", "banana=12.5"], "banana=12.5: appmesh takes whole percentages"),
    (["checkout", "--major", "v1", "--to", "banana"], "--to 'banana' is not VERSION=PERCENT"),
    (["checkout", "--major", "v1", "--to", "banana=x"], "--to 'banana=x': 'x' is not a number"),
    (["checkout", "--major", "v1", "--to", "banana=101"], "--to 'banana=101': 101% is outside 0 to 100"),
    (["checkout", "--major", "v1", "--to", "cherry=10"],
     "nothing is deployed for version(s) cherry on appmesh (no virtual node); nothing was changed"),
])
def test_bad_shift_input_is_refused_and_nothing_changes(spec_file, capsys, argv, message):
    before = spec_file.read_text()
    code, out, err = cli(capsys, "traffic", "shift", spec_file, *argv, "--write-spec")
    assert code == 1
    assert message in err
    assert route("v1") == ({"apple": 90, "banana": 10}, 1)
    assert route("v2") == ({"apple": 90, "banana": 10}, 1)
    assert spec_file.read_text() == before
    assert journal.entries(spec_file.parent / ".meshspec") == []


def test_promote_an_undeployed_version_is_refused(spec_file, capsys):
    code, _, err = cli(capsys, "traffic", "promote", spec_file, "checkout", "--major", "v1", "--version", "cherry")
    assert code == 1 and "no virtual node" in err
    assert route("v1") == ({"apple": 90, "banana": 10}, 1)


def test_backend_refuses_incomplete_weights_without_writing(spec_file):
    b = backend(spec_file)
    live = b.read_weights("checkout", "v1")
    with pytest.raises(UserError, match="the weights sum to 90%, not 100%"):
        b.set_weights("checkout", "v1", {"apple": Decimal(80), "banana": Decimal(10)}, live.token)
    with pytest.raises(UserError, match="apple=79.5: appmesh takes whole percentages"):
        b.set_weights("checkout", "v1", {"apple": Decimal("79.5"), "banana": Decimal("20.5")}, live.token)
    assert route("v1") == ({"apple": 90, "banana": 10}, 1)


def test_write_spec_that_cannot_be_honoured_writes_nothing(spec_file, capsys):
    """A live target the spec does not know (added by hand) would leave the folded spec summing to 100 - x."""
    appmesh().create_virtual_node(meshName=MESH, virtualNodeName="checkout-durian",
                                  spec={"listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}]})
    appmesh().update_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v1", spec={
        "httpRoute": {"match": {"prefix": "/checkout/v1/"}, "action": {"weightedTargets": [
            {"virtualNode": "checkout-apple", "weight": 80}, {"virtualNode": "checkout-banana", "weight": 10},
            {"virtualNode": "checkout-durian", "weight": 10}]}}})
    before = spec_file.read_text()
    code, _, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--to", "banana=20",
                       "--write-spec")
    assert code == 1 and "--write-spec: folding the live weights into the spec would make it invalid" in err
    assert "nothing was written" in err
    assert route("v1") == ({"apple": 80, "banana": 10, "durian": 10}, 2)
    assert spec_file.read_text() == before
    code, _, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--to", "banana=20")
    assert code == 0 and "warning: these weights cannot be folded into the spec" in err
    assert route("v1") == ({"apple": 71, "banana": 20, "durian": 9}, 3)


def test_a_writer_elsewhere_racing_the_write_is_reported(spec_file):
    """App Mesh has no conditional update: a writer on another machine can land between meshspec's re-read and
    its UpdateRoute. The version UpdateRoute returns then is not ours + 1, and meshspec says so."""
    b = backend(spec_file)
    live = b.read_weights("checkout", "v1")
    real = b.client

    class OtherMachineFirst:
        def __getattr__(self, name):
            return getattr(real, name)

        def update_route(self, **kw):
            appmesh().update_route(**{**kw, "spec": {"httpRoute": {"match": {"prefix": "/checkout/v1/"}, "action": {
                "weightedTargets": [{"virtualNode": "checkout-apple", "weight": 1},
                                    {"virtualNode": "checkout-banana", "weight": 99}]}}}})
            return real.update_route(**kw)

    b.client = OtherMachineFirst()
    with pytest.raises(UserError, match="was also changed by someone else while meshspec wrote it"):
        b.set_weights("checkout", "v1", {"apple": Decimal(50), "banana": Decimal(50)}, live.token)
    assert route("v1") == ({"apple": 50, "banana": 50}, 3)
