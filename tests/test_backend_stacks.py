"""The shop on ECS Service Connect and on VPC Lattice: synthesized once per backend with cdk-nag's AwsSolutions
pack as a validation plugin (an unacknowledged finding fails the synth), then assertions, snapshots, cfn-lint."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Validations
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.spec import load_spec_or_raise
from stacks.backend_stack import MeshBackendStack

from .conftest import EXAMPLES, TODAY

SPECS = {"lattice": EXAMPLES / "shop-lattice.yaml", "service-connect": EXAMPLES / "shop-service-connect.yaml"}


def _synth(backend: str, outdir) -> dict:
    app = App(outdir=str(outdir))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    spec = load_spec_or_raise(SPECS[backend], today=TODAY)
    MeshBackendStack(app, "Shop", spec=spec)
    assembly = app.synth()  # raises ValidationFailed on any cdk-nag finding not acknowledged with a reason
    return assembly.get_stack_by_name("Shop").template


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, dict]:
    return {b: _synth(b, tmp_path_factory.mktemp(b)) for b in SPECS}


@pytest.fixture(scope="module")
def lattice(templates) -> Template:
    return Template.from_json(templates["lattice"])


@pytest.fixture(scope="module")
def service_connect(templates) -> Template:
    return Template.from_json(templates["service-connect"])


def _of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# -- lattice -----------------------------------------------------------------------------------------------
def test_lattice_has_one_network_with_iam_auth_and_a_vpc_association(lattice):
    lattice.resource_count_is("AWS::VpcLattice::ServiceNetwork", 1)
    lattice.has_resource_properties("AWS::VpcLattice::ServiceNetwork", {"Name": "shop-mesh", "AuthType": "AWS_IAM"})
    lattice.resource_count_is("AWS::VpcLattice::ServiceNetworkVpcAssociation", 1)


def test_lattice_has_one_service_per_aws_service_and_one_target_group_per_version(lattice, templates):
    names = sorted(r["Properties"]["Name"] for r in _of_type(templates["lattice"], "AWS::VpcLattice::Service").values())
    assert names == ["shop-catalog", "shop-erp-connector", "shop-pricing", "shop-recommendations"]
    tgs = sorted(r["Properties"]["Name"] for r in _of_type(templates["lattice"], "AWS::VpcLattice::TargetGroup").values())
    assert tgs == ["shop-catalog-c-2026-11", "shop-erp-connector-e-7", "shop-pricing-p-41", "shop-pricing-p-42",
                   "shop-recommendations-r-3"]
    lattice.has_resource_properties("AWS::VpcLattice::TargetGroup", {
        "Name": "shop-recommendations-r-3", "Type": "IP",
        "Config": Match.object_like({"Port": 8080, "ProtocolVersion": "GRPC",
                                     "HealthCheck": Match.object_like({"Path": "/healthz"})})})


def test_lattice_rule_weights_follow_the_spec(lattice, templates):
    lattice.has_resource_properties("AWS::VpcLattice::Rule", {
        "Name": "pricing-v1", "Priority": 1,
        "Match": {"HttpMatch": {"PathMatch": {"CaseSensitive": True, "Match": {"Prefix": "/pricing/v1/"}}}},
        "Action": {"Forward": {"TargetGroups": [Match.object_like({"Weight": 90}), Match.object_like({"Weight": 10})]}},
    })
    assert len(_of_type(templates["lattice"], "AWS::VpcLattice::Rule")) == 4  # one live major each


def test_lattice_grpc_gets_an_https_listener_and_http_an_http_one(lattice):
    lattice.has_resource_properties("AWS::VpcLattice::Listener", {"Name": "recommendations-http", "Protocol": "HTTPS",
                                                                  "Port": 443})
    lattice.has_resource_properties("AWS::VpcLattice::Listener", {
        "Name": "catalog-http", "Protocol": "HTTP", "Port": 80,
        "DefaultAction": {"FixedResponse": {"StatusCode": 404}}})


def test_lattice_auth_policy_admits_only_declared_consumers(templates):
    policies = _of_type(templates["lattice"], "AWS::VpcLattice::AuthPolicy")
    by_service = {}
    for p in policies.values():
        ref = p["Properties"]["ResourceIdentifier"]["Fn::GetAtt"][0]
        by_service[ref] = p["Properties"]["Policy"]
    pricing = next(v for k, v in by_service.items() if k.startswith("Meshpricing"))
    (stmt,) = pricing["Statement"]
    assert stmt["Effect"] == "Allow" and stmt["Action"] == "vpc-lattice-svcs:Invoke"
    assert [p["Fn::GetAtt"][0] for p in stmt["Principal"]["AWS"]] == [
        next(k for k in templates["lattice"]["Resources"] if k.startswith("TaskRolecatalog"))]
    assert stmt["Resource"]["Fn::Join"][1][1] == "/pricing/v1/*"
    # catalog is called by no AWS service (web-app is on App Engine): nobody may call it through Lattice
    catalog = next(v for k, v in by_service.items() if k.startswith("Meshcatalog"))
    assert catalog["Statement"] == [{"Sid": "NoDeclaredConsumers", "Effect": "Deny", "Principal": "*",
                                     "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]


def test_lattice_registers_each_ecs_version_in_its_target_group(templates):
    services = _of_type(templates["lattice"], "AWS::ECS::Service")
    names = sorted(s["Properties"]["ServiceName"] for s in services.values())
    assert names == ["catalog-c-2026-11", "erp-connector-e-7", "pricing-p-41", "pricing-p-42"]  # EKS: no ECS service
    for s in services.values():
        (cfg,) = s["Properties"]["VpcLatticeConfigurations"]
        assert cfg["PortName"] == "app"
        assert cfg["TargetGroupArn"]["Fn::GetAtt"][1] == "Arn"


def test_lattice_keeps_observability(lattice):
    lattice.has_resource_properties("AWS::ECS::Cluster", {"ClusterSettings": [
        {"Name": "containerInsights", "Value": "enhanced"}]})
    lattice.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/meshspec/shop/pricing",
                                                            "RetentionInDays": 30})
    lattice.resource_count_is("AWS::Logs::QueryDefinition", 4)
    lattice.has_resource_properties("AWS::VpcLattice::AccessLogSubscription", Match.any_value())
    lattice.has_resource_properties("AWS::ECS::TaskDefinition", {"ContainerDefinitions": Match.array_with([
        Match.object_like({"Name": "xray-daemon"})])})


# -- service-connect ---------------------------------------------------------------------------------------
def test_service_connect_runs_one_ecs_service_per_service_named_without_its_version(templates):
    services = _of_type(templates["service-connect"], "AWS::ECS::Service")
    assert sorted(s["Properties"]["ServiceName"] for s in services.values()) == [
        "catalog", "erp-connector", "pricing", "recommendations"]
    assert not _of_type(templates["service-connect"], "AWS::AppMesh::Mesh")


def test_service_connect_publishes_each_port_under_the_app_mesh_name(service_connect):
    service_connect.resource_count_is("AWS::ServiceDiscovery::HttpNamespace", 1)
    service_connect.has_resource_properties("AWS::ServiceDiscovery::HttpNamespace",
                                            {"Name": "shop-service-connect"})
    service_connect.has_resource_properties("AWS::ECS::Service", {
        "ServiceName": "pricing",
        "ServiceConnectConfiguration": Match.object_like({"Enabled": True, "Services": [{
            "PortName": "app", "DiscoveryName": "pricing",
            "ClientAliases": [{"DnsName": "pricing.shop.local", "Port": 8080}]}]})})


def test_service_connect_uses_the_ecs_canary_with_bake_time_and_alarm_rollback(service_connect, templates):
    service_connect.has_resource_properties("AWS::ECS::Service", {
        "ServiceName": "pricing",
        "DeploymentController": {"Type": "ECS"},
        "DeploymentConfiguration": Match.object_like({
            "Strategy": "CANARY", "BakeTimeInMinutes": 10,
            "CanaryConfiguration": {"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 10},
            "Alarms": {"AlarmNames": [{"Ref": Match.string_like_regexp("^MeshpricingRollback5xx")}],
                       "Enable": True, "Rollback": True},
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}})})
    service_connect.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "pricing-service-connect-5xx", "Namespace": "AWS/ECS",
        "MetricName": "HTTPCode_Target_5XX_Count",
        "Dimensions": Match.array_with([{"Name": "DiscoveryName", "Value": "pricing"},
                                        {"Name": "ServiceName", "Value": "pricing"}])})


# -- both --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", sorted(SPECS))
def test_snapshot(backend, templates, snapshot):
    assert templates[backend] == snapshot


def test_secrets_are_references_injected_by_ecs(templates):
    for t in templates.values():
        for task in _of_type(t, "AWS::ECS::TaskDefinition").values():
            for c in task["Properties"]["ContainerDefinitions"]:
                names = {e["Name"] for e in c.get("Environment", [])}
                assert not names & {"DB_PASSWORD", "ERP_API_KEY"}
        secrets = [s for task in _of_type(t, "AWS::ECS::TaskDefinition").values()
                   for c in task["Properties"]["ContainerDefinitions"] for s in c.get("Secrets", [])]
        assert {"Name": "DB_PASSWORD", "ValueFrom":
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/catalog/db-AbCdEf"} in secrets


def test_cfn_lint_reports_no_errors(templates, tmp_path):
    files = []
    for backend, t in templates.items():
        f = tmp_path / f"{backend}.template.json"
        f.write_text(json.dumps(t))
        files.append(str(f))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run([str(cfn_lint), "--format", "parseable", *files], capture_output=True, text=True,
                          timeout=300)
    # cfn-lint exits with a bit mask: 2 errors, 4 warnings, 8 informational; 1 is a crash
    assert proc.returncode & 3 == 0, proc.stdout + proc.stderr
    rules = {line.split(":")[5] for line in proc.stdout.splitlines() if line.count(":") >= 6}
    # only the spec's fixed availability zones (W3010: synth needs no credentials) are left, as warnings
    assert rules == {"W3010"}, proc.stdout
