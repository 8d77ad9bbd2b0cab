"""App Engine figures from Cloud Monitoring: the pure request/response functions, the edge (paging, retry, errors)
through the real google-api-python-client over HTTP, and the fake's strictness (a wrong request must fail)."""
from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from meshspec.infra.appengine.client import ClientConfig
from meshspec.infra.errors import UserError
from meshspec.infra.traffic import cloudmonitoring as CM
from meshspec.infra.traffic.figures import Figures
from tests.appengine_fixtures import GAE_PROJECT
from tests.monitoring_support import _monitoring_server, monitoring  # noqa: F401

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
T1 = T0 + dt.timedelta(minutes=5)
COUNT_FILTER = ('metric.type = "appengine.googleapis.com/http/server/response_count" AND resource.type = "gae_app" '
                'AND resource.labels.module_id = "users-v1" AND (resource.labels.version_id = "apple" OR '
                'resource.labels.version_id = "banana")')


# -- pure ------------------------------------------------------------------------------------------------------
def test_the_filter_names_one_metric_the_module_and_the_versions():
    assert CM.series_filter(CM.RESPONSE_COUNT, "users-v1", ["apple", "banana"]) == COUNT_FILTER
    assert CM.series_filter(CM.RESPONSE_COUNT, 'we"ird', ["a"]).count('\\"') == 1  # quoted, not injected


def test_the_three_requests():
    asks = CM.list_requests(GAE_PROJECT, "users-v1", ["apple", "banana"], T0, T1 - dt.timedelta(seconds=10))
    common = {"name": f"projects/{GAE_PROJECT}", "interval_startTime": "2026-11-23T10:00:00Z",
              "interval_endTime": "2026-11-23T10:04:50Z", "view": "FULL",
              "aggregation_alignmentPeriod": "300s",  # one period covers the window, whole minutes
              "aggregation_perSeriesAligner": "ALIGN_DELTA"}
    assert asks["counts"] == {**common, "filter": COUNT_FILTER, "aggregation_crossSeriesReducer": "REDUCE_SUM",
                              "aggregation_groupByFields": ["resource.label.version_id",
                                                            "metric.label.response_code"]}
    latency_filter = COUNT_FILTER.replace("response_count", "response_latencies")
    for key, reducer in (("p50", "REDUCE_PERCENTILE_50"), ("p99", "REDUCE_PERCENTILE_99")):
        assert asks[key] == {**common, "filter": latency_filter, "aggregation_crossSeriesReducer": reducer,
                             "aggregation_groupByFields": ["resource.label.version_id"]}


def _series(version: str, values: list, code: str | None = None) -> dict:
    metric = {"type": "t", **({"labels": {"response_code": code}} if code else {})}
    key = "int64Value" if code else "doubleValue"
    return {"metric": metric, "resource": {"type": "gae_app", "labels": {"version_id": version}},
            "points": [{"value": {key: str(v) if code else v}} for v in values]}


def test_figures_sum_counts_by_code_and_take_the_worst_percentile():
    counts = [_series("apple", [100, 50], "200"), _series("apple", [3], "503"), _series("apple", [2], "500"),
              _series("apple", [7], "404"), _series("banana", [10], "200")]
    p50 = [_series("apple", [30.0, 35.0]), _series("banana", [41.5])]
    p99 = [_series("apple", [110.0, 90.0])]
    got = CM.figures_from(["apple", "banana", "cherry"], counts, p50, p99)
    assert got == {"apple": Figures(requests=162.0, errors_5xx=5.0, p50_ms=35.0, p99_ms=110.0),
                   "banana": Figures(requests=10.0, errors_5xx=0.0, p50_ms=41.5, p99_ms=None),
                   "cherry": Figures()}  # no series: nothing served, no latency


@pytest.mark.parametrize("code, five", [("500", True), ("599", True), ("503", True), ("404", False),
                                        ("600", False), ("", False), (None, False), ("5xx", False)])
def test_what_counts_as_5xx(code, five):
    assert CM.is_5xx(code) is five


# -- the edge, through the real client, against the fake ----------------------------------------------------------
def api(fake, **config) -> CM.MonitoringApi:
    return CM.MonitoringApi(replace(ClientConfig(), endpoint=fake.url, **config))


def source(fake, **config) -> CM.CloudMonitoringFigures:
    return CM.CloudMonitoringFigures(api(fake, **config), GAE_PROJECT, lambda s, m: f"{s}-{m}")


def test_figures_through_every_page(monitoring):
    monitoring.put_traffic(T0 + dt.timedelta(minutes=1), "users-v1", "apple", requests_=200, errors=4,
                           latencies={30.0: 190, 100.0: 10}, zone="a")
    monitoring.put_traffic(T0 + dt.timedelta(minutes=3), "users-v1", "apple", requests_=100, errors=1,
                           latencies={30.0: 90, 300.0: 10}, zone="b")
    monitoring.put_traffic(T0 + dt.timedelta(minutes=2), "users-v1", "banana", requests_=60, errors=0,
                           latencies={45.0: 60})
    monitoring.put_traffic(T0 + dt.timedelta(minutes=2), "users-v2", "banana", requests_=60, errors=60,
                           latencies={45.0: 60})  # another major's App Engine service
    monitoring.page_size = 1
    src = source(monitoring)
    got = src.figures("users", "v1", ["apple", "banana"], T0, T1)
    # apple's two zones merged before the percentile: p99 of 300 values, 10 of them at 300 ms
    assert got == {"apple": Figures(requests=300.0, errors_5xx=5.0, p50_ms=30.0, p99_ms=300.0),
                   "banana": Figures(requests=60.0, errors_5xx=0.0, p50_ms=45.0, p99_ms=45.0)}
    # counts: apple 200, apple 503, banana 200 (3 pages); p50 and p99: apple, banana (2 pages each)
    assert src.api.calls["timeSeries.list"] == 7
    assert [q.get("pageToken") is not None for q in monitoring.requests] == [False, True, True, False, True,
                                                                             False, True]


def test_a_503_is_retried_and_a_400_is_not(monitoring):
    monitoring.put_traffic(T0 + dt.timedelta(minutes=1), "users-v1", "apple", requests_=80, errors=0,
                           latencies={30.0: 80})
    monitoring.fail(503, "The service is currently unavailable.", times=2)
    src = source(monitoring, retry_initial=0.01, retry_maximum=0.02)
    assert src.figures("users", "v1", ["apple"], T0, T1)["apple"].requests == 80.0
    assert src.api.retries["timeSeries.list"] == 2
    monitoring.fail(400, "Field aggregation.alignmentPeriod had an invalid value")
    with pytest.raises(UserError) as err:
        src.figures("users", "v1", ["apple"], T0, T1)
    assert err.value.message == (f"Cloud Monitoring timeSeries.list on projects/{GAE_PROJECT} failed: HTTP 400 "
                                 "INVALID_ARGUMENT: Field aggregation.alignmentPeriod had an invalid value")


def test_permission_denied_names_the_permission_and_the_role(monitoring):
    monitoring.fail(403, "Permission monitoring.timeSeries.list denied (or the resource may not exist).")
    with pytest.raises(UserError) as err:
        source(monitoring).figures("users", "v1", ["apple"], T0, T1)
    assert err.value.message == (
        f"Cloud Monitoring refused timeSeries.list on projects/{GAE_PROJECT} (HTTP 403 PERMISSION_DENIED: "
        "Permission monitoring.timeSeries.list denied (or the resource may not exist).): reading App Engine metrics "
        f"needs the permission monitoring.timeSeries.list on project {GAE_PROJECT}")
    assert err.value.hint == ("grant the role roles/monitoring.viewer (it holds monitoring.timeSeries.list) to the "
                              "account meshspec runs as")


def test_another_project_is_refused_as_google_refuses_it(monitoring):
    src = CM.CloudMonitoringFigures(api(monitoring), "someone-else", lambda s, m: s)
    with pytest.raises(UserError, match="needs the permission monitoring.timeSeries.list on project someone-else"):
        src.figures("users", "v1", ["apple"], T0, T1)


def test_no_server_gives_up_with_one_message():
    src = CM.CloudMonitoringFigures(CM.MonitoringApi(replace(
        ClientConfig(), endpoint="http://127.0.0.1:9", retry_initial=0.01, retry_maximum=0.02, retry_deadline=0.1)),
        GAE_PROJECT, lambda s, m: s)
    with pytest.raises(UserError) as err:
        src.figures("users", "v1", ["apple"], T0, T1)
    assert err.value.message == (f"Cloud Monitoring timeSeries.list on projects/{GAE_PROJECT} failed: gave up "
                                 "retrying (connection failed (ConnectionRefusedError))")


def test_no_credentials_says_how_to_get_them(monkeypatch):
    monkeypatch.delenv(CM.ENDPOINT_ENV, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
    with pytest.raises(UserError) as err:
        CM.MonitoringApi()
    assert err.value.message == "no Google credentials found (Application Default Credentials)"
    assert f"for a local server set {CM.ENDPOINT_ENV}" in err.value.hint


def test_a_request_meshspec_would_get_wrong_fails(monitoring, monkeypatch):
    """The fake parses the filter: an unquoted value (or any syntax it does not know) is refused, not ignored."""
    monkeypatch.setattr(CM, "series_filter", lambda metric, module, versions:
                        f'metric.type = "{metric}" AND resource.labels.module_id = {module}')
    with pytest.raises(UserError, match="HTTP 400 INVALID_ARGUMENT: The fake cannot parse the filter"):
        source(monitoring).figures("users", "v1", ["apple"], T0, T1)


# -- the fake refuses what Google refuses (plain HTTP, as curl would send it) -------------------------------------
def raw(fake, **query) -> tuple[int, dict]:
    from urllib.parse import urlencode

    url = f"{fake.url}/v3/projects/{GAE_PROJECT}/timeSeries?" + urlencode(
        [(k.replace("__", "."), v) for k, vs in query.items() for v in (vs if isinstance(vs, list) else [vs])])
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


GOOD = {"filter": COUNT_FILTER, "interval__startTime": "2026-11-23T10:00:00Z",
        "interval__endTime": "2026-11-23T10:05:00Z", "view": "FULL", "aggregation__alignmentPeriod": "300s",
        "aggregation__perSeriesAligner": "ALIGN_DELTA", "aggregation__crossSeriesReducer": "REDUCE_SUM",
        "aggregation__groupByFields": ["resource.label.version_id", "metric.label.response_code"]}


@pytest.mark.parametrize("change, message", [
    ({"colour": "blue"}, 'Unknown name "colour": Cannot bind query parameter'),
    ({"view": ["FULL", "FULL"]}, 'Repeated values for non-repeated field "view"'),
    ({"view": "ALL"}, "Invalid value at 'view', \"ALL\""),
    ({"aggregation__perSeriesAligner": "ALIGN_SOMETHING"}, "Invalid value at 'aggregation.perSeriesAligner'"),
    ({"interval__endTime": "2026-11-23 10:05"}, "Invalid value at 'interval.endTime'"),
    ({"aggregation__alignmentPeriod": "5m"}, "Invalid value at 'aggregation.alignmentPeriod'"),
    ({"aggregation__alignmentPeriod": "30s"}, "alignment period must be at least 60 seconds"),
    ({"view": None}, "Field view is required"),
    ({"interval__startTime": "2026-11-23T11:00:00Z"}, "start time must be before or equal to the end time"),
    ({"filter": COUNT_FILTER.replace(' AND resource.type = "gae_app"', ' AND resource.type = "gce_instance"')},
     "serves only resource.type 'gae_app'"),
    ({"filter": COUNT_FILTER + ' AND metric.labels.colour = "x"'}, "Unknown filter key 'metric.labels.colour'"),
    ({"filter": 'resource.type = "gae_app"'}, "must specify exactly one metric type"),
    ({"filter": COUNT_FILTER.replace(" AND (", " AND NOT (")}, "The fake expected"),
    ({"aggregation__groupByFields": "resource.label.colour"}, "Unknown groupByFields entry"),
    ({"pageToken": "bm90LW91cnM="}, "Invalid page token"),
])
def test_the_fake_refuses_a_malformed_request(monitoring, change, message):
    query = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    code, body = raw(monitoring, **query)
    assert code == 400 and message in body["error"]["message"], body
    assert body["error"]["status"] == "INVALID_ARGUMENT"


def test_the_fake_answers_the_request_meshspec_sends(monitoring):
    monitoring.put_traffic(T0 + dt.timedelta(minutes=1), "users-v1", "apple", requests_=10, errors=1, latencies={})
    code, body = raw(monitoring, **GOOD)
    assert code == 200
    assert [(s["resource"]["labels"]["version_id"], s["metric"]["labels"]["response_code"],
             s["points"][0]["value"]) for s in body["timeSeries"]] == [("apple", "200", {"int64Value": "9"}),
                                                                      ("apple", "503", {"int64Value": "1"})]
    assert body["timeSeries"][0]["points"][0]["interval"] == {"startTime": "2026-11-23T10:00:00Z",
                                                               "endTime": "2026-11-23T10:05:00Z"}
