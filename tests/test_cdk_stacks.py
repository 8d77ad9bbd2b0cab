"""The stacks built from the shop example and from a 100-service spec; a stack per service (GIVEN / WHEN / THEN)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshspec.infra import naming, sharding
from meshspec.infra.errors import UserError
from meshspec.infra.spec import quotas
from meshspec.stacks.app import build, new_app, synthesize
from meshspec.stacks.limits import StackSize, size
from meshspec.backends.appmesh.stack import WARNING_ID as APPMESH_WARNING_ID
from meshspec.infra.spec import load_text
from tests.cdk_support import big_spec_text, load
from tests.conftest import TODAY


@pytest.fixture(scope="module")
def shop(shop_spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("shop")
    built = build(shop_spec, new_app(str(out), validation=False))
    return built, synthesize(built)


@pytest.fixture(scope="module")
def hundred(tmp_path_factory):
    # GIVEN 100 meshed services of two code versions each on one ECS cluster
    spec = load(big_spec_text(100))
    out = tmp_path_factory.mktemp("big")
    # WHEN synthesized (once for the module)
    built = build(spec, new_app(str(out), validation=False))
    return spec, built, synthesize(built)


def test_shop_has_a_shared_stack_a_stack_per_cluster_and_a_stack_per_service(shop):
    built, result = shop
    names = set(result.stacks)
    assert {"shop-shared", "shop-core", "shop-ml"} <= names
    services = {n for n in names if "-svc-" in n}
    assert services == {naming.stack_service("shop", s) for s in ("catalog", "pricing", "erp-connector",
                                                                   "recommendations")}
    assert built.placement["pricing"] == "shop-svc-pricing"
    assert "shop-queries" in names  # slow-checkouts spans catalog and pricing


def test_environment_comes_from_the_spec_without_lookups(shop):
    _, result = shop
    manifest = json.loads((Path(result.directory) / "manifest.json").read_text())
    envs = {a["environment"] for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    assert envs == {"aws://111122223333/eu-west-1"}
    assert "missing" not in manifest  # no context lookups were needed
    subnets = [r["Properties"]["AvailabilityZone"] for r in result.stacks["shop-shared"]["Resources"].values()
               if r["Type"] == "AWS::EC2::Subnet"]
    assert sorted(set(subnets)) == ["eu-west-1a", "eu-west-1b"]


def test_app_mesh_end_of_support_is_one_warning(shop):
    _, result = shop
    mesh = [w for w in result.warnings if "end of support" in w]
    assert len(mesh) == 1
    assert "2026-09-30" in mesh[0] and "service-connect" in mesh[0] and "lattice" in mesh[0]
    assert APPMESH_WARNING_ID in mesh[0]


def test_a_use_outside_the_mesh_is_warned_about(shop):
    _, result = shop
    assert any("recommendations uses user-service/v2 outside the mesh" in w for w in result.warnings)


def test_resource_names_follow_infra_naming(shop):
    _, result = shop
    res = [r for t in result.stacks.values() for r in t["Resources"].values()]
    nodes = {r["Properties"]["VirtualNodeName"] for r in res if r["Type"] == "AWS::AppMesh::VirtualNode"}
    assert nodes == {naming.virtual_node(s, v) for s, v in (("catalog", "c-2026-11"), ("pricing", "p-41"),
                                                            ("pricing", "p-42"), ("erp-connector", "e-7"),
                                                            ("recommendations", "r-3"))}
    routers = {r["Properties"]["VirtualRouterName"] for r in res if r["Type"] == "AWS::AppMesh::VirtualRouter"}
    assert naming.virtual_router("pricing") in routers
    routes = {r["Properties"]["RouteName"] for r in res if r["Type"] == "AWS::AppMesh::Route"}
    assert naming.route("pricing", "v1") in routes
    groups = {r["Properties"].get("LogGroupName") for r in res if r["Type"] == "AWS::Logs::LogGroup"}
    assert naming.log_group("shop", "catalog") in groups


def test_app_engine_services_get_no_aws_resources(shop):
    _, result = shop
    text = json.dumps(result.stacks)
    assert "user-service-apple" not in text and "web-app" not in text


def test_pricing_routes_carry_the_spec_weights(shop):
    _, result = shop
    (route,) = [r for t in result.stacks.values() for r in t["Resources"].values()
                if r["Type"] == "AWS::AppMesh::Route" and r["Properties"]["RouteName"] == "pricing-v1"]
    assert [t["Weight"] for t in route["Properties"]["Spec"]["HttpRoute"]["Action"]["WeightedTargets"]] == [90, 10]


def test_kubernetes_manifests_are_written_for_the_eks_service_and_the_clusters_log_router(shop):
    _, result = shop
    assert sorted(Path(p).relative_to(result.directory).as_posix() for p in result.manifests) == [
        "k8s/shop-ml/meshspec-fluent-bit.json", "k8s/shop-svc-recommendations/recommendations.json"]


def test_the_eks_service_gets_its_secret_from_its_reference(shop):
    # GIVEN the shop: recommendations on EKS has FEATURE_STORE_TOKEN, an SSM parameter reference
    _, result = shop
    ref = "arn:aws:ssm:eu-west-1:111122223333:parameter/shop/ml/feature-store-token"
    path = next(p for p in result.manifests if p.endswith("recommendations.json"))
    items = json.loads(Path(path).read_text())["items"]
    # THEN a SecretProviderClass names the reference, the app reads the synced Secret, never a value
    (spc,) = [i for i in items if i["kind"] == "SecretProviderClass"]
    assert json.loads(spc["spec"]["parameters"]["objects"]) == [
        {"objectName": ref, "objectType": "ssmparameter", "objectAlias": "FEATURE_STORE_TOKEN"}]
    (dep,) = [i for i in items if i["kind"] == "Deployment"]
    (env,) = [e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "FEATURE_STORE_TOKEN"]
    assert env == {"name": "FEATURE_STORE_TOKEN",
                   "valueFrom": {"secretKeyRef": {"name": "recommendations-secrets", "key": "FEATURE_STORE_TOKEN"}}}
    # and the pod role may read exactly that parameter
    statements = [st for r in result.stacks["shop-svc-recommendations"]["Resources"].values()
                  if r["Type"] == "AWS::IAM::Policy" for st in r["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Action": "ssm:GetParameters", "Effect": "Allow", "Resource": ref} in statements


def test_eks_pods_register_in_cloud_map_so_no_discovery_warning_is_left(shop):
    # GIVEN the shop's recommendations on EKS with App Mesh / THEN its pods register themselves (the registrar)
    _, result = shop
    (path,) = [p for p in result.manifests if Path(p).name == "recommendations.json"]
    items = json.loads(Path(path).read_text())["items"]
    (dep,) = [m for m in items if m["kind"] == "Deployment"]
    (registrar,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == "mesh-registrar"]
    env = {e["name"]: e.get("value") for e in registrar["env"]}
    assert env["MESHSPEC_CLOUDMAP_NAMESPACE"] == "shop.local"
    assert env["MESHSPEC_CLOUDMAP_SERVICE"] == "recommendations-r-3"
    assert not [w for w in result.warnings if "eks-discovery" in w or "Cloud Map services" in w]


def test_100_services_synthesize_into_stacks_within_cloudformation_limits(hundred):
    spec, built, result = hundred
    # THEN every service has a stack, and no stack is near a CloudFormation limit
    assert set(built.placement) == set(spec.services)
    for name, t in result.stacks.items():
        s = size(name, t)
        assert s.problems() == []
        assert s.resources <= quotas.CFN_RESOURCES_PER_STACK * 0.8, s
    assert len([n for n in result.stacks if "-svc-" in n]) == len(spec.services)


def test_limits_name_the_stack_and_the_limit():
    s = StackSize("big-svc-a", resources=612, outputs=3, parameters=1, template_bytes=1_200_000)
    assert s.problems() == ["big-svc-a has 612 resources; CloudFormation allows 500",
                            "big-svc-a has 1200000 template bytes; CloudFormation allows 1000000"]


def test_fails_when_a_stack_overflows_even_if_validate_was_skipped(tmp_path):
    # GIVEN one service with 500 saved queries of its own (validate refuses it: quota-cloudformation)
    queries = "".join(f"    - {{name: q{i}, query: 'fields @message', services: [svc-000]}}\n" for i in range(500))
    result = load_text(big_spec_text(1) + "queries:\n  custom:\n" + queries, today=TODAY)
    assert {e.code for e in result.errors} == {"quota-cloudformation"}
    # WHEN synthesized anyway / THEN CDK's own check is turned into a message that says what to do
    with pytest.raises(UserError, match="Number of resources in stack 'big-svc-svc-000': [0-9]{3} is greater than "
                                        "allowed maximum of 500") as exc:
        synthesize(build(result.spec, new_app(str(tmp_path), validation=False)))
    assert "meshspec validate estimates" in exc.value.hint


def test_fails_when_the_spec_has_no_aws_section():
    spec = load("apiVersion: meshspec/v1\nproject: p\ngcp: {project: proj-12345, location: europe-west}\n"
                "services:\n  a:\n    appengine: {environment: standard, runtime: python312, defaultService: true}\n"
                "    majors: {v1: {contract: c.json}}\n    versions: [{name: x, source: gs://bkt/x.zip, traffic: 100}]\n")
    with pytest.raises(UserError, match="the spec has no aws section"):
        build(spec, new_app(validation=False))


# -- placement: pinned (tests/test_sharding.py has the property tests) -----------------------------------------
def test_a_service_stack_is_named_after_the_service_alone():
    # pinned: a change here would move services between stacks in users' accounts
    assert [sharding.stack_of("shop", n) for n in ("catalog", "recommendations")] == [
        "shop-svc-catalog", "shop-svc-recommendations"]


def test_services_on_app_mesh_publish_the_dashboard_series_from_their_log_group(shop):
    # GIVEN the shop synthesized: catalog, pricing (http) and erp-connector (http2) on ECS, recommendations
    # (gRPC) on EKS
    built, result = shop
    by_service: dict[str, list[dict]] = {}
    for t in result.stacks.values():
        groups = {k: r["Properties"].get("LogGroupName", "") for k, r in t["Resources"].items()
                  if r["Type"] == "AWS::Logs::LogGroup"}
        for r in t["Resources"].values():
            if r["Type"] == "AWS::Logs::MetricFilter":
                service = groups[r["Properties"]["LogGroupName"]["Ref"]].rsplit("/", 1)[-1]
                by_service.setdefault(service, []).append(r["Properties"])
    # THEN each service has requests, 5xx and latency for its one major, on its own log group (the EKS one's
    # Envoy lines arrive through the cluster's Fluent Bit router)
    assert sorted(by_service) == ["catalog", "erp-connector", "pricing", "recommendations"]
    pricing = {f["MetricTransformations"][0]["MetricName"]: f for f in by_service["pricing"]}
    assert sorted(pricing) == ["Http5xxCount", "LatencyMs", "RequestCount"]
    assert pricing["RequestCount"]["FilterPattern"] == '{ ($.service = "pricing") && ($.upstream_cluster = "cds_ingress_*") && ($.path = "/pricing/v1/*") }'
    assert {f["MetricTransformations"][0]["MetricNamespace"] for fs in by_service.values() for f in fs} == \
        {"meshspec/Envoy/v1"}
    # recommendations is gRPC with one major: every inbound line of the service counts, whatever its path
    rec = {f["MetricTransformations"][0]["MetricName"]: f for f in by_service["recommendations"]}
    assert rec["RequestCount"]["FilterPattern"] == \
        '{ ($.service = "recommendations") && ($.upstream_cluster = "cds_ingress_*") }'
