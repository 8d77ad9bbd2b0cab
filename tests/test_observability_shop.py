"""The shop after the X-Ray daemon: a synth has no daemon, every service is instrumented, its SLOs and their alarms
are in the templates, and catalog's dashboard shows pricing and the ERP connector (issue #18's "done"); the legacy
choice keeps the daemon and warns once. Fargate, EC2 capacity and EKS; the other backends in test_backend_stacks."""
from __future__ import annotations

import json

import pytest
import yaml

from meshspec.infra.spec.model import Spec
from meshspec.stacks.app import build, new_app, synthesize
from tests.cdk_support import load, shop_variant_ec2
from tests.conftest import SHOP


def _synth(spec: Spec, tmp_path_factory, name: str):
    out = tmp_path_factory.mktemp(name)
    return synthesize(build(spec, new_app(str(out), validation=False)))


@pytest.fixture(scope="module")
def shops(shop_spec, tmp_path_factory):
    doc = yaml.safe_load(SHOP.read_text())  # the legacy choice: the X-Ray daemon, so no language, no service SLOs
    doc["aws"]["observability"]["agent"] = "xray-daemon"
    for svc in doc["services"].values():
        svc.pop("language", None)
        svc.pop("slo", None)
    legacy = yaml.safe_dump(doc, sort_keys=False)
    return {"shop": _synth(shop_spec, tmp_path_factory, "shop"),
            "shop-ec2": _synth(load(shop_variant_ec2()), tmp_path_factory, "ec2"),
            "legacy": _synth(load(legacy), tmp_path_factory, "legacy")}


def task_containers(stacks: dict) -> dict[str, list[str]]:
    """Task definition family → container names."""
    return {r["Properties"]["Family"]: [c["Name"] for c in r["Properties"]["ContainerDefinitions"]]
            for t in stacks.values() for r in t["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"}


def manifests(synth) -> list[dict]:
    return [item for f in synth.manifests for item in json.loads(open(f).read())["items"]]


@pytest.mark.parametrize("variant", ["shop", "shop-ec2"])
def test_no_x_ray_daemon_and_every_ecs_service_is_instrumented(shops, variant):
    synth = shops[variant]
    tasks = task_containers(synth.stacks)
    assert sorted(tasks) == ["catalog-c-2026-11", "erp-connector-e-7", "pricing-p-41", "pricing-p-42"]
    for family, names in tasks.items():
        assert names == ["app", "envoy", "cloudwatch-agent", "adot-init"], family
    text = json.dumps(synth.stacks) + json.dumps(manifests(synth))
    assert "xray-daemon" not in text and "aws-xray-daemon" not in text
    erp = next(r["Properties"] for r in synth.stacks["shop-svc-erp-connector"]["Resources"].values()
               if r["Type"] == "AWS::ECS::TaskDefinition")
    init = next(c for c in erp["ContainerDefinitions"] if c["Name"] == "adot-init")
    assert "adot-autoinstrumentation-java" in init["Image"]  # language: java
    env = {c["Name"]: {e["Name"]: e["Value"] for e in c.get("Environment", [])} for c in erp["ContainerDefinitions"]}
    assert env["envoy"]["XRAY_SAMPLING_RATE"] == env["app"]["OTEL_TRACES_SAMPLER_ARG"] == "0.05"  # samplingPercent: 5


def test_the_eks_service_is_instrumented_by_the_addon_and_envoys_segments_reach_the_agent(shops):
    synth = shops["shop"]
    (dep,) = [m for m in manifests(synth) if m["kind"] == "Deployment" and m["metadata"]["name"] == "recommendations-r-3"]
    template = dep["spec"]["template"]
    assert template["metadata"]["annotations"]["instrumentation.opentelemetry.io/inject-python"] == "true"
    assert [c["name"] for c in template["spec"]["containers"]] == ["app", "envoy", "cloudwatch-agent", "mesh-registrar"]
    env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
    assert env["OTEL_SERVICE_NAME"] == "recommendations"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment=eks:shop-ml/default,service.version=r-3"
    addon = next(r["Properties"] for r in synth.stacks["shop-ml"]["Resources"].values() if r["Type"] == "AWS::EKS::Addon"
                 and r["Properties"]["AddonName"] == "amazon-cloudwatch-observability")
    assert "application_signals" in addon["ConfigurationValues"]


def test_the_slos_and_their_alarms_are_in_the_templates(shops):
    stacks = shops["shop"].stacks
    slos = {r["Properties"]["Name"]: r["Properties"] for t in stacks.values() for r in t["Resources"].values()
            if r["Type"] == "AWS::ApplicationSignals::ServiceLevelObjective"}
    assert sorted(slos) == ["shop-catalog-availability", "shop-catalog-latency", "shop-erp-connector-availability",
                            "shop-pricing-availability", "shop-pricing-latency"]
    assert slos["shop-pricing-latency"]["RequestBasedSli"]["MetricThreshold"] == 200
    assert slos["shop-catalog-availability"]["RequestBasedSli"]["RequestBasedSliMetric"]["KeyAttributes"] == {
        "Type": "Service", "Name": "catalog", "Environment": "ecs:shop-core"}
    alarms = {r["Properties"]["AlarmName"] for t in stacks.values() for r in t["Resources"].values()
              if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms >= {f"{name}-burn-{speed}" for name in slos for speed in ("fast", "slow")}
    discovery = [r for r in stacks["shop-shared"]["Resources"].values() if r["Type"] == "AWS::ApplicationSignals::Discovery"]
    assert len(discovery) == 1


def test_catalogs_dashboard_shows_pricing_and_the_erp_connector(shops):
    (dash,) = [r["Properties"] for r in shops["shop"].stacks["shop-svc-catalog"]["Resources"].values()
               if r["Type"] == "AWS::CloudWatch::Dashboard"]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in dash["DashboardBody"]["Fn::Join"][1])
    titles = [w["properties"].get("title") for w in json.loads(text)["widgets"]]
    for service in ("pricing", "erp-connector", "recommendations"):
        assert f"{service} fault rate" in titles
    assert titles.index("pricing fault rate") < titles.index("erp-connector fault rate") < titles.index(
        "recommendations fault rate")  # dependency order
    assert "catalog → pricing → erp-connector" in text and "shop-erp-connector-availability-burn-fast" in text


def test_keeping_the_x_ray_daemon_is_explicit_and_warned_once_with_its_date(shops):
    synth = shops["legacy"]
    for names in task_containers(synth.stacks).values():
        assert names == ["app", "envoy", "xray-daemon"]
    warnings = [w for w in synth.warnings if "X-Ray daemon reaches end of support" in w]
    assert len(warnings) == 1 and "2027-02-25" in warnings[0] and "meshspec help observability" in warnings[0]
    assert not [r for t in synth.stacks.values() for r in t["Resources"].values()
                if r["Type"] == "AWS::ApplicationSignals::Discovery"]
    assert not [w for w in shops["shop"].warnings if "X-Ray daemon" in w]
