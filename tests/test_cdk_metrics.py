"""Metric filters that publish the dashboard's and the canary's series from Envoy's access log (GIVEN / WHEN / THEN)."""
from __future__ import annotations

import json

import pytest
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match

from meshspec.backends.appmesh.constructs import access_log_format
from meshspec.backends.lattice import metrics as lattice_names
from meshspec.backends.lattice.constructs.binding import LatticeSeries, lattice_metrics
from meshspec.backends.service_connect.constructs.binding import ServiceConnectSeries
from meshspec.constructs_lib.dashboard import ServiceDashboard, ServiceDashboardProps, dashboard_body
from meshspec.constructs_lib.errors import PropsError
from meshspec.constructs_lib.metrics import (FILTER_PATTERN_MAX, MetricMajor, ServiceMetricFilters, ServiceMetricFiltersProps,
                                    filter_pattern)
from meshspec.constructs_lib import metric_names as m
from meshspec.infra.traffic import figures
from tests.cdk_support import stack, template

DIMS = [{"Key": "Service", "Value": "$.service"}, {"Key": "Version", "Value": "$.version"}]


def props(majors, service="pricing", log_group=None, **kw):
    """Props; without a log group for the tests that only validate or render patterns (no construct built)."""
    return ServiceMetricFiltersProps(log_group=log_group, service_name=service, majors=majors,  # type: ignore[arg-type]
                                     **kw)


@pytest.fixture(scope="module")
def two_majors():
    # GIVEN a log group and two API majors with their path prefixes
    s = stack()
    group = logs.LogGroup(s, "Logs", log_group_name="shop/pricing")
    p = props((MetricMajor("v1", "/pricing/v1/"), MetricMajor("v2", "/pricing/v2/")), log_group=group)
    # WHEN the filters are added
    filters = ServiceMetricFilters(s, "Metrics", p)
    return template(s), filters


def test_three_filters_per_major_on_the_service_log_group(two_majors):
    t, filters = two_majors
    # THEN per major requests, 5xx and latency, all on the service's log group
    t.resource_count_is("AWS::Logs::MetricFilter", 6)
    assert {k: sorted(v) for k, v in filters.filters.items()} == {
        "v1": sorted([m.REQUESTS, m.ERRORS_5XX, m.LATENCY_MS]), "v2": sorted([m.REQUESTS, m.ERRORS_5XX, m.LATENCY_MS])}
    (group_id,) = t.find_resources("AWS::Logs::LogGroup")
    assert {json.dumps(f["Properties"]["LogGroupName"]) for f in t.find_resources("AWS::Logs::MetricFilter").values()} \
        == {json.dumps({"Ref": group_id})}


def test_requests_count_every_line_of_the_major_in_its_namespace(two_majors):
    t, _ = two_majors
    t.has_resource_properties("AWS::Logs::MetricFilter", {
        "FilterPattern": '{ ($.service = "pricing") && ($.upstream_cluster = "cds_ingress_*") && ($.path = "/pricing/v1/*") }',
        "MetricTransformations": [{"MetricNamespace": "meshspec/Envoy/v1", "MetricName": "RequestCount",
                                   "MetricValue": "1", "Unit": "Count", "Dimensions": DIMS,
                                   "DefaultValue": Match.absent()}]})


def test_5xx_adds_a_numeric_comparison_on_the_response_code(two_majors):
    t, _ = two_majors
    t.has_resource_properties("AWS::Logs::MetricFilter", {
        "FilterPattern": '{ ($.service = "pricing") && ($.upstream_cluster = "cds_ingress_*") && ($.path = "/pricing/v2/*") && ($.response_code >= 500) }',
        "MetricTransformations": [{"MetricNamespace": "meshspec/Envoy/v2", "MetricName": "Http5xxCount",
                                   "MetricValue": "1", "Unit": "Count", "Dimensions": DIMS}]})


def test_latency_takes_the_duration_in_milliseconds(two_majors):
    t, _ = two_majors
    t.has_resource_properties("AWS::Logs::MetricFilter", {
        "FilterPattern": '{ ($.service = "pricing") && ($.upstream_cluster = "cds_ingress_*") && ($.path = "/pricing/v1/*") }',
        "MetricTransformations": [{"MetricNamespace": "meshspec/Envoy/v1", "MetricName": "LatencyMs",
                                   "MetricValue": "$.duration", "Unit": "Milliseconds", "Dimensions": DIMS}]})


def test_the_filters_read_fields_envoy_writes():
    # GIVEN Envoy's access log line format
    fields = access_log_format("pricing", "p-41")
    # THEN every field a filter reads or takes a dimension from is in it, service and version as literals
    for f in (m.FIELD_SERVICE, m.FIELD_VERSION, m.FIELD_PATH, m.FIELD_RESPONSE_CODE, m.FIELD_DURATION,
              m.FIELD_UPSTREAM_CLUSTER):
        assert f in fields
    assert fields[m.FIELD_UPSTREAM_CLUSTER] == "%UPSTREAM_CLUSTER%"
    assert fields[m.FIELD_SERVICE] == "pricing" and fields[m.FIELD_VERSION] == "p-41"
    assert fields[m.FIELD_RESPONSE_CODE] == "%RESPONSE_CODE%" and fields[m.FIELD_DURATION] == "%DURATION%"


def test_a_shorter_prefix_leaves_out_the_lines_of_a_longer_one():
    # GIVEN v1 served under / and v2 under /pricing/v2/ (the mesh routes the longest prefix first)
    p = props((MetricMajor("v1", "/"), MetricMajor("v2", "/pricing/v2/")))
    # THEN v1 counts every path except v2's, and v2 only its own
    assert filter_pattern(p, "v1", m.REQUESTS) == (
        '{ ($.service = "pricing") && ($.upstream_cluster = "cds_ingress_*") && ($.path = "/*") && ($.path != "/pricing/v2/*") }')
    assert filter_pattern(p, "v2", m.REQUESTS) == '{ ($.service = "pricing") && ($.upstream_cluster = "cds_ingress_*") && ($.path = "/pricing/v2/*") }'


def test_calls_to_backends_do_not_count_as_the_services_requests():
    # GIVEN v1 served under / (a prefix that also covers the paths of the backends it calls)
    p = props((MetricMajor("v1", "/"),))
    pattern = filter_pattern(p, "v1", m.REQUESTS)
    # THEN only lines of App Mesh's inbound clusters count: an outbound call (cds_egress_...) is left out
    assert '($.upstream_cluster = "cds_ingress_*")' in pattern
    assert m.INBOUND_CLUSTER_PREFIX == "cds_ingress_"


def test_without_an_inbound_cluster_prefix_every_line_counts():
    # GIVEN an Envoy that logs only the requests it receives
    p = props((MetricMajor("v1", "/pricing/v1/"),), inbound_cluster_prefix=None)
    # THEN the pattern does not look at upstream_cluster
    assert filter_pattern(p, "v1", m.REQUESTS) == '{ ($.service = "pricing") && ($.path = "/pricing/v1/*") }'


def test_a_single_major_without_prefix_takes_every_line_of_the_service():
    # GIVEN a gRPC service's only major (routed on content-type, not on a path)
    p = props((MetricMajor("v1"),), service="recommendations")
    assert filter_pattern(p, "v1", m.REQUESTS) == '{ ($.service = "recommendations") && ($.upstream_cluster = "cds_ingress_*") }'
    assert filter_pattern(p, "v1", m.ERRORS_5XX) == '{ ($.service = "recommendations") && ($.upstream_cluster = "cds_ingress_*") && ($.response_code >= 500) }'


def test_the_pattern_is_what_aws_logs_filter_pattern_renders():
    # GIVEN overlapping prefixes and a name needing escapes
    p = props((MetricMajor("v1", "/"), MetricMajor("v2", '/a"b\\/v2/')), service='odd"name')
    f = logs.FilterPattern
    # WHEN rendered by meshspec and by aws_logs' own FilterPattern
    want = f.all(f.string_value("$.service", "=", 'odd"name'),
                 f.string_value("$.upstream_cluster", "=", "cds_ingress_*"), f.string_value("$.path", "=", "/*"),
                 f.string_value("$.path", "!=", '/a"b\\/v2/*'), f.number_value("$.response_code", ">=", 500))
    # THEN both are the same text
    assert filter_pattern(p, "v1", m.ERRORS_5XX) == want.log_pattern_string


def test_dashboard_filters_and_canary_use_the_very_same_series():
    # GIVEN a service's dashboard and metric filters with default namespaces
    s = stack()
    group = logs.LogGroup(s, "Logs")
    ServiceMetricFilters(s, "Metrics", props((MetricMajor("v1", "/pricing/v1/"), MetricMajor("v2", "/pricing/v2/")),
                                             log_group=group))
    ServiceDashboard(s, "D", ServiceDashboardProps(service_name="pricing", versions=("p-41", "p-42"),
                                                   majors=("v1", "v2")))
    t = template(s)
    # WHEN the series each one names are collected as (namespace, metric, dimension names)
    written = {(x["MetricNamespace"], x["MetricName"], tuple(sorted(d["Key"] for d in x["Dimensions"])))
               for f in t.find_resources("AWS::Logs::MetricFilter").values()
               for x in f["Properties"]["MetricTransformations"]}
    (d,) = t.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = d["Properties"]["DashboardBody"]["Fn::Join"][1]  # the region is a token
    body = json.loads("".join(p if isinstance(p, str) else "X" for p in parts))
    shown = {(row[0], row[1], tuple(sorted(row[2:-1:2]))) for w in body["widgets"] if w["type"] == "metric"
             for row in w["properties"]["metrics"]}
    read = {(q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"],
              tuple(sorted(dim["Name"] for dim in q["MetricStat"]["Metric"]["Dimensions"])))
            for major in ("v1", "v2") for q in figures.queries("pricing", major, ["p-41"], 60)}
    # THEN the dashboard shows and the canary reads exactly what the filters write
    assert shown == written == read
    assert ("meshspec/Envoy/v2", "LatencyMs", ("Service", "Version")) in written


def test_namespace_prefix_moves_every_series():
    s = stack()
    ServiceMetricFilters(s, "M", ServiceMetricFiltersProps(log_group=logs.LogGroup(s, "L"), service_name="x",
                                                           majors=(MetricMajor("v1", "/x/"),),
                                                           namespace_prefix="team/Envoy"))
    template(s).has_resource_properties("AWS::Logs::MetricFilter", {
        "MetricTransformations": [Match.object_like({"MetricNamespace": "team/Envoy/v1"})]})


def test_fails_when_majors_is_empty():
    with pytest.raises(PropsError, match="majors of 'pricing' is empty: give at least one API major"):
        props(())


def test_fails_when_a_major_is_named_twice():
    with pytest.raises(PropsError, match=r"majors of 'pricing' name \['v1'\] twice"):
        props((MetricMajor("v1", "/a/"), MetricMajor("v1", "/b/")))


def test_fails_when_a_major_without_prefix_is_not_alone():
    with pytest.raises(PropsError, match=r"majors\['v2'\].path_prefix=None contradicts majors=\['v1', 'v2'\]: a major "
                                         "without a path prefix takes every line, so it must be the only major"):
        props((MetricMajor("v1", "/a/"), MetricMajor("v2")))


def test_fails_when_more_majors_than_a_log_group_has_filters_for():
    majors = tuple(MetricMajor(f"v{i}", f"/p/v{i}/") for i in range(1, 35))
    with pytest.raises(PropsError, match="34 majors need 102 metric filters on one log group; CloudWatch Logs "
                                         "allows 100: at most 33 majors"):
        props(majors)
    props(majors[:33])  # 99 filters fit


def test_fails_when_a_prefix_does_not_start_with_a_slash():
    with pytest.raises(PropsError, match=r"majors\['v1'\].path_prefix must start with '/', got 'v1/'"):
        props((MetricMajor("v1", "v1/"),))


def test_fails_when_a_prefix_holds_a_wildcard():
    with pytest.raises(PropsError, match=r"majors\['v1'\].path_prefix '/a/\*/' holds '\*', which a filter pattern "
                                         "reads as a wildcard"):
        props((MetricMajor("v1", "/a/*/"),))


def test_fails_when_two_majors_share_a_prefix():
    with pytest.raises(PropsError, match=r"majors \['v1', 'v2'\] share the path prefix '/a/': a request would "
                                         "count for both"):
        props((MetricMajor("v1", "/a/"), MetricMajor("v2", "/a/")))


def test_fails_when_a_pattern_is_longer_than_cloudwatch_takes():
    long = "/" + "x" * FILTER_PATTERN_MAX + "/"
    with pytest.raises(PropsError, match=r"the RequestCount filter pattern of majors\['v1'\] is 1\d{3} characters; "
                                         "CloudWatch Logs allows 1024"):
        props((MetricMajor("v1", long),))


def test_a_lattice_dashboard_searches_each_versions_target_group():
    # GIVEN two versions and their Lattice target groups
    groups = {"p-41": "tg-aaa", "p-42": "tg-bbb"}
    p = ServiceDashboardProps(service_name="pricing", versions=("p-41", "p-42"), majors=("v1", "v2"),
                              series=LatticeSeries(groups))
    # WHEN the requests series are rendered
    series = lattice_metrics(p, groups, lattice_names.REQUESTS, "Sum")
    # THEN one SEARCH per version, by target group id, whole-group series only, one-minute period
    assert series == [
        [{"expression": "SEARCH('{AWS/VpcLattice,TargetGroup} MetricName=\"TotalRequestCount\" tg-aaa', 'Sum', 60)",
          "label": "p-41 Sum", "id": "sum0"}],
        [{"expression": "SEARCH('{AWS/VpcLattice,TargetGroup} MetricName=\"TotalRequestCount\" tg-bbb', 'Sum', 60)",
          "label": "p-42 Sum", "id": "sum1"}]]
    # AND the body has one row for all majors (a target group serves every major)
    body = json.loads(dashboard_body(p, "eu-west-1"))
    assert [w["properties"]["title"] for w in body["widgets"][1:]] == [
        "all majors requests", "all majors 5xx", "all majors latency (ms)"]


def test_dashboard_fails_when_target_groups_miss_a_version():
    p = ServiceDashboardProps(service_name="pricing", versions=("p-41", "p-42"), majors=("v1",),
                              series=LatticeSeries({"p-41": "tg-aaa"}))
    with pytest.raises(PropsError, match=r"target_groups names \['p-41'\], versions are \['p-41', 'p-42'\]"):
        dashboard_body(p, "eu-west-1")


def test_a_service_connect_dashboard_graphs_the_services_proxy_in_one_row():
    # GIVEN the series of an ECS service behind Service Connect
    p = ServiceDashboardProps(service_name="pricing", versions=("p-41", "p-42"), majors=("v1", "v2"),
                              series=ServiceConnectSeries("core", "pricing", "pricing"))
    # WHEN the body is rendered
    body = json.loads(dashboard_body(p, "eu-west-1"))
    # THEN one row for all majors, one line for the service (ECS keeps no lasting per-version split)
    graphs = body["widgets"][1:]
    assert [w["properties"]["title"] for w in graphs] == [
        "all majors requests", "all majors 5xx", "all majors latency (ms)"]
    assert graphs[0]["properties"]["metrics"] == [[
        "AWS/ECS", "RequestCount", "ClusterName", "core", "DiscoveryName", "pricing", "ServiceName", "pricing",
        {"label": "pricing Sum", "period": 60, "stat": "Sum"}]]
