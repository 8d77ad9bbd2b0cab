"""CloudWatch Logs metric filters that turn a service's Envoy access log into its per-version metrics.

A sidecar Envoy writes one JSON line per request (the fields of :mod:`meshspec.constructs_lib.metric_names`: ``service``,
``version``, ``path``, ``response_code``, ``duration`` in ms) to the service's log group. Per API major three
filters match the major's path prefix and publish, in the major's namespace (:func:`meshspec.constructs_lib.metric_names.namespace`),
RequestCount (1 per line), Http5xxCount (1 per line with ``response_code >= 500``) and LatencyMs (``duration``),
with the dimensions Service and Version taken from the line. These are the series the dashboard
(:mod:`meshspec.constructs_lib.dashboard`) shows and meshspec's canary reads.

Filter pattern syntax: docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html (JSON
patterns: ``=``/``!=`` on strings with ``*`` as wildcard, ``>=`` on numbers, ``&&``).
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_logs as logs
from constructs import Construct

from . import metric_names as m
from .errors import PropsError, contradiction

METRIC_FILTERS_PER_LOG_GROUP = m.METRIC_FILTERS_PER_LOG_GROUP
MAX_MAJORS = METRIC_FILTERS_PER_LOG_GROUP // m.FILTERS_PER_MAJOR
FILTER_PATTERN_MAX = m.FILTER_PATTERN_MAX


@dataclass(frozen=True)
class MetricMajor:
    """One API major: access log lines whose ``path`` starts with ``path_prefix`` count for it.

    ``path_prefix``: Default: ``None``, every line of the service counts for this major; allowed only when it
    is the service's single major (a gRPC service routed on a header, not on the path).
    ``slow_ms``: also count the requests slower than this many milliseconds (``SlowRequestCount``), the bad
    requests of a latency objective. Default: not counted.
    """

    name: str
    path_prefix: str | None = None
    slow_ms: int | None = None


@dataclass(frozen=True)
class ServiceMetricFiltersProps:
    """- ``log_group``: the service's log group, where Envoy's access log lines arrive. Required.
    - ``service_name``: the ``service`` field Envoy writes on each line; only those lines count. Required.
    - ``majors``: at least one; three filters each, four with ``slow_ms`` (CloudWatch Logs allows 100 per log
      group).
    - ``namespace_prefix``: the series of major ``v1`` go to ``{namespace_prefix}/v1``. Default:
      ``meshspec.constructs_lib.metric_names.NAMESPACE_PREFIX`` (``meshspec/Envoy``), what ``ServiceDashboard`` and the canary read.
    - ``inbound_cluster_prefix``: only lines whose ``upstream_cluster`` starts with it count, so the calls the
      service makes to its backends (logged by the same Envoy, with the callee's paths) never count as its own
      requests. Default: ``cds_ingress_`` (App Mesh's inbound clusters, ``meshspec.constructs_lib.metric_names.INBOUND_CLUSTER_PREFIX``).
      ``None``: every line of the service counts (an Envoy that logs inbound requests only).

    A major whose prefix starts another major's longer prefix (``/`` and ``/a/v2/``) leaves the longer one's
    lines out, as the mesh routes the longest prefix first: no request is counted twice.
    """

    log_group: logs.ILogGroup
    service_name: str
    majors: tuple[MetricMajor, ...]
    namespace_prefix: str = m.NAMESPACE_PREFIX
    inbound_cluster_prefix: str | None = m.INBOUND_CLUSTER_PREFIX

    def __post_init__(self) -> None:
        if not self.majors:
            raise PropsError(f"majors of {self.service_name!r} is empty: give at least one API major")
        names = [x.name for x in self.majors]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise PropsError(f"majors of {self.service_name!r} name {dupes} twice")
        count = filter_count(self.majors)
        if count > METRIC_FILTERS_PER_LOG_GROUP:
            raise PropsError(
                f"{len(self.majors)} majors need {count} metric filters on one log group; CloudWatch Logs allows "
                f"{METRIC_FILTERS_PER_LOG_GROUP}: at most {MAX_MAJORS} majors (fewer with slow_ms)")
        for x in self.majors:
            if x.slow_ms is not None and x.slow_ms < 1:
                raise PropsError(f"majors[{x.name!r}].slow_ms is {x.slow_ms}: at least 1")
        whole = [x.name for x in self.majors if x.path_prefix is None]
        if whole and len(self.majors) > 1:
            raise contradiction(f"majors[{whole[0]!r}].path_prefix", None, "majors", names,
                                "a major without a path prefix takes every line, so it must be the only major")
        prefixes = [x.path_prefix for x in self.majors if x.path_prefix is not None]
        for x in self.majors:
            if x.path_prefix is None:
                continue
            if not x.path_prefix.startswith("/"):
                raise PropsError(f"majors[{x.name!r}].path_prefix must start with '/', got {x.path_prefix!r}")
            if "*" in x.path_prefix:
                raise PropsError(f"majors[{x.name!r}].path_prefix {x.path_prefix!r} holds '*', which a filter "
                                 "pattern reads as a wildcard: give the literal prefix")
            if prefixes.count(x.path_prefix) > 1:
                raise PropsError(f"majors {[y.name for y in self.majors if y.path_prefix == x.path_prefix]} "
                                 f"share the path prefix {x.path_prefix!r}: a request would count for both")
        for x in self.majors:
            for metric in (m.REQUESTS, m.ERRORS_5XX):
                size = len(filter_pattern(self, x.name, metric))
                if size > FILTER_PATTERN_MAX:
                    raise PropsError(f"the {metric} filter pattern of majors[{x.name!r}] is {size} characters; "
                                     f"CloudWatch Logs allows {FILTER_PATTERN_MAX}: shorten the path prefixes")


def filter_count(majors: tuple[MetricMajor, ...]) -> int:
    """Metric filters of these majors: three each, one more with ``slow_ms``."""
    return sum(m.FILTERS_PER_MAJOR + (x.slow_ms is not None) for x in majors)


def filter_pattern(props: ServiceMetricFiltersProps, major: str, metric: str) -> str:
    """The lines that count for ``major``'s ``metric`` (pure: no construct, no jsii call;
    :func:`meshspec.constructs_lib.metric_names.filter_pattern`, which tests compare with what
    ``logs.FilterPattern`` renders)."""
    slow = next((x.slow_ms for x in props.majors if x.name == major), None)
    return m.filter_pattern(props.service_name, {x.name: x.path_prefix for x in props.majors}, major, metric,
                            props.inbound_cluster_prefix, slow_ms=slow)


# (metric, construct id part, value, unit as CloudWatch names it)
_METRICS = ((m.REQUESTS, "Requests", "1", "Count"), (m.ERRORS_5XX, "Http5xx", "1", "Count"),
            (m.LATENCY_MS, "Latency", f"$.{m.FIELD_DURATION}", "Milliseconds"))


class ServiceMetricFilters(Construct):
    """Per major three metric filters (requests, 5xx, latency) on the service's log group.

    L1 resources (``AWS::Logs::MetricFilter``, what ``logs.MetricFilter`` renders) with construct ids
    ``{major}-Requests``, ``{major}-Http5xx``, ``{major}-Latency``; ``self.filters[major][metric]``. No default
    value: CloudWatch Logs refuses one on a filter with dimensions, so a minute without requests has no datapoint
    (the canary reads that as no traffic).
    """

    def __init__(self, scope: Construct, id: str, props: ServiceMetricFiltersProps) -> None:
        super().__init__(scope, id)
        group = props.log_group.log_group_name
        T = logs.CfnMetricFilter
        dims = [T.DimensionProperty(key=m.DIM_SERVICE, value=f"$.{m.FIELD_SERVICE}"),
                T.DimensionProperty(key=m.DIM_VERSION, value=f"$.{m.FIELD_VERSION}")]
        self.filters: dict[str, dict[str, logs.CfnMetricFilter]] = {}
        for major in props.majors:
            ns = m.namespace(major.name, props.namespace_prefix)
            self.filters[major.name] = {
                metric: T(self, f"{major.name}-{id_part}", log_group_name=group,
                          filter_pattern=filter_pattern(props, major.name, metric),
                          metric_transformations=[T.MetricTransformationProperty(
                              metric_namespace=ns, metric_name=metric, metric_value=value, dimensions=dims,
                              unit=unit)])
                for metric, id_part, value, unit in _METRICS}
            if major.slow_ms is not None:
                self.filters[major.name][m.SLOW_REQUESTS] = T(
                    self, f"{major.name}-Slow", log_group_name=group,
                    filter_pattern=filter_pattern(props, major.name, m.SLOW_REQUESTS),
                    metric_transformations=[T.MetricTransformationProperty(
                        metric_namespace=ns, metric_name=m.SLOW_REQUESTS, metric_value="1", dimensions=dims,
                        unit="Count")])


__all__ = ["FILTER_PATTERN_MAX", "MAX_MAJORS", "MetricMajor", "ServiceMetricFilters", "ServiceMetricFiltersProps",
           "filter_count", "filter_pattern"]
