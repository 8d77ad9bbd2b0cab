"""A CloudWatch dashboard per service: its code versions side by side, per API major, and beneath them the health
of every service it depends on (a row each: requests, fault rate, p99 latency from CloudWatch Application Signals,
and the state of its SLO alarms), so the chain of failures is in one view.

By default it reads the series named in :mod:`meshspec.constructs_lib.metric_names` (a namespace per API major,
dimensions Service/Version), the same the service log group's metric filters (:mod:`meshspec.constructs_lib.metrics`)
write and the canary analysis reads; a mesh backend that publishes series of its own hands a
:class:`DashboardSeries` instead (``MeshServiceBinding.dashboard_series``).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Callable, Protocol

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from . import metric_names as m
from .errors import PropsError

Graphs = list[tuple[str, list[list]]]  # one row's graphs: (title, the metrics as a dashboard body lists them)


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
      ``meshspec.constructs_lib.metric_names.NAMESPACE_PREFIX`` (``meshspec/Envoy``), what ``ServiceMetricFilters``
      writes by default.
    - ``series``: what the graphs read when the mesh backend publishes series of its own (its binding's
      ``dashboard_series``). Default: None, the Envoy access log's series, a row per major.
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
    series: "DashboardSeries | None" = None
    dependencies: tuple[DependencyPanel, ...] = ()
    alarms: tuple[str, ...] = ()
    max_dependency_rows: int = MAX_DEPENDENCY_ROWS

    def __post_init__(self) -> None:
        if not self.versions or not self.majors:
            raise PropsError(f"a dashboard needs at least one version and one major, got versions="
                             f"{list(self.versions)} majors={list(self.majors)}")
        if self.period_minutes < 1:
            raise PropsError(f"period_minutes is {self.period_minutes}: at least 1")
        names = [d.name for d in self.dependencies]
        if len(set(names)) != len(names) or self.service_name in names:
            raise PropsError(f"dependencies of {self.service_name!r} name a service twice, or the service itself: "
                             f"{names}")
        if self.max_dependency_rows < 0:
            raise PropsError(f"max_dependency_rows is {self.max_dependency_rows}: at least 0")


class DashboardSeries(Protocol):
    """Series a mesh backend publishes for a service, laid out as the dashboard's rows."""

    def rows(self, props: ServiceDashboardProps) -> list[tuple[str, Graphs]]:
        """(row name, graphs) for each row under the title row; pure, no construct (see :func:`metric_row`)."""
        ...


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


def metric_row(series: Callable[[str, str], list[list]], requests: str, errors: str, latency: str) -> Graphs:
    """One row's graphs: requests and 5xx summed, latency at p50 and p99; ``series(metric, statistic)`` gives the
    lines of one metric."""
    return [("requests", series(requests, "Sum")), ("5xx", series(errors, "Sum")),
            ("latency (ms)", series(latency, "p50") + series(latency, "p99"))]


def _graphs(props: ServiceDashboardProps) -> list[tuple[str, Graphs]]:
    """Rows of (row name, graphs): the backend's own series, else a row per major on Envoy's."""
    if props.series is not None:
        return props.series.rows(props)
    return [(major, metric_row(functools.partial(version_metrics, props, major), m.REQUESTS, m.ERRORS_5XX,
                               m.LATENCY_MS)) for major in props.majors]


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
