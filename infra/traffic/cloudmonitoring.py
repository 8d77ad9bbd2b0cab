"""App Engine figures from Cloud Monitoring API v3 ``projects.timeSeries.list`` (the canary, ``traffic compare``).

The series are App Engine's own, on the monitored resource ``gae_app`` (labels ``module_id``: the App Engine
service id as meshspec names it, :func:`meshspec.infra.naming.appengine_service`; ``version_id``):

- ``appengine.googleapis.com/http/server/response_count`` (DELTA, INT64, label ``response_code``): aligned with
  ALIGN_DELTA over one period covering the window and summed (REDUCE_SUM) per version and response code, so a
  single call gives both the requests and the 5xx;
- ``appengine.googleapis.com/http/server/response_latencies`` (DELTA, DISTRIBUTION, ms): ALIGN_DELTA then
  REDUCE_PERCENTILE_50 / REDUCE_PERCENTILE_99 per version. The percentile is taken over the merged distribution of
  all the version's instances and zones (aligning each series to a percentile first and then reducing would
  give a percentile of percentiles). https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list

The client is google-api-python-client with the discovery document it ships (``monitoring.v3.json``, static
discovery: no network to build it), with the timeout and retry policy of the Admin API edge
(:class:`meshspec.infra.appengine.client.ClientConfig`) and the same credentials (Application Default Credentials;
none when ``$MESHSPEC_MONITORING_ENDPOINT`` points at a local server).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping

from meshspec.infra.errors import UserError

from .figures import Figures, period_for

ENDPOINT_ENV = "MESHSPEC_MONITORING_ENDPOINT"
RESOURCE_TYPE = "gae_app"
RESPONSE_COUNT = "appengine.googleapis.com/http/server/response_count"
RESPONSE_LATENCIES = "appengine.googleapis.com/http/server/response_latencies"
PERMISSION = "monitoring.timeSeries.list"
ROLE = "roles/monitoring.viewer"
#: HTTP statuses worth repeating, as the Admin API edge retries them (quota and server-side failures)
RETRIABLE_STATUS = (429, 500, 502, 503, 504)


# -- pure: what is asked -------------------------------------------------------------------------------------
def _quote(value: str) -> str:
    """A filter string literal (double quotes, backslash escapes, as the filter syntax takes them)."""
    return json.dumps(value)


def series_filter(metric_type: str, module_id: str, versions: Iterable[str]) -> str:
    """The filter of one metric on the versions of one App Engine service (module)."""
    any_version = " OR ".join(f"resource.labels.version_id = {_quote(v)}" for v in versions)
    return (f"metric.type = {_quote(metric_type)} AND resource.type = {_quote(RESOURCE_TYPE)} AND "
            f"resource.labels.module_id = {_quote(module_id)} AND ({any_version})")


def rfc3339(at: dt.datetime) -> str:
    """UTC, "Z", seconds (the window is whole seconds): what google-datetime parameters take."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_requests(project: str, module_id: str, versions: list[str], start: dt.datetime,
                  end: dt.datetime, period: int | None = None) -> dict[str, dict[str, Any]]:
    """Pure: the keyword arguments of the three ``timeSeries.list`` calls (``counts``, ``p50``, ``p99``), as the
    discovery client names them (``interval_startTime`` goes on the wire as ``interval.startTime``). ``period``:
    the alignment period in seconds; default one period covering the window."""
    common = {"name": f"projects/{project}", "interval_startTime": rfc3339(start),
              "interval_endTime": rfc3339(end), "view": "FULL",
              "aggregation_alignmentPeriod": f"{period or period_for(start, end)}s",
              "aggregation_perSeriesAligner": "ALIGN_DELTA"}
    latencies = series_filter(RESPONSE_LATENCIES, module_id, versions)
    return {
        "counts": {**common, "filter": series_filter(RESPONSE_COUNT, module_id, versions),
                   "aggregation_crossSeriesReducer": "REDUCE_SUM",
                   "aggregation_groupByFields": ["resource.label.version_id", "metric.label.response_code"]},
        "p50": {**common, "filter": latencies, "aggregation_crossSeriesReducer": "REDUCE_PERCENTILE_50",
                "aggregation_groupByFields": ["resource.label.version_id"]},
        "p99": {**common, "filter": latencies, "aggregation_crossSeriesReducer": "REDUCE_PERCENTILE_99",
                "aggregation_groupByFields": ["resource.label.version_id"]},
    }


# -- pure: what came back ------------------------------------------------------------------------------------
def _number(value: Mapping[str, Any]) -> float | None:
    """A TypedValue as a number: int64Value comes as a JSON string, doubleValue as a number."""
    if "int64Value" in value:
        return float(value["int64Value"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    return None


def _version(series: Mapping[str, Any]) -> str | None:
    return (series.get("resource") or {}).get("labels", {}).get("version_id")


def is_5xx(code: str | None) -> bool:
    try:
        return 500 <= int(code or "") <= 599
    except ValueError:
        return False


def figures_from(versions: list[str], counts: list[dict[str, Any]], p50: list[dict[str, Any]],
                 p99: list[dict[str, Any]]) -> dict[str, Figures]:
    """Pure: the TimeSeries of the three calls → Figures per version. Counts of every point are summed (the window
    may straddle two alignment periods); a percentile is the worst point's, as on CloudWatch
    (:func:`meshspec.infra.traffic.figures.combine`). A version without series served nothing: 0 requests, no latency."""
    requests: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for series in counts:
        version = _version(series)
        total = sum(_number(p.get("value", {})) or 0.0 for p in series.get("points", []))
        requests[version] += total
        if is_5xx((series.get("metric") or {}).get("labels", {}).get("response_code")):
            errors[version] += total

    def worst(all_series: list[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for series in all_series:
            values = [n for p in series.get("points", []) if (n := _number(p.get("value", {}))) is not None]
            if values:
                version = _version(series)
                out[version] = max(values + ([out[version]] if version in out else []))
        return out

    fifty, ninety_nine = worst(p50), worst(p99)
    return {v: Figures(requests=float(requests[v]), errors_5xx=float(errors[v]), p50_ms=fifty.get(v),
                       p99_ms=ninety_nine.get(v)) for v in versions}


def _period_start(point: Mapping[str, Any]) -> dt.datetime | None:
    interval = point.get("interval") or {}
    text = interval.get("startTime") or interval.get("endTime")
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def series_from(versions: list[str], counts: list[dict[str, Any]], p50: list[dict[str, Any]],
                p99: list[dict[str, Any]]) -> dict[str, dict[dt.datetime, Figures]]:
    """Pure: the TimeSeries of the three calls, aligned per period → per version, Figures per period (keyed by
    the period's start; periods with any point)."""
    counts_at: dict[str, dict[dt.datetime, list[float]]] = {v: {} for v in versions}
    for series in counts:
        version = _version(series)
        bad = is_5xx((series.get("metric") or {}).get("labels", {}).get("response_code"))
        for p in series.get("points", []):
            at = _period_start(p)
            if version in counts_at and at is not None:
                cell = counts_at[version].setdefault(at, [0.0, 0.0])
                n = _number(p.get("value", {})) or 0.0
                cell[0] += n
                cell[1] += n if bad else 0.0

    def by_period(all_series: list[dict[str, Any]]) -> dict[str, dict[dt.datetime, float]]:
        out: dict[str, dict[dt.datetime, float]] = {}
        for series in all_series:
            for p in series.get("points", []):
                at, n = _period_start(p), _number(p.get("value", {}))
                if at is not None and n is not None:
                    out.setdefault(_version(series), {})[at] = n
        return out

    fifty, ninety_nine = by_period(p50), by_period(p99)
    out: dict[str, dict[dt.datetime, Figures]] = {}
    for v in versions:
        periods = sorted({*counts_at[v], *fifty.get(v, {}), *ninety_nine.get(v, {})})
        cells = {at: counts_at[v].get(at, [0.0, 0.0]) for at in periods}
        out[v] = {at: Figures(requests=cells[at][0], errors_5xx=cells[at][1], p50_ms=fifty.get(v, {}).get(at),
                              p99_ms=ninety_nine.get(v, {}).get(at)) for at in periods}
    return out


# -- the edge: one paged, retried, timed call ----------------------------------------------------------------
def describe_http_error(exc: BaseException) -> str:
    """One line in the Admin API edge's words: ``HTTP 403 PERMISSION_DENIED: message`` from Google's error body,
    or what happened to the connection."""
    from googleapiclient.errors import HttpError

    from meshspec.infra.appengine.client import describe_error

    if isinstance(exc, HttpError):
        status, message = "", str(exc.reason or "")
        try:
            body = json.loads(exc.content.decode() if isinstance(exc.content, bytes) else exc.content)["error"]
            status, message = body.get("status") or "", body.get("message") or message
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        return f"HTTP {exc.resp.status}{' ' + status if status else ''}: {message}"
    if isinstance(exc, TimeoutError):
        return f"no answer within the call timeout ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"connection failed ({type(exc).__name__})"
    return describe_error(exc)


def is_retriable(exc: BaseException) -> bool:
    """429 and 5xx answers, and the connection itself (httplib2 raises OSError subclasses and ServerNotFoundError)."""
    import httplib2
    from google.auth import exceptions as auth_exc
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        return exc.resp.status in RETRIABLE_STATUS
    return isinstance(exc, (OSError, httplib2.ServerNotFoundError, auth_exc.TransportError))


class MonitoringApi:
    """``projects.timeSeries.list`` with a timeout, a retry and paging; every call (and retry) counted."""

    def __init__(self, config: Any = None, *, credentials: Any = None):
        import google_auth_httplib2
        import httplib2
        from google.auth.credentials import AnonymousCredentials
        from googleapiclient.discovery import build

        from meshspec.infra.appengine.client import ClientConfig, _default_credentials

        self.config = config or replace(ClientConfig(), endpoint=os.environ.get(ENDPOINT_ENV) or None)
        cfg = self.config
        if cfg.endpoint:
            credentials = credentials or AnonymousCredentials()  # a local server takes no credentials
        else:
            credentials = credentials or _default_credentials(f"for a local server set {ENDPOINT_ENV}")
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=cfg.call_timeout))
        options = {"api_endpoint": cfg.endpoint.rstrip("/") + "/"} if cfg.endpoint else None
        self.service = build("monitoring", "v3", http=http, static_discovery=True, cache_discovery=False,
                             client_options=options)
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()

    def _retry(self) -> Any:
        from google.api_core import retry as gretry

        cfg = self.config

        def on_error(exc: BaseException) -> None:
            self.retries["timeSeries.list"] += 1
            self.calls["timeSeries.list"] += 1

        return gretry.Retry(predicate=is_retriable, initial=cfg.retry_initial, maximum=cfg.retry_maximum,
                            multiplier=cfg.retry_multiplier, timeout=cfg.retry_deadline, on_error=on_error)

    def time_series(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Every page's TimeSeries (nextPageToken followed to the end)."""
        import httplib2
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as auth_exc
        from googleapiclient.errors import HttpError

        resource = self.service.projects().timeSeries()
        out: list[dict[str, Any]] = []
        token = None
        try:
            while True:
                # Not list_next(): it refuses a URL with a repeated parameter (aggregation.groupByFields).
                request = resource.list(**kwargs, **({"pageToken": token} if token else {}))
                self.calls["timeSeries.list"] += 1
                page = self._retry()(request.execute)()
                out += page.get("timeSeries", [])
                token = page.get("nextPageToken")
                if not token:
                    break
        except HttpError as exc:
            raise _refusal(kwargs["name"], exc) from None
        except gexc.RetryError as exc:
            raise UserError(f"Cloud Monitoring timeSeries.list on {kwargs['name']} failed: gave up retrying "
                            f"({describe_http_error(exc.cause) if exc.cause else exc.message})") from None
        except (OSError, httplib2.HttpLib2Error, auth_exc.TransportError) as exc:
            raise UserError(f"Cloud Monitoring timeSeries.list on {kwargs['name']} failed: "
                            f"{describe_http_error(exc)}") from None
        return out


def _refusal(name: str, exc: Any) -> UserError:
    what = describe_http_error(exc)
    project = name.split("/", 1)[-1]
    if exc.resp.status == 403:
        return UserError(f"Cloud Monitoring refused timeSeries.list on {name} ({what}): reading App Engine "
                         f"metrics needs the permission {PERMISSION} on project {project}",
                         hint=f"grant the role {ROLE} (it holds {PERMISSION}) to the account meshspec runs as")
    return UserError(f"Cloud Monitoring timeSeries.list on {name} failed: {what}")


class CloudMonitoringFigures:
    """App Engine: each version's own series in its App Engine service. ``module_for(service, major)`` gives the
    App Engine service id (``module_id``); without majorsAsServices it is the same for every major, so the figures
    are the version's across majors (one version serves them all)."""

    def __init__(self, api: MonitoringApi, project: str, module_for: Callable[[str, str], str]):
        self.api, self.project, self.module_for = api, project, module_for

    def figures(self, service: str, major: str, versions: list[str], start: dt.datetime,
                end: dt.datetime) -> dict[str, Figures]:
        asks = list_requests(self.project, self.module_for(service, major), versions, start, end)
        got = {key: self.api.time_series(**kwargs) for key, kwargs in asks.items()}
        return figures_from(versions, got["counts"], got["p50"], got["p99"])

    def series(self, service: str, major: str, versions: list[str], start: dt.datetime, end: dt.datetime,
               period: int) -> dict[str, dict[dt.datetime, Figures]]:
        asks = list_requests(self.project, self.module_for(service, major), versions, start, end, period)
        got = {key: self.api.time_series(**kwargs) for key, kwargs in asks.items()}
        return series_from(versions, got["counts"], got["p50"], got["p99"])
