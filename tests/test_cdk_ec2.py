"""ECS on EC2 capacity: the cluster's instances and capacity provider, and a meshed service that runs there
(GIVEN / WHEN / THEN)."""
from __future__ import annotations

import json

import pytest
from aws_cdk import aws_appmesh as appmesh
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match

from meshspec.constructs_lib.ecs import (Ec2Capacity, EcsCluster, EcsClusterProps, MeshedEcsService,
                                         MeshedEcsServiceProps)
from meshspec.constructs_lib.errors import PropsError
from meshspec.backends.appmesh.constructs import AppMeshBackend
from meshspec.constructs_lib.mesh.base import MajorRoute, MeshServiceProps
from tests.cdk_support import stack, template


def vpc_in(s):
    return ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=1)


def user_data(t) -> str:
    (lt,) = t.find_resources("AWS::EC2::LaunchTemplate").values()
    return json.dumps(lt["Properties"]["LaunchTemplateData"]["UserData"])


@pytest.fixture(scope="module")
def on_ec2():
    # GIVEN a cluster with EC2 capacity only and an App Mesh service version placed on it
    s = stack()
    cluster = EcsCluster(s, "Cluster", EcsClusterProps(vpc=vpc_in(s), namespace_name="shop.local", fargate=False,
                                                       ec2_capacity=Ec2Capacity("c6i.large", 1, 6, "meshspec-shop-core")))
    backend = AppMeshBackend(appmesh.Mesh.from_mesh_name(s, "Mesh", "shop-mesh"), cluster.namespace)
    binding = backend.add_service(s, "Mesh-pricing", MeshServiceProps(
        name="pricing", port=8080, versions=("p-1",), majors=(MajorRoute("v1", "/pricing/v1/", {"p-1": 100}),)))
    MeshedEcsService(s, "Version-p-1", MeshedEcsServiceProps(
        cluster=cluster.cluster, service_name="pricing", version="p-1", image="public.ecr.aws/shop/pricing:1",
        port=8080, log_group=logs.LogGroup(s, "Logs"), binding=binding, cpu=512, memory_mib=1024,
        environment={"AWS_REGION": "us-east-1"}, ec2_capacity_provider="meshspec-shop-core"))
    # WHEN synthesized
    return template(s)


def test_the_cluster_offers_only_its_ec2_capacity_provider(on_ec2):
    on_ec2.has_resource_properties("AWS::ECS::ClusterCapacityProviderAssociations", {
        "CapacityProviders": [Match.object_like({"Ref": Match.string_like_regexp("Ec2Capacity")})]})
    assert "FARGATE" not in json.dumps(on_ec2.to_json())


def test_ecs_scales_protects_and_drains_the_instances(on_ec2):
    on_ec2.has_resource_properties("AWS::ECS::CapacityProvider", {
        "Name": "meshspec-shop-core",
        "AutoScalingGroupProvider": Match.object_like({
            "ManagedScaling": Match.object_like({"Status": "ENABLED", "TargetCapacity": 100}),
            "ManagedTerminationProtection": "ENABLED", "ManagedDraining": "ENABLED"})})
    on_ec2.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {
        "MinSize": "1", "MaxSize": "6", "NewInstancesProtectedFromScaleIn": True})
    on_ec2.resource_count_is("AWS::Lambda::Function", 1)  # ENI trunking's; no drain-hook Lambda
    on_ec2.resource_count_is("AWS::SNS::Topic", 0)


def test_instances_keep_imds_from_tasks_and_memory_for_the_agent(on_ec2):
    on_ec2.has_resource_properties("AWS::EC2::LaunchTemplate", {"LaunchTemplateData": Match.object_like({
        "InstanceType": "c6i.large",
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}})})
    data = user_data(on_ec2)
    for line in ("ECS_RESERVED_MEMORY=256", "ECS_AWSVPC_BLOCK_IMDS=true", "ECS_CLUSTER="):
        assert line in data


def test_eni_trunking_is_turned_on_before_the_instances_start(on_ec2):
    (setting_id, setting) = next(iter(on_ec2.find_resources("Custom::AWS").items()))
    assert "putAccountSettingDefault" in json.dumps(setting["Properties"]["Create"])
    assert "awsvpcTrunking" in json.dumps(setting["Properties"]["Create"])
    (asg,) = on_ec2.find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    assert setting_id in asg["DependsOn"]


def test_the_task_is_ec2_compatible_awsvpc_with_the_mesh_proxy(on_ec2):
    on_ec2.has_resource_properties("AWS::ECS::TaskDefinition", {
        "RequiresCompatibilities": ["EC2"], "NetworkMode": "awsvpc", "Cpu": "512", "Memory": "1024",
        "ProxyConfiguration": Match.object_like({"ContainerName": "envoy", "Type": "APPMESH"})})


def test_the_service_runs_on_the_capacity_provider_spread_across_zones(on_ec2):
    on_ec2.has_resource_properties("AWS::ECS::Service", {
        "CapacityProviderStrategy": [{"CapacityProvider": "meshspec-shop-core", "Weight": 1}],
        "PlacementStrategies": [{"Type": "spread", "Field": "attribute:ecs.availability-zone"},
                                {"Type": "binpack", "Field": "MEMORY"}],
        "NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "DISABLED"})},
        "LaunchType": Match.absent()})


def test_every_container_knows_its_region_and_the_app_keeps_its_own(on_ec2):
    (td,) = on_ec2.find_resources("AWS::ECS::TaskDefinition").values()
    env = {c["Name"]: {e["Name"]: e["Value"] for e in c.get("Environment", [])}
           for c in td["Properties"]["ContainerDefinitions"]}
    assert set(env) == {"app", "envoy", "cloudwatch-agent", "adot-init"}
    assert env["app"]["AWS_REGION"] == "us-east-1" and env["app"]["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["envoy"]["AWS_REGION"] == env["cloudwatch-agent"]["AWS_REGION"] == "eu-west-1"


def test_a_graviton_instance_type_gets_the_arm64_ami():
    s = stack()
    EcsCluster(s, "C", EcsClusterProps(vpc=vpc_in(s), ec2_capacity=Ec2Capacity("m7g.large", eni_trunking=False)))
    t = template(s)
    params = json.dumps(t.to_json()["Parameters"])
    assert "amazon-linux-2023/arm64/recommended" in params
    t.resource_count_is("Custom::AWS", 0)  # trunking left alone


def test_fargate_and_ec2_together():
    s = stack()
    EcsCluster(s, "C", EcsClusterProps(vpc=vpc_in(s), ec2_capacity=Ec2Capacity()))
    template(s).has_resource_properties("AWS::ECS::ClusterCapacityProviderAssociations", {
        "CapacityProviders": Match.array_with(["FARGATE", "FARGATE_SPOT"])})


def test_fails_when_the_capacity_provider_name_is_reserved():
    with pytest.raises(PropsError, match="capacity_provider_name is 'ecs-core': a name that does not start with aws, "
                                         "ecs or fargate"):
        Ec2Capacity(capacity_provider_name="ecs-core")


def test_fails_when_a_service_asks_for_fargate_spot_and_ec2():
    s = stack()
    cluster = EcsCluster(s, "C", EcsClusterProps(vpc=vpc_in(s)))
    with pytest.raises(PropsError, match="capacity_provider='FARGATE_SPOT' contradicts ec2_capacity_provider='cp': "
                                         "a service runs on Fargate or on EC2 capacity, not both"):
        MeshedEcsServiceProps(cluster=cluster.cluster, service_name="a", version="v", image="x", port=80,
                              log_group=logs.LogGroup(s, "L"), capacity_provider="FARGATE_SPOT",
                              ec2_capacity_provider="cp")


@pytest.fixture(scope="module")
def shop_on_ec2(tmp_path_factory):
    # GIVEN the shop whose ECS cluster offers EC2 (first) and Fargate, erp-connector asking for Fargate
    from meshspec.stacks.app import build, new_app, synthesize
    from tests.cdk_support import load, shop_variant_ec2

    out = tmp_path_factory.mktemp("shop-ec2")
    # WHEN synthesized as meshspec synth does
    return synthesize(build(load(shop_variant_ec2()), new_app(str(out), validation=False))).stacks


@pytest.mark.parametrize("stack", ["shop-svc-catalog", "shop-svc-pricing"])
def test_a_service_on_ec2_capacity_has_no_fargate_left(shop_on_ec2, stack):
    text = json.dumps(shop_on_ec2[stack])
    assert "FARGATE" not in text
    tds = [r for r in shop_on_ec2[stack]["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert tds and all(td["Properties"]["RequiresCompatibilities"] == ["EC2"] for td in tds)
    services = [r for r in shop_on_ec2[stack]["Resources"].values() if r["Type"] == "AWS::ECS::Service"]
    assert services and all(s["Properties"]["CapacityProviderStrategy"] == [
        {"CapacityProvider": "meshspec-shop-core", "Weight": 1}] for s in services)


def test_a_service_that_asks_for_fargate_stays_on_it(shop_on_ec2):
    (svc,) = [r for r in shop_on_ec2["shop-svc-erp-connector"]["Resources"].values() if r["Type"] == "AWS::ECS::Service"]
    assert svc["Properties"]["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE", "Weight": 1}]


def test_the_cluster_offers_both_and_names_its_ec2_provider(shop_on_ec2):
    core = shop_on_ec2["shop-core"]["Resources"]
    (assoc,) = [r for r in core.values() if r["Type"] == "AWS::ECS::ClusterCapacityProviderAssociations"]
    providers = assoc["Properties"]["CapacityProviders"]
    assert "FARGATE" in providers and {"Ref": next(k for k, r in core.items()
                                                  if r["Type"] == "AWS::ECS::CapacityProvider")} in providers
    (cp,) = [r for r in core.values() if r["Type"] == "AWS::ECS::CapacityProvider"]
    assert cp["Properties"]["Name"] == "meshspec-shop-core"


def test_the_private_image_of_the_shop_variant_has_its_pull_grant(shop_on_ec2):
    from tests.cdk_support import PRIVATE_IMAGE

    policies = [r["Properties"]["PolicyDocument"]["Statement"] for lid, r in
                shop_on_ec2["shop-svc-pricing"]["Resources"].items()
                if r["Type"] == "AWS::IAM::Policy" and "p41" in lid and "ExecutionRole" in lid]
    (statements,) = policies
    assert {"Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            "Effect": "Allow", "Resource": "arn:aws:ecr:eu-west-1:444455556666:repository/shop/pricing"} in statements
    assert PRIVATE_IMAGE in json.dumps(shop_on_ec2["shop-svc-pricing"])


@pytest.mark.parametrize("stack", ["shop-core", "shop-svc-pricing"])
def test_the_ec2_variant_matches_its_snapshots(shop_on_ec2, stack, snapshot):
    from syrupy.extensions.json import JSONSnapshotExtension

    from meshspec.infra.testing import scrub

    assert scrub(shop_on_ec2[stack]) == snapshot.use_extension(JSONSnapshotExtension)(name=stack)


def test_fails_when_the_reserved_memory_is_negative():
    with pytest.raises(PropsError, match="reserved_memory_mib is -1: at least 0"):
        Ec2Capacity(reserved_memory_mib=-1)
