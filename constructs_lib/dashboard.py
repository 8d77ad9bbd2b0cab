"""A CloudWatch dashboard per service: its code versions side by side, per API major.

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
class ServiceDashboardProps:
    """- ``service_name``, ``versions`` (code version names), ``majors`` (API majors): required.
    - ``dashboard_name``: Default: a name CloudFormation generates.
    - ``period_minutes``: Default: 1.
    - ``namespace_prefix``: each major's series are in ``{namespace_prefix}/{major}``. Default:
      ``meshspec.constructs_lib.metric_names.NAMESPACE_PREFIX`` (``meshspec/Envoy``), what ``ServiceMetricFilters``
      writes by default.
    - ``series``: what the graphs read when the mesh backend publishes series of its own (its binding's
      ``dashboard_series``). Default: None, the Envoy access log's series, a row per major.
    """

    service_name: str
    versions: tuple[str, ...]
    majors: tuple[str, ...]
    dashboard_name: str | None = None
    period_minutes: int = 1
    namespace_prefix: str = m.NAMESPACE_PREFIX
    series: "DashboardSeries | None" = None

    def __post_init__(self) -> None:
        if not self.versions or not self.majors:
            raise PropsError(f"a dashboard needs at least one version and one major, got versions="
                             f"{list(self.versions)} majors={list(self.majors)}")
        if self.period_minutes < 1:
            raise PropsError(f"period_minutes is {self.period_minutes}: at least 1")


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


def dashboard_body(props: ServiceDashboardProps, region: str) -> str:
    """The dashboard's JSON body, laid out as cloudwatch.Dashboard lays out rows of widgets (a text row, then per
    major a row of three 8-wide graphs), rendered here in Python (pure: no construct)."""
    widgets: list[dict] = [{"type": "text", "width": 24, "height": 2, "x": 0, "y": 0, "properties": {
        "markdown": f"# {props.service_name}\nCode versions side by side: {', '.join(props.versions)}"}}]
    y = 2
    for row, graphs in _graphs(props):
        for i, (title, metrics) in enumerate(graphs):
            widgets.append({"type": "metric", "width": 8, "height": 6, "x": 8 * i, "y": y, "properties": {
                "view": "timeSeries", "title": f"{row} {title}", "region": region, "metrics": metrics, "yAxis": {}}})
        y += 6
    return json.dumps({"widgets": widgets}, separators=(",", ":"), ensure_ascii=False)


class ServiceDashboard(Construct):
    """Per major one row: requests, 5xx and p50/p99 latency, each with one line per code version.

    The body is rendered in Python and given to the L1 resource, placed where cloudwatch.Dashboard puts its
    own (``Resource/Resource``, so the logical id is the L2's): 3 jsii round trips instead of about 30 per
    service (a Metric, a Duration and a widget each; benchmarks/README.md). tests/test_scale_constructs.py
    checks that the body is the one the L2 renders."""

    def __init__(self, scope: Construct, id: str, props: ServiceDashboardProps) -> None:
        super().__init__(scope, id)
        body = dashboard_body(props, REGION_MARK).replace(REGION_MARK, _region_token())
        self.dashboard = cw.CfnDashboard(Construct(self, "Resource"), "Resource", dashboard_body=body,
                                         dashboard_name=props.dashboard_name)


DEFAULT_PERIOD_S = 300  # CloudWatch's default period: a body leaves it out
REGION_MARK = "@@region@@"  # stands for the region token while the body is rendered (no spec name has @)


@functools.cache
def _region_token() -> str:
    """``Aws.REGION``, read once (a jsii round trip each time); the token is the same for every stack."""
    return Aws.REGION
