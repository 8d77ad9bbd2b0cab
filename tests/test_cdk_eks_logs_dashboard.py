"""EKS cluster and workloads, service logs and queries, the per-service dashboard (GIVEN / WHEN / THEN)."""
from __future__ import annotations

import json

import pytest
from aws_cdk import aws_appmesh as appmesh
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_servicediscovery as sd
from aws_cdk.assertions import Match

from meshspec.constructs_lib.dashboard import ServiceDashboard, ServiceDashboardProps
from meshspec.constructs_lib.eks import (EksCluster, EksClusterProps, KubernetesWorkload, KubernetesWorkloadProps,
                                WorkloadVersion, render_manifests, write_manifests)
from meshspec.constructs_lib.errors import PropsError
from meshspec.constructs_lib.logs import BUILTIN_QUERIES, CustomQuery, ServiceLogs, ServiceLogsProps
from meshspec.backends.appmesh.constructs import ENVOY_REDIRECT, AppMeshBackend
from meshspec.constructs_lib.mesh.base import MajorRoute, MeshServiceProps, ProxyRequirements
from meshspec.constructs_lib import metric_names as metrics
from tests.cdk_support import stack, template


def vpc_in(s):
    return ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=1)


@pytest.fixture(scope="module")
def eks(tmp_path_factory):
    # GIVEN an EKS cluster with default props and a meshed workload with two code versions
    s = stack()
    vpc = vpc_in(s)
    cluster = EksCluster(s, "Cluster", EksClusterProps(vpc=vpc, cluster_name="shop-ml"))
    ns = sd.PrivateDnsNamespace(s, "Ns", name="shop.local", vpc=vpc)
    binding = AppMeshBackend(appmesh.Mesh.from_mesh_name(s, "Mesh", "shop-mesh"), ns).add_service(
        s, "RecMesh", MeshServiceProps(name="rec", port=8080, versions=("r-3", "r-4"),
                                       majors=(MajorRoute("v1", "/rec/v1/", {"r-3": 50, "r-4": 50}),)))
    workload = KubernetesWorkload(s, "Rec", cluster=cluster, props=KubernetesWorkloadProps(
        service_name="rec", port=8080, binding=binding,
        versions=(WorkloadVersion("r-3", "img:3"), WorkloadVersion("r-4", "img:4"))))
    out = tmp_path_factory.mktemp("k8s")
    # WHEN synthesized and the manifests written
    files = write_manifests(s.node.root, out)
    return template(s), workload, files


def test_eks_cluster_is_native_auto_mode_without_kubectl(eks):
    t, _, _ = eks
    t.has_resource_properties("AWS::EKS::Cluster", {
        "Name": "shop-ml", "Version": "1.33",
        "ComputeConfig": {"Enabled": True, "NodePools": ["system", "general-purpose"], "NodeRoleArn": Match.any_value()}})
    # no kubectl provider: no Lambda, no custom resource, no layer asset
    t.resource_count_is("AWS::Lambda::Function", 0)
    t.resource_count_is("AWS::Lambda::LayerVersion", 0)
    assert not [r for r in t.to_json()["Resources"].values() if r["Type"].startswith("Custom::")]


def test_container_insights_comes_from_the_observability_addon_with_pod_identity(eks):
    t, _, _ = eks
    t.has_resource_properties("AWS::EKS::Addon", {
        "AddonName": "amazon-cloudwatch-observability", "ConfigurationValues": json.dumps({
            "agent": {"config": {"logs": {"metrics_collected": {
                "kubernetes": {"enhanced_container_insights": True}, "application_signals": {}}},
                "traces": {"traces_collected": {"application_signals": {}}}}},
            "containerLogs": {"enabled": True}}, separators=(",", ":"))})
    t.has_resource_properties("AWS::EKS::PodIdentityAssociation", {
        "Namespace": "amazon-cloudwatch", "ServiceAccount": "cloudwatch-agent"})


def test_workload_pods_get_their_own_role_through_pod_identity(eks):
    t, _, _ = eks
    t.has_resource_properties("AWS::EKS::PodIdentityAssociation", {"Namespace": "default", "ServiceAccount": "rec"})
    t.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": "appmesh:StreamAggregatedResources",
                           "Resource": "arn:aws:appmesh:eu-west-1:111122223333:mesh/shop-mesh/virtualNode/rec-r-4"})])}})


def test_a_deployment_per_version_with_envoy_and_a_service(eks):
    _, workload, files = eks
    kinds = [(m["kind"], m["metadata"]["name"]) for m in workload.manifests]
    assert kinds == [("ServiceAccount", "rec"), ("Service", "rec"), ("Deployment", "rec-r-3"), ("Deployment", "rec-r-4")]
    pod = workload.manifests[3]["spec"]["template"]["spec"]
    # the CloudWatch agent takes Envoy's X-Ray segments (no X-Ray daemon); the add-on injects ADOT (annotation)
    assert [c["name"] for c in pod["containers"]] == ["app", "envoy", "cloudwatch-agent", "mesh-registrar"]
    assert pod["initContainers"][0]["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]
    assert {"name": "APPMESH_IGNORE_GID", "value": "1338"} in pod["initContainers"][0]["env"]
    annotations = workload.manifests[3]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["instrumentation.opentelemetry.io/inject-python"] == "true"
    (written,) = files
    doc = json.loads(written.read_text())
    assert doc["kind"] == "List" and len(doc["items"]) == 4
    assert "virtualNode/rec-r-4" in written.read_text()


def test_render_manifests_without_a_mesh_has_no_sidecar():
    props = KubernetesWorkloadProps(service_name="a", port=80, versions=(WorkloadVersion("v", "i"),), tracing=False)
    (dep,) = [m for m in render_manifests(props, {"v": None}) if m["kind"] == "Deployment"]
    assert [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["app"]
    assert "initContainers" not in dep["spec"]["template"]["spec"]


def test_render_manifests_drops_envoy_tracing_when_tracing_is_off():
    props = KubernetesWorkloadProps(service_name="a", port=80, versions=(WorkloadVersion("v", "i"),), tracing=False)
    proxy = ProxyRequirements(image="envoy", environment={"ENABLE_ENVOY_XRAY_TRACING": "1", "X": "y"},
                              policy_statements=(), redirect=ENVOY_REDIRECT)
    (dep,) = [m for m in render_manifests(props, {"v": proxy}) if m["kind"] == "Deployment"]
    envoy = dep["spec"]["template"]["spec"]["containers"][1]
    assert envoy["env"] == [{"name": "X", "value": "y"}]


def test_fails_when_a_proxy_says_nothing_of_how_traffic_reaches_it():
    # GIVEN a sidecar from a backend that gives no redirect (iptables rules, ECS proxy configuration)
    props = KubernetesWorkloadProps(service_name="a", port=80, versions=(WorkloadVersion("v", "i"),))
    proxy = ProxyRequirements(image="envoy", environment={}, policy_statements=())
    # WHEN the pod is rendered / THEN it is refused, naming the missing prop
    with pytest.raises(PropsError, match="the proxy envoy says nothing of how the app's traffic reaches it: give "
                                         "ProxyRequirements.redirect"):
        render_manifests(props, {"v": proxy})


def test_fails_when_manifests_need_deploy_time_values(tmp_path):
    # GIVEN an environment-agnostic stack (no account): the virtual node ARN is only known at deploy time
    from aws_cdk import App, Stack

    s = Stack(App(builtin_cloud_formation_validation=False), "Agnostic")
    vpc = ec2.Vpc(s, "Vpc", max_azs=2, nat_gateways=1)
    cluster = EksCluster(s, "C", EksClusterProps(vpc=vpc, container_insights=False))
    ns = sd.PrivateDnsNamespace(s, "Ns", name="x.local", vpc=vpc)
    binding = AppMeshBackend(appmesh.Mesh.from_mesh_name(s, "M", "m"), ns).add_service(
        s, "B", MeshServiceProps(name="a", port=80, versions=("v",), majors=(MajorRoute("v1", "/", {"v": 100}),)))
    KubernetesWorkload(s, "W", cluster=cluster, props=KubernetesWorkloadProps(
        service_name="a", port=80, versions=(WorkloadVersion("v", "i"),), binding=binding))
    with pytest.raises(PropsError, match="the manifests of 'a' hold values known only at deploy time"):
        write_manifests(s, tmp_path)


def test_fails_when_node_pools_are_given_without_auto_mode():
    s = stack()
    with pytest.raises(PropsError, match=r"node_pools=\['system'\] contradicts auto_mode=False"):
        EksClusterProps(vpc=vpc_in(s), auto_mode=False, node_pools=("system",))


@pytest.fixture(scope="module")
def service_logs():
    s = stack()
    key = kms.Key(s, "Key", enable_key_rotation=True)
    ServiceLogs(s, "Logs", ServiceLogsProps(
        service_name="pricing", log_group_name="/meshspec/shop/pricing", retention_days=90, removal_policy="destroy",
        encryption_key=key, custom_queries=(CustomQuery("slow", "fields @timestamp | limit 5"),),
        query_folder="shop/pricing"))
    return template(s)


def test_log_group_has_retention_removal_policy_and_key(service_logs):
    service_logs.has_resource("AWS::Logs::LogGroup", {
        "Properties": {"LogGroupName": "/meshspec/shop/pricing", "RetentionInDays": 90,
                       "KmsKeyId": {"Fn::GetAtt": [Match.any_value(), "Arn"]}},
        "DeletionPolicy": "Delete"})


def test_builtin_and_custom_queries_are_saved(service_logs):
    defs = {d["Properties"]["Name"]: d["Properties"]["QueryString"]
            for d in service_logs.find_resources("AWS::Logs::QueryDefinition").values()}
    assert set(defs) == {"shop/pricing/errors-by-service", "shop/pricing/p99-latency-by-version",
                         "shop/pricing/trace-lookup", "shop/pricing/slow"}
    assert "pct(duration, 99)" in defs["shop/pricing/p99-latency-by-version"]
    assert "by service, version" in defs["shop/pricing/p99-latency-by-version"]
    assert "response_code >= 500" in defs["shop/pricing/errors-by-service"]
    assert 'filter @message like "{{traceId}}"' in defs["shop/pricing/trace-lookup"]  # Envoy's lines and the app's
    (lookup,) = [d["Properties"] for d in service_logs.find_resources("AWS::Logs::QueryDefinition").values()
                 if d["Properties"]["Name"].endswith("/trace-lookup")]
    assert [p["Name"] for p in lookup["Parameters"]] == ["traceId"]
    assert defs["shop/pricing/slow"] == "fields @timestamp | limit 5"


def test_log_group_is_retained_by_default():
    s = stack()
    ServiceLogs(s, "Logs", ServiceLogsProps(service_name="a"))
    t = template(s)
    t.has_resource("AWS::Logs::LogGroup", {"DeletionPolicy": "Retain", "Properties": {"RetentionInDays": 30}})
    t.resource_count_is("AWS::Logs::QueryDefinition", len(BUILTIN_QUERIES))


def test_fails_when_retention_is_not_a_cloudwatch_period():
    with pytest.raises(PropsError, match="retention_days is 31: CloudWatch Logs takes only 1, 3, 5"):
        ServiceLogsProps(service_name="a", retention_days=31)


def test_fails_when_keep_forever_and_retention_are_both_given():
    with pytest.raises(PropsError, match="keep_forever=True contradicts retention_days=30"):
        ServiceLogsProps(service_name="a", keep_forever=True)


def test_fails_when_a_custom_query_reuses_a_builtin_name():
    with pytest.raises(PropsError, match=r"\['trace-lookup'\] appear twice"):
        ServiceLogsProps(service_name="a", custom_queries=(CustomQuery("trace-lookup", "x"),))


def test_dashboard_shows_versions_side_by_side_per_major():
    s = stack()
    ServiceDashboard(s, "D", ServiceDashboardProps(service_name="pricing", versions=("p-41", "p-42"),
                                                   majors=("v1",), dashboard_name="shop-pricing"))
    (d,) = template(s).find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads("".join(p if isinstance(p, str) else "X" for p in d["Properties"]["DashboardBody"]["Fn::Join"][1]))
    graphs = [w for w in body["widgets"] if w["type"] == "metric"]
    assert [g["properties"]["title"] for g in graphs] == ["v1 requests", "v1 5xx", "v1 latency (ms)"]
    requests = graphs[0]["properties"]["metrics"]
    assert requests[0][:6] == [metrics.namespace("v1"), metrics.REQUESTS, metrics.DIM_SERVICE, "pricing",
                               metrics.DIM_VERSION, "p-41"]
    assert requests[0][0] == "meshspec/Envoy/v1"
    assert len(requests) == 2  # one line per version
    latency = graphs[2]["properties"]["metrics"]
    assert sorted(m[-1]["stat"] for m in latency) == ["p50", "p50", "p99", "p99"]


def test_fails_when_dashboard_has_no_versions():
    with pytest.raises(PropsError, match=r"needs at least one version and one major, got versions=\[\] majors=\['v1'\]"):
        ServiceDashboardProps(service_name="a", versions=(), majors=("v1",))
