"""Per-version figures (requests, 5xx, p50/p99 latency) from CloudWatch GetMetricData.

By default the series the per-service dashboards show and the service log group's metric filters write
(:mod:`meshspec.constructs_lib.metric_names`): namespace ``meshspec/Envoy/<major>``, dimensions Service + Version,
RequestCount and Http5xxCount summed, LatencyMs at p50 and p99; a mesh backend whose own series tell the versions
apart gives its own source (``meshspec.infra.mesh.Backend.metrics_source``). One query period covers the whole window; if CloudWatch still splits it into several datapoints (it rounds the
start time to the period), counts are summed and a percentile is the worst datapoint's.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from meshspec.constructs_lib import metric_names as M
from meshspec.infra.errors import UserError


@dataclass(frozen=True)
class Figures:
    """What one version did in one window. ``None`` means CloudWatch had no datapoint."""

    requests: float = 0.0
    errors_5xx: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors_5xx / self.requests if self.requests else None

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors5xx": self.errors_5xx,
                "errorRate": None if self.error_rate is None else round(self.error_rate, 6),
                "p50Ms": self.p50_ms, "p99Ms": self.p99_ms}


class MetricsSource(Protocol):
    """CloudWatchFigures (here), a mesh backend's own, CloudMonitoringFigures for App Engine (cloudmonitoring.py)."""

    def figures(self, service: str, major: str, versions: list[str], start: dt.datetime,
                end: dt.datetime) -> dict[str, Figures]:
        """Figures per version for ``[start, end)``."""

    def series(self, service: str, major: str, versions: list[str], start: dt.datetime, end: dt.datetime,
               period: int) -> dict[str, dict[dt.datetime, Figures]]:
        """Per version, Figures per ``period`` seconds of ``[start, end)``, keyed by the period's start (only
        periods with data): what ``traffic compare`` pairs cohorts by."""


def period_for(start: dt.datetime, end: dt.datetime) -> int:
    """One period covering the window, a multiple of 60 s as standard-resolution metrics need."""
    seconds = int((end - start).total_seconds())
    return max(60, -(-seconds // 60) * 60)


def version_queries(i: int, namespace: str, dims: list[dict[str, str]], names: tuple[str, str, str],
                     period: int) -> list[dict[str, Any]]:
    """The four queries of version number ``i`` (ids ``req{i}``, ``err{i}``, ``p50x{i}``, ``p99x{i}``)."""
    requests, errors, latency = names
    return [{"Id": qid, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                "Period": period, "Stat": stat}}
            for qid, metric, stat in ((f"req{i}", requests, "Sum"), (f"err{i}", errors, "Sum"),
                                      (f"p50x{i}", latency, "p50"), (f"p99x{i}", latency, "p99"))]


def queries(service: str, major: str, versions: list[str], period: int) -> list[dict[str, Any]]:
    out = []
    for i, version in enumerate(versions):
        dims = [{"Name": M.DIM_SERVICE, "Value": service}, {"Name": M.DIM_VERSION, "Value": version}]
        out += version_queries(i, M.namespace(major), dims, (M.REQUESTS, M.ERRORS_5XX, M.LATENCY_MS), period)
    return out


def combine(versions: list[str], results: dict[str, list[float]]) -> dict[str, Figures]:
    """Pure: GetMetricData values by query id → Figures per version."""
    out = {}
    for i, version in enumerate(versions):
        p50 = results.get(f"p50x{i}") or []
        p99 = results.get(f"p99x{i}") or []
        out[version] = Figures(requests=float(sum(results.get(f"req{i}") or [])),
                               errors_5xx=float(sum(results.get(f"err{i}") or [])),
                               p50_ms=max(p50) if p50 else None, p99_ms=max(p99) if p99 else None)
    return out


def metric_series(client: Any, metric_queries: list[dict[str, Any]], start: dt.datetime,
                  end: dt.datetime) -> dict[str, dict[dt.datetime, float]]:
    """GetMetricData, every page: each query's values by the start of their period."""
    values: dict[str, dict[dt.datetime, float]] = {}
    if not metric_queries:
        return values
    kwargs: dict[str, Any] = {"MetricDataQueries": metric_queries, "StartTime": start, "EndTime": end,
                              "ScanBy": "TimestampAscending"}
    try:
        while True:
            page = client.get_metric_data(**kwargs)
            for r in page["MetricDataResults"]:
                values.setdefault(r["Id"], {}).update(zip(r.get("Timestamps", []), r.get("Values", [])))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    except (ClientError, BotoCoreError) as exc:
        raise UserError(f"CloudWatch GetMetricData failed: {exc}",
                        hint="the canary, traffic compare and `meshspec status` need cloudwatch:GetMetricData on the "
                             "account") from None
    return values


def metric_data(client: Any, metric_queries: list[dict[str, Any]], start: dt.datetime,
                end: dt.datetime) -> dict[str, list[float]]:
    """GetMetricData, every page: values by query id."""
    return {qid: list(points.values()) for qid, points in metric_series(client, metric_queries, start, end).items()}


def combine_series(versions: list[str], results: dict[str, dict[dt.datetime, float]],
                   ) -> dict[str, dict[dt.datetime, Figures]]:
    """Pure: GetMetricData values by query id and period → per version, Figures per period (periods in which
    the version has any datapoint)."""
    out: dict[str, dict[dt.datetime, Figures]] = {}
    for i, version in enumerate(versions):
        req, err, p50, p99 = (results.get(f"{k}{i}") or {} for k in ("req", "err", "p50x", "p99x"))
        out[version] = {at: Figures(requests=float(req.get(at, 0.0)), errors_5xx=float(err.get(at, 0.0)),
                                    p50_ms=p50.get(at), p99_ms=p99.get(at))
                        for at in sorted({*req, *err, *p50, *p99})}
    return out


class CloudWatchFigures:
    """The metric filters' series (:mod:`meshspec.constructs_lib.metric_names`)."""

    def __init__(self, client: Any):
        self.client = client

    def figures(self, service: str, major: str, versions: list[str], start: dt.datetime,
                end: dt.datetime) -> dict[str, Figures]:
        period = period_for(start, end)
        return combine(versions, metric_data(self.client, queries(service, major, versions, period), start, end))

    def series(self, service: str, major: str, versions: list[str], start: dt.datetime, end: dt.datetime,
               period: int) -> dict[str, dict[dt.datetime, Figures]]:
        return combine_series(versions, metric_series(self.client, queries(service, major, versions, period),
                                                      start, end))


def application_signals_queries(service: str, environment: str, period: int, percentile: str = "p99",
                                ) -> list[dict[str, Any]]:
    """Pure: a service's own figures in Application Signals' series (:mod:`meshspec.constructs_lib.metric_names`):
    requests (Latency's SampleCount), faults (Fault's Sum) and a latency percentile, over one period."""
    dims = [{"Name": M.APPSIGNALS_DIM_ENVIRONMENT, "Value": environment},
            {"Name": M.APPSIGNALS_DIM_SERVICE, "Value": service}]
    return [{"Id": qid, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": M.APPSIGNALS_NAMESPACE, "MetricName": metric, "Dimensions": dims},
                "Period": period, "Stat": stat}}
            for qid, metric, stat in (("req0", M.APPSIGNALS_LATENCY, "SampleCount"),
                                      ("err0", M.APPSIGNALS_FAULT, "Sum"),
                                      ("p99x0", M.APPSIGNALS_LATENCY, percentile))]


class ApplicationSignalsFigures:
    """A service's figures as the server, from CloudWatch Application Signals (every backend, ECS and EKS).
    ``percentile`` (``p99``, ``p99.9``) fills ``Figures.p99_ms``."""

    def __init__(self, client: Any):
        self.client = client

    def service_figures(self, service: str, environment: str, start: dt.datetime, end: dt.datetime,
                        percentile: str = "p99") -> Figures:
        period = period_for(start, end)
        values = metric_data(self.client, application_signals_queries(service, environment, period, percentile),
                             start, end)
        return combine(["all"], values)["all"]
