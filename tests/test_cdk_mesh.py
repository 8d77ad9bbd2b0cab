"""App Mesh constructs and the mesh backend interface (GIVEN / WHEN / THEN)."""
from __future__ import annotations

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_servicediscovery as sd
from aws_cdk.assertions import Match

from meshspec.backends.appmesh.constructs import AppMeshBackend, Mesh, MeshProps, MeshedService
from meshspec.constructs_lib.mesh.base import MajorRoute, MeshBackend, MeshServiceBinding, MeshServiceProps, PropsError
from tests.cdk_support import stack, template


def pricing(**over) -> MeshServiceProps:
    base = dict(name="pricing", port=8080, versions=("p-41", "p-42"),
                majors=(MajorRoute("v1", "/pricing/v1/", {"p-41": 90, "p-42": 10}),
                        MajorRoute("v2", "/pricing/v2/", {"p-41": 0, "p-42": 100})),
                backends=("erp.shop.local",), router_name="pricing-router", dns_name="pricing.shop.local",
                node_names={"p-41": "pricing-p-41", "p-42": "pricing-p-42"},
                route_names={"v1": "pricing-v1", "v2": "pricing-v2"})
    base.update(over)
    return MeshServiceProps(**base)


def meshed(props: MeshServiceProps, mesh_props: MeshProps = MeshProps(mesh_name="shop-mesh")):
    s = stack()
    vpc = ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=0)
    ns = sd.PrivateDnsNamespace(s, "Ns", name="shop.local", vpc=vpc)
    mesh = Mesh(s, "Mesh", mesh_props)
    binding = AppMeshBackend(mesh.mesh, ns).add_service(s, "Pricing", props)
    return s, binding


@pytest.fixture(scope="module")
def http():
    s, binding = meshed(pricing())
    return template(s), binding


def test_mesh_drops_egress_by_default():
    # GIVEN a mesh with default props / WHEN synthesized
    s = stack()
    Mesh(s, "Mesh")
    # THEN the egress filter is DROP_ALL
    template(s).has_resource_properties("AWS::AppMesh::Mesh", {"Spec": {"EgressFilter": {"Type": "DROP_ALL"}}})


def test_mesh_allows_egress_when_asked():
    s = stack()
    Mesh(s, "Mesh", MeshProps(egress_filter="ALLOW_ALL"))
    template(s).has_resource_properties("AWS::AppMesh::Mesh", {"Spec": {"EgressFilter": {"Type": "ALLOW_ALL"}}})


def test_a_virtual_node_per_version_with_cloud_map_listener_backends_and_json_access_log(http):
    t, _ = http
    t.resource_count_is("AWS::AppMesh::VirtualNode", 2)
    t.resource_count_is("AWS::ServiceDiscovery::Service", 3)  # two versions and the virtual service's name
    t.has_resource_properties("AWS::ServiceDiscovery::Service", {"Name": "pricing-p-41"})
    t.has_resource_properties("AWS::AppMesh::VirtualNode", {
        "VirtualNodeName": "pricing-p-42",
        "Spec": {
            "ServiceDiscovery": {"AWSCloudMap": {"ServiceName": Match.any_value(), "NamespaceName": Match.any_value()}},
            "Listeners": [{"PortMapping": {"Port": 8080, "Protocol": "http"},
                           "HealthCheck": Match.object_like({"Path": "/healthz", "Protocol": "http"})}],
            "Backends": [{"VirtualService": {"VirtualServiceName": "erp.shop.local"}}],
            "Logging": {"AccessLog": {"File": {"Path": "/dev/stdout", "Format": {"Json": Match.array_with([
                {"Key": "service", "Value": "pricing"}, {"Key": "version", "Value": "p-42"}])}}}},
        }})


def test_a_route_per_major_with_prefix_and_weights(http):
    t, _ = http
    t.has_resource_properties("AWS::AppMesh::VirtualRouter", {"VirtualRouterName": "pricing-router",
                                                              "Spec": {"Listeners": [{"PortMapping": {"Port": 8080, "Protocol": "http"}}]}})
    t.resource_count_is("AWS::AppMesh::Route", 2)
    t.has_resource_properties("AWS::AppMesh::Route", {
        "RouteName": "pricing-v1",
        "Spec": {"HttpRoute": {"Match": {"Prefix": "/pricing/v1/"}, "Action": {"WeightedTargets": [
            {"VirtualNode": Match.any_value(), "Weight": 90}, {"VirtualNode": Match.any_value(), "Weight": 10}]}}}})


def test_virtual_service_points_at_the_router(http):
    t, _ = http
    t.has_resource_properties("AWS::AppMesh::VirtualService", {
        "VirtualServiceName": "pricing.shop.local",
        "Spec": {"Provider": {"VirtualRouter": {"VirtualRouterName": Match.any_value()}}}})


def test_the_virtual_service_name_resolves_in_the_namespace(http):
    # GIVEN pricing.shop.local in namespace shop.local / THEN "pricing" is registered with a placeholder address
    t, _ = http
    t.has_resource_properties("AWS::ServiceDiscovery::Service", {"Name": "pricing"})
    t.has_resource_properties("AWS::ServiceDiscovery::Instance", {
        "InstanceAttributes": {"AWS_INSTANCE_IPV4": "10.10.10.10"}})


def test_a_name_outside_the_namespace_is_not_registered():
    s, _ = meshed(pricing(dns_name="pricing.example.com"))
    template(s).resource_count_is("AWS::ServiceDiscovery::Instance", 0)


def test_proxy_may_stream_only_its_own_virtual_node(http):
    # GIVEN the binding / WHEN asked for version p-41's proxy
    _, binding = http
    proxy = binding.proxy("p-41")
    s = binding.node.scope
    statement = s.resolve(proxy.policy_statements[0].to_statement_json())
    # THEN the one statement allows StreamAggregatedResources on that node's ARN only
    assert statement["Action"] == "appmesh:StreamAggregatedResources"
    assert statement["Resource"] == s.resolve(binding.nodes["p-41"].virtual_node_arn)
    assert s.resolve(proxy.environment["APPMESH_RESOURCE_ARN"]) == statement["Resource"]


def test_proxy_arn_is_a_literal_when_the_mesh_is_referenced_by_name():
    # GIVEN a mesh imported by name (as service stacks do) / WHEN asked for a proxy
    from aws_cdk import aws_appmesh as appmesh

    s = stack()
    vpc = ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=0)
    ns = sd.PrivateDnsNamespace(s, "Ns", name="shop.local", vpc=vpc)
    binding = AppMeshBackend(appmesh.Mesh.from_mesh_name(s, "M", "shop-mesh"), ns).add_service(s, "P", pricing())
    # THEN the ARN needs no deploy-time value (Kubernetes manifests can be written as files)
    assert binding.proxy("p-41").environment["APPMESH_RESOURCE_ARN"] == \
        "arn:aws:appmesh:eu-west-1:111122223333:mesh/shop-mesh/virtualNode/pricing-p-41"


def test_longest_prefix_gets_the_first_priority():
    s, _ = meshed(pricing(versions=("a",), node_names={}, route_names={},
                          majors=(MajorRoute("v1", "/", {"a": 100}), MajorRoute("v2", "/pricing/v2/", {"a": 100}))))
    routes = {r["Properties"]["RouteName"]: r["Properties"]["Spec"]["Priority"]
              for r in template(s).find_resources("AWS::AppMesh::Route").values()}
    assert routes == {"pricing-v2": 0, "pricing-v1": 1}


def test_grpc_routes_match_the_major_header_when_there_are_several():
    s, _ = meshed(pricing(protocol="grpc"))
    t = template(s)
    t.has_resource_properties("AWS::AppMesh::Route", {"RouteName": "pricing-v2", "Spec": {"GrpcRoute": {
        "Match": {"Metadata": [{"Name": "x-api-major", "Match": {"Exact": "v2"}}]}}}})
    t.has_resource_properties("AWS::AppMesh::VirtualNode", {"Spec": {"Listeners": [Match.object_like({
        "PortMapping": {"Port": 8080, "Protocol": "grpc"}})]}})


def test_a_single_grpc_major_matches_every_grpc_request():
    s, _ = meshed(pricing(protocol="grpc", majors=(MajorRoute("v1", "/pricing/v1/", {"p-41": 100}),)))
    template(s).has_resource_properties("AWS::AppMesh::Route", {"Spec": {"GrpcRoute": {
        "Match": {"Metadata": [{"Name": "content-type", "Match": {"Prefix": "application/grpc"}}]}}}})


def test_the_app_mesh_backend_implements_the_interface(http):
    _, binding = http
    assert issubclass(AppMeshBackend, MeshBackend)
    assert isinstance(binding, MeshServiceBinding) and isinstance(binding, MeshedService)


def test_fails_when_weights_name_an_unknown_version():
    with pytest.raises(PropsError, match=r"majors\['v1'\].weights names \['p-43'\], which versions does not list"):
        pricing(majors=(MajorRoute("v1", "/p/", {"p-43": 100}),))


def test_fails_when_weights_are_not_integers_0_to_100():
    with pytest.raises(PropsError, match=r"integers 0-100, got \{'p-41': 150\}"):
        pricing(majors=(MajorRoute("v1", "/p/", {"p-41": 150}),))


def test_fails_when_weights_sum_to_zero():
    with pytest.raises(PropsError, match="sum to 0"):
        pricing(majors=(MajorRoute("v1", "/p/", {"p-41": 0}),))


def test_fails_when_versions_is_empty_or_repeats():
    with pytest.raises(PropsError, match="versions of 'pricing' is empty"):
        pricing(versions=())
    with pytest.raises(PropsError, match="lists a name twice"):
        pricing(versions=("a", "a"), majors=(MajorRoute("v1", "/p/", {"a": 100}),))


def test_fails_when_path_prefix_is_relative():
    with pytest.raises(PropsError, match="path_prefix must start with '/', got 'p/'"):
        pricing(majors=(MajorRoute("v1", "p/", {"p-41": 100}),))


def test_fails_when_egress_filter_is_unknown():
    with pytest.raises(PropsError, match="egress_filter is 'DENY': allowed DROP_ALL or ALLOW_ALL"):
        MeshProps(egress_filter="DENY")


def test_fails_when_asking_for_a_version_the_service_lacks(http):
    _, binding = http
    with pytest.raises(PropsError, match="version 'p-99' is not a code version of 'pricing'"):
        binding.proxy("p-99")
