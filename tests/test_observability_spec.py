"""The spec's observability keys: languages, the agent, sampling and objectives, each refused where it would do
nothing, with the whole message (GIVEN a spec / WHEN loaded / THEN this error)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from meshspec.infra.dependencies import chain, everything
from meshspec.infra.spec.model import objectives

from .test_spec_rules import AWS_HEAD, aws_service, gae_service, load


def rendered(result) -> list[str]:
    return [e.render() for e in result.errors]


def test_defaults_are_application_signals_python_five_percent():
    spec = load(AWS_HEAD + aws_service("api")).spec
    assert spec.observability.agent == "cloudwatch" and spec.observability.sampling_percent == 5
    assert spec.services["api"].language == "python" and spec.services["api"].slo is None


def test_objectives_of_a_major_win_over_the_services():
    extra = "    slo: {availability: 99.9}\n"
    text = AWS_HEAD + aws_service("api", majors=("v1", "v2"), extra=extra).replace(
        "      v2: {contract: c.json}", "      v2: {contract: c.json, slo: {availability: 99.99}}")
    svc = load(text).spec.services["api"]
    assert objectives(svc, "v1").availability == Decimal("99.9")
    assert objectives(svc, "v2").availability == Decimal("99.99")


def test_language_on_an_app_engine_service_is_refused_where_it_is_written():
    text = AWS_HEAD.replace("defaultService: true}\n", "defaultService: true}\n    language: java\n")
    (line,) = rendered(load(text))
    assert line == ("spec.yaml:12:15: error: services.front.language: language applies to services on an AWS cluster "
                    "(meshspec instruments their tasks and pods); App Engine runs its own runtime (given: 'java'; "
                    "allowed: leave language out on App Engine services)")


def test_an_slo_on_an_app_engine_service_is_refused():
    text = AWS_HEAD.replace("defaultService: true}\n", "defaultService: true}\n    slo: {availability: 99.9}\n")
    (err,) = load(text).errors
    assert (err.code, err.key_path) == ("aws-only", "services.front.slo")
    assert err.hint == "meshspec status still reads App Engine's figures from Cloud Monitoring"


def test_the_legacy_daemon_refuses_what_it_cannot_feed():
    # GIVEN the X-Ray daemon kept, a language and a service objective / THEN both refused, a major's objective kept
    head = AWS_HEAD.replace("    - {name: core, platform: ecs}\n",
                            "    - {name: core, platform: ecs}\n  observability: {agent: xray-daemon}\n")
    text = head + aws_service("api", extra="    language: java\n    slo: {availability: 99.9}\n").replace(
        "      v1: {contract: c.json}", "      v1: {contract: c.json, slo: {availability: 99.9}}")
    result = load(text)
    assert [(e.code, e.key_path) for e in result.errors] == [
        ("observability-unused", "services.api.language"), ("observability-unused", "services.api.slo")]
    assert result.errors[1].message == ("a service's objectives are measured by Application Signals, which the X-Ray "
                                        "daemon does not feed")


def test_sampling_without_tracing_is_refused():
    text = AWS_HEAD.replace("aws:\n", "defaults: {tracing: false}\naws:\n").replace(
        "    - {name: core, platform: ecs}\n", "    - {name: core, platform: ecs}\n  observability: {samplingPercent: 10}\n")
    (line,) = rendered(load(text + aws_service("api")))
    assert "aws.observability.samplingPercent: samplingPercent has no effect: defaults.tracing is false, so no trace " \
           "is kept (given: '10'; allowed: leave samplingPercent out, or set defaults.tracing: true)" in line


@pytest.mark.parametrize("value, message", [
    ("101", "samplingPercent must be a percentage in 0-100, at most 2 decimals"),
    ("0.001", "samplingPercent must be a percentage in 0-100, at most 2 decimals"),
    ("lots", "samplingPercent must be a percentage"),
])
def test_sampling_percent_is_a_percentage(value, message):
    text = AWS_HEAD.replace("    - {name: core, platform: ecs}\n",
                            f"    - {{name: core, platform: ecs}}\n  observability: {{samplingPercent: {value}}}\n")
    (err,) = load(text + aws_service("api")).errors
    assert err.key_path == "aws.observability.samplingPercent" and err.message.startswith(message)


@pytest.mark.parametrize("slo, path, message", [
    ("{availability: 100}", "services.api.slo.availability",
     "availability must be a percentage in 0-100, both excluded, at most 3 decimals"),
    ("{availability: 99.9999}", "services.api.slo.availability",
     "availability must be a percentage in 0-100, both excluded, at most 3 decimals"),
    ("{latency: {thresholdMs: 0}}", "services.api.slo.latency.thresholdMs", "should be greater than or equal to 1"),
    ("{latency: {thresholdMs: 300, percentile: 100}}", "services.api.slo.latency.percentile",
     "percentile must be a percentage in 0-100, both excluded, at most 2 decimals"),
    ("{availability: 99.9, windowDays: 0}", "services.api.slo.windowDays", "should be greater than or equal to 1"),
    ("{availability: 99.9, budget: 3}", "services.api.slo.budget", "unknown key"),
    ("{windowDays: 7}", "services.api.slo", "an slo needs an objective"),
])
def test_bad_objectives_are_refused_one_message_each(slo, path, message):
    (err,) = load(AWS_HEAD + aws_service("api", extra=f"    slo: {slo}\n")).errors
    assert err.key_path == path and err.message.startswith(message), err.render()


def test_an_objective_on_a_major_without_its_own_series_says_why_and_where_it_applies():
    # GIVEN a gRPC service with two majors (routed on a header its access log omits) and Lattice
    grpc = aws_service("rpc", majors=("v1", "v2"), extra="    protocol: grpc\n").replace(
        "      v2: {contract: c.json}", "      v2: {contract: c.json, slo: {availability: 99.9}}")
    (err,) = load(AWS_HEAD + grpc).errors
    assert (err.code, err.key_path) == ("slo-unmeasured", "services.rpc.majors.v2.slo")
    assert err.message == ("rpc/v2 has no series of its own to measure an objective on: a gRPC service with several "
                           "majors is routed on a header its access log omits")
    assert err.hint == "put the objective on services.rpc.slo (Application Signals measures the service)"
    lattice = AWS_HEAD.replace("    - {name: core, platform: ecs}\n",
                               "    - {name: core, platform: ecs}\n  mesh: {backend: lattice}\n")
    (err,) = load(lattice + aws_service("api").replace(
        "      v1: {contract: c.json}", "      v1: {contract: c.json, slo: {availability: 99.9}}")).errors
    assert err.message.endswith("the lattice backend publishes no series per major")


def test_many_latency_objectives_count_against_the_log_groups_filters():
    majors = tuple(f"v{i}" for i in range(1, 27))  # 26 majors: 78 filters, 26 more for latency objectives
    text = AWS_HEAD + aws_service("api", majors=majors)
    for m in majors:
        text = text.replace(f"      {m}: {{contract: c.json}}\n",
                            f"      {m}: {{contract: c.json, slo: {{latency: {{thresholdMs: 300}}}}}}\n")
    (err,) = [e for e in load(text).errors if e.code == "quota-logs"]
    assert err.message.startswith("26 live majors need 104 metric filters on the service's log group (3 per major: "
                                  "requests, 5xx, latency; 26 more for latency objectives)")


# -- dependency order -----------------------------------------------------------------------------------------
def _graph(edges: dict[str, list[str]]):
    text = AWS_HEAD
    for name, uses in edges.items():
        text += aws_service(name, uses=tuple(f"{u}/v1" for u in uses))
    return load(text).spec


def test_a_diamond_puts_each_service_before_what_it_uses_at_its_longest_path():
    spec = _graph({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": ["e"], "e": []})
    assert [(d.name, d.depth, d.path) for d in chain(spec, "a")] == [
        ("b", 1, ("a", "b")), ("c", 1, ("a", "c")), ("d", 2, ("a", "b", "d")), ("e", 3, ("a", "b", "d", "e"))]


def test_a_service_used_directly_and_through_another_comes_after_that_other():
    spec = _graph({"a": ["d", "b"], "b": ["d"], "d": []})
    assert [(d.name, d.depth) for d in chain(spec, "a")] == [("b", 1), ("d", 2)]


def test_a_cycle_still_lists_every_service_once():
    spec = _graph({"a": ["b"], "b": ["c"], "c": ["b"]})
    assert [d.name for d in chain(spec, "a")] == ["b", "c"]
    assert [d.name for d in chain(spec, "c")] == ["b"]  # the root itself is left out
    assert sorted(d.name for d in everything(spec)) == ["a", "b", "c", "front"]


def test_the_stacks_take_agent_language_sampling_and_environment_from_the_spec():
    from meshspec.stacks.convert import telemetry

    head = AWS_HEAD.replace("    - {name: core, platform: ecs}\n", "    - {name: core, platform: ecs}\n"
                            "    - {name: k8s, platform: eks}\n  observability: {samplingPercent: 12.5}\n")
    spec = load(head + aws_service("api", extra="    language: nodejs\n")
                + aws_service("ml", extra="    language: none\n").replace("cluster: core", "cluster: k8s")).spec
    api, ml = telemetry(spec, "api"), telemetry(spec, "ml")
    assert (api.language, api.environment, api.ratio, api.agent) == ("nodejs", "ecs:shop-core", "0.125", "cloudwatch")
    assert (ml.language, ml.environment) == ("none", "eks:shop-k8s/default")


def test_a_thousand_services_in_one_cycle_need_no_recursion_and_counts_match_the_chains():
    import sys
    import time

    from meshspec.infra.dependencies import reach_counts, uses_graph
    from .conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gen_spec import generate

    spec = load(generate(1000)).spec  # every service uses the next three, around: one cycle of 1000
    graph = uses_graph(spec)
    started = time.perf_counter()
    counts = reach_counts(graph)
    assert time.perf_counter() - started < 1  # milliseconds on a quiet machine: no chain per service
    deps = chain(spec, "svc-0000", graph)
    assert len(deps) == counts["svc-0000"] == 999
    assert deps[1].path[:3] == ("svc-0000", "svc-0001", "svc-0002")
    small = _graph({"a": ["b", "c"], "b": ["d"], "c": ["d", "a"], "d": [], "e": ["a"]})
    g = uses_graph(small)
    assert reach_counts(g) == {n: len(chain(small, n, g)) for n in small.services}
