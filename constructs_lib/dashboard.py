"""A CloudWatch dashboard per service: its code versions side by side, per API major.

Reads the series named in :mod:`infra.metrics` (namespace, dimensions Service/Version/Major), the same the
canary analysis reads.
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from infra import metrics as m

from .errors import PropsError


@dataclass(frozen=True)
class ServiceDashboardProps:
    """- ``service_name``, ``versions`` (code version names), ``majors`` (API majors): required.
    - ``dashboard_name``: Default: a name CloudFormation generates.
    - ``period_minutes``: Default: 1.
    - ``namespace``: Default: ``infra.metrics.NAMESPACE``.
    """

    service_name: str
    versions: tuple[str, ...]
    majors: tuple[str, ...]
    dashboard_name: str | None = None
    period_minutes: int = 1
    namespace: str = m.NAMESPACE

    def __post_init__(self) -> None:
        if not self.versions or not self.majors:
            raise PropsError(f"a dashboard needs at least one version and one major, got versions="
                             f"{list(self.versions)} majors={list(self.majors)}")
        if self.period_minutes < 1:
            raise PropsError(f"period_minutes is {self.period_minutes}: at least 1")


def version_metrics(props: ServiceDashboardProps, major: str, metric: str, statistic: str,
                    ) -> list[cw.Metric]:
    """One series per code version, labelled by version (pure: no construct)."""
    return [cw.Metric(namespace=props.namespace, metric_name=metric, statistic=statistic,
                      period=Duration.minutes(props.period_minutes), label=f"{v} {statistic}",
                      dimensions_map={m.DIM_SERVICE: props.service_name, m.DIM_VERSION: v, m.DIM_MAJOR: major})
            for v in props.versions]


class ServiceDashboard(Construct):
    """Per major one row: requests, 5xx and p50/p99 latency, each with one line per code version."""

    def __init__(self, scope: Construct, id: str, props: ServiceDashboardProps) -> None:
        super().__init__(scope, id)
        self.dashboard = cw.Dashboard(self, "Resource", dashboard_name=props.dashboard_name)
        self.dashboard.add_widgets(cw.TextWidget(
            markdown=f"# {props.service_name}\nCode versions side by side: {', '.join(props.versions)}",
            width=24, height=2))
        for major in props.majors:
            self.dashboard.add_widgets(
                cw.GraphWidget(title=f"{major} requests", width=8,
                               left=version_metrics(props, major, m.REQUESTS, "Sum")),
                cw.GraphWidget(title=f"{major} 5xx", width=8,
                               left=version_metrics(props, major, m.ERRORS_5XX, "Sum")),
                cw.GraphWidget(title=f"{major} latency (ms)", width=8,
                               left=version_metrics(props, major, m.LATENCY_MS, "p50")
                               + version_metrics(props, major, m.LATENCY_MS, "p99")))
