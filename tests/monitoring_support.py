"""A small fake of Cloud Monitoring API v3 ``projects.timeSeries.list`` for App Engine's series, over real HTTP.

Faithful where meshspec depends on it, and strict so that a wrong request fails the test:

- the path and the parameters come from the discovery document google-api-python-client ships
  (``monitoring.v3.json``): an unknown parameter, a second value for a non-repeated one, a value outside an enum,
  a malformed google-datetime / google-duration / int32, or a missing required parameter (``filter``,
  ``interval.endTime``, ``view``) answers 400 INVALID_ARGUMENT in Google's error shape;
- Google's aggregation rules: an aligner other than ALIGN_NONE needs an alignmentPeriod of at least 60 s, a
  reducer needs an aligner; the start must not be after the end;
- the filter is parsed, not pattern-matched: ``KEY = "value"`` terms joined by AND, where a term may be a
  parenthesised OR of such comparisons; exactly one ``metric.type``; only ``gae_app`` and its labels
  (project_id, module_id, version_id, zone) and the metric's labels. Anything else is refused (400), as is a
  page token it did not issue for the same query;
- another project answers 403 PERMISSION_DENIED with Google's message.

What it computes: ALIGN_DELTA over periods that end at ``interval.endTime``, then REDUCE_SUM (response_count) or
REDUCE_PERCENTILE_nn (response_latencies) per ``groupByFields``; series newest point first, paged by
``page_size`` series. Not covered: other aligners and reducers (501), Google's bucketed distributions (the fake
keeps the raw latencies and takes the nearest-rank percentile, where Google interpolates within buckets),
ingestion delay (points are visible at once), metrics scopes spanning several projects.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from meshspec.infra.traffic.cloudmonitoring import RESOURCE_TYPE, RESPONSE_COUNT, RESPONSE_LATENCIES

RESOURCE_LABELS = ("project_id", "module_id", "version_id", "zone")
METRICS = {  # metric type → (value type, metric labels)
    RESPONSE_COUNT: ("INT64", ("response_code", "loading", "cache_hit", "dynamic")),
    RESPONSE_LATENCIES: ("DISTRIBUTION", ("response_code", "loading", "cache_hit", "dynamic")),
}
REDUCERS = {"REDUCE_PERCENTILE_05": 5, "REDUCE_PERCENTILE_50": 50, "REDUCE_PERCENTILE_95": 95,
            "REDUCE_PERCENTILE_99": 99}


def discovery() -> dict[str, Any]:
    from googleapiclient.discovery_cache import get_static_doc

    return json.loads(get_static_doc("monitoring", "v3"))


def _list_method() -> dict[str, Any]:
    return discovery()["resources"]["projects"]["resources"]["timeSeries"]["methods"]["list"]


class ApiError(Exception):
    STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
              500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE"}

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.STATUS.get(self.code, "UNKNOWN")}}


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


# -- the filter ------------------------------------------------------------------------------------------------
_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<op>=)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<word>[A-Za-z_][\w.]*))')


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _bad(f"The fake cannot parse the filter at {pos}: {text!r}")
        kind = m.lastgroup
        out.append((kind, json.loads(m.group(kind)) if kind == "str" else m.group(kind)))
        pos = m.end()
    return out


def parse_filter(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """``[(key, allowed values)]``, all of which must hold. Refuses what the fake does not understand."""
    toks = _tokens(text)
    i = 0

    def take(kind: str, value: str | None = None) -> str:
        nonlocal i
        if i >= len(toks) or toks[i][0] != kind or (value is not None and toks[i][1] != value):
            got = toks[i][1] if i < len(toks) else "the end"
            raise _bad(f"The fake expected {value or kind} at token {i} of the filter, got {got!r}: {text!r}")
        i += 1
        return toks[i - 1][1]

    def comparison() -> tuple[str, str]:
        key = take("word")
        take("op")
        return key, take("str")

    terms: list[tuple[str, tuple[str, ...]]] = []
    while True:
        if i < len(toks) and toks[i][0] == "lp":
            take("lp")
            alternatives = [comparison()]
            while i < len(toks) and toks[i] == ("word", "OR"):
                take("word", "OR")
                alternatives.append(comparison())
            take("rp")
            keys = {k for k, _ in alternatives}
            if len(keys) != 1:
                raise _bad(f"The fake takes OR only between comparisons of one key: {text!r}")
            terms.append((keys.pop(), tuple(v for _, v in alternatives)))
        else:
            key, value = comparison()
            terms.append((key, (value,)))
        if i == len(toks):
            return terms
        take("word", "AND")


def _label(key: str, kind: str) -> str | None:
    m = re.fullmatch(rf"{kind}\.labels?\.(\w+)", key)
    return m.group(1) if m else None


def check_filter(terms: list[tuple[str, tuple[str, ...]]]) -> str:
    """The metric type, after checking every key names something the fake (and gae_app) has."""
    types = [values for key, values in terms if key == "metric.type"]
    if len(types) != 1 or len(types[0]) != 1:
        raise _bad("A time series filter must specify exactly one metric type (metric.type = \"...\")")
    metric = types[0][0]
    if metric not in METRICS:
        raise _bad(f"The fake serves only {sorted(METRICS)}, not {metric!r}")
    for key, values in terms:
        if key == "resource.type":
            if values != (RESOURCE_TYPE,):
                raise _bad(f"The fake serves only resource.type {RESOURCE_TYPE!r}, not {values}")
        elif key != "metric.type":
            resource, metric_label = _label(key, "resource"), _label(key, "metric")
            if not ((resource in RESOURCE_LABELS) or (metric_label in METRICS[metric][1])):
                raise _bad(f"Unknown filter key {key!r} for {RESOURCE_TYPE} / {metric}")
    return metric


# -- the data --------------------------------------------------------------------------------------------------
@dataclass
class Point:
    metric: str
    resource: dict[str, str]
    labels: dict[str, str]
    end: dt.datetime
    value: float | list[float]  # a count, or the raw latencies of a distribution


@dataclass
class FakeMonitoring:
    project: str
    page_size: int = 1000
    points: list[Point] = field(default_factory=list)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    faults: list[tuple[int, str]] = field(default_factory=list)
    url: str = ""

    def reset(self) -> None:
        self.points.clear()
        self.requests.clear()
        self.faults.clear()
        self.page_size = 1000

    def fail(self, code: int, message: str, times: int = 1) -> None:
        """The next ``times`` requests answer ``code`` with Google's error body."""
        self.faults += [(code, message)] * times

    def put_traffic(self, at: dt.datetime, module: str, version: str, *, requests_: int, errors: int,
                    latencies: dict[float, int], zone: str = "europe-west1-1") -> None:
        """What App Engine would record for one version in the minute ending at ``at``: responses by code (200 and
        503) and their latencies."""
        resource = {"project_id": self.project, "module_id": module, "version_id": version, "zone": zone}
        for code, n in (("200", requests_ - errors), ("503", errors)):
            if n:
                self.points.append(Point(RESPONSE_COUNT, resource, {"response_code": code, "loading": "false"}, at, n))
        values = [ms for ms, n in latencies.items() for _ in range(n)]
        if values:
            self.points.append(Point(RESPONSE_LATENCIES, resource, {"response_code": "200", "loading": "false"},
                                     at, values))

    # -- the method ----------------------------------------------------------------------------------------
    def list_time_series(self, project: str, query: dict[str, list[str]]) -> dict[str, Any]:
        params = _check_params(query)
        if project != self.project:
            raise ApiError(403, f"Permission {PERMISSION_TEXT} denied (or the resource may not exist).")
        for required in ("filter", "interval.endTime", "view"):
            if required not in params:
                raise _bad(f"Field {required} is required")
        end = params["interval.endTime"]
        start = params.get("interval.startTime", end)
        if start > end:
            raise _bad("The start time must be before or equal to the end time")
        aligner = params.get("aggregation.perSeriesAligner", "ALIGN_NONE")
        reducer = params.get("aggregation.crossSeriesReducer", "REDUCE_NONE")
        period = params.get("aggregation.alignmentPeriod")
        if aligner != "ALIGN_NONE" and (period is None or period < 60):
            raise _bad("The alignment period must be at least 60 seconds when an aligner other than ALIGN_NONE "
                       "is given")
        if reducer != "REDUCE_NONE" and aligner == "ALIGN_NONE":
            raise _bad("A cross-series reducer needs a per-series aligner other than ALIGN_NONE")
        terms = parse_filter(params["filter"])
        metric = check_filter(terms)
        value_type = METRICS[metric][0]
        if aligner != "ALIGN_DELTA" or (value_type == "INT64" and reducer != "REDUCE_SUM") or (
                value_type == "DISTRIBUTION" and reducer not in REDUCERS):
            raise ApiError(501, f"The fake implements ALIGN_DELTA with REDUCE_SUM on {RESPONSE_COUNT} and with "
                                f"REDUCE_PERCENTILE_nn on {RESPONSE_LATENCIES}, not {aligner}/{reducer} on {metric}")
        groups = params.get("aggregation.groupByFields", [])
        for g in groups:
            if not (_label(g, "resource") in RESOURCE_LABELS or _label(g, "metric") in METRICS[metric][1]):
                raise _bad(f"Unknown groupByFields entry {g!r}")
        series = self._aggregate(metric, terms, start, end, period, reducer, groups, params["view"])
        offset = self._page_offset(query, params.get("pageToken"))
        size = min(params.get("pageSize") or self.page_size, self.page_size)
        page = series[offset:offset + size]
        out: dict[str, Any] = {"timeSeries": page} if page else {}
        if offset + size < len(series):
            out["nextPageToken"] = _token(query, offset + size)
        if value_type == "DISTRIBUTION" or reducer in REDUCERS:
            out["unit"] = "ms"
        return out

    def _page_offset(self, query: dict[str, list[str]], token: str | None) -> int:
        if not token:
            return 0
        try:
            digest, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        except (ValueError, UnicodeDecodeError):
            raise _bad("Invalid page token") from None
        if digest != _digest(query):
            raise _bad("The page token belongs to another query")
        return int(offset)

    def _aggregate(self, metric: str, terms: list[tuple[str, tuple[str, ...]]], start: dt.datetime,
                   end: dt.datetime, period: float, reducer: str, groups: list[str], view: str) -> list[dict]:
        def matches(p: Point) -> bool:
            for key, values in terms:
                if key == "metric.type":
                    have = p.metric
                elif key == "resource.type":
                    have = RESOURCE_TYPE
                elif (name := _label(key, "resource")) is not None:
                    have = p.resource.get(name)
                else:
                    have = p.labels.get(_label(key, "metric"))
                if have not in values:
                    return False
            return True

        buckets: dict[tuple, dict[int, list]] = {}
        for p in self.points:
            if not (matches(p) and start < p.end <= end):
                continue
            key = tuple((g, p.resource[_label(g, "resource")]) if _label(g, "resource") else
                        (g, p.labels.get(_label(g, "metric"), "")) for g in groups)
            k = int((end - p.end).total_seconds() // period)  # period 0 ends at interval.endTime
            buckets.setdefault(key, {}).setdefault(k, []).append(p.value)
        out = []
        for key, by_period in sorted(buckets.items()):
            resource = {"project_id": self.project}
            labels = {}
            for g, value in key:
                if _label(g, "resource"):
                    resource[_label(g, "resource")] = value
                else:
                    labels[_label(g, "metric")] = value
            points = []
            for k in sorted(by_period):  # newest first, as Google returns them
                p_end = end - dt.timedelta(seconds=k * period)
                interval = {"startTime": _rfc3339(p_end - dt.timedelta(seconds=period)), "endTime": _rfc3339(p_end)}
                if reducer == "REDUCE_SUM":
                    value = {"int64Value": str(int(sum(by_period[k])))}
                else:
                    raw = sorted(v for values in by_period[k] for v in values)
                    value = {"doubleValue": _percentile(raw, REDUCERS[reducer])}
                points.append({"interval": interval, "value": value})
            ts = {"metric": {"type": metric, "labels": labels} if labels else {"type": metric},
                  "resource": {"type": RESOURCE_TYPE, "labels": resource},
                  "metricKind": "DELTA" if reducer == "REDUCE_SUM" else "GAUGE",
                  "valueType": "INT64" if reducer == "REDUCE_SUM" else "DOUBLE"}
            if view == "FULL":
                ts["points"] = points
            out.append(ts)
        return out


PERMISSION_TEXT = "monitoring.timeSeries.list"


def _percentile(ordered: list[float], p: int) -> float:
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _rfc3339(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(query: dict[str, list[str]]) -> str:
    same = {k: v for k, v in query.items() if k not in ("pageToken", "pageSize")}
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()[:16]


def _token(query: dict[str, list[str]], offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_digest(query)}:{offset}".encode()).decode()


def _check_params(query: dict[str, list[str]]) -> dict[str, Any]:
    """Every query parameter against the discovery document: known, not repeated unless it may be, in its enum,
    in its format. Returns the values parsed (datetimes, seconds, ints; lists for repeated ones)."""
    doc = discovery()
    method = _list_method()
    known = {**doc["parameters"], **{k: v for k, v in method["parameters"].items() if v["location"] == "query"}}
    out: dict[str, Any] = {}
    for name, values in query.items():
        spec = known.get(name)
        if spec is None:
            raise _bad(f"Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query parameter. "
                       f"Field '{name}' could not be found in request message.")
        if len(values) > 1 and not spec.get("repeated"):
            raise _bad(f"Invalid JSON payload received. Repeated values for non-repeated field \"{name}\".")
        parsed = [_value(name, spec, v) for v in values]
        out[name] = parsed if spec.get("repeated") else parsed[0]
    return out


def _value(name: str, spec: dict[str, Any], text: str) -> Any:
    if "enum" in spec and text not in spec["enum"]:
        raise _bad(f"Invalid value at '{name}', \"{text}\"")
    fmt = spec.get("format")
    if fmt == "google-datetime":
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text):
            raise _bad(f"Invalid value at '{name}' (type.googleapis.com/google.protobuf.Timestamp), \"{text}\"")
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if fmt == "google-duration":
        if not re.fullmatch(r"\d+(\.\d{1,9})?s", text):
            raise _bad(f"Invalid value at '{name}' (type.googleapis.com/google.protobuf.Duration), \"{text}\"")
        return float(text[:-1])
    if fmt == "int32" or spec.get("type") == "integer":
        if not re.fullmatch(r"-?\d+", text) or not -2**31 <= int(text) < 2**31:
            raise _bad(f"Invalid value at '{name}' (TYPE_INT32), \"{text}\"")
        if name == "pageSize" and int(text) <= 0:
            raise _bad("pageSize must be positive")
        return int(text)
    if spec.get("type") == "boolean" and text not in ("true", "false"):
        raise _bad(f"Invalid value at '{name}' (TYPE_BOOL), \"{text}\"")
    return text


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:  # noqa: N802
        fake: FakeMonitoring = self.server.fake
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True, strict_parsing=False)
        fake.requests.append(query)
        try:
            if fake.faults:
                raise ApiError(*fake.faults.pop(0))
            m = re.fullmatch(r"/v3/projects/([^/]+)/timeSeries", url.path)
            if not m:
                raise ApiError(404, f"The fake serves GET /v3/projects/{{project}}/timeSeries, not {url.path}")
            if "Authorization" in self.headers:  # a local server gets no credentials (AnonymousCredentials)
                raise _bad("The fake expects no Authorization header")
            self._answer(200, fake.list_time_series(m.group(1), query))
        except ApiError as exc:
            self._answer(exc.code, exc.body())

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def _monitoring_server() -> Iterator[FakeMonitoring]:
    from tests.appengine_fixtures import GAE_PROJECT

    fake = FakeMonitoring(project=GAE_PROJECT)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield fake
    server.shutdown()


@pytest.fixture
def monitoring(_monitoring_server: FakeMonitoring, monkeypatch: pytest.MonkeyPatch) -> FakeMonitoring:
    """The fake, emptied, with ``$MESHSPEC_MONITORING_ENDPOINT`` pointing meshspec at it."""
    _monitoring_server.reset()
    monkeypatch.setenv("MESHSPEC_MONITORING_ENDPOINT", _monitoring_server.url)
    return _monitoring_server
