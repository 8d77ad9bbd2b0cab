"""One journal per cloud, one format, one location rule: `appengine` and `traffic` commands undo each other's moves,
and the journals written before (tests/fixtures/journal-v1, written by meshspec's code of before) are read."""
from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from meshspec.infra import journal
from meshspec.infra.appengine.journal import Journal as AppEngineJournal
from meshspec.infra.appengine.state import Split, split_target
from meshspec.infra.cli.main import main
from tests.appengine_fixtures import GAE_PROJECT
from tests.traffic_support import write_spec

from .conftest import ROOT
from .test_traffic_appengine import SPEC

V1 = ROOT / "tests" / "fixtures" / "journal-v1"
CHECKOUT = "mesh shop-mesh route checkout-router/checkout-v1"


def D(x) -> Decimal:
    return Decimal(str(x))


# -- the journals of before ----------------------------------------------------------------------------------
def test_the_traffic_journal_of_before_is_read_and_a_new_rollback_walks_back_into_it(tmp_path):
    # GIVEN today's traffic journal beside the spec: a shift, a canary, the canary rolled back
    shutil.copy(V1 / "traffic-journal.jsonl", tmp_path / "traffic-journal.jsonl")
    # WHEN it is read / THEN the canary counts as undone: the shift is next, at the rollback's token
    entry, token = journal.last_undoable(tmp_path, "checkout", "v1", target=CHECKOUT)
    assert (entry.index, entry.kind, entry.before, token) == (0, "shift", {"apple": 90, "banana": 10}, "checkout-v1@4")
    # WHEN a rollback undoes it in the new format, in the same file / THEN nothing is left to undo
    new = journal.append(tmp_path, kind="rollback", target=CHECKOUT, service="checkout", major="v1",
                         before={"apple": D(50), "banana": D(50)}, before_token="checkout-v1@4",
                         after={"apple": D(90), "banana": D(10)}, after_token="checkout-v1@5", undoes=entry.key)
    assert new.index == 4 and journal.last_undoable(tmp_path, "checkout", "v1", target=CHECKOUT) is None
    lines = [json.loads(x) for x in (tmp_path / "traffic-journal.jsonl").read_text().splitlines()]
    assert [x.get("v") for x in lines] == [None, None, None, None, 2] and lines[-1]["undoes"] == 0


def test_the_app_engine_journal_of_before_is_read_beside_the_new_one(tmp_path):
    # GIVEN App Engine's run journal where apply ran, and today's traffic journal (an App Engine shift in it)
    shutil.copy(V1 / "traffic-journal.jsonl", tmp_path / "traffic-journal.jsonl")
    legacy = tmp_path / "apply-folder" / ".meshspec" / "appengine" / "journal.jsonl"
    legacy.parent.mkdir(parents=True)
    shutil.copy(V1 / "appengine-journal.jsonl", legacy)
    gcp = AppEngineJournal(tmp_path, legacy_runs=legacy)
    # THEN its runs are App Engine's, and the split they changed can be rolled back to
    (run,) = gcp.runs()
    assert (run.id, run.command, run.app, run.outcome) == ("0123456789ab", "apply", GAE_PROJECT, "finished")
    change = gcp.split_before_last_change(GAE_PROJECT, "search-v1")
    assert (change.label, change.before) == ("run 0123456789ab", Split.of("IP", {"s-1": 1}))
    # AND a service that run created has no split to go back to (its first version took all traffic)
    assert gcp.split_before_last_change(GAE_PROJECT, "default").before is None
    # AND the App Engine shift of the traffic journal is the GCP journal's, by its service and major
    entry, token = gcp.core.last_undoable(target=split_target(GAE_PROJECT, "default"), service="users", major="v1")
    assert (entry.after, token) == ({"apple": D("70.5"), "banana": D("29.5")}, "split:bbbbbbbbbbbbbbbb")
    # AND the AWS journal does not see App Engine's runs
    assert journal.Journal(tmp_path, "aws").runs() == []


# -- the two command groups share one journal ------------------------------------------------------------------
@pytest.fixture
def gae(gae_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("MESHSPEC_APPENGINE_ENDPOINT", gae_emulator.url)
    monkeypatch.delenv("MESHSPEC_STATE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    for v in ("apple", "banana"):
        gae_emulator.seed_version("default", v)
    gae_emulator.seed_split("default", {"apple": 0.9, "banana": 0.1}, shard_by="COOKIE")
    return gae_emulator


def split(emu, service: str = "default") -> dict:
    return emu.snapshot()["services"][service]["split"]


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_traffic_rollback_undoes_appengine_promote_and_appengine_rollback_undoes_a_traffic_shift(gae, tmp_path,
                                                                                                capsys):
    spec = write_spec(tmp_path, SPEC)
    # appengine promote (by the spec's service name), then traffic rollback: back to 90/10
    assert run(capsys, "appengine", "promote", "users", "banana", "--spec", spec)[0] == 0
    assert split(gae)["allocations"] == {"banana": 1.0}
    code, err = run(capsys, "traffic", "rollback", spec, "users", "--major", "v1")
    assert code == 0, err
    assert split(gae)["allocations"] == {"apple": 0.9, "banana": 0.1}
    # traffic shift, then appengine rollback: back to 90/10 again
    assert run(capsys, "traffic", "shift", spec, "users", "--major", "v1", "--to", "banana=30")[0] == 0
    assert split(gae)["allocations"] == {"apple": 0.7, "banana": 0.3}
    code, err = run(capsys, "appengine", "rollback", "users", "--spec", spec)
    assert code == 0, err
    assert split(gae) == {"allocations": {"apple": 0.9, "banana": 0.1}, "shardBy": "COOKIE"}
    # one journal beside the spec holds every move, in one format
    records = [json.loads(x) for x in (tmp_path / ".meshspec" / "appengine-journal.jsonl").read_text().splitlines()]
    moves = [(r["kind"], r.get("undoes")) for r in records if r["event"] == "move"]
    assert moves == [("promote", None), ("rollback", 2), ("shift", None), ("rollback", 5)]
    assert {r["v"] for r in records} == {2} and not (tmp_path / ".meshspec" / "appengine").exists()


def test_rolling_back_the_default_service_after_apply_says_it_did_not_exist(gae_emulator, monkeypatch, tmp_path,
                                                                           capsys):
    # GIVEN an empty application and `appengine apply` of a spec whose users service is the default service
    monkeypatch.setenv("MESHSPEC_APPENGINE_ENDPOINT", gae_emulator.url)
    monkeypatch.delenv("MESHSPEC_STATE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path, SPEC.replace("location: europe-west", "location: us-central"))  # the emulator's
    code, err = run(capsys, "appengine", "apply", spec, "--poll-interval", "0.05")
    assert code == 0, err
    # WHEN the default service is rolled back, by its spec name, from the folder apply ran in
    code, err = run(capsys, "appengine", "rollback", "users", "--spec", spec)
    # THEN the journal was found, and says why there is nothing to go back to
    assert code == 1
    assert "error: service default did not exist before run " in err and "so there is no split to go back to" in err
    assert "hint: promote a version instead: meshspec appengine promote default VERSION" in err
    assert "where apply ran" not in err


def test_a_rollback_with_no_journal_says_where_it_looked(gae, tmp_path, capsys):
    code, err = run(capsys, "appengine", "rollback", "default", "--app", GAE_PROJECT)
    assert code == 1
    assert f"error: there is no journal at {tmp_path / '.meshspec' / 'appengine-journal.jsonl'}" in err
    assert "hint: the journal lives beside the spec apply used: give --spec with its path, --state-dir DIR or" in err


def test_the_journal_honours_meshspec_state_dir(gae, tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared-state"
    monkeypatch.setenv("MESHSPEC_STATE_DIR", str(shared))
    spec = write_spec(tmp_path, SPEC)
    assert run(capsys, "appengine", "promote", "default", "banana", "--spec", spec)[0] == 0
    assert (shared / "appengine-journal.jsonl").exists() and not (tmp_path / ".meshspec").exists()
    code, err = run(capsys, "appengine", "rollback", "default", "--app", GAE_PROJECT)  # no --spec: the same journal
    assert code == 0, err
    assert split(gae)["allocations"] == {"apple": 0.9, "banana": 0.1}
