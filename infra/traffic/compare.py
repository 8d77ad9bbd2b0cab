"""``meshspec traffic compare``: each cohort's figures beside the control's, and whether each difference is
significant at the sample sizes seen (pure: the figures come in, the verdicts go out).

A cohort is the set of requests one version serves: those its cohort routes send it (header, cookie, the sticky
cookie's holders) and its share of the others (of the users when a cookie keeps each on one version). The metrics are per version, so cohorts sending to the same version
are counted together. The tests and why they fit CloudWatch's and Cloud Monitoring's aggregates are in
:mod:`.stats`; every test of one run is Holm-adjusted, so "significant" holds for the run as a whole.
"""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from meshspec.infra.errors import UserError
from meshspec.infra.spec import cohorts as C
from meshspec.infra.spec.model import Service, shares

from . import stats
from .figures import Figures

Metric = Literal["5xx rate", "p50", "p99"]
FISHER = "Fisher's exact test"
WILCOXON = "Wilcoxon signed-rank test"
POWER = 0.8
MAX_PERIODS = 1440  # pairs enough for any window; one GetMetricData page holds them all


def period_for_pairs(seconds: int) -> int:
    """The period the window is cut into: a minute (CloudWatch's finest for metric-filter series), longer only
    to keep at most ``MAX_PERIODS`` periods."""
    return max(60, -(-seconds // (MAX_PERIODS * 60)) * 60)


@dataclass(frozen=True)
class Cohort:
    version: str
    weight: Decimal                   # the version's share of the major in the spec
    routes: tuple[str, ...] = ()      # the cohort routes that send requests to it
    figures: Figures = Figures()      # the whole window
    periods: dict[dt.datetime, Figures] = field(default_factory=dict)
    of: str = "of requests"           # what the share is a share of (:func:`share_of`)

    def describe(self) -> str:
        parts = [f"{self.weight.normalize():f}% {self.of}"] if self.weight else []
        return ", ".join(parts + list(self.routes)) or "no route sends it traffic"

    def to_json(self) -> dict[str, Any]:
        return {"weight": float(self.weight), "routes": list(self.routes), "figures": self.figures.to_json(),
                "periods": len(self.periods)}


def cohorts_of(svc: Service, major: str, versions: list[str] | None = None) -> list[Cohort]:
    """The versions compared, each with what sends it requests: the named ``versions``, or every version that
    takes a share of the major or is a cohort route's target, in spec order."""
    split = shares(svc, major)
    routes = C.routes(svc, major)
    wanted = versions or [v.name for v in svc.versions
                          if split.get(v.name, 0) > 0 or any(r.version == v.name for r in routes)]
    of = share_of(svc, major)
    return [Cohort(v, split.get(v, Decimal(0)), tuple(r.name for r in routes if r.version == v), of=of)
            for v in wanted]


# What App Engine's split divides, by its shardBy (TrafficSplit.ShardBy).
APPENGINE_UNITS = {"cookie": "users", "ip": "client addresses", "random": "requests"}


def share_of(svc: Service, major: str) -> str:
    """What a version's share of the major divides, in words: requests, or users when a cookie keeps each user
    on one version (a sticky major on AWS, App Engine's cookie split); "the other" ones when cohort routes
    take some first."""
    if svc.appengine is not None:
        unit = APPENGINE_UNITS[svc.appengine.split_by]
    else:
        unit = "users" if svc.majors[major].sticky is not None else "requests"
    return f"of the other {unit}" if svc.majors[major].cohorts else f"of {unit}"


def pick_control(cohorts: list[Cohort], control: str | None) -> str:
    """The named control, else the version with the largest share (the first on a tie)."""
    names = [c.version for c in cohorts]
    if control is not None:
        if control not in names:
            raise UserError(f"the control {control!r} is not among the versions compared ({', '.join(names)})")
        return control
    return max(cohorts, key=lambda c: c.weight).version


@dataclass
class Verdict:
    version: str
    against: str
    metric: Metric
    test: str | None
    n: str
    value: float | None
    control_value: float | None
    difference: float | None      # version − control: points of rate (fraction), or ms (median period)
    p_value: float | None = None
    p_adjusted: float | None = None
    significant: bool | None = None  # None: too little data to test
    note: str = ""

    @property
    def direction(self) -> str:
        if self.difference is None or self.difference == 0:
            return "same"
        return "higher" if self.difference > 0 else "lower"

    def sentence(self) -> str:
        if self.metric == "5xx rate":
            shown = (f"5xx rate {_rate(self.value)} against {_rate(self.control_value)}"
                     if self.value is not None and self.control_value is not None else "5xx rate")
        else:
            shown = f"{self.metric} {_ms(self.value)} against {_ms(self.control_value)}"
        if self.significant is None:
            return f"{shown}: cannot tell: {self.note}"
        how = f"{self.test} {self.n}, p {_p(self.p_value)}"
        if self.p_adjusted is not None and self.p_adjusted != self.p_value:
            how += f", Holm-adjusted {_p(self.p_adjusted)}"
        if self.significant:
            by = (f"{abs(self.difference) * 100:.2f} points" if self.metric == "5xx rate"
                  else f"{abs(self.difference):g} ms in the median period")
            return f"{shown}: {self.direction} by {by}, significant ({how})"
        return f"{shown}: no significant difference ({how})" + (f"; {self.note}" if self.note else "")

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "against": self.against, "metric": self.metric, "test": self.test,
                "n": self.n, "value": self.value, "controlValue": self.control_value, "difference": self.difference,
                "direction": self.direction, "pValue": self.p_value, "pAdjusted": self.p_adjusted,
                "significant": self.significant, "verdict": self.sentence()}


def _rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.2f}%"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:g} ms"


def _p(p: float | None) -> str:
    return "n/a" if p is None else ("< 0.0001" if p < 1e-4 else f"= {p:.3g}")


def _rate_verdict(c: Cohort, ctl: Cohort, alpha: float) -> Verdict:
    a, b = ctl.figures, c.figures
    v = Verdict(c.version, ctl.version, "5xx rate", FISHER, f"on {b.requests:,.0f} and {a.requests:,.0f} requests",
                b.error_rate, a.error_rate, None)
    if not a.requests or not b.requests:
        who = ctl.version if not a.requests else c.version
        v.significant, v.test, v.note = None, None, f"{who} served no requests in the window"
        return v
    v.difference = b.error_rate - a.error_rate
    v.p_value = stats.fisher_exact(round(b.errors_5xx), round(b.requests), round(a.errors_5xx), round(a.requests))
    pooled = (a.errors_5xx + b.errors_5xx) / (a.requests + b.requests)
    smallest = stats.detectable_rate_difference(a.requests, b.requests, pooled, alpha, POWER)
    if smallest is not None:
        v.note = (f"these samples would detect a difference of about {smallest * 100:.2f} points "
                  f"({POWER:.0%} power)")
    else:
        v.note = (f"neither answered a 5xx; rates below about {3 / min(a.requests, b.requests) * 100:.2g}% cannot be "
                  "told apart at these sample sizes")
    return v


def _latency_verdict(c: Cohort, ctl: Cohort, metric: Metric, alpha: float) -> Verdict:
    key = "p50_ms" if metric == "p50" else "p99_ms"
    pairs = [(getattr(c.periods[at], key), getattr(ctl.periods[at], key)) for at in sorted(set(c.periods) &
                                                                                          set(ctl.periods))]
    diffs = [b - a for b, a in pairs if b is not None and a is not None]
    v = Verdict(c.version, ctl.version, metric, WILCOXON, f"over {len(diffs)} paired periods",
                getattr(c.figures, key), getattr(ctl.figures, key), statistics.median(diffs) if diffs else None)
    need = stats.min_pairs(alpha)
    if len(diffs) < need:
        v.significant, v.test = None, None
        v.note = (f"{len(diffs)} period(s) with a {metric} on both sides; at least {need} are needed for any "
                  f"result at alpha {alpha:g}: widen --since")
        return v
    result = stats.wilcoxon_signed_rank(diffs)
    v.p_value = result.p_value
    if v.difference == 0:  # the median period is even; the sign of the rest says which way it leans
        v.difference = statistics.fmean(diffs)
    if result.pairs < need:
        v.note = f"only {result.pairs} period(s) differ at all"
    return v


def compare(cohorts: list[Cohort], control: str, alpha: float) -> list[Verdict]:
    """Every other cohort against the control on 5xx rate, p50 and p99; p-values Holm-adjusted over the run."""
    ctl = next(c for c in cohorts if c.version == control)
    out: list[Verdict] = []
    for c in cohorts:
        if c.version == control:
            continue
        out.append(_rate_verdict(c, ctl, alpha))
        out += [_latency_verdict(c, ctl, m, alpha) for m in ("p50", "p99")]
    tested = [v for v in out if v.p_value is not None]
    for v, adjusted in zip(tested, stats.holm([v.p_value for v in tested])):
        v.p_adjusted = adjusted
        v.significant = adjusted < alpha
    return out
