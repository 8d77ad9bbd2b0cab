"""Service level objectives in CloudWatch Application Signals, each with two burn-rate alarms.

An objective is request-based: its attainment is good requests / all requests over a rolling window
(docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-ServiceLevelObjectives.html). Its indicator is
either an Application Signals service's own series (availability: requests without a fault; latency: requests
under a threshold), or any metrics that count all and bad requests (a mesh's per-version series, summed).

Application Signals publishes each SLO's burn rate (``BurnRate`` in ``AWS/ApplicationSignals``, dimensions
``SloName`` and ``BurnRateWindowMinutes``) for the look-back windows the SLO declares: 5, 30, 60 and 360 minutes
here. The alarms follow the multi-window rule of Google's SRE workbook ("Alerting on SLOs"): *fast* when the last
hour and the last 5 minutes both burn 2 % of the window's error budget per hour, *slow* when the last 6 hours and
the last 30 minutes both burn 5 % of it in 6 hours. The threshold scales with the window: for 28 days, 13.44 and
5.6. One metric-math alarm per rule (both windows in one ``IF``), not two alarms and a composite.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Mapping

from aws_cdk import aws_applicationsignals as appsignals
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from .errors import PropsError, contradiction

Kind = Literal["availability", "latency"]
BURN_RATE_WINDOWS = (5, 30, 60, 360)  # minutes: each alarm's short and long window
BURN_NAMESPACE, BURN_METRIC = "AWS/ApplicationSignals", "BurnRate"
DIM_SLO, DIM_WINDOW = "SloName", "BurnRateWindowMinutes"


@dataclass(frozen=True)
class BurnAlarm:
    """An alarm rule: ``budget`` of the error budget spent within ``long_minutes``, confirmed by ``short_minutes``."""

    speed: str
    long_minutes: int
    short_minutes: int
    budget: Decimal

    def threshold(self, window_days: int) -> Decimal:
        """The burn rate that spends ``budget`` of a ``window_days`` budget in ``long_minutes``."""
        return (self.budget * window_days * 24 * 60 / self.long_minutes).quantize(Decimal("0.01"))


BURN_ALARMS = (BurnAlarm("fast", 60, 5, Decimal("0.02")), BurnAlarm("slow", 360, 30, Decimal("0.05")))


@dataclass(frozen=True)
class MetricSeries:
    """One CloudWatch series, read per minute with ``statistic``."""

    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    statistic: str = "Sum"


@dataclass(frozen=True)
class ServiceLevelObjectiveProps:
    """One request-based SLO and its burn-rate alarms.

    - ``name``: the SLO's name, unique per account and region (letters, digits, ``-._``). Required.
    - ``kind``: ``availability`` or ``latency``. Required.
    - ``goal_percent``: the attainment goal, above 0 and below 100 (99.9). Required.
    - ``window_days``: the rolling window, in days. Default: 28.
    - ``service``: ``(service name, environment)`` of an Application Signals service: the indicator is its own
      series. Give this, or ``total`` and ``bad``.
    - ``threshold_ms``: latency with ``service``: a request slower than this is bad. Required there, refused
      otherwise.
    - ``total`` / ``bad``: series that count all and bad requests per minute, each group summed (a missing
      minute counts 0). Default: none.
    - ``description``: Default: says what the objective is.
    - ``alarm_names``: speed (``fast``, ``slow``) → alarm name. Default: ``{name}-burn-{speed}``.
    """

    name: str
    kind: Kind
    goal_percent: Decimal
    window_days: int = 28
    service: tuple[str, str] | None = None
    threshold_ms: int | None = None
    total: tuple[MetricSeries, ...] = ()
    bad: tuple[MetricSeries, ...] = ()
    description: str | None = None
    alarm_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("availability", "latency"):
            raise PropsError(f"kind is {self.kind!r}: allowed availability or latency")
        if not Decimal(0) < Decimal(self.goal_percent) < Decimal(100):
            raise PropsError(f"goal_percent is {self.goal_percent}: allowed above 0 and below 100")
        if self.window_days < 1:
            raise PropsError(f"window_days is {self.window_days}: at least 1")
        custom = bool(self.total or self.bad)
        if (self.service is None) == (not custom):
            raise contradiction("service", self.service, "total/bad", "given" if custom else None,
                                "the indicator is a service's series or counted series: give exactly one")
        if custom and not (self.total and self.bad):
            raise PropsError("total and bad go together: give the series of all requests and of bad ones")
        if self.service is not None and self.kind == "latency" and self.threshold_ms is None:
            raise PropsError(f"{self.name}: a latency objective on a service's series needs threshold_ms")
        if self.threshold_ms is not None and (self.service is None or self.kind != "latency"):
            raise contradiction("threshold_ms", self.threshold_ms, "kind", self.kind,
                                "threshold_ms applies to latency objectives on a service's series")
        unknown = sorted(set(self.alarm_names) - {a.speed for a in BURN_ALARMS})
        if unknown:
            raise PropsError(f"alarm_names names {unknown}: allowed {', '.join(a.speed for a in BURN_ALARMS)}")

    def alarm_name(self, speed: str) -> str:
        return self.alarm_names.get(speed, f"{self.name}-burn-{speed}")


def _sum(series: tuple[MetricSeries, ...], prefix: str) -> list[appsignals.CfnServiceLevelObjective.MetricDataQueryProperty]:
    """The queries of ``series`` plus one expression that sums them, missing minutes as 0 (the only one returned)."""
    T = appsignals.CfnServiceLevelObjective
    out = [T.MetricDataQueryProperty(id=f"{prefix}{i}", return_data=False, metric_stat=T.MetricStatProperty(
        metric=T.MetricProperty(namespace=s.namespace, metric_name=s.metric, dimensions=[
            T.DimensionProperty(name=k, value=v) for k, v in sorted(s.dimensions.items())]),
        period=60, stat=s.statistic)) for i, s in enumerate(series)]
    fills = ", ".join(f"FILL({prefix}{i}, 0)" for i in range(len(series)))
    out.append(T.MetricDataQueryProperty(id=f"{prefix}sum", expression=f"SUM([{fills}])", return_data=True))
    return out


def alarm_expression(alarm: BurnAlarm, window_days: int) -> str:
    """Both windows over the threshold (pure, for the alarm and the docs)."""
    t = alarm.threshold(window_days)
    return f"IF(long > {t} AND short > {t}, 1, 0)"


class ServiceLevelObjective(Construct):
    """The SLO (``Resource``) and its alarms (``Burn-fast``, ``Burn-slow``): ``self.slo``, ``self.alarms[speed]``."""

    def __init__(self, scope: Construct, id: str, props: ServiceLevelObjectiveProps) -> None:
        super().__init__(scope, id)
        p = props
        T = appsignals.CfnServiceLevelObjective
        if p.service is not None:
            name, environment = p.service
            metric = T.RequestBasedSliMetricProperty(
                key_attributes={"Type": "Service", "Name": name, "Environment": environment},
                metric_type=p.kind.upper())
        else:
            metric = T.RequestBasedSliMetricProperty(
                total_request_count_metric=_sum(p.total, "total"),
                monitored_request_count_metric=T.MonitoredRequestCountMetricProperty(bad_count_metric=_sum(p.bad, "bad")))
        sli = T.RequestBasedSliProperty(request_based_sli_metric=metric, **(
            {"metric_threshold": p.threshold_ms, "comparison_operator": "LessThan"} if p.threshold_ms else {}))
        self.slo = T(self, "Resource", name=p.name, description=p.description or _describe(p), request_based_sli=sli,
                     goal=T.GoalProperty(attainment_goal=float(p.goal_percent), interval=T.IntervalProperty(
                         rolling_interval=T.RollingIntervalProperty(duration=p.window_days, duration_unit="DAY"))),
                     burn_rate_configurations=[T.BurnRateConfigurationProperty(look_back_window_minutes=m)
                                               for m in BURN_RATE_WINDOWS])
        self.alarms: dict[str, cw.CfnAlarm] = {}
        for a in BURN_ALARMS:
            def burn(qid: str, minutes: int) -> cw.CfnAlarm.MetricDataQueryProperty:
                return cw.CfnAlarm.MetricDataQueryProperty(id=qid, return_data=False, metric_stat=cw.CfnAlarm.MetricStatProperty(
                    metric=cw.CfnAlarm.MetricProperty(namespace=BURN_NAMESPACE, metric_name=BURN_METRIC, dimensions=[
                        cw.CfnAlarm.DimensionProperty(name=DIM_SLO, value=p.name),
                        cw.CfnAlarm.DimensionProperty(name=DIM_WINDOW, value=str(minutes))]),
                    period=60, stat="Maximum"))
            alarm = cw.CfnAlarm(
                self, f"Burn-{a.speed}", alarm_name=p.alarm_name(a.speed), comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=1, evaluation_periods=1, datapoints_to_alarm=1, treat_missing_data="notBreaching",
                alarm_description=f"{p.name}: {a.budget * 100:.0f} % of the {p.window_days}-day error budget spent within "
                                  f"{a.long_minutes // 60} h (burn rate over {a.threshold(p.window_days)} for "
                                  f"{a.long_minutes} and {a.short_minutes} minutes)",
                metrics=[burn("long", a.long_minutes), burn("short", a.short_minutes),
                         cw.CfnAlarm.MetricDataQueryProperty(id="burning", expression=alarm_expression(a, p.window_days),
                                                            label=f"{a.speed} burn", return_data=True)])
            self.alarms[a.speed] = alarm


def _describe(p: ServiceLevelObjectiveProps) -> str:
    what = (f"{p.goal_percent} % of requests without a fault" if p.kind == "availability"
            else f"{p.goal_percent} % of requests under {p.threshold_ms} ms" if p.threshold_ms
            else f"{p.goal_percent} % of requests good")
    return f"meshspec: {what} over {p.window_days} days"


__all__ = ["BURN_ALARMS", "BURN_RATE_WINDOWS", "BurnAlarm", "MetricSeries", "ServiceLevelObjective",
           "ServiceLevelObjectiveProps", "alarm_expression"]
