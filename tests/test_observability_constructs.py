"""Application Signals in tasks and pods, SLOs with burn-rate alarms, dependency rows on dashboards
(GIVEN / WHEN / THEN; pure parts without a stack)."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs

from meshspec.constructs_lib.dashboard import DependencyPanel, ServiceDashboardProps, dashboard_body
from meshspec.constructs_lib.ecs import EcsCluster, EcsClusterProps, MeshedFargateService, MeshedFargateServiceProps
from meshspec.constructs_lib.errors import PropsError
from meshspec.constructs_lib.observability import (ADOT, AGENT_IMAGE, TelemetryProps, agent_config, app_environment,
                                                   envoy_environment, observability_addon_configuration,
                                                   pod_telemetry)
from meshspec.constructs_lib.slo import (BURN_ALARMS, MetricSeries, ServiceLevelObjective,
                                         ServiceLevelObjectiveProps, alarm_expression)
from tests.cdk_support import stack, template

TEL = TelemetryProps(service_name="pricing", environment="ecs:shop-core", version="p-41")


# -- pure: configuration and environment ------------------------------------------------------------------------
def test_the_agent_takes_application_signals_and_x_ray_segments_where_the_daemon_listened():
    assert agent_config() == {
        "logs": {"metrics_collected": {"application_signals": {}}},
        "traces": {"traces_collected": {"application_signals": {}, "xray": {
            "bind_address": "127.0.0.1:2000", "tcp_proxy": {"bind_address": "127.0.0.1:2001"}}}}}
    assert agent_config(application_signals=False) == {"traces": {"traces_collected": {"xray": {
        "bind_address": "127.0.0.1:2000", "tcp_proxy": {"bind_address": "127.0.0.1:2001"}}}}}
    with pytest.raises(PropsError, match="needs application_signals or xray"):
        agent_config(application_signals=False, xray=False)


def test_python_starts_with_adot_and_sends_to_the_agent_on_localhost():
    env = app_environment(TEL, {"LOG_LEVEL": "info"})
    assert env["PYTHONPATH"] == ("/otel-auto-instrumentation-python/opentelemetry/instrumentation/auto_instrumentation:"
                                 "/otel-auto-instrumentation-python")
    assert env["OTEL_SERVICE_NAME"] == "pricing"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment=ecs:shop-core,service.version=p-41"
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == "http://localhost:4316/v1/traces"
    assert env["OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT"] == "http://localhost:4316/v1/metrics"
    assert env["OTEL_PROPAGATORS"] == "tracecontext,baggage,xray"  # X-Ray's header joins Envoy's spans
    assert (env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"]) == ("parentbased_traceidratio", "0.05")
    assert env["OTEL_PYTHON_LOG_CORRELATION"] == "true" and env["LOG_LEVEL"] == "info"


@pytest.mark.parametrize("key, theirs, merged", [
    ("PYTHONPATH", "/app", "/otel-auto-instrumentation-python/opentelemetry/instrumentation/auto_instrumentation:"
                           "/app:/otel-auto-instrumentation-python"),
    ("OTEL_TRACES_SAMPLER", "always_on", "always_on"),  # the team's own setting wins
])
def test_the_teams_own_variables_win_or_are_joined(key, theirs, merged):
    assert app_environment(TEL, {key: theirs})[key] == merged


@pytest.mark.parametrize("language, key, value", [
    ("java", "JAVA_TOOL_OPTIONS", "-Xmx512m -javaagent:/otel-auto-instrumentation/javaagent.jar"),
    ("nodejs", "NODE_OPTIONS", "--max-old-space-size=512 --require /otel-auto-instrumentation-nodejs/autoinstrumentation.js"),
])
def test_java_and_node_options_are_appended_to_the_teams(language, key, value):
    tel = TelemetryProps(service_name="a", environment="ecs:c", language=language)
    theirs = value.split(" -", 1)[0] if language == "java" else value.split(" --require", 1)[0]
    assert app_environment(tel, {key: theirs})[key] == value


def test_dotnet_gets_the_coreclr_profiler():
    env = app_environment(TelemetryProps(service_name="a", environment="ecs:c", language="dotnet"), {})
    assert env["CORECLR_ENABLE_PROFILING"] == "1"
    assert env["CORECLR_PROFILER_PATH"] == "/otel-auto-instrumentation-dotnet/linux-x64/OpenTelemetry.AutoInstrumentation.Native.so"
    assert env["OTEL_DOTNET_AUTO_HOME"] == "/otel-auto-instrumentation-dotnet"


@pytest.mark.parametrize("props", [
    TelemetryProps(service_name="a", environment="ecs:c", language="none"),
    TelemetryProps(service_name="a", environment="ecs:c", agent="xray-daemon"),
])
def test_nothing_is_injected_for_a_self_instrumented_service_or_the_legacy_daemon(props):
    assert app_environment(props, {"A": "1"}) == {"A": "1"}


def test_envoy_traces_at_the_spec_rate_or_not_at_all():
    env = {"ENABLE_ENVOY_XRAY_TRACING": "1", "X": "y"}
    tel = TelemetryProps(service_name="a", environment="e", sampling_percent=Decimal("12.5"))
    assert envoy_environment(tel, env) == {**env, "XRAY_SAMPLING_RATE": "0.125"}
    off = TelemetryProps(service_name="a", environment="e", tracing=False)
    assert envoy_environment(off, env) == {"X": "y"}
    assert app_environment(off, {})["OTEL_TRACES_SAMPLER"] == "always_off"


@pytest.mark.parametrize("kwargs, message", [
    ({"agent": "datadog"}, "agent is 'datadog': allowed cloudwatch or xray-daemon"),
    ({"language": "ruby"}, "language is 'ruby': allowed python, java, nodejs, dotnet, none"),
    ({"sampling_percent": Decimal(101)}, "sampling_percent is 101: allowed 0 to 100"),
])
def test_telemetry_props_fail_when_out_of_range(kwargs, message):
    with pytest.raises(PropsError, match=message):
        TelemetryProps(service_name="a", environment="e", **kwargs)


def test_a_pod_is_annotated_for_the_addon_and_runs_an_agent_for_x_ray_segments():
    tel = TelemetryProps(service_name="rec", environment="eks:shop-ml/default", version="r-3", language="java")
    pod = pod_telemetry(tel, region="eu-west-1")
    assert pod.annotations == {"instrumentation.opentelemetry.io/inject-java": "true"}
    assert pod.app_env["OTEL_SERVICE_NAME"] == "rec"  # not the Deployment's name, rec-r-3
    (agent,) = pod.sidecars
    assert agent["image"] == AGENT_IMAGE and agent["securityContext"] == {"runAsUser": 0, "runAsGroup": 1338}
    config = json.loads(next(e["value"] for e in agent["env"] if e["name"] == "CW_CONFIG_CONTENT"))
    assert set(config["traces"]["traces_collected"]) == {"xray"}  # the node's agent takes Application Signals
    assert pod.ignored_gid == 1338  # the App Mesh proxy init container lets the agent past Envoy
    legacy = pod_telemetry(TelemetryProps(service_name="rec", environment="e", agent="xray-daemon"), region="r")
    assert [c["name"] for c in legacy.sidecars] == ["xray-daemon"] and legacy.annotations == {}


def test_the_addon_configuration_turns_on_only_what_is_asked():
    assert observability_addon_configuration(container_insights=False, application_signals=True) == {
        "agent": {"config": {"logs": {"metrics_collected": {"application_signals": {}}},
                             "traces": {"traces_collected": {"application_signals": {}}}}},
        "containerLogs": {"enabled": False}}
    assert observability_addon_configuration(container_insights=True, enhanced=False, application_signals=False) == {
        "agent": {"config": {"logs": {"metrics_collected": {"kubernetes": {"enhanced_container_insights": False}}}}},
        "containerLogs": {"enabled": True}}


# -- ECS tasks per language and the legacy daemon --------------------------------------------------------------
@pytest.fixture(scope="module")
def tasks():
    # GIVEN one service per language, a self-instrumented one and one keeping the X-Ray daemon, on one cluster
    s = stack()
    vpc = ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=1)
    cluster = EcsCluster(s, "Cluster", EcsClusterProps(vpc=vpc))
    group = logs.LogGroup(s, "Logs")
    cases = {**{lang: {"language": lang} for lang in ("python", "java", "nodejs", "dotnet", "none")},
             "legacy": {"agent": "xray-daemon"}}
    for name, kw in cases.items():
        MeshedFargateService(s, name, MeshedFargateServiceProps(
            cluster=cluster.cluster, service_name=name, version="v", image="img", port=80, log_group=group,
            telemetry=TelemetryProps(service_name=name, environment="ecs:c", **kw)))
    t = template(s)
    return {td["Properties"]["Family"]: {c["Name"]: c for c in td["Properties"]["ContainerDefinitions"]}
            for td in t.find_resources("AWS::ECS::TaskDefinition").values()}


@pytest.mark.parametrize("language", ["python", "java", "nodejs", "dotnet"])
def test_each_language_gets_its_adot_image_copied_into_the_app(tasks, language):
    c = tasks[f"{language}-v"]
    assert set(c) == {"app", "cloudwatch-agent", "adot-init"}
    adot = ADOT[language]
    assert c["adot-init"]["Image"] == adot.image and c["adot-init"]["Command"] == list(adot.command)
    assert c["adot-init"]["Essential"] is False and c["adot-init"]["Memory"] == adot.memory_mib
    assert c["app"]["MountPoints"] == [{"ContainerPath": adot.path, "ReadOnly": False,
                                        "SourceVolume": "opentelemetry-auto-instrumentation"}]
    assert {"Condition": "SUCCESS", "ContainerName": "adot-init"} in c["app"]["DependsOn"]


def test_a_self_instrumented_service_keeps_the_agent_and_gets_nothing_injected(tasks):
    c = tasks["none-v"]
    assert set(c) == {"app", "cloudwatch-agent"}
    assert not [e for e in c["app"]["Environment"] if e["Name"].startswith("OTEL_")]


def test_the_legacy_choice_keeps_the_x_ray_daemon_and_nothing_else(tasks):
    c = tasks["legacy-v"]
    assert set(c) == {"app", "xray-daemon"} and c["xray-daemon"]["Image"] == "public.ecr.aws/xray/aws-xray-daemon:3.3.14"


def test_fails_when_tracing_is_given_twice_differently():
    with pytest.raises(PropsError, match="tracing=False contradicts telemetry.tracing=True"):
        MeshedFargateServiceProps(cluster=None, service_name="a", version="v", image="i", port=1, log_group=None,
                                  tracing=False, telemetry=TEL)


# -- SLOs and burn-rate alarms ------------------------------------------------------------------------------
def test_burn_rate_thresholds_scale_with_the_window():
    fast, slow = BURN_ALARMS
    assert (fast.threshold(28), slow.threshold(28)) == (Decimal("13.44"), Decimal("5.60"))
    assert (fast.threshold(30), slow.threshold(30)) == (Decimal("14.40"), Decimal("6.00"))  # the SRE workbook's
    assert alarm_expression(fast, 28) == "IF(long > 13.44 AND short > 13.44, 1, 0)"


def test_an_slo_on_counted_series_sums_every_version_and_alarms_on_both_windows():
    s = stack()
    series = tuple(MetricSeries("meshspec/Envoy/v1", metric, {"Service": "pricing", "Version": v})
                   for metric in ("RequestCount", "Http5xxCount") for v in ("p-41", "p-42"))
    ServiceLevelObjective(s, "Slo", ServiceLevelObjectiveProps(
        name="shop-pricing-v1-availability", kind="availability", goal_percent=Decimal("99.95"),
        total=series[:2], bad=series[2:], alarm_names={"fast": "fast-one"}))
    t = template(s)
    (slo,) = t.find_resources("AWS::ApplicationSignals::ServiceLevelObjective").values()
    metric = slo["Properties"]["RequestBasedSli"]["RequestBasedSliMetric"]
    assert [q.get("Expression") for q in metric["TotalRequestCountMetric"]] == [
        None, None, "SUM([FILL(total0, 0), FILL(total1, 0)])"]
    assert metric["MonitoredRequestCountMetric"]["BadCountMetric"][1]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "Service", "Value": "pricing"}, {"Name": "Version", "Value": "p-42"}]
    assert slo["Properties"]["Goal"] == {"AttainmentGoal": 99.95, "Interval": {"RollingInterval": {
        "Duration": 28, "DurationUnit": "DAY"}}}
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in t.find_resources("AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {"fast-one", "shop-pricing-v1-availability-burn-slow"}
    windows = [q["MetricStat"]["Metric"]["Dimensions"][1]["Value"] for q in alarms["fast-one"]["Metrics"][:2]]
    assert windows == ["60", "5"]


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "speed"}, "kind is 'speed': allowed availability or latency"),
    ({"goal_percent": Decimal(100)}, "goal_percent is 100: allowed above 0 and below 100"),
    ({"service": None}, "the indicator is a service's series or counted series: give exactly one"),
    ({"kind": "latency"}, "a latency objective on a service's series needs threshold_ms"),
    ({"threshold_ms": 300}, "threshold_ms applies to latency objectives on a service's series"),
    ({"alarm_names": {"medium": "x"}}, r"alarm_names names \['medium'\]: allowed fast, slow"),
])
def test_slo_props_fail_when_contradictory(kwargs, message):
    base = dict(name="n", kind="availability", goal_percent=Decimal("99.9"), service=("a", "ecs:c"))
    with pytest.raises(PropsError, match=message):
        ServiceLevelObjectiveProps(**{**base, **kwargs})


# -- dashboards: the chain of failures in one view ------------------------------------------------------------
def _body(props: ServiceDashboardProps) -> list[dict]:
    return json.loads(dashboard_body(props, "eu-west-1", lambda n: f"arn:{n}"))["widgets"]


def test_each_dependency_gets_a_row_in_dependency_order_with_its_alarms():
    deps = (DependencyPanel("pricing", ("catalog", "pricing"), environment="ecs:shop-core",
                            objectives=("availability 99.9 %",), alarms=("shop-pricing-availability-burn-fast",)),
            DependencyPanel("erp-connector", ("catalog", "pricing", "erp-connector"), environment="ecs:shop-core"),
            DependencyPanel("user-service", ("catalog", "user-service"), note="runs on App Engine"))
    widgets = _body(ServiceDashboardProps("catalog", ("c-1",), ("v1",), dependencies=deps, alarms=("own",)))
    assert widgets[1]["type"] == "alarm" and widgets[1]["properties"]["alarms"] == ["arn:own"]
    texts = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert texts[2:] == ["### pricing\ncatalog → pricing\n\nobjectives: availability 99.9 %",
                         "### erp-connector\ncatalog → pricing → erp-connector",
                         "### user-service\ncatalog → user-service\n\nruns on App Engine"]
    erp = [w for w in widgets if w["properties"].get("title", "").startswith("erp-connector")]
    assert [w["properties"]["title"] for w in erp] == ["erp-connector requests", "erp-connector fault rate",
                                                       "erp-connector latency (ms)"]
    assert erp[1]["properties"]["metrics"] == [["ApplicationSignals", "Fault", "Environment", "ecs:shop-core",
                                                "Service", "erp-connector",
                                                {"label": "faults / requests", "stat": "Average", "period": 60}]]
    pricing_alarm = [w for w in widgets if w["type"] == "alarm"][1]
    assert (pricing_alarm["x"], pricing_alarm["width"]) == (20, 4)
    assert all(w["x"] + w["width"] <= 24 for w in widgets)


def test_rows_beyond_the_limit_are_named_not_graphed():
    deps = tuple(DependencyPanel(f"s{i}", ("a", f"s{i}"), environment="e") for i in range(5))
    widgets = _body(ServiceDashboardProps("a", ("v",), ("v1",), dependencies=deps, max_dependency_rows=2))
    assert len([w for w in widgets if w["type"] == "metric"]) == 3 + 2 * 3
    assert widgets[-1]["properties"]["markdown"] == "3 more beneath: s2, s3, s4 (`meshspec status` reads them all)"


def test_fails_when_a_dependency_is_the_service_itself():
    with pytest.raises(PropsError, match="name a service twice, or the service itself"):
        ServiceDashboardProps("a", ("v",), ("v1",), dependencies=(DependencyPanel("a", ("a",)),))
