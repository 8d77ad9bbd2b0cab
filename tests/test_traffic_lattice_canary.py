"""meshspec canary and traffic compare on VPC Lattice: the figures come from Lattice's own target-group series
(AWS/VpcLattice), not from the App Mesh metric filters; against moto in server mode on 127.0.0.1."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from meshspec.backends.lattice import metrics as M
from meshspec.infra.cli.commands import canary as canary_cmd
from meshspec.infra.cli.commands import traffic as traffic_cmd
from meshspec.infra.cli.main import main
from meshspec.backends.lattice.figures import lattice_queries, target_group_dimensions

from .lattice_support import build_lattice, install_rule_shim, rule_weights
from .test_traffic_lattice import LATTICE_SPEC
from .traffic_support import FakeClock, START, aws, cloudwatch, moto_server, write_spec  # noqa: F401

install_rule_shim()

HEALTHY = dict(requests_=200, errors=0, latencies={40.0: 190, 120.0: 10})
BASELINE = dict(requests_=2000, errors=4, latencies={35.0: 1900, 110.0: 100})


def put_lattice(at: dt.datetime, target_group: str, *, requests_: int, errors: int,
                latencies: dict[float, int]) -> None:
    """What VPC Lattice publishes for one target group in one minute."""
    dims = [{"Name": M.DIM_TARGET_GROUP, "Value": target_group}]
    cloudwatch().put_metric_data(Namespace=M.NAMESPACE, MetricData=[
        {"MetricName": M.REQUESTS, "Dimensions": dims, "Timestamp": at, "Value": requests_},
        {"MetricName": M.ERRORS_5XX, "Dimensions": dims, "Timestamp": at, "Value": errors},
        {"MetricName": M.LATENCY_MS, "Dimensions": dims, "Timestamp": at,
         "Values": list(latencies), "Counts": list(latencies.values())}])


@pytest.fixture
def world(tmp_path: Path, aws: str):  # noqa: F811
    ids = build_lattice({"v1": {"apple": 100, "banana": 0}, "v2": {"apple": 90, "banana": 10}})
    return write_spec(tmp_path, LATTICE_SPEC), ids


def run_canary(monkeypatch, capsys, spec_file: Path, clock: FakeClock) -> tuple[int, dict, str]:
    monkeypatch.setattr(canary_cmd, "clock", clock)
    monkeypatch.setattr(canary_cmd, "sleep", clock.sleep)
    code = main(["canary", str(spec_file), "checkout", "--major", "v1", "--version", "banana",
                 "--steps", "10,50,100", "--interval", "5m", "--max-5xx-rate", "1%", "--max-p99-ms", "500",
                 "--format", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err


def by_step(ids: dict, canary: dict[int, dict]):
    def on_sleep(start: dt.datetime, end: dt.datetime, n: int) -> None:
        at = start + (end - start) / 2
        put_lattice(at, ids["tg"]["banana"], **canary.get(n, HEALTHY))
        put_lattice(at, ids["tg"]["apple"], **BASELINE)
    return on_sleep


def test_a_healthy_canary_on_lattice_reads_the_target_groups_and_is_promoted(world, monkeypatch, capsys):
    spec_file, ids = world
    code, state, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(on_sleep=by_step(ids, {})))
    assert code == 0, err
    assert state["status"] == "promoted"
    first = next(e for e in state["events"] if e["action"] == "decision")
    # THEN the figures are the target groups' own series
    assert first["figures"]["canary"] == {"requests": 200.0, "errors5xx": 0.0, "errorRate": 0.0,
                                          "p50Ms": 40.0, "p99Ms": 120.0}
    assert first["figures"]["baseline"]["requests"] == 2000.0
    assert rule_weights(ids, "v1") == {"apple": 0, "banana": 100}
    assert rule_weights(ids, "v2") == {"apple": 90, "banana": 10}


def test_5xx_on_a_lattice_canary_rolls_the_rule_back(world, monkeypatch, capsys):
    spec_file, ids = world
    bad = dict(requests_=400, errors=20, latencies={40.0: 400})  # 5 %
    code, state, err = run_canary(monkeypatch, capsys, spec_file, FakeClock(on_sleep=by_step(ids, {2: bad})))
    assert code == 1
    assert state["status"] == "rolled-back"
    assert rule_weights(ids, "v1") == {"apple": 100, "banana": 0}


def test_compare_on_lattice_reads_the_two_target_groups(world, monkeypatch, capsys):
    spec_file, ids = world
    put_lattice(START - dt.timedelta(minutes=3), ids["tg"]["apple"], **BASELINE)
    put_lattice(START - dt.timedelta(minutes=3), ids["tg"]["banana"], **HEALTHY)
    monkeypatch.setattr(traffic_cmd, "clock", lambda: START)
    code = main(["traffic", "compare", str(spec_file), "checkout", "--major", "v1", "apple", "banana",
                 "--since", "10m", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    versions = json.loads(out)["versions"]
    assert versions["apple"]["requests"] == 2000.0 and versions["banana"]["requests"] == 200.0
    assert versions["banana"]["p99Ms"] == 120.0


def test_target_group_dimensions_match_the_id_or_its_arn_and_take_the_total():
    # GIVEN the series CloudWatch lists: a per-zone slice and the total of tg-a (by ARN), one of another group
    metrics = [
        {"Dimensions": [{"Name": "TargetGroup", "Value": "arn:aws:vpc-lattice:eu-west-1:1:targetgroup/tg-a"},
                        {"Name": "AvailabilityZone", "Value": "eu-west-1a"}]},
        {"Dimensions": [{"Name": "TargetGroup", "Value": "arn:aws:vpc-lattice:eu-west-1:1:targetgroup/tg-a"}]},
        {"Dimensions": [{"Name": "TargetGroup", "Value": "tg-other"}]},
    ]
    # WHEN matched to the versions' target groups
    dims = target_group_dimensions(metrics, {"apple": "tg-a", "banana": "tg-b"})
    # THEN apple gets the whole-group series; banana, with no series yet, none
    assert dims == {"apple": [{"Name": "TargetGroup", "Value": "arn:aws:vpc-lattice:eu-west-1:1:targetgroup/tg-a"}]}
    # AND a version without series gets no query, i.e. zero requests
    q = lattice_queries(["apple", "banana"], dims, 300)
    assert {x["Id"] for x in q} == {"req0", "err0", "p50x0", "p99x0"}
    assert {x["MetricStat"]["Metric"]["Namespace"] for x in q} == {"AWS/VpcLattice"}
