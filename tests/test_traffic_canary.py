"""meshspec canary and traffic compare against App Mesh and CloudWatch in moto (server mode), no real waiting."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from meshspec.infra.cli.commands import canary as canary_cmd
from meshspec.infra.cli.commands import traffic as traffic_cmd
from meshspec.infra.cli.main import main
from meshspec.infra import journal
from tests.traffic_support import (START, FakeClock, MESH, appmesh, aws, build_mesh, moto_server,  # noqa: F401
                                   put_traffic, route, write_spec)

HEALTHY = dict(requests_=200, errors=0, latencies={40.0: 190, 120.0: 10})
BASELINE = dict(requests_=2000, errors=4, latencies={35.0: 1900, 110.0: 100})


@pytest.fixture
def spec_file(tmp_path: Path, aws: str) -> Path:  # noqa: F811
    build_mesh({"v1": {"apple": 100, "banana": 0}, "v2": {"apple": 90, "banana": 10}})
    return write_spec(tmp_path)


def traffic_by_step(canary: dict[int, dict], baseline: dict = BASELINE):
    """on_sleep hook: during window n the canary serves ``canary[n]`` (default HEALTHY), the baseline BASELINE."""
    def on_sleep(start: dt.datetime, end: dt.datetime, n: int) -> None:
        at = start + (end - start) / 2
        put_traffic(at, "banana", **canary.get(n, HEALTHY))
        put_traffic(at, "apple", **baseline)
    return on_sleep


def run_canary(monkeypatch, capsys, spec_file: Path, clock: FakeClock, *extra: str) -> tuple[int, dict, str]:
    monkeypatch.setattr(canary_cmd, "clock", clock)
    monkeypatch.setattr(canary_cmd, "sleep", clock.sleep)
    code = main(["canary", str(spec_file), "checkout", "--major", "v1", "--version", "banana",
                 "--steps", "1,10,50,100", "--interval", "5m", "--max-5xx-rate", "1%", "--max-p99-ms", "500",
                 "--format", "json", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err


def decisions(state: dict) -> list[tuple[int, str]]:
    return [(e["step"], e["decision"]) for e in state["events"] if e["action"] == "decision"]


def test_healthy_canary_is_promoted_step_by_step(spec_file, monkeypatch, capsys):
    clock = FakeClock(on_sleep=traffic_by_step({}))
    code, state, err = run_canary(monkeypatch, capsys, spec_file, clock)
    assert code == 0, err
    assert state["status"] == "promoted"
    assert decisions(state) == [(0, "continue"), (1, "continue"), (2, "continue"), (3, "promote")]
    assert clock.sleeps == [300.0] * 4  # the interval, on the injected sleeper
    shifts = [e["weights"] for e in state["events"] if e["action"] == "shift"]
    assert shifts == [{"apple": 99, "banana": 1, "cherry": 0}, {"apple": 90, "banana": 10, "cherry": 0},
                      {"apple": 50, "banana": 50, "cherry": 0}, {"apple": 0, "banana": 100, "cherry": 0}]
    first = next(e for e in state["events"] if e["action"] == "decision")
    assert first["figures"]["canary"] == {"requests": 200.0, "errors5xx": 0.0, "errorRate": 0.0,
                                          "p50Ms": 40.0, "p99Ms": 120.0}
    assert first["figures"]["baseline"]["requests"] == 2000.0 and first["figures"]["baseline"]["p99Ms"] == 110.0
    assert first["window"] == {"start": "2026-11-23T10:00:00+00:00", "end": "2026-11-23T10:05:00+00:00"}
    assert route("v1") == ({"apple": 0, "banana": 100}, 5)
    assert route("v2") == ({"apple": 90, "banana": 10}, 1)
    assert [e.kind for e in journal.entries(spec_file.parent / ".meshspec")] == ["canary"] * 4
    saved = json.loads((spec_file.parent / ".meshspec" / "canary-checkout-v1.json").read_text())
    assert saved["status"] == "promoted" and saved["events"] == state["events"]
    assert "+        traffic: {v1: 100, v2: 10}" in err  # how to fold it into the spec


def test_a_held_canary_is_judged_at_every_step_and_stays_at_the_last(spec_file, monkeypatch, capsys):
    # GIVEN a healthy canary asked to hold (CI judges the share the spec gives a version, no further)
    clock = FakeClock(on_sleep=traffic_by_step({}))
    monkeypatch.setattr(canary_cmd, "clock", clock)
    monkeypatch.setattr(canary_cmd, "sleep", clock.sleep)
    # WHEN it runs with steps up to 10 %
    code = main(["canary", str(spec_file), "checkout", "--major", "v1", "--version", "banana", "--steps", "1,10",
                 "--interval", "5m", "--hold", "--format", "json"])
    out, err = capsys.readouterr()
    state = json.loads(out)
    # THEN it is judged at both steps, ends held at 10 % (never promoted), and says so
    assert code == 0, err
    assert state["status"] == "held" and state["params"]["hold"] is True
    assert decisions(state) == [(0, "continue"), (1, "continue")]
    assert [e["action"] for e in state["events"]][-1] == "hold"
    assert route("v1") == ({"apple": 90, "banana": 10}, 3)
    assert "canary banana held at its last step: apple=90, banana=10" in err


def test_5xx_on_the_canary_rolls_back_at_once(spec_file, monkeypatch, capsys):
    bad = dict(requests_=400, errors=20, latencies={40.0: 400})  # 5 %
    clock = FakeClock(on_sleep=traffic_by_step({2: bad}))
    code, state, err = run_canary(monkeypatch, capsys, spec_file, clock)
    assert code == 1
    assert state["status"] == "rolled-back"
    assert decisions(state) == [(0, "continue"), (1, "rollback")]
    rollback = next(e for e in state["events"] if e["action"] == "decision" and e["decision"] == "rollback")
    assert rollback["figures"]["canary"]["errorRate"] == 0.05
    assert rollback["reasons"] == ["canary 5xx 20 of 400 requests (5.00%) is above the limit 1.00%"]
    assert route("v1")[0] == {"apple": 100, "banana": 0}  # the weights found at the start
    assert clock.sleeps == [300.0, 300.0]  # no further step was waited for
    assert "canary banana rolled back: apple=100, banana=0" in err


def test_slow_canary_rolls_back_on_p99(spec_file, monkeypatch, capsys):
    slow = dict(requests_=200, errors=0, latencies={50.0: 190, 800.0: 10})
    clock = FakeClock(on_sleep=traffic_by_step({1: slow}))
    code, state, err = run_canary(monkeypatch, capsys, spec_file, clock)
    assert code == 1
    assert decisions(state) == [(0, "rollback")]
    (reason,) = [e for e in state["events"] if e["action"] == "decision"][0]["reasons"]
    assert reason == "canary p99 800 ms is above the limit 500 ms"
    assert route("v1")[0] == {"apple": 100, "banana": 0}


def test_no_canary_traffic_waits_then_rolls_back(spec_file, monkeypatch, capsys):
    silent = dict(requests_=3, errors=0, latencies={40.0: 3})
    clock = FakeClock(on_sleep=traffic_by_step({1: silent, 2: silent, 3: silent}))
    code, state, _ = run_canary(monkeypatch, capsys, spec_file, clock)
    assert code == 1
    assert decisions(state) == [(0, "extend"), (0, "extend"), (0, "rollback")]
    assert route("v1")[0] == {"apple": 100, "banana": 0}


def test_ctrl_c_leaves_the_last_safe_weights_and_resume_finishes(spec_file, monkeypatch, capsys):
    def on_sleep(start, end, n):
        if n == 3:  # while waiting on the 50 % step
            raise KeyboardInterrupt
        traffic_by_step({})(start, end, n)

    clock = FakeClock(on_sleep=on_sleep)
    code, state, err = run_canary(monkeypatch, capsys, spec_file, clock)
    assert code == 130
    assert state["status"] == "interrupted" and state["step"] == 2
    assert "left at the last safe weights apple=90, banana=10, cherry=0" in err
    assert route("v1")[0] == {"apple": 90, "banana": 10}

    code, _, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(on_sleep=traffic_by_step({})))
    assert code == 1 and "is interrupted (step 3 of 4" in err and "--resume" in err

    clock = FakeClock(start=clock.now, on_sleep=traffic_by_step({}))
    code, state, err = run_canary(monkeypatch, capsys, spec_file, clock, "--resume")
    assert code == 0, err
    assert decisions(state) == [(0, "continue"), (1, "continue"), (2, "continue"),
                                (3, "promote")]
    assert route("v1")[0] == {"apple": 0, "banana": 100}


def test_resume_refuses_when_the_route_changed_meanwhile(spec_file, monkeypatch, capsys):
    def on_sleep(start, end, n):
        raise KeyboardInterrupt

    code, _, _ = run_canary(monkeypatch, capsys, spec_file, FakeClock(on_sleep=on_sleep))
    assert code == 130
    appmesh().update_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v1", spec={
        "httpRoute": {"match": {"prefix": "/checkout/v1/"}, "action": {"weightedTargets": [
            {"virtualNode": "checkout-apple", "weight": 70}, {"virtualNode": "checkout-banana", "weight": 30}]}}})
    code, _, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(), "--resume")
    assert code == 1 and "changed since the canary last wrote it: live apple=70, banana=30" in err
    assert route("v1")[0] == {"apple": 70, "banana": 30}


def test_canary_of_an_undeployed_version_changes_nothing(spec_file, monkeypatch, capsys):
    monkeypatch.setattr(canary_cmd, "sleep", lambda s: pytest.fail("must not wait"))
    code = main(["canary", str(spec_file), "checkout", "--major", "v1", "--version", "cherry"])
    _, err = capsys.readouterr()
    assert code == 1 and "nothing is deployed for version cherry on appmesh" in err
    assert route("v1") == ({"apple": 100, "banana": 0}, 1)


@pytest.mark.parametrize("args, message", [
    (["--steps", "10,5"], "percentages must rise strictly"),
    (["--steps", "0,50"], "each above 0 and at most 100"),
    (["--steps", "1.5,100"], "step 1.5=1.5: appmesh takes whole percentages"),
    (["--interval", "5"], "--interval '5' is not a duration"),
    (["--max-5xx-rate", "lots"], "--max-5xx-rate 'lots' is not a percentage"),
])
def test_bad_canary_options(spec_file, monkeypatch, capsys, args, message):
    monkeypatch.setattr(canary_cmd, "sleep", lambda s: pytest.fail("must not wait"))
    code = main(["canary", str(spec_file), "checkout", "--major", "v1", "--version", "banana", *args])
    _, err = capsys.readouterr()
    assert code == 1 and message in err, err
    assert route("v1") == ({"apple": 100, "banana": 0}, 1)


# -- compare -------------------------------------------------------------------------------------------------
def test_compare_two_versions_side_by_side(spec_file, monkeypatch, capsys):
    now = START + dt.timedelta(hours=1)
    monkeypatch.setattr(traffic_cmd, "clock", lambda: now)
    put_traffic(START + dt.timedelta(minutes=10), "apple", requests_=1000, errors=10, latencies={30.0: 970, 400.0: 30})
    put_traffic(START + dt.timedelta(minutes=40), "apple", requests_=1000, errors=0, latencies={30.0: 1000})
    put_traffic(START + dt.timedelta(minutes=20), "banana", requests_=100, errors=5, latencies={60.0: 98, 900.0: 2})
    put_traffic(START - dt.timedelta(minutes=5), "banana", requests_=999, errors=999, latencies={})  # outside
    code = main(["traffic", "compare", str(spec_file), "checkout", "--major", "v1", "apple", "banana", "--since", "1h"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [line.split() for line in out.splitlines()[1:7]]
    assert lines == [["apple", "banana"], ["requests", "2000", "100"], ["5xx", "10", "5"],
                     ["5xx", "rate", "0.50%", "5.00%"], ["p50", "ms", "30", "60"], ["p99", "ms", "400", "900"]]
    # THEN a verdict per figure: the rate differs beyond chance; latency has no period where both served
    assert "  banana against apple: 5xx rate 5.00% against 0.50%: higher by 4.50 points, significant (Fisher's " \
           "exact test on 100 and 2,000 requests, p = 0.000455)" in out.splitlines()
    assert ("  banana against apple: p50 60 ms against 30 ms: cannot tell: 0 period(s) with a p50 on both sides; at "
            "least 6 are needed for any result at alpha 0.05: widen --since") in out.splitlines()
    code = main(["traffic", "compare", str(spec_file), "checkout", "--major", "v1", "apple", "banana",
                 "--format", "json"])
    doc = json.loads(capsys.readouterr()[0])
    assert doc["versions"]["banana"] == {"requests": 100.0, "errors5xx": 5.0, "errorRate": 0.05,
                                         "p50Ms": 60.0, "p99Ms": 900.0}


def test_compare_refuses_unknown_versions(spec_file, capsys):
    code = main(["traffic", "compare", str(spec_file), "checkout", "--major", "v1", "apple", "durian"])
    assert code == 1 and "checkout has no version 'durian' in the spec" in capsys.readouterr()[1]


def test_someone_shifting_during_the_canary_stops_it_untouched(spec_file, monkeypatch, capsys):
    def on_sleep(start, end, n):
        traffic_by_step({})(start, end, n)
        if n == 1:  # another operator, while step 1 is being watched
            appmesh().update_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v1", spec={
                "httpRoute": {"match": {"prefix": "/checkout/v1/"}, "action": {"weightedTargets": [
                    {"virtualNode": "checkout-apple", "weight": 95}, {"virtualNode": "checkout-banana", "weight": 5}]}}})

    code, _, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(on_sleep=on_sleep))
    assert code == 1
    assert "changed since it was read (expected checkout-v1@2, found checkout-v1@3); nothing was written" in err
    assert route("v1") == ({"apple": 95, "banana": 5}, 3)
    saved = json.loads((spec_file.parent / ".meshspec" / "canary-checkout-v1.json").read_text())
    assert saved["status"] == "conflict" and saved["events"][-1]["action"] == "stop"


def test_a_canary_killed_between_write_and_state_save_resumes(spec_file, monkeypatch, capsys):
    """The journal has the write the state file missed: --resume adopts it instead of calling it a conflict."""
    real_append = journal.append
    calls = []

    class Killed(BaseException):
        pass

    def append_then_die(*a, **kw):
        entry = real_append(*a, **kw)
        calls.append(entry)
        if len(calls) == 2:  # step 2's write landed and is journaled; the process dies before saving state
            raise Killed
        return entry

    monkeypatch.setattr("meshspec.infra.traffic.canary.journal.append", append_then_die)
    clock = FakeClock(on_sleep=traffic_by_step({}))
    with pytest.raises(Killed):
        run_canary(monkeypatch, capsys, spec_file, clock)
    capsys.readouterr()
    assert route("v1")[0] == {"apple": 90, "banana": 10}
    saved = json.loads((spec_file.parent / ".meshspec" / "canary-checkout-v1.json").read_text())
    assert saved["status"] == "running" and saved["liveToken"] == "checkout-v1@2"  # one write behind

    monkeypatch.setattr("meshspec.infra.traffic.canary.journal.append", real_append)
    code, state, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(clock.now, traffic_by_step({})),
                                  "--resume")
    assert code == 0, err
    assert "adopt" in [e["action"] for e in state["events"]]
    assert decisions(state) == [(0, "continue"), (1, "continue"), (2, "continue"), (3, "promote")]
    assert route("v1") == ({"apple": 0, "banana": 100}, 5)


def test_rollback_takes_a_canary_that_had_traffic_before_out_entirely(spec_file, monkeypatch, capsys):
    appmesh().update_route(meshName=MESH, virtualRouterName="checkout-router", routeName="checkout-v1", spec={
        "httpRoute": {"match": {"prefix": "/checkout/v1/"}, "action": {"weightedTargets": [
            {"virtualNode": "checkout-apple", "weight": 90}, {"virtualNode": "checkout-banana", "weight": 10}]}}})
    bad = dict(requests_=400, errors=40, latencies={40.0: 400})
    clock = FakeClock(on_sleep=traffic_by_step({1: bad}))
    monkeypatch.setattr(canary_cmd, "clock", clock)
    monkeypatch.setattr(canary_cmd, "sleep", clock.sleep)
    code = main(["canary", str(spec_file), "checkout", "--major", "v1", "--version", "banana", "--steps", "25,100",
                 "--interval", "5m"])
    err = capsys.readouterr()[1]
    assert code == 1 and "rolled back to apple=100, banana=0" in err
    assert route("v1")[0] == {"apple": 100, "banana": 0}


def test_cloudwatch_failing_mid_step_stops_at_the_last_safe_weights(spec_file, monkeypatch, capsys):
    from meshspec.infra.errors import UserError
    from meshspec.infra.traffic.figures import CloudWatchFigures

    real = CloudWatchFigures.figures
    calls = []

    def flaky(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise UserError("CloudWatch GetMetricData failed: throttled")
        return real(self, *a, **kw)

    monkeypatch.setattr(CloudWatchFigures, "figures", flaky)
    code, _, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(on_sleep=traffic_by_step({})))
    assert code == 1
    assert "throttled; the canary stopped, left at the last safe weights apple=99, banana=1, cherry=0" in err
    assert route("v1")[0] == {"apple": 99, "banana": 1}  # step 1 passed; step 2 (10 %) was not judged
    saved = json.loads((spec_file.parent / ".meshspec" / "canary-checkout-v1.json").read_text())
    assert saved["status"] == "interrupted" and saved["events"][-1]["reason"].endswith("throttled")


def test_a_second_canary_process_on_the_same_major_is_refused(spec_file, monkeypatch, capsys):
    import fcntl

    state = spec_file.parent / ".meshspec"
    state.mkdir()
    with open(state / "canary-checkout-v1.json.lock", "a+") as held:  # as a running canary holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(), "--resume")
    assert code == 1 and "another canary process is running on checkout/v1" in err
    assert route("v1") == ({"apple": 100, "banana": 0}, 1)


# -- the burn rate of the major's availability objective ------------------------------------------------------
def _with_objective(tmp_path: Path) -> Path:
    from tests.traffic_support import SPEC

    text = SPEC.replace("      v1:\n        contract: contracts/checkout-v1.json\n",
                        "      v1:\n        contract: contracts/checkout-v1.json\n        slo: {availability: 99}\n")
    assert text != SPEC
    return write_spec(tmp_path, text)


def test_a_canary_burning_the_objectives_budget_too_fast_rolls_back(tmp_path, aws, monkeypatch, capsys):  # noqa: F811
    # GIVEN checkout/v1 with a 99 % availability objective and a canary at 3 % 5xx: within --max-5xx-rate 5 %,
    # but three times the error budget (burn rate 3 > 2)
    build_mesh({"v1": {"apple": 100, "banana": 0}, "v2": {"apple": 90, "banana": 10}})
    spec_file = _with_objective(tmp_path)
    burning = dict(requests_=400, errors=12, latencies={40.0: 400})
    clock = FakeClock(on_sleep=traffic_by_step({1: burning}))
    code, state, _ = run_canary(monkeypatch, capsys, spec_file, clock, "--max-5xx-rate", "5%", "--max-burn-rate", "2")
    # THEN the first step rolls back on the burn rate alone
    assert code == 1 and decisions(state) == [(0, "rollback")]
    (reason,) = [e for e in state["events"] if e["action"] == "decision"][0]["reasons"]
    assert reason == "canary burn rate 3.00x (5xx 3.00% against the 99 % objective) is above the limit 2x"
    assert state["params"]["thresholds"]["maxBurnRate"] == 2 and state["params"]["thresholds"]["availabilityObjective"] == 0.99
    assert route("v1")[0] == {"apple": 100, "banana": 0}


def test_a_canary_within_the_burn_rate_is_promoted(tmp_path, aws, monkeypatch, capsys):  # noqa: F811
    build_mesh({"v1": {"apple": 100, "banana": 0}, "v2": {"apple": 90, "banana": 10}})
    spec_file = _with_objective(tmp_path)
    light = dict(requests_=400, errors=2, latencies={40.0: 400})  # 0.5 %: burn rate 0.5
    code, state, _ = run_canary(monkeypatch, capsys, spec_file, FakeClock(on_sleep=traffic_by_step(
        {n: light for n in range(1, 5)})), "--max-burn-rate", "1")
    assert code == 0 and state["status"] == "promoted"
    first = [e for e in state["events"] if e["action"] == "decision"][0]
    assert "canary burn rate 0.50x within 1x" in first["reasons"]


def test_max_burn_rate_without_an_objective_is_refused_before_anything_moves(spec_file, monkeypatch, capsys):
    code, state, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(), "--max-burn-rate", "2")
    assert code == 1 and state["ok"] is False
    assert "error: --max-burn-rate needs an availability objective for checkout/v1, and the spec gives none" in err
    assert "hint: add services.checkout.slo.availability (or majors.v1.slo)" in err
    assert route("v1")[0] == {"apple": 100, "banana": 0}  # nothing was shifted
