"""The shop on ECS Service Connect and on VPC Lattice through meshspec's own app (meshspec.stacks.app.build: the stacks pick
the backend through the MeshBackend interface). Synthesized once per module and backend with cdk-nag's
AwsSolutions pack as a validation plugin (an unacknowledged finding fails the synth); then Template assertions,
snapshots and cfn-lint over every template."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from meshspec.infra.spec import load_spec_or_raise
from meshspec.infra.spec.model import Spec
from meshspec.stacks.app import build, new_app, synthesize

from meshspec.infra.testing import scrub
from .conftest import EXAMPLES, TODAY
from .test_cdk_lint import KEPT_WARNINGS  # one list of the cfn-lint warnings kept, each with its reason

SPECS = {"lattice": EXAMPLES / "shop-lattice.yaml", "service-connect": EXAMPLES / "shop-service-connect.yaml"}


def migrating_to_lattice() -> Spec:
    """The shop (App Mesh) migrating to Lattice, after its first move step: Lattice runs in the same tasks, catalog
    calls through Lattice (moved), pricing still through App Mesh (not moved): both cases in one synth."""
    from .test_migrate import load, shop_data

    doc = shop_data()
    doc["aws"]["mesh"]["migration"] = {"to": "lattice", "moved": ["catalog"]}
    return load(doc)


def migrating_to_service_connect() -> Spec:
    """The shop (recommendations on ECS) after the plan's steps up to moving catalog to Service Connect."""
    from meshspec.infra.migrate import apply_edits, plan_migration
    from .test_migrate import load, shop_data

    doc = shop_data()
    doc["services"]["recommendations"]["cluster"] = "core"  # Service Connect joins ECS services only
    plan = plan_migration(load(doc), "service-connect")
    assert [s.id for s in plan.steps[:3]] == ["prepare", "beside", "move-catalog"]
    for step in plan.steps[:3]:
        doc = apply_edits(doc, list(step.edits))
    return load(doc)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """backend → stack name → template ("beside": App Mesh with Lattice coming in, "beside-sc": with Service
    Connect coming in)."""
    out = {}
    specs = {b: load_spec_or_raise(p, today=TODAY) for b, p in SPECS.items()} | {
        "beside": migrating_to_lattice(), "beside-sc": migrating_to_service_connect()}
    for backend, spec in specs.items():
        app = new_app(str(tmp_path_factory.mktemp(backend)), validation=False)
        built = build(spec, app)
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
        out[backend] = synthesize(built).stacks  # raises on any cdk-nag finding not acknowledged with a reason
    return out


def merged(synthesized, backend: str) -> dict:
    """All stacks' resources of one backend in one template, for assertions that do not care where."""
    resources = {}
    for name, t in synthesized[backend].items():
        resources.update({f"{name}/{k}": v for k, v in t.get("Resources", {}).items()})
    return {"Resources": resources}


@pytest.fixture(scope="module")
def lattice(synthesized) -> Template:
    return Template.from_json(merged(synthesized, "lattice"))


@pytest.fixture(scope="module")
def service_connect(synthesized) -> Template:
    return Template.from_json(merged(synthesized, "service-connect"))


def _of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# -- lattice -----------------------------------------------------------------------------------------------
def test_lattice_network_lives_in_the_shared_stack_and_no_app_mesh_is_built(synthesized, lattice):
    shared = Template.from_json(synthesized["lattice"]["shop-shared"])
    shared.has_resource_properties("AWS::VpcLattice::ServiceNetwork", {"Name": "shop-mesh", "AuthType": "AWS_IAM"})
    shared.resource_count_is("AWS::VpcLattice::ServiceNetworkVpcAssociation", 1)
    shared.has_resource_properties("AWS::EC2::SecurityGroup", {"SecurityGroupIngress": Match.array_with([
        Match.object_like({"CidrIp": "10.0.0.0/16", "FromPort": 443})])})
    lattice.resource_count_is("AWS::AppMesh::Mesh", 0)
    lattice.resource_count_is("AWS::AppMesh::VirtualNode", 0)


def test_lattice_has_one_service_per_aws_service_and_one_target_group_per_version(synthesized):
    t = merged(synthesized, "lattice")
    names = sorted(r["Properties"]["Name"] for r in _of_type(t, "AWS::VpcLattice::Service").values())
    assert names == ["shop-catalog", "shop-erp-connector", "shop-pricing", "shop-recommendations"]
    tgs = sorted(r["Properties"]["Name"] for r in _of_type(t, "AWS::VpcLattice::TargetGroup").values())
    assert tgs == ["shop-catalog-c-2026-11", "shop-erp-connector-e-7", "shop-pricing-p-41", "shop-pricing-p-42",
                   "shop-recommendations-r-3"]


def test_lattice_eks_service_gets_an_ip_target_group_for_its_pods(lattice):
    lattice.has_resource_properties("AWS::VpcLattice::TargetGroup", {
        "Name": "shop-recommendations-r-3", "Type": "IP",
        "Config": Match.object_like({"Port": 8080, "ProtocolVersion": "GRPC",
                                     "HealthCheck": Match.object_like({"Path": "/healthz"})})})


def test_lattice_rule_weights_follow_the_spec(lattice, synthesized):
    lattice.has_resource_properties("AWS::VpcLattice::Rule", {
        "Name": "pricing-v1", "Priority": 5,  # after its A/B test's four cohort rules (tests/test_cohorts_synth.py)
        "Match": {"HttpMatch": {"PathMatch": {"CaseSensitive": True, "Match": {"Prefix": "/pricing/v1/"}}}},
        "Action": {"Forward": {"TargetGroups": [Match.object_like({"Weight": 90}), Match.object_like({"Weight": 10})]}},
    })
    # one live major each, and pricing's A/B test: two header cohorts and a sticky rule per version taking traffic
    assert len(_of_type(merged(synthesized, "lattice"), "AWS::VpcLattice::Rule")) == 4 + 4


def test_lattice_grpc_gets_an_https_listener_and_http_an_http_one(lattice):
    lattice.has_resource_properties("AWS::VpcLattice::Listener", {"Name": "recommendations-http", "Protocol": "HTTPS",
                                                                  "Port": 443})
    lattice.has_resource_properties("AWS::VpcLattice::Listener", {
        "Name": "catalog-http", "Protocol": "HTTP", "Port": 80, "DefaultAction": {"FixedResponse": {"StatusCode": 404}}})


def test_lattice_auth_policy_admits_only_declared_callers(synthesized):
    policies = {k.split("/")[1]: v["Properties"]["Policy"]
                for k, v in _of_type(merged(synthesized, "lattice"), "AWS::VpcLattice::AuthPolicy").items()}
    pricing = next(v for k, v in policies.items() if k.startswith("pricingMesh"))
    (stmt,) = pricing["Statement"]
    assert stmt["Effect"] == "Allow" and stmt["Action"] == "vpc-lattice-svcs:Invoke"
    assert stmt["Condition"] == {"StringEquals": {"aws:PrincipalTag/meshspec:service": ["catalog"]}}
    assert stmt["Resource"]["Fn::Join"][1][1] == "/pricing/v1/*"
    # catalog is called by no AWS service (web-app runs on App Engine): nobody may call it through Lattice
    catalog = next(v for k, v in policies.items() if k.startswith("catalogMesh"))
    assert catalog["Statement"] == [{"Sid": "NoDeclaredConsumers", "Effect": "Deny", "Principal": "*",
                                     "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]


def test_lattice_registers_each_ecs_version_and_tags_its_identity(synthesized, lattice):
    services = _of_type(merged(synthesized, "lattice"), "AWS::ECS::Service")
    assert sorted(s["Properties"]["ServiceName"] for s in services.values()) == [
        "catalog-c-2026-11", "erp-connector-e-7", "pricing-p-41", "pricing-p-42"]
    for s in services.values():
        (cfg,) = s["Properties"]["VpcLatticeConfigurations"]
        assert cfg["PortName"] == "app" and cfg["TargetGroupArn"]["Fn::GetAtt"][1] == "Arn"
    lattice.has_resource_properties("AWS::IAM::Role", {"Tags": [{"Key": "meshspec:service", "Value": "catalog"}]})


def test_lattice_eks_pods_are_reachable_registered_and_identified(synthesized, lattice):
    # THEN Lattice's link-local range reaches the pods on the cluster security group (Auto Mode nodes use it)
    Template.from_json(synthesized["lattice"]["shop-ml"]).has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "CidrIp": "169.254.171.0/24", "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
        "GroupId": {"Fn::GetAtt": [Match.any_value(), "ClusterSecurityGroupId"]}})
    # and the pod role registers in its own target group only and carries the caller identity, as ECS task roles
    svc = Template.from_json(synthesized["lattice"]["shop-svc-recommendations"])
    svc.has_resource_properties("AWS::IAM::Role", {"Description": "pods of recommendations",
                                                   "Tags": [{"Key": "meshspec:service", "Value": "recommendations"}]})
    svc.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([{
        "Action": ["vpc-lattice:RegisterTargets", "vpc-lattice:DeregisterTargets", "vpc-lattice:ListTargets"],
        "Effect": "Allow", "Resource": {"Fn::GetAtt": [Match.string_like_regexp("^recommendationsMeshTargetGroupr3"),
                                                       "Arn"]}}])}})


def test_beside_eks_pods_register_in_cloud_map_and_lattice(tmp_path):
    # GIVEN the shop in its migration's beside step / WHEN synthesized / THEN the EKS pods' one registrar
    # registers in the App Mesh Cloud Map service and the Lattice target group
    app = new_app(str(tmp_path), validation=False)
    built = build(migrating_to_lattice(), app)
    (workload,) = [w for stack in built.services.values() for w in stack.workloads]
    (dep,) = [m for m in workload.manifests if m["kind"] == "Deployment"]
    (registrar,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == "mesh-registrar"]
    env = {e["name"]: e.get("value") for e in registrar["env"]}
    assert env["MESHSPEC_CLOUDMAP_SERVICE"] == "recommendations-r-3"
    assert env["MESHSPEC_LATTICE_TARGET_GROUP"] == "shop-recommendations-r-3"


def test_observability_is_the_same_on_every_backend(lattice, service_connect):
    for t in (lattice, service_connect):
        t.has_resource_properties("AWS::ECS::Cluster", {"ClusterSettings": [
            {"Name": "containerInsights", "Value": "enhanced"}]})
        t.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/meshspec/shop/pricing"})
        t.has_resource_properties("AWS::Logs::QueryDefinition", Match.any_value())
        t.has_resource_properties("AWS::ECS::TaskDefinition", {"ContainerDefinitions": Match.array_with([
            Match.object_like({"Name": "cloudwatch-agent"}), Match.object_like({"Name": "adot-init"})])})
        assert not t.find_resources("AWS::ECS::TaskDefinition", {"Properties": {"ContainerDefinitions": Match.array_with([
            Match.object_like({"Name": "xray-daemon"})])}})
        t.has_resource_properties("AWS::ApplicationSignals::ServiceLevelObjective", {"Name": "shop-pricing-availability"})
        t.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmName": "shop-pricing-availability-burn-fast"})
        t.has_resource_properties("AWS::CloudWatch::Dashboard", Match.any_value())


def test_the_lattice_dashboard_graphs_each_versions_target_group(synthesized):
    # GIVEN the shop on Lattice: pricing's dashboard and its target groups, in its service stack
    t = synthesized["lattice"]["shop-svc-pricing"]["Resources"]
    groups = {r["Properties"]["Name"]: lid for lid, r in t.items() if r["Type"] == "AWS::VpcLattice::TargetGroup"}
    (body,) = [r["Properties"]["DashboardBody"] for r in t.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    parts = body["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)
    # THEN every graph searches Lattice's per-target-group series, by each version's target group id
    assert "meshspec/Envoy" not in text
    for metric in ("TotalRequestCount", "HTTPCode_5XX_Count", "RequestTime"):
        assert f"SEARCH('{{AWS/VpcLattice,TargetGroup}} MetricName=\\\"{metric}\\\"" in text
    refs = [p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p]
    assert set(refs) == set(groups.values()) and len(groups) == 2


def test_lattice_access_logs_land_in_one_vended_log_group_with_queries_per_service(synthesized):
    # GIVEN the shop on Lattice
    shared = Template.from_json(synthesized["lattice"]["shop-shared"])
    # THEN the service network logs every request to one group under /aws/vendedlogs/ (one wildcard in the
    # delivery policy, however many services)
    shared.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/aws/vendedlogs/meshspec/shop/lattice"})
    (group_id,) = [k for k, v in shared.find_resources("AWS::Logs::LogGroup").items()
                   if v["Properties"].get("LogGroupName") == "/aws/vendedlogs/meshspec/shop/lattice"]
    shared.has_resource_properties("AWS::VpcLattice::AccessLogSubscription", {
        "DestinationArn": {"Fn::GetAtt": [group_id, "Arn"]},
        "ResourceIdentifier": {"Fn::GetAtt": [Match.string_like_regexp("LatticeNetwork"), "Arn"]}})
    # AND each service has 5xx and latency queries over it, selecting its own Lattice service by ARN
    pricing = synthesized["lattice"]["shop-svc-pricing"]["Resources"]
    queries = {r["Properties"]["Name"]: r["Properties"] for r in pricing.values()
               if r["Type"] == "AWS::Logs::QueryDefinition" and "lattice" in r["Properties"]["Name"]}
    assert sorted(queries) == ["shop/pricing/lattice-errors-by-version", "shop/pricing/lattice-p99-latency-by-version"]
    (svc_id,) = [k for k, r in pricing.items() if r["Type"] == "AWS::VpcLattice::Service"]
    for q in queries.values():
        assert q["LogGroupNames"] == ["/aws/vendedlogs/meshspec/shop/lattice"]
        parts = q["QueryString"]["Fn::Join"][1]
        assert {"Fn::GetAtt": [svc_id, "Arn"]} in parts and 'filter serviceArn = "' in "".join(
            p for p in parts if isinstance(p, str))


def test_the_service_connect_dashboard_graphs_what_its_proxy_publishes(synthesized):
    # GIVEN the shop on Service Connect: pricing's dashboard
    t = synthesized["service-connect"]["shop-svc-pricing"]["Resources"]
    (body,) = [r["Properties"]["DashboardBody"] for r in t.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    text = "".join(p if isinstance(p, str) else json.dumps(p) for p in body["Fn::Join"][1])
    # THEN the graphs read AWS/ECS by cluster, ECS service and discovery name: the service's proxy metrics
    assert "meshspec/Envoy" not in text
    for metric in ("RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime"):
        assert f'["AWS/ECS","{metric}","ClusterName",' in text
    assert '"DiscoveryName","pricing","ServiceName","pricing"' in text


def test_the_app_mesh_dashboard_during_a_migration_keeps_envoys_series(synthesized):
    t = synthesized["beside"]["shop-svc-pricing"]["Resources"]
    (body,) = [r["Properties"]["DashboardBody"] for r in t.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    text = json.dumps(body)
    assert "meshspec/Envoy/v1" in text and "AWS/VpcLattice" not in text


# -- service-connect ---------------------------------------------------------------------------------------
def test_service_connect_runs_one_ecs_service_per_service_named_without_its_version(synthesized, service_connect):
    services = _of_type(merged(synthesized, "service-connect"), "AWS::ECS::Service")
    assert sorted(s["Properties"]["ServiceName"] for s in services.values()) == [
        "catalog", "erp-connector", "pricing", "recommendations"]
    assert all("CurrentService" in k.split("/")[1] for k in services)  # construct id without the version
    service_connect.resource_count_is("AWS::AppMesh::Mesh", 0)


def test_service_connect_publishes_each_port_under_the_app_mesh_name(synthesized, service_connect):
    Template.from_json(synthesized["service-connect"]["shop-shared"]).has_resource_properties(
        "AWS::ServiceDiscovery::HttpNamespace", {"Name": "shop-service-connect"})
    service_connect.has_resource_properties("AWS::ECS::Service", {
        "ServiceName": "pricing",
        "ServiceConnectConfiguration": Match.object_like({"Enabled": True, "Services": [{
            "PortName": "app", "DiscoveryName": "pricing",
            "ClientAliases": [{"DnsName": "pricing.shop.local", "Port": 8080}]}]})})


def test_service_connect_uses_the_ecs_canary_with_bake_time_and_alarm_rollback(service_connect):
    service_connect.has_resource_properties("AWS::ECS::Service", {
        "ServiceName": "pricing",
        "DeploymentController": {"Type": "ECS"},
        "DeploymentConfiguration": Match.object_like({
            "Strategy": "CANARY", "BakeTimeInMinutes": 10,
            "CanaryConfiguration": {"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 10},
            "Alarms": {"AlarmNames": [{"Ref": Match.string_like_regexp("^pricingMeshRollback5xx")}],
                       "Enable": True, "Rollback": True},
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}})})
    service_connect.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "pricing-service-connect-5xx", "Namespace": "AWS/ECS",
        "MetricName": "HTTPCode_Target_5XX_Count",
        "Dimensions": Match.array_with([{"Name": "DiscoveryName", "Value": "pricing"},
                                        {"Name": "ServiceName", "Value": "pricing"}])})


# -- both --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", sorted(SPECS))
def test_snapshot(backend, synthesized, snapshot):  # the two successors; "beside" is asserted above
    assert scrub(synthesized[backend]) == snapshot


def test_secrets_are_references_injected_by_ecs(synthesized):
    for backend in SPECS:
        tasks = _of_type(merged(synthesized, backend), "AWS::ECS::TaskDefinition").values()
        containers = [c for t in tasks for c in t["Properties"]["ContainerDefinitions"]]
        assert not {e["Name"] for c in containers for e in c.get("Environment", [])} & {"DB_PASSWORD", "ERP_API_KEY"}
        assert {"Name": "DB_PASSWORD", "ValueFrom":
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/catalog/db-AbCdEf"} in [
            s for c in containers for s in c.get("Secrets", [])]


def test_cfn_lint_reports_no_errors(synthesized, tmp_path):
    files = []
    for backend, stacks in synthesized.items():
        for name, t in stacks.items():
            f = tmp_path / f"{backend}-{name}.template.json"
            f.write_text(json.dumps(t))
            files.append(str(f))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run([str(cfn_lint), "--format", "parseable", *files], capture_output=True, text=True,
                          timeout=600)
    # cfn-lint exits with a bit mask: 2 errors, 4 warnings, 8 informational; 1 is a crash
    assert proc.returncode & 3 == 0, proc.stdout + proc.stderr
    for line in proc.stdout.splitlines():
        if line.count(":") >= 6:
            rule = line.split(":")[5]
            assert rule in KEPT_WARNINGS, line  # W3696: App Mesh only where it still runs (the beside step)
            assert rule != "W3696" or "/beside-" in line, line


def test_beside_step_runs_lattice_in_the_app_mesh_tasks(synthesized):
    shared = Template.from_json(synthesized["beside"]["shop-shared"])
    shared.resource_count_is("AWS::AppMesh::Mesh", 1)
    shared.has_resource_properties("AWS::VpcLattice::ServiceNetwork", {"Name": "shop-mesh"})
    t = Template.from_json(merged(synthesized, "beside"))
    t.has_resource_properties("AWS::AppMesh::Route", {"RouteName": "pricing-v1"})  # callers still use App Mesh
    t.has_resource_properties("AWS::VpcLattice::Rule", {"Name": "pricing-v1", "Action": {"Forward": {
        "TargetGroups": [Match.object_like({"Weight": 90}), Match.object_like({"Weight": 10})]}}})
    services = _of_type(merged(synthesized, "beside"), "AWS::ECS::Service")
    assert len(services) == 4 and all(s["Properties"].get("VpcLatticeConfigurations") for s in services.values())
    t.has_resource_properties("AWS::ECS::TaskDefinition", {"ContainerDefinitions": Match.array_with([
        Match.object_like({"Name": "envoy"})])})


def test_plan_shows_lattice_rule_weights_and_no_routes_on_service_connect(synthesized):
    from meshspec.infra.aws.plan import plan

    lattice_routes = {r.route: (r.prefix, r.weights) for r in plan(synthesized["lattice"]).routes}
    assert lattice_routes["pricing-v1"] == ("/pricing/v1/", {"shop-pricing-p-41": 90, "shop-pricing-p-42": 10})
    assert plan(synthesized["service-connect"]).routes == []


def test_lattice_grpc_majors_match_a_header_not_the_path(lattice):
    # gRPC puts the method in the path: one major takes every gRPC request, as App Mesh's route does
    lattice.has_resource_properties("AWS::VpcLattice::Rule", {"Name": "recommendations-v1", "Match": {"HttpMatch": {
        "HeaderMatches": [{"Name": "content-type", "CaseSensitive": False,
                           "Match": {"Prefix": "application/grpc"}}]}}})


# -- the migration's move steps ------------------------------------------------------------------------------
def _task(synthesized, backend: str, family: str) -> dict:
    tasks = _of_type(merged(synthesized, backend), "AWS::ECS::TaskDefinition").values()
    return next(t["Properties"] for t in tasks if t["Properties"]["Family"] == family)


def _app_env(task: dict) -> dict[str, str]:
    app = next(c for c in task["ContainerDefinitions"] if c["Name"] == "app")
    return {e["Name"]: e["Value"] for e in app.get("Environment", [])}


def _egress_ignored(task: dict) -> list[str]:
    props = {p["Name"]: p["Value"] for p in task["ProxyConfiguration"]["ProxyConfigurationProperties"]}
    return props["EgressIgnoredIPs"].split(",")


def test_moved_caller_calls_the_lattice_names_and_its_envoy_lets_them_out(synthesized):
    # GIVEN the shop migrating to Lattice with catalog in migration.moved
    task = _task(synthesized, "beside", "catalog-c-2026-11")
    # THEN catalog reads Lattice's literal names, and its Envoy no longer intercepts Lattice's link-local range
    env = _app_env(task)
    assert env["MESHSPEC_UPSTREAM_PRICING"] == "http://pricing.shop.lattice.internal:80"
    assert env["MESHSPEC_UPSTREAM_RECOMMENDATIONS"] == "https://recommendations.shop.lattice.internal:443"
    assert _egress_ignored(task) == ["169.254.170.2", "169.254.169.254", "169.254.171.0/24"]
    assert any(c["Name"] == "envoy" for c in task["ContainerDefinitions"])  # callers of catalog still use App Mesh


def test_caller_not_moved_keeps_app_mesh_names_and_its_envoy_intercepts_everything(synthesized):
    task = _task(synthesized, "beside", "pricing-p-41")
    assert _app_env(task)["MESHSPEC_UPSTREAM_ERP_CONNECTOR"] == "http://erp-connector.shop.local:9000"
    assert _egress_ignored(task) == ["169.254.170.2", "169.254.169.254"]


def test_every_backend_tells_callers_where_their_dependencies_answer(synthesized):
    assert _app_env(_task(synthesized, "lattice", "pricing-p-41"))["MESHSPEC_UPSTREAM_ERP_CONNECTOR"] == \
        "https://erp-connector.shop.lattice.internal:443"  # http2: Lattice's HTTPS listener
    assert _app_env(_task(synthesized, "service-connect", "pricing"))["MESHSPEC_UPSTREAM_ERP_CONNECTOR"] == \
        "http://erp-connector.shop.local:9000"  # Service Connect publishes App Mesh's names
    # a service that uses no AWS service gets no variable (user-service runs on App Engine)
    assert not [k for k in _app_env(_task(synthesized, "beside", "erp-connector-e-7")) if "UPSTREAM" in k]


@pytest.mark.parametrize("backend", ["lattice", "beside"])
def test_lattice_custom_names_resolve_in_the_shared_private_zone(synthesized, backend):
    shared = Template.from_json(synthesized[backend]["shop-shared"])
    shared.has_resource_properties("AWS::Route53::HostedZone", {
        "Name": "shop.lattice.internal.", "VPCs": [Match.object_like({"VPCId": {"Ref": Match.any_value()}})]})
    t = merged(synthesized, backend)
    domains = sorted(r["Properties"].get("CustomDomainName", "") for r in _of_type(t, "AWS::VpcLattice::Service").values())
    assert domains == [f"{s}.shop.lattice.internal" for s in ("catalog", "erp-connector", "pricing", "recommendations")]
    records = {r["Properties"]["Name"]: r["Properties"] for r in _of_type(t, "AWS::Route53::RecordSet").values()}
    pricing = records["pricing.shop.lattice.internal."]
    assert pricing["Type"] == "CNAME" and pricing["HostedZoneId"]["Fn::ImportValue"].startswith("shop-shared:")
    assert pricing["ResourceRecords"][0]["Fn::GetAtt"][1] == "DnsEntry.DomainName"
    assert len(records) == 4


def test_lattice_reaches_the_targets_and_callers_reach_lattice(synthesized):
    groups = _of_type(merged(synthesized, "beside"), "AWS::EC2::SecurityGroup").values()
    ingress = [r for g in groups for r in g["Properties"].get("SecurityGroupIngress", [])]
    rules = _of_type(merged(synthesized, "beside"), "AWS::EC2::SecurityGroupIngress").values()
    ingress += [r["Properties"] for r in rules]
    # targets admit Lattice's requests and health checks, which come from its link-local range
    assert {(r["CidrIp"], r["FromPort"]) for r in ingress if r.get("CidrIp") == "169.254.171.0/24"} == {
        ("169.254.171.0/24", 8080), ("169.254.171.0/24", 9000)}
    # every task may call out, so a moved caller reaches Lattice's link-local range (its managed prefix list)
    task_groups = [g["Properties"] for g in groups if g["Properties"]["GroupDescription"].endswith("/Service/SecurityGroup")]
    assert len(task_groups) == 4
    assert all(g["SecurityGroupEgress"] == [{"CidrIp": "0.0.0.0/0", "Description": "Allow all outbound traffic by default",
                                             "IpProtocol": "-1"}] for g in task_groups)


def _ecs_services(synthesized, backend: str) -> dict[str, tuple[str, dict]]:
    """ECS service name → (stack/logical id, properties)."""
    return {r["Properties"]["ServiceName"]: (k, r["Properties"])
            for k, r in _of_type(merged(synthesized, backend), "AWS::ECS::Service").items()}


def test_service_connect_beside_runs_each_ecs_service_twice(synthesized):
    # GIVEN the shop migrating to Service Connect with catalog moved
    services = _ecs_services(synthesized, "beside-sc")
    # THEN each service runs on App Mesh (per version) and as <service> on Service Connect (the traffic version)
    assert sorted(services) == ["catalog", "catalog-c-2026-11", "erp-connector", "erp-connector-e-7", "pricing",
                                "pricing-p-41", "pricing-p-42", "recommendations", "recommendations-r-3"]
    twin = services["pricing"][1]
    assert twin["ServiceConnectConfiguration"]["Enabled"] is True
    assert twin["ServiceConnectConfiguration"]["Services"][0]["ClientAliases"] == [
        {"DnsName": "pricing.shop.local", "Port": 8080}]
    assert twin["DeploymentConfiguration"]["Strategy"] == "CANARY"
    assert twin["DeploymentConfiguration"]["Alarms"]["AlarmNames"] == []  # the alarm comes with the retire step
    assert "ServiceRegistries" not in twin  # App Mesh's callers keep reaching only the App Mesh tasks
    task = _task(synthesized, "beside-sc", "pricing")
    assert "ProxyConfiguration" not in task and [c["Name"] for c in task["ContainerDefinitions"]] == [
        "app", "cloudwatch-agent", "adot-init"]
    assert _app_env(task)["MESHSPEC_UPSTREAM_ERP_CONNECTOR"] == "http://erp-connector.shop.local:9000"
    assert next(c for c in _task(synthesized, "beside-sc", "pricing")["ContainerDefinitions"]
                if c["Name"] == "app")["Image"] == "public.ecr.aws/shop/pricing:41"  # the version the prepare step kept


def test_service_connect_moved_service_stops_its_app_mesh_tasks(synthesized):
    services = _ecs_services(synthesized, "beside-sc")
    assert services["catalog-c-2026-11"][1]["DesiredCount"] == 0  # moved: its twin serves everything
    assert services["pricing-p-41"][1]["DesiredCount"] == 2  # not moved yet
    assert services["catalog"][1]["DesiredCount"] == 2


def test_service_connect_twin_is_the_service_that_stays_after_retire(synthesized):
    # the twin's logical id is the Service Connect backend's: the retire step updates it, never replaces it
    beside, after = _ecs_services(synthesized, "beside-sc"), _ecs_services(synthesized, "service-connect")
    for name in ("catalog", "pricing", "erp-connector"):
        assert beside[name][0] == after[name][0]
    # no rollback alarm until then: its name is fixed, and CloudFormation would create the new one first
    alarms = _of_type(merged(synthesized, "beside-sc"), "AWS::CloudWatch::Alarm").values()
    assert not [a for a in alarms if a["Properties"].get("AlarmName", "").endswith("-service-connect-5xx")]
