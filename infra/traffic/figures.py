"""Per-version figures (requests, 5xx, p50/p99 latency) from CloudWatch GetMetricData.

App Mesh: the series the per-service dashboards show and the service log group's metric filters write
(:mod:`meshspec.infra.metrics`): namespace ``meshspec/Envoy/<major>``, dimensions Service + Version, RequestCount and
Http5xxCount summed, LatencyMs at p50 and p99. VPC Lattice: its own target-group series (``AWS/VpcLattice``,
TotalRequestCount, HTTPCode_5XX_Count, RequestTime), one target group per version (:class:`LatticeFigures`).
One query period covers the whole window; if CloudWatch still splits it into several datapoints (it rounds the
start time to the period), counts are summed and a percentile is the worst datapoint's.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from meshspec.infra import metrics as M
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
    """CloudWatchFigures and LatticeFigures (here), CloudMonitoringFigures for App Engine (cloudmonitoring.py)."""

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


def _version_queries(i: int, namespace: str, dims: list[dict[str, str]], names: tuple[str, str, str],
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
        out += _version_queries(i, M.namespace(major), dims, (M.REQUESTS, M.ERRORS_5XX, M.LATENCY_MS), period)
    return out


def lattice_queries(versions: list[str], dims: Mapping[str, list[dict[str, str]]], period: int,
                    ) -> list[dict[str, Any]]:
    """Pure: the queries of the versions whose target group has published series (``dims``: version → the
    dimension set CloudWatch lists for it); a version without one gets no query, i.e. zero requests."""
    out = []
    for i, version in enumerate(versions):
        if version in dims:
            out += _version_queries(i, M.LATTICE_NAMESPACE, dims[version],
                                    (M.LATTICE_REQUESTS, M.LATTICE_ERRORS_5XX, M.LATTICE_LATENCY_MS), period)
    return out


def target_group_dimensions(metrics: list[dict[str, Any]], groups: Mapping[str, str],
                            ) -> dict[str, list[dict[str, str]]]:
    """Pure: version → the dimension set of its target group's series among ListMetrics' ``metrics``.

    ``groups`` maps version → target group id. The TargetGroup value is matched as the id or an ARN ending in
    it, and the set with the fewest dimensions wins (the per-target-group total, not a per-zone slice)."""
    out: dict[str, list[dict[str, str]]] = {}
    for version, group in groups.items():
        best: list[dict[str, str]] | None = None
        for metric in metrics:
            dims = metric.get("Dimensions", [])
            value = next((d["Value"] for d in dims if d["Name"] == M.LATTICE_DIM_TARGET_GROUP), None)
            if value is not None and (value == group or value.endswith("/" + group)):
                if best is None or len(dims) < len(best):
                    best = [{"Name": d["Name"], "Value": d["Value"]} for d in dims]
        if best is not None:
            out[version] = best
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


def _metric_series(client: Any, metric_queries: list[dict[str, Any]], start: dt.datetime,
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
                        hint="the canary and traffic compare need cloudwatch:GetMetricData on the account") from None
    return values


def _metric_data(client: Any, metric_queries: list[dict[str, Any]], start: dt.datetime,
                 end: dt.datetime) -> dict[str, list[float]]:
    """GetMetricData, every page: values by query id."""
    return {qid: list(points.values()) for qid, points in _metric_series(client, metric_queries, start, end).items()}


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
    """App Mesh: the metric filters' series (:mod:`meshspec.infra.metrics`)."""

    def __init__(self, client: Any):
        self.client = client

    def figures(self, service: str, major: str, versions: list[str], start: dt.datetime,
                end: dt.datetime) -> dict[str, Figures]:
        period = period_for(start, end)
        return combine(versions, _metric_data(self.client, queries(service, major, versions, period), start, end))

    def series(self, service: str, major: str, versions: list[str], start: dt.datetime, end: dt.datetime,
               period: int) -> dict[str, dict[dt.datetime, Figures]]:
        return combine_series(versions, _metric_series(self.client, queries(service, major, versions, period),
                                                       start, end))


class LatticeFigures:
    """VPC Lattice: each version's target group series. ``target_groups(service)`` gives version → target
    group id (the traffic backend finds them by name). The major is not a dimension: a target group serves
    every major of its version, so the figures are the version's across majors."""

    def __init__(self, client: Any, target_groups: Callable[[str], Mapping[str, str]]):
        self.client = client
        self.target_groups = target_groups

    def _listed(self) -> list[dict[str, Any]]:
        """ListMetrics: the target-group series CloudWatch has (their exact dimension sets)."""
        kwargs: dict[str, Any] = {"Namespace": M.LATTICE_NAMESPACE, "MetricName": M.LATTICE_REQUESTS,
                                  "Dimensions": [{"Name": M.LATTICE_DIM_TARGET_GROUP}]}
        out: list[dict[str, Any]] = []
        try:
            while True:
                page = self.client.list_metrics(**kwargs)
                out += page.get("Metrics", [])
                if not page.get("NextToken"):
                    return out
                kwargs["NextToken"] = page["NextToken"]
        except (ClientError, BotoCoreError) as exc:
            raise UserError(f"CloudWatch ListMetrics failed: {exc}",
                            hint="the canary needs cloudwatch:ListMetrics on the account") from None

    def figures(self, service: str, major: str, versions: list[str], start: dt.datetime,
                end: dt.datetime) -> dict[str, Figures]:
        period = period_for(start, end)
        return combine(versions, _metric_data(self.client, self._queries(service, versions, period), start, end))

    def series(self, service: str, major: str, versions: list[str], start: dt.datetime, end: dt.datetime,
               period: int) -> dict[str, dict[dt.datetime, Figures]]:
        return combine_series(versions, _metric_series(self.client, self._queries(service, versions, period),
                                                       start, end))

    def _queries(self, service: str, versions: list[str], period: int) -> list[dict[str, Any]]:
        groups = {v: g for v, g in self.target_groups(service).items() if v in versions}
        return lattice_queries(versions, target_group_dimensions(self._listed(), groups), period)
