"""The L1 shortcuts taken for synth speed render exactly what the L2 constructs they replace render: the
dashboard body and the saved queries, with the same logical ids (GIVEN / WHEN / THEN)."""
from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from constructs import Construct

from meshspec.constructs_lib.dashboard import ServiceDashboard, ServiceDashboardProps
from meshspec.constructs_lib.logs import saved_query
from meshspec.constructs_lib import metric_names as m


def l2_dashboard(stack: Stack, props: ServiceDashboardProps) -> None:
    """The L2 rendering the construct used before (cloudwatch.Dashboard with Metric and GraphWidget)."""
    def series(major, metric, stat):
        return [cw.Metric(namespace=m.namespace(major, props.namespace_prefix), metric_name=metric, statistic=stat,
                          period=Duration.minutes(props.period_minutes), label=f"{v} {stat}",
                          dimensions_map={m.DIM_SERVICE: props.service_name, m.DIM_VERSION: v})
                for v in props.versions]

    scope = Construct(stack, "Dashboard")  # where ServiceDashboard sits
    d = cw.Dashboard(scope, "Resource", dashboard_name=props.dashboard_name)
    d.add_widgets(cw.TextWidget(markdown=f"# {props.service_name}\nCode versions side by side: "
                                f"{', '.join(props.versions)}", width=24, height=2))
    for major in props.majors:
        d.add_widgets(cw.GraphWidget(title=f"{major} requests", width=8, left=series(major, m.REQUESTS, "Sum")),
                      cw.GraphWidget(title=f"{major} 5xx", width=8, left=series(major, m.ERRORS_5XX, "Sum")),
                      cw.GraphWidget(title=f"{major} latency (ms)", width=8,
                                     left=series(major, m.LATENCY_MS, "p50") + series(major, m.LATENCY_MS, "p99")))


@pytest.mark.parametrize("props", [
    ServiceDashboardProps("pricing", ("p-41", "p-42"), ("v1",), dashboard_name="shop-pricing"),
    ServiceDashboardProps("user-service", ("apple", "banana", "cherry"), ("v1", "v2"), period_minutes=5),
    ServiceDashboardProps("a", ("x",), ("v1", "v2", "v3"), namespace_prefix="Other/Ns", period_minutes=2),
])
def test_dashboard_renders_what_the_l2_dashboard_renders(props):
    # GIVEN the same props / WHEN rendered by the construct and by the L2 it replaces
    ours, theirs = Stack(App(), "S", env={"region": "eu-west-1"}), Stack(App(), "S", env={"region": "eu-west-1"})
    ServiceDashboard(ours, "Dashboard", props)
    l2_dashboard(theirs, props)
    # THEN the templates are identical, logical ids included
    assert Template.from_stack(ours).to_json()["Resources"] == Template.from_stack(theirs).to_json()["Resources"]


@pytest.mark.parametrize("groups", [1, 3, 0])
def test_saved_query_renders_what_the_l2_query_definition_renders(groups):
    ours, theirs = Stack(App(), "S"), Stack(App(), "S")
    text = "fields @timestamp\n| filter path like /checkout/ | sort @timestamp desc"
    names = [f"/meshspec/shop/s{i}" for i in range(groups)]
    own = logs.LogGroup(ours, "Logs", log_group_name="/meshspec/shop/own")
    saved_query(ours, "Query-a", "shop/a", text, [own, *names])
    other = logs.LogGroup(theirs, "Logs", log_group_name="/meshspec/shop/own")
    qd = logs.QueryDefinition(theirs, "Query-a", query_definition_name="shop/a",
                              query_string=logs.QueryString(display="@message"),
                              log_groups=[other, *[logs.LogGroup.from_log_group_name(theirs, n, n) for n in names]])
    qd.node.default_child.query_string = text
    assert Template.from_stack(ours).to_json() == Template.from_stack(theirs).to_json()


def test_synth_turns_jsii_type_checks_off_unless_asked_to_keep_them(monkeypatch):
    from jsii import _type_checking as tc

    from meshspec.stacks.app import _no_check, skip_jsii_type_checks

    monkeypatch.setattr(tc, "_resolved_check", tc._resolved_check)  # restored after the test
    before = tc._resolved_check
    monkeypatch.setenv("MESHSPEC_JSII_TYPE_CHECKS", "1")
    skip_jsii_type_checks()
    assert tc._resolved_check is before
    monkeypatch.delenv("MESHSPEC_JSII_TYPE_CHECKS")
    skip_jsii_type_checks()
    assert tc._resolved_check is _no_check
    assert tc.check_type("x", "not a number", int) is None  # the hook jsii's generated code calls
