"""A CloudWatch dashboard per service: its code versions side by side, per API major, and beneath them the health
of every service it depends on (a row each: requests, fault rate, p99 latency from CloudWatch Application Signals,
and the state of its SLO alarms), so the chain of failures is in one view.

Reads the series named in :mod:`meshspec.infra.metrics` (a namespace per API major, dimensions Service/Version), the same
the service log group's metric filters (:mod:`meshspec.constructs_lib.metrics`) write and the canary analysis reads; or,
given each version's VPC Lattice target group, Lattice's own per-target-group series (what the canary reads on
Lattice, :class:`meshspec.infra.traffic.figures.LatticeFigures`).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Callable, Mapping

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from meshspec.infra import metrics as m

from .errors import PropsError, contradiction


@dataclass(frozen=True)
class ServiceConnectSeries:
    """Where ECS publishes one Service Connect service's metrics: its cluster, ECS service and discovery name."""

    cluster_name: str
    service_name: str
    discovery_name: str


@dataclass(frozen=True)
class DependencyPanel:
    """One service the dashboard's service depends on.

    - ``name``: the service. Required.
    - ``path``: the ``uses`` path to it, this dashboard's service first. Default: none (a row past
      ``max_dependency_rows`` shows only the name).
    - ``environment``: its Application Signals environment: the row graphs its series (``ApplicationSignals``,
      by Environment and Service). Default: None, the row shows ``note`` instead.
    - ``note``: what to show when there are no series (a service on App Engine). Default: none.
    - ``objectives``: its objectives in words (``availability 99.9 %``). Default: none.
    - ``alarms``: names of its SLO burn-rate alarms, shown in an alarm status widget. Default: none.
    """

    name: str
    path: tuple[str, ...] = ()
    environment: str | None = None
    note: str | None = None
    objectives: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()


MAX_DEPENDENCY_ROWS = 20  # rows of 4 widgets; the rest are named in one text widget (500 widgets per dashboard)


@dataclass(frozen=True)
class ServiceDashboardProps:
    """- ``service_name``, ``versions`` (code version names), ``majors`` (API majors): required.
    - ``dashboard_name``: Default: a name CloudFormation generates.
    - ``period_minutes``: Default: 1.
    - ``namespace_prefix``: each major's series are in ``{namespace_prefix}/{major}``. Default:
      ``meshspec.infra.metrics.NAMESPACE_PREFIX`` (``meshspec/Envoy``), what ``ServiceMetricFilters`` writes by default.
    - ``target_groups``: version → VPC Lattice target group id. With it the graphs read ``AWS/VpcLattice``
      (TotalRequestCount, HTTPCode_5XX_Count, RequestTime) per target group, in one row for all majors (a
      target group serves every major of its version). Default: None, the Envoy series per major.
    - ``service_connect``: the ECS service behind Service Connect. With it the graphs read what its Service
      Connect proxy publishes (``AWS/ECS``: RequestCount, HTTPCode_Target_5XX_Count, TargetResponseTime by
      ClusterName, ServiceName, DiscoveryName), one line for the service: ECS shifts whole revisions, there is
      no lasting per-version split to show. Default: None.
    - ``dependencies``: the services it depends on, in dependency order (a row each). Default: none.
    - ``alarms``: the service's own SLO burn-rate alarms, shown under its title. Default: none.
    - ``max_dependency_rows``: rows beyond this are named, not graphed. Default: 20.
    """

    service_name: str
    versions: tuple[str, ...]
    majors: tuple[str, ...]
    dashboard_name: str | None = None
    period_minutes: int = 1
    namespace_prefix: str = m.NAMESPACE_PREFIX
    target_groups: Mapping[str, str] | None = None
    service_connect: "ServiceConnectSeries | None" = None
    dependencies: tuple[DependencyPanel, ...] = ()
    alarms: tuple[str, ...] = ()
    max_dependency_rows: int = MAX_DEPENDENCY_ROWS

    def __post_init__(self) -> None:
        if not self.versions or not self.majors:
            raise PropsError(f"a dashboard needs at least one version and one major, got versions="
                             f"{list(self.versions)} majors={list(self.majors)}")
        if self.period_minutes < 1:
            raise PropsError(f"period_minutes is {self.period_minutes}: at least 1")
        if self.target_groups is not None and self.service_connect is not None:
            raise contradiction("target_groups", dict(self.target_groups), "service_connect", self.service_connect,
                                "a service is on one backend: VPC Lattice or Service Connect")
        names = [d.name for d in self.dependencies]
        if len(set(names)) != len(names) or self.service_name in names:
            raise PropsError(f"dependencies of {self.service_name!r} name a service twice, or the service itself: "
                             f"{names}")
        if self.max_dependency_rows < 0:
            raise PropsError(f"max_dependency_rows is {self.max_dependency_rows}: at least 0")
        if self.target_groups is not None and set(self.target_groups) != set(self.versions):
            raise PropsError(f"target_groups names {sorted(self.target_groups)}, versions are {sorted(self.versions)}: "
                             "give each version its target group")


def version_metrics(props: ServiceDashboardProps, major: str, metric: str, statistic: str,
                    ) -> list[list]:
    """One series per code version, labelled by version, as a dashboard body lists it (pure: no construct)."""
    options: dict = {"label": None}
    if props.period_minutes * 60 != DEFAULT_PERIOD_S:
        options["period"] = props.period_minutes * 60
    if statistic != "Average":
        options["stat"] = statistic
    series = []
    for v in props.versions:
        dims = {m.DIM_SERVICE: props.service_name, m.DIM_VERSION: v}
        series.append([m.namespace(major, props.namespace_prefix), metric, *[x for k in sorted(dims) for x in (k, dims[k])],
                       {**options, "label": f"{v} {statistic}"}])
    return series


def lattice_metrics(props: ServiceDashboardProps, metric: str, statistic: str) -> list[list]:
    """One series per code version from its Lattice target group, as a SEARCH expression (pure: no construct).

    SEARCH rather than a fixed dimension value: it matches the target group id whether CloudWatch lists the
    dimension as the id or as an ARN ending in it, and the ``{AWS/VpcLattice,TargetGroup}`` schema keeps the
    whole-group series, not per-zone slices."""
    assert props.target_groups is not None
    period = props.period_minutes * 60
    series = []
    for i, v in enumerate(props.versions):
        search = (f"SEARCH('{{{m.LATTICE_NAMESPACE},{m.LATTICE_DIM_TARGET_GROUP}}} MetricName=\"{metric}\" "
                  f"{props.target_groups[v]}', '{statistic}', {period})")
        series.append([{"expression": search, "label": f"{v} {statistic}", "id": f"{statistic.lower()}{i}"}])
    return series


SC_REQUESTS, SC_ERRORS_5XX, SC_LATENCY_MS = "RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime"


def service_connect_metrics(props: ServiceDashboardProps, metric: str, statistic: str) -> list[list]:
    """The service's one series from its Service Connect proxy (pure: no construct)."""
    sc = props.service_connect
    assert sc is not None
    return [["AWS/ECS", metric, "ClusterName", sc.cluster_name, "DiscoveryName", sc.discovery_name,
             "ServiceName", sc.service_name,
             {"label": f"{props.service_name} {statistic}", "period": props.period_minutes * 60, "stat": statistic}]]


def _row(series: Callable[[str, str], list[list]], requests: str, errors: str, latency: str,
         ) -> list[tuple[str, list[list]]]:
    """One row's graphs: requests and 5xx summed, latency at p50 and p99; ``series(metric, statistic)``."""
    return [("requests", series(requests, "Sum")), ("5xx", series(errors, "Sum")),
            ("latency (ms)", series(latency, "p50") + series(latency, "p99"))]


def _graphs(props: ServiceDashboardProps) -> list[tuple[str, list[tuple[str, list[list]]]]]:
    """Rows of (row name, graphs): per major on Envoy's series, one row on Lattice's or Service Connect's."""
    if props.service_connect is not None:
        return [("all majors", _row(functools.partial(service_connect_metrics, props),
                                    SC_REQUESTS, SC_ERRORS_5XX, SC_LATENCY_MS))]
    if props.target_groups is not None:
        return [("all majors", _row(functools.partial(lattice_metrics, props),
                                    m.LATTICE_REQUESTS, m.LATTICE_ERRORS_5XX, m.LATTICE_LATENCY_MS))]
    return [(major, _row(functools.partial(version_metrics, props, major), m.REQUESTS, m.ERRORS_5XX, m.LATENCY_MS))
            for major in props.majors]


def dashboard_body(props: ServiceDashboardProps, region: str, alarm_arn: Callable[[str], str] = lambda n: n) -> str:
    """The dashboard's JSON body, laid out as cloudwatch.Dashboard lays out rows of widgets (a text row, then per
    major a row of three 8-wide graphs), then a row per dependency (:func:`dependency_rows`), rendered here in
    Python (pure: no construct). ``alarm_arn``: an alarm's ARN from its name."""
    widgets: list[dict] = [{"type": "text", "width": 24, "height": 2, "x": 0, "y": 0, "properties": {
        "markdown": f"# {props.service_name}\nCode versions side by side: {', '.join(props.versions)}"}}]
    y = 2
    if props.alarms:
        widgets.append(_alarm_widget("objectives (SLO burn rate)", props.alarms, alarm_arn, 0, y, 24, region))
        y += 2
    for row, graphs in _graphs(props):
        for i, (title, metrics) in enumerate(graphs):
            widgets.append({"type": "metric", "width": 8, "height": 6, "x": 8 * i, "y": y, "properties": {
                "view": "timeSeries", "title": f"{row} {title}", "region": region, "metrics": metrics, "yAxis": {}}})
        y += 6
    widgets += dependency_rows(props, region, alarm_arn, y)
    return json.dumps({"widgets": widgets}, separators=(",", ":"), ensure_ascii=False)


def _alarm_widget(title: str, alarms: tuple[str, ...], alarm_arn: Callable[[str], str], x: int, y: int, width: int,
                  region: str) -> dict:
    return {"type": "alarm", "width": width, "height": 2 if width == 24 else 6, "x": x, "y": y, "properties": {
        "title": title, "region": region, "alarms": [alarm_arn(a) for a in alarms]}}


def application_signals_metrics(service: str, environment: str, metric: str, statistic: str, label: str,
                                ) -> list[list]:
    """One Application Signals series of a service, as the server (pure)."""
    return [[m.APPSIGNALS_NAMESPACE, metric, m.APPSIGNALS_DIM_ENVIRONMENT, environment, m.APPSIGNALS_DIM_SERVICE,
             service, {"label": label, "stat": statistic, "period": 60}]]


def dependency_rows(props: ServiceDashboardProps, region: str, alarm_arn: Callable[[str], str], y: int) -> list[dict]:
    """A heading, then per dependency a text cell (its path and objectives) and its requests, fault rate and p99
    latency from Application Signals (or its note), and its SLO alarms; past ``max_dependency_rows``, names only."""
    if not props.dependencies:
        return []
    shown = props.dependencies[:props.max_dependency_rows]
    widgets: list[dict] = [{"type": "text", "width": 24, "height": 1, "x": 0, "y": y, "properties": {
        "markdown": f"## What {props.service_name} depends on, in dependency order"}}]
    y += 1
    for d in shown:
        text = f"### {d.name}\n{' → '.join(d.path)}"
        if d.objectives:
            text += "\n\nobjectives: " + ", ".join(d.objectives)
        if d.environment is None:
            widgets.append({"type": "text", "width": 24, "height": 3, "x": 0, "y": y, "properties": {
                "markdown": text + (f"\n\n{d.note}" if d.note else "")}})
            y += 3
            continue
        width = 5 if d.alarms else 6
        widgets.append({"type": "text", "width": width, "height": 6, "x": 0, "y": y, "properties": {"markdown": text}})
        graphs = (("requests", m.APPSIGNALS_LATENCY, "SampleCount", "requests"),
                  ("fault rate", m.APPSIGNALS_FAULT, "Average", "faults / requests"),
                  ("latency (ms)", m.APPSIGNALS_LATENCY, "p99", "p99"))
        for i, (title, metric, stat, label) in enumerate(graphs):
            widgets.append({"type": "metric", "width": width, "height": 6, "x": width * (i + 1), "y": y, "properties": {
                "view": "timeSeries", "title": f"{d.name} {title}", "region": region, "yAxis": {},
                "metrics": application_signals_metrics(d.name, d.environment, metric, stat, label)}})
        if d.alarms:
            widgets.append(_alarm_widget(f"{d.name} objectives", d.alarms, alarm_arn, 20, y, 4, region))
        y += 6
    rest = props.dependencies[len(shown):]
    if rest:
        widgets.append({"type": "text", "width": 24, "height": 2, "x": 0, "y": y, "properties": {"markdown": (
            f"{len(rest)} more beneath: " + ", ".join(d.name for d in rest) + " (`meshspec status` reads them all)")}})
    return widgets


class ServiceDashboard(Construct):
    """Per major one row: requests, 5xx and p50/p99 latency, each with one line per code version.

    The body is rendered in Python and given to the L1 resource, placed where cloudwatch.Dashboard puts its
    own (``Resource/Resource``, so the logical id is the L2's): 3 jsii round trips instead of about 30 per
    service (a Metric, a Duration and a widget each; benchmarks/README.md). tests/test_scale_constructs.py
    checks that the body is the one the L2 renders."""

    def __init__(self, scope: Construct, id: str, props: ServiceDashboardProps) -> None:
        super().__init__(scope, id)
        body = dashboard_body(props, REGION_MARK, lambda name: f"arn:{PARTITION_MARK}:cloudwatch:{REGION_MARK}:"
                              f"{ACCOUNT_MARK}:alarm:{name}")
        body = body.replace(REGION_MARK, _region_token())
        if ACCOUNT_MARK in body:
            body = body.replace(ACCOUNT_MARK, Aws.ACCOUNT_ID).replace(PARTITION_MARK, Aws.PARTITION)
        self.dashboard = cw.CfnDashboard(Construct(self, "Resource"), "Resource", dashboard_body=body,
                                         dashboard_name=props.dashboard_name)


DEFAULT_PERIOD_S = 300  # CloudWatch's default period: a body leaves it out
REGION_MARK = "@@region@@"  # stands for the region token while the body is rendered (no spec name has @)
ACCOUNT_MARK, PARTITION_MARK = "@@account@@", "@@partition@@"  # the same for alarm ARNs


@functools.cache
def _region_token() -> str:
    """``Aws.REGION``, read once (a jsii round trip each time); the token is the same for every stack."""
    return Aws.REGION
