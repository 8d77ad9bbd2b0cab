"""ECS cluster and the meshed Fargate service per code version (GIVEN / WHEN / THEN)."""
from __future__ import annotations

import json

import pytest
from aws_cdk import aws_appmesh as appmesh
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as sd
from aws_cdk.assertions import Match

from meshspec.constructs_lib.ecs import Ec2Capacity, EcsCluster, EcsClusterProps, MeshedFargateService, MeshedFargateServiceProps
from meshspec.constructs_lib.errors import PropsError
from meshspec.backends.appmesh.constructs import AppMeshBackend
from meshspec.constructs_lib.mesh.base import MajorRoute, MeshServiceProps
from tests.cdk_support import stack, template

SM_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/catalog/db-AbCdEf"
SSM_ARN = "arn:aws:ssm:eu-west-1:111122223333:parameter/shop/erp/api-key"


def vpc_in(s):
    return ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=1)


@pytest.fixture(scope="module")
def fargate():
    # GIVEN a cluster, a mesh binding and one code version with three secrets (one a JSON key of a secret)
    s = stack()
    vpc = vpc_in(s)
    cluster = EcsCluster(s, "Cluster", EcsClusterProps(vpc=vpc, namespace_name="shop.local"))
    backend = AppMeshBackend(appmesh.Mesh.from_mesh_name(s, "Mesh", "shop-mesh"), cluster.namespace)
    binding = backend.add_service(s, "Mesh-catalog", MeshServiceProps(
        name="catalog", port=8080, versions=("c-1",), majors=(MajorRoute("v1", "/catalog/v1/", {"c-1": 100}),)))
    group = logs.LogGroup(s, "Logs", log_group_name="/meshspec/shop/catalog")
    MeshedFargateService(s, "Version-c-1", MeshedFargateServiceProps(
        cluster=cluster.cluster, service_name="catalog", version="c-1", image="public.ecr.aws/shop/catalog:1",
        port=8080, log_group=group, binding=binding, cpu=512, memory_mib=1024, environment={"LOG_LEVEL": "info"},
        secrets={"DB_PASSWORD": SM_ARN, "ERP_API_KEY": SSM_ARN, "DB_USER": f"{SM_ARN}:username"}))
    # WHEN synthesized
    return template(s)


def containers(t) -> dict[str, dict]:
    (td,) = t.find_resources("AWS::ECS::TaskDefinition").values()
    return {c["Name"]: c for c in td["Properties"]["ContainerDefinitions"]}


def test_cluster_has_enhanced_container_insights_and_fargate_capacity(fargate):
    fargate.has_resource_properties("AWS::ECS::Cluster", {
        "ClusterSettings": [{"Name": "containerInsights", "Value": "enhanced"}]})
    fargate.has_resource_properties("AWS::ECS::ClusterCapacityProviderAssociations", {
        "CapacityProviders": Match.array_with(["FARGATE", "FARGATE_SPOT"])})
    fargate.has_resource_properties("AWS::ServiceDiscovery::PrivateDnsNamespace", {"Name": "shop.local"})


def test_task_runs_app_envoy_and_the_cloudwatch_agent_with_app_mesh_proxy(fargate):
    c = containers(fargate)
    assert set(c) == {"app", "envoy", "cloudwatch-agent", "adot-init"}  # no X-Ray daemon
    assert c["app"]["DependsOn"] == [{"Condition": "HEALTHY", "ContainerName": "envoy"},
                                     {"Condition": "SUCCESS", "ContainerName": "adot-init"}]
    assert c["envoy"]["User"] == "1337" and c["envoy"]["HealthCheck"]["Command"][0] == "CMD-SHELL"
    env = {e["Name"]: e["Value"] for e in c["envoy"]["Environment"]}
    assert env["ENABLE_ENVOY_XRAY_TRACING"] == "1"
    assert env["APPMESH_RESOURCE_ARN"] == "arn:aws:appmesh:eu-west-1:111122223333:mesh/shop-mesh/virtualNode/catalog-c-1"
    fargate.has_resource_properties("AWS::ECS::TaskDefinition", {
        "Cpu": "512", "Memory": "1024", "Family": "catalog-c-1",
        "ProxyConfiguration": {"ContainerName": "envoy", "Type": "APPMESH", "ProxyConfigurationProperties":
                               Match.array_with([{"Name": "AppPorts", "Value": "8080"},
                                                 {"Name": "IgnoredGID", "Value": "1338"},
                                                 {"Name": "IgnoredUID", "Value": "1337"}])}})
    assert c["cloudwatch-agent"]["User"] == "0:1338"  # the group Envoy lets past


def test_every_container_logs_to_the_service_log_group(fargate):
    for name, c in containers(fargate).items():
        opts = c["LogConfiguration"]["Options"]
        assert c["LogConfiguration"]["LogDriver"] == "awslogs"
        assert opts["awslogs-stream-prefix"].startswith("c-1/"), name
        assert "Ref" in opts["awslogs-group"]


def test_secrets_are_references_never_values(fargate):
    c = containers(fargate)["app"]
    secrets = {s["Name"]: s["ValueFrom"] for s in c["Secrets"]}
    assert secrets["DB_PASSWORD"] == SM_ARN
    assert secrets["ERP_API_KEY"] == SSM_ARN
    assert secrets["DB_USER"] == f"{SM_ARN}:username::"  # ECS's valueFrom for one JSON key
    assert "DB_PASSWORD" not in {e["Name"] for e in c["Environment"]}


def test_task_role_streams_only_its_own_node_and_writes_xray_and_application_signals(fargate):
    policies = fargate.find_resources("AWS::IAM::Policy")
    task = [p for lid, p in policies.items() if "TaskRole" in lid]
    (statements,) = [p["Properties"]["PolicyDocument"]["Statement"] for p in task]
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in statements}
    assert by_action['"appmesh:StreamAggregatedResources"'] == \
        "arn:aws:appmesh:eu-west-1:111122223333:mesh/shop-mesh/virtualNode/catalog-c-1"
    xray = [s for s in statements if "xray:PutTraceSegments" in s["Action"]]
    assert xray and xray[0]["Resource"] == "*"
    (logs_statement,) = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    assert [r["Fn::Join"][1][-1] for r in logs_statement["Resource"]] == [
        ":log-group:/aws/application-signals/data", ":log-group:/aws/application-signals/data:*"]
    assert len(statements) == 3  # nothing else


def test_service_registers_in_cloud_map_and_rolls_back(fargate):
    fargate.has_resource_properties("AWS::ECS::Service", {
        "ServiceName": "catalog-c-1", "DesiredCount": 2,
        "ServiceRegistries": [{"RegistryArn": {"Fn::GetAtt": [Match.string_like_regexp("Discovery"), "Arn"]}}],
        "DeploymentConfiguration": Match.object_like({"DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}}),
        "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE", "Weight": 1}]})


def test_without_tracing_the_agent_stays_for_application_signals_metrics():
    s = stack()
    cluster = EcsCluster(s, "C", EcsClusterProps(vpc=vpc_in(s)))
    MeshedFargateService(s, "V", MeshedFargateServiceProps(
        cluster=cluster.cluster, service_name="a", version="v", image="x", port=80,
        log_group=logs.LogGroup(s, "L"), tracing=False))
    c = containers(template(s))
    assert set(c) == {"app", "cloudwatch-agent", "adot-init"}
    env = {e["Name"]: e["Value"] for e in c["app"]["Environment"]}
    assert env["OTEL_TRACES_SAMPLER"] == "always_off" and "OTEL_TRACES_SAMPLER_ARG" not in env


def test_ec2_capacity_adds_an_asg_capacity_provider():
    s = stack()
    EcsCluster(s, "C", EcsClusterProps(vpc=vpc_in(s), container_insights="DISABLED",
                                       ec2_capacity=Ec2Capacity("c6i.large", 2, 6)))
    t = template(s)
    t.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {"MinSize": "2", "MaxSize": "6"})
    t.resource_count_is("AWS::ECS::CapacityProvider", 1)
    t.has_resource_properties("AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "disabled"}]})


def test_fails_when_a_secret_is_a_literal():
    s = stack()
    cluster = EcsCluster(s, "C", EcsClusterProps(vpc=vpc_in(s)))
    with pytest.raises(PropsError, match=r"secrets\['DB_PASSWORD'\] is not a Secrets Manager or SSM parameter ARN "
                                         r"\(value not shown\)") as exc:
        MeshedFargateServiceProps(cluster=cluster.cluster, service_name="a", version="v", image="x", port=80,
                                  log_group=logs.LogGroup(s, "L"), secrets={"DB_PASSWORD": "hunter2"})
    assert "hunter2" not in str(exc.value)


def test_fails_when_a_variable_is_both_env_and_secret():
    s = stack()
    cluster = EcsCluster(s, "C", EcsClusterProps(vpc=vpc_in(s)))
    with pytest.raises(PropsError, match=r"environment=\['K'\] contradicts secrets=\['K'\]"):
        MeshedFargateServiceProps(cluster=cluster.cluster, service_name="a", version="v", image="x", port=80,
                                  log_group=logs.LogGroup(s, "L"), environment={"K": "1"}, secrets={"K": SM_ARN})


def test_fails_when_the_cluster_has_no_capacity():
    s = stack()
    with pytest.raises(PropsError, match="fargate=False contradicts ec2_capacity=None: the cluster would have no capacity"):
        EcsClusterProps(vpc=vpc_in(s), fargate=False)


def test_fails_when_namespace_and_namespace_name_are_both_given():
    s = stack()
    vpc = vpc_in(s)
    ns = sd.PrivateDnsNamespace(s, "Ns", name="a.local", vpc=vpc)
    with pytest.raises(PropsError, match="namespace='<given>' contradicts namespace_name='b.local'"):
        EcsClusterProps(vpc=vpc, namespace=ns, namespace_name="b.local")


def test_fails_when_min_capacity_is_above_max():
    with pytest.raises(PropsError, match="min_capacity=5 contradicts max_capacity=2"):
        Ec2Capacity(min_capacity=5, max_capacity=2)


def test_fails_when_container_insights_is_unknown():
    s = stack()
    with pytest.raises(PropsError, match="container_insights is 'on': allowed ENHANCED, ENABLED, DISABLED"):
        EcsClusterProps(vpc=vpc_in(s), container_insights="on")


def one_version_with(secrets: dict[str, str], region: str = "eu-west-1"):
    """The template of one Fargate code version (no mesh) reading ``secrets``, in a stack in ``region``."""
    s = stack(region=region)
    cluster = EcsCluster(s, "Cluster", EcsClusterProps(
        vpc=ec2.Vpc(s, "Vpc", availability_zones=[f"{region}a", f"{region}b"], nat_gateways=1),
        namespace_name="shop.local"))
    group = logs.LogGroup(s, "Logs", log_group_name="/meshspec/shop/catalog")
    MeshedFargateService(s, "Version-c-1", MeshedFargateServiceProps(
        cluster=cluster.cluster, service_name="catalog", version="c-1", image="public.ecr.aws/shop/catalog:1",
        port=8080, log_group=group, cpu=256, memory_mib=512, secrets=secrets))
    return template(s)


def grants(t, action: str) -> list[dict]:
    return [st for p in t.find_resources("AWS::IAM::Policy").values()
            for st in p["Properties"]["PolicyDocument"]["Statement"] if action in st["Action"]]


def test_a_secret_named_by_its_partial_arn_is_read_through_a_suffix_wildcard():
    # GIVEN a secret named without Secrets Manager's six-character suffix (found by the synth property test: CDK
    # refused it as an incomplete ARN, an internal error after validate had accepted it)
    partial = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/catalog/db"
    # WHEN synthesized
    t = one_version_with({"DB_PASSWORD": partial})
    # THEN the task reads it by the ARN as given, and the execution role may read exactly that secret, any suffix
    assert {x["Name"]: x["ValueFrom"] for x in containers(t)["app"]["Secrets"]} == {"DB_PASSWORD": partial}
    assert [g["Resource"] for g in grants(t, "secretsmanager:GetSecretValue")] == [f"{partial}-??????"]


@pytest.mark.parametrize("stack_region", ["eu-west-1", "eu-central-1"])
def test_an_ssm_parameter_is_read_from_its_own_region_with_the_same_grant(stack_region):
    # GIVEN a parameter in eu-west-1 and a stack in the same region or another (found by the synth property test:
    # with aws.region eu-central-1 CDK refused the parameter's ARN, an internal error after validate accepted it;
    # ECS reads a parameter of another region by its full ARN)
    # WHEN synthesized
    t = one_version_with({"ERP_API_KEY": SSM_ARN}, region=stack_region)
    # THEN the task reads it by its ARN, and the execution role may read that parameter only, the same way in both
    assert {x["Name"]: x["ValueFrom"] for x in containers(t)["app"]["Secrets"]} == {"ERP_API_KEY": SSM_ARN}
    (grant,) = grants(t, "ssm:GetParameters")
    assert grant["Resource"] == SSM_ARN
    assert sorted(grant["Action"]) == ["ssm:DescribeParameters", "ssm:GetParameter", "ssm:GetParameterHistory",
                                       "ssm:GetParameters"]
