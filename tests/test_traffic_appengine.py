"""meshspec traffic and canary on App Engine, against the project's Admin API emulator (real client, REST)."""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.appengine_fixtures import GAE_PROJECT
from infra.cli.commands import canary as canary_cmd
from infra.cli.main import main
from infra.spec import load_spec_or_raise
from infra.traffic.backend import Conflict, Context, backend_for
from tests.conftest import TODAY
from tests.traffic_support import FakeClock, write_spec

SPEC = f"""\
apiVersion: meshspec/v1
project: shop
gcp:
  project: {GAE_PROJECT}
  location: europe-west

services:
  users:
    appengine:
      environment: standard
      runtime: python312
      splitBy: cookie      # cookie splits take one decimal of a percent
      defaultService: true # App Engine service id: default
    majors:
      v1:
        contract: contracts/users-v1.json
      v2:
        contract: contracts/users-v2.json
    versions:
      - name: apple
        source: gs://b/apple.zip
        traffic: 90
      - name: banana
        source: gs://b/banana.zip
        traffic: 10
      - name: cherry
        source: gs://b/cherry.zip
  search:
    appengine:
      environment: standard
      runtime: python312
      splitBy: ip
      majorsAsServices: true
    majors:
      v1:
        contract: contracts/search-v1.json
    versions:
      - name: s-1
        source: gs://b/s1.zip
        traffic: 100
      - name: s-2
        source: gs://b/s2.zip
"""


@pytest.fixture
def gae(gae_emulator, monkeypatch):
    monkeypatch.setenv("MESHSPEC_APPENGINE_ENDPOINT", gae_emulator.url)
    monkeypatch.delenv("MESHSPEC_STATE_DIR", raising=False)
    for v in ("apple", "banana"):
        gae_emulator.seed_version("default", v)
    gae_emulator.seed_split("default", {"apple": 0.9, "banana": 0.1}, shard_by="COOKIE")
    for v in ("s-1", "s-2"):
        gae_emulator.seed_version("search-v1", v)
    gae_emulator.seed_split("search-v1", {"s-1": 1.0}, shard_by="IP")
    gae_emulator.clear_calls()
    return gae_emulator


@pytest.fixture
def spec_file(tmp_path: Path, gae) -> Path:
    return write_spec(tmp_path, SPEC)


def split(emu, service: str = "default") -> dict[str, float]:
    return dict(emu.clients().services.get_service(request={"name": f"apps/{GAE_PROJECT}/services/{service}"})
                .split.allocations)


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_reads_the_splits(spec_file, gae, capsys):
    code, out, err = cli(capsys, "traffic", "status", spec_file, "--format", "json")
    assert code == 0, err
    rows = {(r["service"], r["major"]): r for r in json.loads(out)["rows"]}
    assert rows["users", "v1"]["live"] == {"apple": 90, "banana": 10}
    assert rows["users", "v1"]["sharedWith"] == ["v2"] and rows["users", "v1"]["drift"] is False
    assert rows["search", "v1"]["live"] == {"s-1": 100} and rows["search", "v1"]["platform"] == "appengine"
    assert rows["search", "v1"]["target"] == f"App Engine apps/{GAE_PROJECT}/services/search-v1 split"
    gae.seed_split("default", {"apple": 0.5, "banana": 0.5}, shard_by="COOKIE")
    code, out, _ = cli(capsys, "traffic", "status", spec_file, "users", "--detailed-exitcode")
    assert code == 2 and out.count("DRIFT") == 2  # both majors: one split


def test_shift_moves_the_shared_split_and_write_spec_keeps_one_number(spec_file, gae, capsys):
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "users", "--major", "v1", "--to", "banana=25.5",
                         "--write-spec")
    assert code == 0, err
    assert split(gae) == {"apple": 0.745, "banana": 0.255}
    assert "v1, v2 change together" in err
    text = spec_file.read_text()
    assert "        traffic: 74.5\n" in text and "        traffic: 25.5\n" in text
    assert "splitBy: cookie      # cookie splits take one decimal of a percent" in text
    spec = load_spec_or_raise(spec_file, today=TODAY)
    assert [v.traffic for v in spec.services["users"].versions] == [Decimal("74.5"), Decimal("25.5"), 0]


def test_promote_and_rollback_on_a_major_service(spec_file, gae, capsys):
    code, _, err = cli(capsys, "traffic", "promote", spec_file, "search", "--version", "s-2")
    assert code == 0, err
    assert split(gae, "search-v1") == {"s-2": 1.0}
    code, _, err = cli(capsys, "traffic", "rollback", spec_file, "search")
    assert code == 0, err
    assert split(gae, "search-v1") == {"s-1": 1.0}


@pytest.mark.parametrize("argv, message", [
    (["search", "--to", "s-2=12.5"], "s-2=12.5: appengine takes whole percentages"),
    (["users", "--major", "v1", "--to", "banana=10.25"], "banana=10.25: appengine takes percentages with at most 1"),
    (["users", "--major", "v1", "--to", "cherry=5"], "nothing is deployed for version(s) cherry on appengine"),
    (["users", "--major", "v1", "--to", "apple=60,banana=60"], "the weights given sum to 120%"),
])
def test_bad_input_changes_no_split(spec_file, gae, capsys, argv, message):
    code, _, err = cli(capsys, "traffic", "shift", spec_file, *argv)
    assert code == 1 and message in err, err
    assert gae.count(writes=True) == 0
    assert split(gae) == {"apple": 0.9, "banana": 0.1}


def test_a_split_changed_since_read_is_not_overwritten(spec_file, gae):
    spec = load_spec_or_raise(spec_file, today=TODAY)
    b = backend_for(spec, "users", Context(state_dir=spec_file.parent / ".meshspec"))
    live = b.read_weights("users", "v1")
    gae.seed_split("default", {"apple": 0.8, "banana": 0.2}, shard_by="COOKIE")
    with pytest.raises(Conflict, match="apple=80, banana=20"):
        b.set_weights("users", "v1", {"apple": Decimal(0), "banana": Decimal(100)}, live.token)
    assert split(gae) == {"apple": 0.8, "banana": 0.2}


# -- canary on App Engine: smoke check first, steps without metric analysis ---------------------------------------
class SmokeTarget:
    """The versions' own addresses: banana answers 200 (for its first ``healthy_calls`` checks), others 503."""

    def __init__(self):
        self.seen: list[str] = []
        self.healthy_calls = 1000


@pytest.fixture
def smoke_server(monkeypatch):
    target = SmokeTarget()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            target.seen.append(self.path)
            ok = self.path.startswith("/banana/") and len(target.seen) <= target.healthy_calls
            self.send_response(200 if ok else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MESHSPEC_SMOKE_URL", f"http://127.0.0.1:{server.server_address[1]}/{{version}}")
    monkeypatch.setattr("infra.appengine.smoke.time.sleep", lambda s: None)  # its retry pause
    yield target
    server.shutdown()


def test_canary_smoke_checks_then_steps_to_promotion(spec_file, gae, smoke_server, monkeypatch, capsys):
    clock = FakeClock()
    monkeypatch.setattr(canary_cmd, "clock", clock)
    monkeypatch.setattr(canary_cmd, "sleep", clock.sleep)
    code, out, err = cli(capsys, "canary", spec_file, "users", "--major", "v2", "--version", "banana",
                         "--steps", "25,50,100", "--interval", "1m", "--format", "json")
    assert code == 0, err
    state = json.loads(out)
    assert smoke_server.seen[0] == "/banana/users/v2/healthz"
    assert [e["action"] for e in state["events"]][:3] == ["start", "smoke", "shift"]
    assert "metric analysis is not built yet" in err
    (decision, *_) = [e for e in state["events"] if e["action"] == "decision"]
    assert decision["figures"] == {"canary": None, "baseline": None}
    assert "no metric analysis on this platform yet" in decision["reasons"][0]
    assert split(gae) == {"banana": 1.0}
    assert clock.sleeps == [60.0] * 3
    assert "-        traffic: 90\n+        traffic: 0\n" in err  # how to fold it into the spec


def test_canary_with_a_failing_smoke_check_moves_nothing(spec_file, gae, smoke_server, monkeypatch, capsys):
    monkeypatch.setattr(canary_cmd, "sleep", lambda s: pytest.fail("must not wait"))
    code, _, err = cli(capsys, "canary", spec_file, "search", "--version", "s-2", "--steps", "50,100")
    assert code == 1 and "smoke check failed: GET http://127.0.0.1" in err and "/s-2/search/v1/healthz" in err
    assert "no traffic was moved" in err
    assert split(gae, "search-v1") == {"s-1": 1.0}


def test_canary_whose_version_stops_answering_is_rolled_back(spec_file, gae, smoke_server, monkeypatch, capsys):
    smoke_server.healthy_calls = 2  # the check before the first step and the one after it pass
    clock = FakeClock()
    monkeypatch.setattr(canary_cmd, "clock", clock)
    monkeypatch.setattr(canary_cmd, "sleep", clock.sleep)
    code, out, err = cli(capsys, "canary", spec_file, "users", "--major", "v1", "--version", "banana",
                         "--steps", "50,100", "--interval", "1m", "--format", "json")
    assert code == 1
    state = json.loads(out)
    assert [(e["step"], e["decision"]) for e in state["events"] if e["action"] == "decision"] == [
        (0, "continue"), (1, "rollback")]
    assert "HTTP 503" in state["events"][-1]["reasons"][-1]
    assert split(gae) == {"apple": 1.0}
