"""meshspec traffic, canary and compare on App Engine, against the project's Admin API emulator (real client,
REST) and the fake Cloud Monitoring (tests/monitoring_support.py, real google-api-python-client over HTTP)."""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.appengine_fixtures import GAE_PROJECT
from meshspec.infra.cli.commands import canary as canary_cmd
from meshspec.infra.cli.main import main
from meshspec.infra.spec import load_spec_or_raise
from meshspec.infra.traffic.backend import Conflict, Context, backend_for
from tests.conftest import TODAY
from tests.monitoring_support import _monitoring_server, monitoring  # noqa: F401
from tests.traffic_support import START, FakeClock, write_spec

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
        source: gs://bkt/apple.zip
        traffic: 90
      - name: banana
        source: gs://bkt/banana.zip
        traffic: 10
      - name: cherry
        source: gs://bkt/cherry.zip
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
        source: gs://bkt/s1.zip
        traffic: 100
      - name: s-2
        source: gs://bkt/s2.zip
"""


@pytest.fixture
def gae(gae_emulator, monitoring, monkeypatch):  # noqa: F811
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


# -- canary on App Engine: smoke checks and Cloud Monitoring figures ------------------------------------------------
HEALTHY = dict(requests_=200, errors=0, latencies={40.0: 190, 120.0: 10})
BASELINE = dict(requests_=2000, errors=4, latencies={35.0: 1900, 110.0: 100})


def traffic_by_step(fake, canary: dict[int, dict], *, module: str = "default", version: str = "banana",
                    baseline: str = "apple"):
    """on_sleep hook: during window n App Engine records ``canary[n]`` (default HEALTHY) for the canary version
    and BASELINE for the baseline, in the App Engine service ``module``."""
    def on_sleep(start, end, n):
        at = start + (end - start) / 2
        fake.put_traffic(at, module, version, **canary.get(n, HEALTHY))
        fake.put_traffic(at, module, baseline, **BASELINE)
    return on_sleep


class SmokeTarget:
    """The versions' own addresses: those under ``healthy_prefix`` answer 200 (for the first ``healthy_calls``
    checks), others 503."""

    def __init__(self):
        self.seen: list[str] = []
        self.healthy_calls = 1000
        self.healthy_prefix = "/banana/"
        self.base = ""


@pytest.fixture
def smoke_server(monkeypatch):
    target = SmokeTarget()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            target.seen.append(self.path)
            ok = self.path.startswith(target.healthy_prefix) and len(target.seen) <= target.healthy_calls
            self.send_response(200 if ok else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target.base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("MESHSPEC_SMOKE_URL", target.base + "/{version}")
    monkeypatch.setattr("meshspec.infra.appengine.smoke.time.sleep", lambda s: None)  # its retry pause
    yield target
    server.shutdown()


def run_canary(monkeypatch, capsys, clock, *argv) -> tuple[int, dict, str]:
    monkeypatch.setattr(canary_cmd, "clock", clock)
    monkeypatch.setattr(canary_cmd, "sleep", clock.sleep)
    code, out, err = cli(capsys, "canary", *argv, "--format", "json")
    return code, json.loads(out) if out.strip() else {}, err


def decisions(state: dict) -> list[tuple[int, str]]:
    return [(e["step"], e["decision"]) for e in state["events"] if e["action"] == "decision"]


def test_healthy_canary_is_judged_on_cloud_monitoring_and_promoted(spec_file, gae, monitoring, smoke_server,
                                                                     monkeypatch, capsys):
    clock = FakeClock(on_sleep=traffic_by_step(monitoring, {}))
    code, state, err = run_canary(monkeypatch, capsys, clock, spec_file, "users", "--major", "v2", "--version",
                                  "banana", "--steps", "25,50,100", "--interval", "5m", "--max-p99-ms", "500")
    assert code == 0, err
    assert smoke_server.seen[0] == "/banana/users/v2/healthz"
    assert [e["action"] for e in state["events"]][:3] == ["start", "smoke", "shift"]
    assert decisions(state) == [(0, "continue"), (1, "continue"), (2, "promote")]
    first = next(e for e in state["events"] if e["action"] == "decision")
    assert first["figures"]["canary"] == {"requests": 200.0, "errors5xx": 0.0, "errorRate": 0.0,
                                          "p50Ms": 40.0, "p99Ms": 120.0}
    assert first["figures"]["baseline"] == {"requests": 2000.0, "errors5xx": 4.0, "errorRate": 0.002,
                                            "p50Ms": 35.0, "p99Ms": 110.0}
    assert first["window"] == {"start": "2026-11-23T10:00:00+00:00", "end": "2026-11-23T10:05:00+00:00"}
    assert first["reasons"] == ["canary 5xx rate 0.00% within 1.00%", "canary p99 120 ms within 500 ms",
                                "smoke check: GET " + smoke_server_url(smoke_server, "banana", "users", "v2") +
                                ": HTTP 200"]
    # one split (and one App Engine service, module_id "default") serves both majors: said once
    assert "the figures are the versions' across v2, v1" in err
    assert split(gae) == {"banana": 1.0}
    assert clock.sleeps == [300.0] * 3
    assert "-        traffic: 90\n+        traffic: 0\n" in err  # how to fold it into the spec
    # what meshspec asked: App Engine's two series, per version, in the app's project
    filters = {q["filter"][0] for q in monitoring.requests}
    assert filters == {f'metric.type = "appengine.googleapis.com/http/server/{m}" AND resource.type = "gae_app" '
                       f'AND resource.labels.module_id = "default" AND (resource.labels.version_id = "banana" OR '
                       f'resource.labels.version_id = "apple")' for m in ("response_count", "response_latencies")}


def smoke_server_url(target, version, service, major) -> str:
    return f"{target.base}/{version}/{service}/{major}/healthz"


def test_5xx_on_the_app_engine_canary_rolls_back_at_once(spec_file, gae, monitoring, smoke_server, monkeypatch,
                                                          capsys):
    bad = dict(requests_=400, errors=20, latencies={40.0: 400})  # 5 %
    clock = FakeClock(on_sleep=traffic_by_step(monitoring, {2: bad}))
    code, state, err = run_canary(monkeypatch, capsys, clock, spec_file, "users", "--major", "v1", "--version",
                                  "banana", "--steps", "25,50,100", "--interval", "5m")
    assert code == 1
    assert state["status"] == "rolled-back"
    assert decisions(state) == [(0, "continue"), (1, "rollback")]
    rollback = [e for e in state["events"] if e["action"] == "decision"][-1]
    assert rollback["figures"]["canary"]["errorRate"] == 0.05
    assert rollback["reasons"][0] == "canary 5xx 20 of 400 requests (5.00%) is above the limit 1.00%"
    assert split(gae) == {"apple": 1.0}  # the canary out entirely: apple had 90 of the 100 left
    assert clock.sleeps == [300.0, 300.0]
    assert "canary banana rolled back: apple=100\n" in err


def test_canary_on_a_major_service_reads_that_service_s_series(spec_file, gae, monitoring, smoke_server,
                                                               monkeypatch, capsys):
    """majorsAsServices: the module_id is search-v1, and traffic recorded under another module is not counted."""
    def on_sleep(start, end, n):
        at = start + (end - start) / 2
        monitoring.put_traffic(at, "search-v1", "s-1", **BASELINE)
        monitoring.put_traffic(at, "search-v1", "s-2", **HEALTHY)
        monitoring.put_traffic(at, "search-v2", "s-2", requests_=100, errors=100, latencies={})  # another module

    smoke_server.healthy_prefix = "/s-2/"
    code, state, err = run_canary(monkeypatch, capsys, FakeClock(on_sleep=on_sleep), spec_file, "search",
                                  "--version", "s-2", "--steps", "50,100", "--interval", "2m")
    assert code == 0, err
    assert decisions(state) == [(0, "continue"), (1, "promote")]
    assert "across" not in err  # its own App Engine service: nothing shared
    assert split(gae, "search-v1") == {"s-2": 1.0}


def test_canary_with_a_failing_smoke_check_moves_nothing(spec_file, gae, smoke_server, monkeypatch, capsys):
    monkeypatch.setattr(canary_cmd, "sleep", lambda s: pytest.fail("must not wait"))
    code, _, err = cli(capsys, "canary", spec_file, "search", "--version", "s-2", "--steps", "50,100")
    assert code == 1 and "smoke check failed: GET http://127.0.0.1" in err and "/s-2/search/v1/healthz" in err
    assert "no traffic was moved" in err
    assert split(gae, "search-v1") == {"s-1": 1.0}


def test_canary_whose_version_stops_answering_is_rolled_back(spec_file, gae, monitoring, smoke_server,
                                                             monkeypatch, capsys):
    """Healthy figures do not save a version whose own address fails: the smoke check runs after every interval."""
    smoke_server.healthy_calls = 2  # the check before the first step and the one after it pass
    clock = FakeClock(on_sleep=traffic_by_step(monitoring, {}))
    code, state, _ = run_canary(monkeypatch, capsys, clock, spec_file, "users", "--major", "v1", "--version",
                                "banana", "--steps", "50,100", "--interval", "1m")
    assert code == 1
    assert decisions(state) == [(0, "continue"), (1, "rollback")]
    reasons = state["events"][-1]["reasons"]
    assert reasons[0] == "canary 5xx rate 0.00% within 1.00%" and "HTTP 503" in reasons[-1]
    assert split(gae) == {"apple": 1.0}


def test_monitoring_permission_denied_mid_canary_stops_at_the_last_safe_weights(spec_file, gae, monitoring,
                                                                                smoke_server, monkeypatch, capsys):
    def on_sleep(start, end, n):
        traffic_by_step(monitoring, {})(start, end, n)
        if n == 2:
            monitoring.fail(403, "Permission monitoring.timeSeries.list denied (or the resource may not exist).")

    code, _, err = run_canary(monkeypatch, capsys, FakeClock(on_sleep=on_sleep), spec_file, "users", "--major",
                              "v1", "--version", "banana", "--steps", "25,50,100", "--interval", "5m")
    assert code == 1
    assert (f"Cloud Monitoring refused timeSeries.list on projects/{GAE_PROJECT} (HTTP 403 PERMISSION_DENIED: "
            "Permission monitoring.timeSeries.list denied (or the resource may not exist).): reading App Engine "
            f"metrics needs the permission monitoring.timeSeries.list on project {GAE_PROJECT}; the canary "
            "stopped, left at the last safe weights apple=75, banana=25") in err
    assert split(gae) == {"apple": 0.75, "banana": 0.25}


# -- traffic compare on App Engine --------------------------------------------------------------------------------
def test_compare_two_app_engine_versions(spec_file, gae, monitoring, monkeypatch, capsys):
    from meshspec.infra.cli.commands import traffic as traffic_cmd
    import datetime as dt

    monkeypatch.setattr(traffic_cmd, "clock", lambda: START + dt.timedelta(hours=1))
    monitoring.put_traffic(START + dt.timedelta(minutes=10), "default", "apple", requests_=1000, errors=10,
                           latencies={30.0: 970, 400.0: 30})
    monitoring.put_traffic(START + dt.timedelta(minutes=40), "default", "apple", requests_=1000, errors=0,
                           latencies={30.0: 1000})
    monitoring.put_traffic(START + dt.timedelta(minutes=20), "default", "banana", requests_=100, errors=5,
                           latencies={60.0: 98, 900.0: 2})
    monitoring.put_traffic(START - dt.timedelta(minutes=5), "default", "banana", requests_=999, errors=999,
                           latencies={})  # before the window
    monitoring.page_size = 1  # every series on its own page: nextPageToken followed
    code, out, err = cli(capsys, "traffic", "compare", spec_file, "users", "--major", "v1", "apple", "banana",
                         "--since", "1h")
    assert code == 0, err
    lines = [line.split() for line in out.splitlines()[1:7]]
    assert lines == [["apple", "banana"], ["requests", "2000", "100"], ["5xx", "10", "5"],
                     ["5xx", "rate", "0.50%", "5.00%"], ["p50", "ms", "30", "60"], ["p99", "ms", "400", "900"]]
    # THEN a verdict per figure: the rate differs beyond chance; latency has no period where both served
    assert "  banana against apple: 5xx rate 5.00% against 0.50%: higher by 4.50 points, significant (Fisher's " \
           "exact test on 100 and 2,000 requests, p = 0.000455)" in out.splitlines()
    assert ("  banana against apple: p50 60 ms against 30 ms: cannot tell: 0 period(s) with a p50 on both sides; at "
            "least 6 are needed for any result at alpha 0.05: widen --since") in out.splitlines()
    assert "the figures are the versions' across v1, v2" in err
    assert any(q.get("pageToken") for q in monitoring.requests)
    code, out, _ = cli(capsys, "traffic", "compare", spec_file, "search", "s-1", "s-2", "--format", "json")
    assert code == 0 and json.loads(out)["versions"]["s-2"] == {"requests": 0.0, "errors5xx": 0.0,
                                                                "errorRate": None, "p50Ms": None, "p99Ms": None}


def test_compare_without_monitoring_permission_names_it(spec_file, gae, monitoring, capsys):
    monitoring.fail(403, "Permission monitoring.timeSeries.list denied (or the resource may not exist).")
    code, out, err = cli(capsys, "traffic", "compare", spec_file, "users", "--major", "v1", "apple", "banana")
    assert code == 1 and out == ""
    assert "needs the permission monitoring.timeSeries.list on project meshspec-test" in err
    assert "roles/monitoring.viewer" in err
    assert len(monitoring.requests) == 1  # a 403 is not retried


# -- an A/B test on App Engine: the cookie split is the sticky cohort ------------------------------------------------
STICKY_SPEC = SPEC.replace("""      v1:
        contract: contracts/users-v1.json
""", """      v1:
        contract: contracts/users-v1.json
        sticky: {cookie: GOOGAPPUID}
""")


def test_a_sticky_major_on_app_engine_has_no_cohort_routes(tmp_path, gae, capsys):
    spec_file = write_spec(tmp_path, STICKY_SPEC)
    # WHEN status reads a sticky major: THEN its split only, no cohort row (App Engine's cookie split keeps users)
    code, out, err = cli(capsys, "traffic", "status", spec_file, "users", "--format", "json")
    assert code == 0 and err == ""
    assert [(r["major"], r.get("cohort"), r["live"]) for r in json.loads(out)["rows"]] == [
        ("v1", None, {"apple": 90, "banana": 10}), ("v2", None, {"apple": 90, "banana": 10})]
    # AND --cohort is refused naming the platform, before the cohort's name is looked up
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "users", "--major", "v1", "--cohort", "sticky-apple",
                         "--to", "banana=100")
    assert code == 1 and err == ("error: appengine has no cohort routes: its weights are the only traffic meshspec "
                                 "shifts there\nhint: leave out --cohort (a sticky A/B test there moves with the "
                                 "weights)\n")
    assert split(gae) == {"apple": 0.9, "banana": 0.1}
