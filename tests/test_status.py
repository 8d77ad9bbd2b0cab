"""``meshspec status`` against CloudWatch in moto (server mode) and App Engine's figures in the Cloud Monitoring
fake, with the metric data each test puts there: the shop's chain catalog → pricing → erp-connector, an upstream
with no data yet (recommendations on EKS), and user-service on App Engine."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from meshspec.constructs_lib import metric_names as M
from meshspec.infra.cli.commands import status as status_cmd
from meshspec.infra.cli.main import main
from tests.appengine_fixtures import GAE_PROJECT
from tests.conftest import SHOP
from tests.monitoring_support import _monitoring_server, monitoring  # noqa: F401
from tests.traffic_support import aws, cloudwatch, moto_server  # noqa: F401

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.timezone.utc)
ECS, EKS = "ecs:shop-core", "eks:shop-ml/default"


@pytest.fixture
def spec_file(tmp_path: Path, aws: str, monitoring, monkeypatch) -> Path:  # noqa: F811
    """The shipped shop, its App Engine part in the fake's project; "now" fixed."""
    monkeypatch.setattr(status_cmd, "clock", lambda: NOW)
    shutil.copytree(SHOP.parent / "contracts", tmp_path / "contracts")
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP.read_text().replace("project: shop-prod-4711", f"project: {GAE_PROJECT}"))
    return path


def put_service(service: str, *, requests: int, faults: int, latencies: dict[float, int] | None = None,
                environment: str = ECS, at: dt.datetime = NOW - dt.timedelta(minutes=5)) -> None:
    """What the CloudWatch agent publishes for a service as the server: Latency per request, Fault 0 or 1."""
    dims = [{"Name": M.APPSIGNALS_DIM_ENVIRONMENT, "Value": environment},
            {"Name": M.APPSIGNALS_DIM_SERVICE, "Value": service}]
    latencies = latencies or {50.0: requests}
    assert sum(latencies.values()) == requests
    cloudwatch().put_metric_data(Namespace=M.APPSIGNALS_NAMESPACE, MetricData=[
        {"MetricName": M.APPSIGNALS_LATENCY, "Dimensions": dims, "Timestamp": at, "Unit": "Milliseconds",
         "Values": list(latencies), "Counts": list(latencies.values())},
        {"MetricName": M.APPSIGNALS_FAULT, "Dimensions": dims, "Timestamp": at,
         "Values": [0.0, 1.0], "Counts": [requests - faults, faults]}])


def healthy_app_engine(monitoring) -> None:  # noqa: F811
    for version in ("apple", "banana"):
        monitoring.put_traffic(NOW - dt.timedelta(minutes=3), "user-service", version, requests_=100, errors=0,
                               latencies={30.0: 100})


def run(capsys, spec_file: Path, *extra: str) -> tuple[int, dict, str]:
    code = main(["status", str(spec_file), *extra, "--format", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def states(doc: dict) -> dict[str, str]:
    return {s["service"]: s["state"] for s in doc["services"]}


def test_the_erp_connector_is_named_when_its_figures_fail_and_the_others_do_not(spec_file, monitoring, capsys):  # noqa: F811
    # GIVEN the connector answering 10 % 5xx while catalog and pricing are healthy, recommendations silent
    put_service("catalog", requests=1000, faults=0)
    put_service("pricing", requests=800, faults=0, latencies={80.0: 800})
    put_service("erp-connector", requests=500, faults=50)
    healthy_app_engine(monitoring)
    # WHEN catalog's status is read
    code, doc, _ = run(capsys, spec_file, "catalog", "--detailed-exitcode")
    # THEN every service beneath catalog is read, in dependency order, and the connector is the likely cause
    assert [(s["service"], s["depth"]) for s in doc["services"]] == [
        ("catalog", 0), ("pricing", 1), ("erp-connector", 2), ("recommendations", 1), ("user-service", 2)]
    assert states(doc) == {"catalog": "ok", "pricing": "ok", "erp-connector": "failing",
                           "recommendations": "no-data", "user-service": "ok"}
    assert doc["likelyCause"] == {"service": "erp-connector", "path": ["catalog", "pricing", "erp-connector"],
                                  "reasons": ["5xx 50 of 500 (10.00%) burns the 99.5 % objective's budget at "
                                              "20.00x (limit 1x)"]}
    assert code == 2  # --detailed-exitcode: something fails
    erp = doc["services"][2]
    assert erp["source"] == "application-signals" and erp["burnRate"] == 20.0
    assert erp["figures"] == {"requests": 500.0, "errors5xx": 50.0, "errorRate": 0.1, "p50Ms": None, "p99Ms": 50.0}
    assert doc["window"] == {"start": "2026-12-06T11:45:00+00:00", "end": "2026-12-06T12:00:00+00:00"}


def test_the_deepest_failing_service_of_a_chain_is_the_likely_cause(spec_file, monitoring, capsys):  # noqa: F811
    # GIVEN the seed's story: the connector failed, so pricing fails, so catalog fails
    put_service("catalog", requests=1000, faults=300)
    put_service("pricing", requests=800, faults=400)
    put_service("erp-connector", requests=500, faults=450)
    put_service("recommendations", requests=200, faults=0, environment=EKS)
    healthy_app_engine(monitoring)
    code, doc, _ = run(capsys, spec_file, "catalog")
    assert states(doc)["catalog"] == states(doc)["pricing"] == states(doc)["erp-connector"] == "failing"
    assert states(doc)["recommendations"] == "ok"  # read in EKS's environment
    assert doc["likelyCause"]["service"] == "erp-connector" and doc["otherCauses"] == []
    assert code == 0  # without --detailed-exitcode a report is a success


def test_the_text_report_shows_the_tree_and_the_cause(spec_file, monitoring, capsys):  # noqa: F811
    put_service("catalog", requests=1000, faults=300)
    put_service("pricing", requests=800, faults=400)
    put_service("erp-connector", requests=500, faults=450)
    code = main(["status", str(spec_file), "catalog"])
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert code == 0 and lines[0] == "window 2026-12-06 11:45–12:00 UTC"
    assert lines[3].startswith("    erp-connector") and "failing" in lines[3]
    assert "  recommendations" in lines[4] and "no-data" in lines[4] and "no data yet" in lines[4]
    assert lines[-1].startswith("likely cause: erp-connector (catalog → pricing → erp-connector): 5xx 450 of 500")


def test_a_latency_objective_fails_a_service_whose_errors_do_not(spec_file, monitoring, capsys):  # noqa: F811
    # GIVEN pricing without 5xx but slow: its p99 is over the objective's 200 ms
    put_service("pricing", requests=100, faults=0, latencies={50.0: 90, 900.0: 10})
    put_service("erp-connector", requests=100, faults=0)
    code, doc, _ = run(capsys, spec_file, "pricing", "--detailed-exitcode")
    assert states(doc) == {"pricing": "failing", "erp-connector": "ok"}
    assert doc["likelyCause"]["service"] == "pricing"
    assert "p99 900 ms, objective under 200 ms" in doc["likelyCause"]["reasons"]
    assert code == 2


def test_nothing_failing_exits_0_even_with_detailed_exitcode(spec_file, monitoring, capsys):  # noqa: F811
    put_service("pricing", requests=100, faults=0)
    code, doc, _ = run(capsys, spec_file, "pricing", "--detailed-exitcode")
    assert code == 0 and doc["failing"] is False and doc["likelyCause"] is None
    assert states(doc) == {"pricing": "ok", "erp-connector": "no-data"}


def test_a_service_without_objectives_is_judged_on_the_limits(spec_file, monitoring, capsys):  # noqa: F811
    # recommendations has no slo: 3 % 5xx fails at the default 1 %, passes at --max-5xx-rate 5%
    put_service("recommendations", requests=100, faults=3, environment=EKS)
    healthy_app_engine(monitoring)
    _, doc, _ = run(capsys, spec_file, "recommendations")
    assert states(doc)["recommendations"] == "failing"
    _, doc, _ = run(capsys, spec_file, "recommendations", "--max-5xx-rate", "5%")
    assert states(doc)["recommendations"] == "ok"


def test_every_service_without_a_name(spec_file, monitoring, capsys):  # noqa: F811
    put_service("erp-connector", requests=500, faults=50)
    healthy_app_engine(monitoring)
    _, doc, _ = run(capsys, spec_file)
    assert [s["service"] for s in doc["services"]] == [
        "web-app", "catalog", "pricing", "erp-connector", "recommendations", "user-service"]
    assert doc["service"] is None and doc["likelyCause"]["service"] == "erp-connector"
    assert doc["likelyCause"]["path"] == ["web-app", "catalog", "pricing", "erp-connector"]


@pytest.mark.parametrize("argv, message", [
    (["no-such-service"], "error: 'no-such-service' is not a service in"),
    (["catalog", "--window", "soon"], "error: --window 'soon' is not a duration"),
    (["catalog", "--max-burn-rate", "0"], "error: --min-requests must be at least 1, --max-burn-rate and --max-p99-ms above 0"),
    (["catalog", "--max-5xx-rate", "lots"], "error: --max-5xx-rate 'lots' is not a percentage"),
])
def test_bad_input_is_one_message_and_exit_1(spec_file, capsys, argv, message):
    code = main(["status", str(spec_file), *argv])
    _, err = capsys.readouterr()
    assert code == 1 and message in err and "Traceback" not in err
