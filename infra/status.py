"""``meshspec status``: the live health of a service and of everything beneath it, and the likely cause.

The seed's story: the catalog fails because pricing fails because the ERP connector failed. Every service in the
tree (:func:`meshspec.infra.dependencies.chain`) is read over one window and judged against its objectives, and
the deepest failing service whose own dependencies do not fail is named as the likely cause.

Where a service's figures come from (:func:`source_of`): CloudWatch Application Signals for AWS services when the
CloudWatch agent runs (every backend, ECS and EKS); the mesh's own series (App Mesh metric filters, VPC Lattice
target groups) when the spec keeps the X-Ray daemon; Cloud Monitoring for App Engine services. Judging is pure
(:func:`judge`, :func:`likely_causes`); reading is the sources' (:mod:`meshspec.infra.traffic.figures`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Literal

from . import naming
from .dependencies import Dependency, chain, environment_of, everything, top, uses_graph
from .mesh import Backend, registry
from .spec.model import Slo, Spec, live_majors, metric_majors
from .traffic.figures import Figures

State = Literal["ok", "failing", "no-data"]
Source = Literal["application-signals", "mesh", "cloud-monitoring", "none"]


@dataclass(frozen=True)
class Limits:
    """What fails a service without objectives, and how fast an objective may burn. ``max_burn_rate`` 1 means:
    failing when the window spends the error budget faster than the objective allows."""

    max_5xx_rate: float = 0.01
    max_p99_ms: float | None = None
    max_burn_rate: float = 1.0
    min_requests: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"max5xxRate": self.max_5xx_rate, "maxP99Ms": self.max_p99_ms, "maxBurnRate": self.max_burn_rate,
                "minRequests": self.min_requests}


@dataclass(frozen=True)
class Row:
    """One service's verdict."""

    name: str
    depth: int
    path: tuple[str, ...]
    source: Source
    state: State
    reasons: list[str]
    figures: Figures | None = None
    percentile: str = "p99"
    burn_rate: float | None = None

    def to_json(self) -> dict[str, Any]:
        fig = self.figures.to_json() if self.figures else None
        if fig is not None and self.percentile != "p99":
            fig[f"{self.percentile}Ms"] = fig.pop("p99Ms")
        return {"service": self.name, "depth": self.depth, "path": list(self.path), "source": self.source,
                "state": self.state, "reasons": self.reasons, "figures": fig,
                "burnRate": None if self.burn_rate is None else round(self.burn_rate, 3)}


@dataclass
class Report:
    service: str | None
    start: dt.datetime
    end: dt.datetime
    limits: Limits
    rows: list[Row] = field(default_factory=list)
    causes: list[Row] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return any(r.state == "failing" for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        cause = self.causes[0] if self.causes else None
        return {"command": "status", "ok": True, "service": self.service,
                "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
                "limits": self.limits.to_json(), "failing": self.failing,
                "likelyCause": None if cause is None else {"service": cause.name, "path": list(cause.path),
                                                           "reasons": cause.reasons},
                "otherCauses": [r.name for r in self.causes[1:]],
                "services": [r.to_json() for r in self.rows]}


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def percentile_of(slo: Slo | None) -> str:
    """The latency statistic a service is judged on: its objective's percentile (``p99.9``), else p99."""
    if slo is None or slo.latency is None:
        return "p99"
    return f"p{slo.latency.percentile.normalize():f}"


def judge(fig: Figures | None, slo: Slo | None, limits: Limits) -> tuple[State, list[str], float | None]:
    """Pure: the state, why, and the availability burn rate (fault rate / error budget) when there is an
    objective. ``fig.p99_ms`` holds the objective's percentile (:func:`percentile_of`)."""
    if fig is None or fig.requests < limits.min_requests:
        seen = 0 if fig is None else fig.requests
        return "no-data", [f"{seen:g} requests in the window, fewer than {limits.min_requests}: no data yet"], None
    rate = fig.error_rate or 0.0
    bad: list[str] = []
    good: list[str] = []
    burn = None
    if slo is not None and slo.availability is not None:
        budget = float(1 - slo.availability / Decimal(100))
        burn = rate / budget
        (bad if burn > limits.max_burn_rate else good).append(
            f"5xx {fig.errors_5xx:g} of {fig.requests:g} ({_pct(rate)}) burns the {slo.availability} % objective's "
            f"budget at {burn:.2f}x (limit {limits.max_burn_rate:g}x)")
    else:
        (bad if rate > limits.max_5xx_rate else good).append(
            f"5xx {fig.errors_5xx:g} of {fig.requests:g} ({_pct(rate)}), limit {_pct(limits.max_5xx_rate)}")
    if slo is not None and slo.latency is not None:
        name, limit = percentile_of(slo), slo.latency.threshold_ms
        if fig.p99_ms is None:
            good.append(f"no {name} latency datapoint")
        else:
            (bad if fig.p99_ms > limit else good).append(
                f"{name} {fig.p99_ms:g} ms, objective under {limit} ms")
    elif limits.max_p99_ms is not None and fig.p99_ms is not None:
        (bad if fig.p99_ms > limits.max_p99_ms else good).append(
            f"p99 {fig.p99_ms:g} ms, limit {limits.max_p99_ms:g} ms")
    return ("failing", bad, burn) if bad else ("ok", good, burn)


def likely_causes(rows: list[Row], beneath: Callable[[str], set[str]]) -> list[Row]:
    """Pure: the failing services none of whose own dependencies fail (``beneath(name)``: every service it
    depends on), deepest first (ties in the rows' order): where a chain of failures starts."""
    failing = {r.name for r in rows if r.state == "failing"}
    roots = [r for r in rows if r.state == "failing" and not (beneath(r.name) & failing)]
    return sorted(roots, key=lambda r: -r.depth)


def source_of(spec: Spec, name: str) -> Source:
    """Where ``name``'s figures are read (module docstring)."""
    svc = spec.services[name]
    if svc.appengine is not None:
        return "cloud-monitoring"
    if spec.observability.agent == "cloudwatch":
        return "application-signals"
    backend = registry.primary(spec)
    if backend.access_log_metrics or type(backend).metrics_source is not Backend.metrics_source:
        return "mesh"
    return "none"  # a backend with series of neither kind, with the X-Ray daemon: nothing meshspec can name


def _majors_to_read(spec: Spec, name: str) -> list[str]:
    """The majors whose figures add up to the service's: App Mesh's per-major series and App Engine services per
    major are separate; Lattice's target groups and a shared App Engine service give every major the same."""
    svc = spec.services[name]
    majors = list(live_majors(svc))
    if svc.appengine is not None:
        return majors if svc.appengine.majors_as_services else majors[:1]
    if registry.primary(spec).access_log_metrics:
        return list(metric_majors(spec, name))
    return majors[:1]


def merge(parts: list[Figures]) -> Figures | None:
    """Pure: counts summed, the worst percentile kept (an upper bound of the whole's)."""
    if not parts:
        return None
    p99s = [f.p99_ms for f in parts if f.p99_ms is not None]
    return Figures(requests=sum(f.requests for f in parts), errors_5xx=sum(f.errors_5xx for f in parts),
                   p99_ms=max(p99s) if p99s else None)


Reader = Callable[[str, Source, str, dt.datetime, dt.datetime], "Figures | None"]


def figures_reader(spec: Spec, ctx: Any) -> Reader:
    """Reads one service's figures from its source; sources are made once (CloudWatch, Cloud Monitoring)."""
    from .traffic.cliutil import cloudwatch, metrics_source
    from .traffic.figures import ApplicationSignalsFigures

    def read(name: str, source: Source, percentile: str, start: dt.datetime, end: dt.datetime) -> Figures | None:
        if source == "application-signals":
            fig = ApplicationSignalsFigures(cloudwatch(spec, ctx)).service_figures(
                name, environment_of(spec, name), start, end, percentile)
            return fig if fig.requests else None
        if source == "none":
            return None
        reader = metrics_source(spec, name, ctx)
        versions = [v.name for v in spec.services[name].versions]
        parts = [f for major in _majors_to_read(spec, name)
                 for f in reader.figures(name, major, versions, start, end).values()]
        total = merge(parts)
        return total if total is not None and total.requests else None

    return read


def status(spec: Spec, service: str | None, read: Reader, start: dt.datetime, end: dt.datetime,
           limits: Limits) -> Report:
    """Read and judge ``service`` and everything beneath it (every service when ``service`` is None)."""
    graph = uses_graph(spec)
    tree: list[Dependency] = [top(service), *chain(spec, service, graph)] if service is not None else everything(spec)
    report = Report(service, start, end, limits)
    for d in tree:
        slo = spec.services[d.name].slo
        source = source_of(spec, d.name)
        percentile = percentile_of(slo)
        fig = read(d.name, source, percentile, start, end)
        state, reasons, burn = judge(fig, slo, limits)
        if source == "none":
            reasons = [f"no figures: {registry.primary(spec).title} with the X-Ray daemon has no per-service series "
                       "meshspec reads (aws.observability.agent: cloudwatch gives Application Signals')"]
        report.rows.append(Row(d.name, d.depth, d.path, source, state, reasons, fig, percentile, burn))
    names = {r.name for r in report.rows}
    report.causes = likely_causes(report.rows, lambda n: {d.name for d in chain(spec, n, graph)} & names)
    return report


def render_text(report: Report) -> list[str]:
    """The tree, one line per service (indented by depth), then the likely cause."""
    width = max((2 * r.depth + len(r.name) for r in report.rows), default=10) + 2
    lines = [f"window {report.start:%Y-%m-%d %H:%M}–{report.end:%H:%M} UTC"]
    for r in report.rows:
        label = ("  " * r.depth + r.name).ljust(width)
        lines.append(f"{label}{r.state:<8} {r.source:<20} {'; '.join(r.reasons)}")
    if report.causes:
        c = report.causes[0]
        chain_text = " → ".join(c.path)
        lines.append(f"likely cause: {c.name} ({chain_text}): {'; '.join(c.reasons)}")
        if len(report.causes) > 1:
            lines.append("also failing on their own: " + ", ".join(r.name for r in report.causes[1:]))
    elif not report.failing:
        nodata = [r.name for r in report.rows if r.state == "no-data"]
        lines.append("nothing is failing" + (f" (no data yet: {', '.join(nodata)})" if nodata else ""))
    return lines
