"""constructs_lib's Service Connect and VPC Lattice constructs on their own: props in, resources or a clear error out."""
from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack, aws_ec2 as ec2, aws_ecs as ecs, aws_iam as iam
from aws_cdk.assertions import Match, Template

from meshspec.backends.lattice.constructs.service import (LatticeRoute, LatticeService, LatticeServiceNetwork, policy_json,
                                    render_auth_policy, render_rule_action, validate_routes)
from meshspec.constructs_lib.mesh.base import MajorRoute, MeshServiceProps, PropsError
from meshspec.backends.lattice.constructs.binding import LatticeBackend
from meshspec.backends.service_connect.constructs.binding import ServiceConnectBackend
from meshspec.backends.service_connect.constructs.deployment import (ServiceConnectDeploymentStrategy, ServiceConnectFargateService,
                                            ServiceConnectNamespace)


def route(name="api-v1", prefix="/api/v1/", **weights) -> LatticeRoute:
    return LatticeRoute(name=name, path_prefix=prefix, weights=weights or {"a": 100})


# -- pure helpers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("versions, routes, message", [
    (["a"], [], "a Lattice service needs at least one route (received none)"),
    (["a"], [route(f"r{i}", f"/r{i}/") for i in range(11)],
     "11 routes, but a VPC Lattice listener takes at most 10 rules (adjustable quota)"),
    ([f"v{i}" for i in range(11)], [route(v0=100)], "11 versions, but a forward action takes at most 10 target groups"),
    (["a"], [route(b=100)], "route api-v1 weighs unknown versions ['b']; versions are ['a']"),
    (["a"], [route(prefix="api/")], "route api-v1: path prefix 'api/' must start with / and have at most 200"),
    (["a"], [route(a=1000)], "route api-v1: weights must be 0 to 999, received {'a': 1000}"),
    (["a"], [route(a=0)], "route api-v1: at least one version needs a weight above 0"),
])
def test_validate_routes_fails_with_a_message(versions, routes, message):
    with pytest.raises(PropsError) as exc:
        validate_routes(versions, routes)
    assert str(exc.value).startswith(message)


def test_rule_action_keeps_idle_versions_at_weight_zero():
    action = render_rule_action(route(a=100), {"a": "tg-a", "b": "tg-b"})
    assert action == {"forward": {"targetGroups": [{"targetGroupIdentifier": "tg-a", "weight": 100},
                                                   {"targetGroupIdentifier": "tg-b", "weight": 0}]}}


def test_auth_policy_names_callers_per_path_and_denies_when_nobody_is_declared():
    routes = [route("api-v1", "/api/v1/"), route("api-v2", "/api/v2/")]
    policy = render_auth_policy("arn:svc", routes, {"api-v1": ["web", "cart", "web"], "api-v2": []})
    assert policy["Statement"] == [{"Sid": "ApiV1", "Effect": "Allow", "Principal": "*",
                                    "Action": "vpc-lattice-svcs:Invoke", "Resource": "arn:svc/api/v1/*",
                                    "Condition": {"StringEquals": {"aws:PrincipalTag/meshspec:service": ["cart", "web"]}}}]
    assert render_auth_policy("arn:svc", routes, {})["Statement"][0]["Effect"] == "Deny"
    assert len(policy_json(policy)) < 10_240


@pytest.mark.parametrize("strategy, message", [
    (ServiceConnectDeploymentStrategy(percent=2.55), "canary percent must be 0.1 to 100 in steps of 0.1, received 2.55"),
    (ServiceConnectDeploymentStrategy(strategy="linear", percent=2), "linear step percent must be 3 to 100, received 2"),
    (ServiceConnectDeploymentStrategy(step_wait=Duration.minutes(1441)), "step_wait must be 0 to 1440 minutes"),
    (ServiceConnectDeploymentStrategy(strategy="linear", percent=3, step_wait=Duration.minutes(60),
                                      bake_time=Duration.minutes(60)),
     "the deployment would take 2040 minutes; CloudFormation refuses more than 1980"),
])
def test_deployment_strategy_fails_with_a_message(strategy, message):
    with pytest.raises(PropsError) as exc:
        strategy.validate()
    assert str(exc.value).startswith(message)


def test_linear_strategy_renders_l2_props():
    props = ServiceConnectDeploymentStrategy(strategy="linear", percent=20,
                                             rollback_alarm_names=["x-5xx"]).service_props()
    assert props["deployment_strategy"] == ecs.DeploymentStrategy.LINEAR
    assert props["linear_configuration"].step_percent == 20
    assert props["deployment_alarms"].alarm_names == ["x-5xx"]
    assert "canary_configuration" not in props


# -- constructs -------------------------------------------------------------------------------------------
@pytest.fixture
def stack():
    app = App()
    s = Stack(app, "T", env={"region": "eu-west-1", "account": "111122223333"})
    s.vpc = ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=0)
    s.cluster = ecs.Cluster(s, "Cluster", vpc=s.vpc)
    return s


def props(weights=None, name_override="pricing", **kw) -> MeshServiceProps:
    weights = weights or {"a": 100, "b": 0}
    return MeshServiceProps(name=name_override, port=8080, versions=tuple(weights), dns_name="pricing.shop.local",
                            majors=(MajorRoute(name="v1", path_prefix="/pricing/v1/", weights=weights),), **kw)


def fargate(stack, version="a", name="pricing", port_name="app"):
    task = ecs.FargateTaskDefinition(stack, f"Task-{version}")
    container = task.add_container("app", image=ecs.ContainerImage.from_registry("img"),
                                   port_mappings=[ecs.PortMapping(container_port=8080, name=port_name)])
    service = ecs.FargateService(stack, f"Service-{version}", cluster=stack.cluster, task_definition=task,
                                 service_name=name)
    return service, container


def test_lattice_service_fails_on_a_name_lattice_refuses(stack):
    network = LatticeServiceNetwork(stack, "Net", name="shop", vpc=stack.vpc)
    with pytest.raises(PropsError, match="VPC Lattice service name 'a--b' is not allowed: 3 to 40 characters"):
        LatticeService(stack, "S", service_network_id=network.network_id, name="a--b", vpc=stack.vpc, port=80,
                       versions=["a"], routes=[route()])
    with pytest.raises(PropsError, match="VPC Lattice service network name 'x' is not allowed: 3 to 63"):
        LatticeServiceNetwork(stack, "Net2", name="x", vpc=stack.vpc)


def test_lattice_service_puts_the_longest_prefix_first_and_allows_late_callers(stack):
    network = LatticeServiceNetwork(stack, "Net", name="shop", vpc=stack.vpc)
    svc = LatticeService(stack, "S", service_network_id=network.network_id, name="web", vpc=stack.vpc, port=80,
                         versions=["a"], routes=[route("root", "/"), route("api", "/api/v1/")])
    svc.allow("api", "cart")
    with pytest.raises(PropsError, match="no route 'nope' on Lattice service web; routes are \\['root', 'api'\\]"):
        svc.allow("nope", "cart")
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::VpcLattice::Rule", {"Name": "api", "Priority": 1})
    t.has_resource_properties("AWS::VpcLattice::Rule", {"Name": "root", "Priority": 2})
    t.has_resource_properties("AWS::VpcLattice::AuthPolicy", {"Policy": {"Version": "2012-10-17", "Statement": [
        Match.object_like({"Sid": "Api", "Effect": "Allow", "Condition": {
            "StringEquals": {"aws:PrincipalTag/meshspec:service": ["cart"]}}})]}})


def test_lattice_binding_needs_a_named_port_and_a_known_major(stack):
    binding = LatticeBackend(service_network_id="sn-0123456789abcdef0", vpc=stack.vpc).add_service(
        stack, "P", props())
    service, container = fargate(stack, port_name=None)
    with pytest.raises(PropsError, match="pricing/a: the container needs a named port mapping for port 8080"):
        binding.bind_ecs_service("a", service, container)
    with pytest.raises(PropsError, match="pricing has no major 'v9' \\(majors: \\['v1'\\]\\)"):
        binding.allow("v9", "cart")
    assert binding.proxy("a") is None and binding.deploys("b")


def test_lattice_binding_registers_tasks_and_tags_the_caller_identity(stack):
    binding = LatticeBackend(service_network_id="sn-0123456789abcdef0", vpc=stack.vpc).add_service(
        stack, "P", props())
    binding.bind_ecs_service("a", *fargate(stack))
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::ECS::Service", {"VpcLatticeConfigurations": [Match.object_like({"PortName": "app"})]})
    t.has_resource_properties("AWS::IAM::Role", {"Tags": [{"Key": "meshspec:service", "Value": "pricing"}]})
    t.resource_count_is("AWS::VpcLattice::TargetGroup", 2)


def test_service_connect_binding_refuses_a_lasting_split(stack):
    backend = ServiceConnectBackend(namespace_arn="arn:ns")
    with pytest.raises(PropsError) as exc:
        backend.add_service(stack, "P", props({"a": 90, "b": 10}))
    assert str(exc.value) == ("pricing: Service Connect runs one revision per service, but ['a', 'b'] take traffic "
                              "(a lasting split needs the lattice backend)")


def test_service_connect_binding_runs_only_the_version_taking_traffic(stack):
    binding = ServiceConnectBackend(namespace_arn="arn:ns").add_service(stack, "P", props())
    assert binding.deploys("a") and not binding.deploys("b")
    service, container = fargate(stack, "b")
    with pytest.raises(PropsError, match="version 'b' takes no traffic; on Service Connect only 'a' runs"):
        binding.bind_ecs_service("b", service, container)


def test_service_connect_binding_needs_a_fixed_ecs_service_name(stack):
    binding = ServiceConnectBackend(namespace_arn="arn:ns").add_service(stack, "P", props())
    task = ecs.FargateTaskDefinition(stack, "Task")
    container = task.add_container("app", image=ecs.ContainerImage.from_registry("img"),
                                   port_mappings=[ecs.PortMapping(container_port=8080, name="app")])
    service = ecs.FargateService(stack, "Svc", cluster=stack.cluster, task_definition=task)
    with pytest.raises(PropsError, match="give the ECS service a fixed name"):
        binding.bind_ecs_service("a", service, container)


def test_service_connect_binding_linear_strategy_lands_on_the_service(stack):
    backend = ServiceConnectBackend(namespace_arn="arn:ns", deployment=ServiceConnectDeploymentStrategy(
        strategy="linear", percent=25, step_wait=Duration.minutes(3), bake_time=Duration.minutes(5)))
    binding = backend.add_service(stack, "P", props())
    binding.bind_ecs_service("a", *fargate(stack))
    Template.from_stack(stack).has_resource_properties("AWS::ECS::Service", {
        "DeploymentController": {"Type": "ECS"},
        "DeploymentConfiguration": Match.object_like({
            "Strategy": "LINEAR", "BakeTimeInMinutes": 5,
            "LinearConfiguration": {"StepPercent": 25, "StepBakeTimeInMinutes": 3}})})


def test_service_connect_fargate_service_uses_the_l2_props(stack):
    task = ecs.FargateTaskDefinition(stack, "Task")
    task.add_container("app", image=ecs.ContainerImage.from_registry("img"),
                       port_mappings=[ecs.PortMapping(container_port=8080, name="pricing")])
    ns = ServiceConnectNamespace(stack, "Ns", name="shop-sc")
    ServiceConnectFargateService(stack, "Pricing", cluster=stack.cluster, task_definition=task, namespace=ns,
                                 service_name="pricing", port_mapping_name="pricing", dns_name="pricing.shop.local",
                                 port=8080)
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::ECS::Service", {
        "ServiceName": "pricing", "DeploymentController": {"Type": "ECS"},
        "DeploymentConfiguration": Match.object_like({
            "Strategy": "CANARY", "CanaryConfiguration": {"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 10},
            "BakeTimeInMinutes": 10, "Alarms": Match.object_like({"Rollback": True})}),
        "ServiceConnectConfiguration": Match.object_like({"Enabled": True})})
    t.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmName": "pricing-service-connect-5xx"})


def test_the_spec_check_estimate_bounds_the_rendered_auth_policy():
    """meshspec.infra.spec.checks estimates the policy without CDK; the estimate must not be below what is rendered."""
    import json as _json

    from meshspec.backends.lattice.rules import auth_policy_estimate
    from meshspec.infra.spec.loader import load_text

    from .conftest import TODAY

    doc = {"apiVersion": "meshspec/v1", "project": "shop",
           "aws": {"region": "eu-west-1", "clusters": [{"name": "core", "platform": "ecs"}],
                   "mesh": {"backend": "lattice"}},
           "services": {"api": {"cluster": "core", "majors": {"v1": {"contract": "a.json"}, "v2": {"contract": "b.json"}},
                                "versions": [{"name": "a", "image": "i", "traffic": 100}]}}}
    for i in range(40):
        doc["services"][f"caller-{i:02d}-" + "y" * 40] = {
            "cluster": "core", "majors": {"v1": {"contract": "c.json"}},
            "versions": [{"name": "c", "image": "i", "traffic": 100}], "uses": ["api/v1", "api/v2"]}
    spec = load_text(_json.dumps(doc), today=TODAY).spec
    callers = [n for n in spec.services if n != "api"]
    routes = [route("api-v1", "/api/v1/"), route("api-v2", "/api/v2/")]
    service_arn = "arn:aws:vpc-lattice:eu-west-1:111122223333:service/svc-0123456789abcdef0"
    rendered = policy_json(render_auth_policy(service_arn, routes, {"api-v1": callers, "api-v2": callers}))
    assert len(rendered) <= auth_policy_estimate("api", spec) < 1.5 * len(rendered)


def test_lattice_custom_domain_name_gets_a_cname_in_the_private_zone(stack):
    from aws_cdk import aws_route53 as route53

    # GIVEN a Lattice service with a literal custom name and a private zone for it
    zone = route53.PrivateHostedZone(stack, "Zone", zone_name="shop.lattice.internal", vpc=stack.vpc)
    network = LatticeServiceNetwork(stack, "Net", name="shop", vpc=stack.vpc)
    LatticeService(stack, "S", service_network_id=network.network_id, name="shop-web", vpc=stack.vpc, port=80,
                   versions=["a"], routes=[route()], custom_domain_name="web.shop.lattice.internal", hosted_zone=zone)
    # THEN Lattice knows the name and the zone maps it to Lattice's generated name (Lattice creates no record)
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::VpcLattice::Service", {"Name": "shop-web",
                                                           "CustomDomainName": "web.shop.lattice.internal"})
    t.has_resource_properties("AWS::Route53::RecordSet", {
        "Name": "web.shop.lattice.internal.", "Type": "CNAME", "HostedZoneId": {"Ref": Match.string_like_regexp("Zone")},
        "ResourceRecords": [{"Fn::GetAtt": [Match.string_like_regexp("^S"), "DnsEntry.DomainName"]}]})


def test_lattice_without_custom_domain_name_has_no_record(stack):
    network = LatticeServiceNetwork(stack, "Net", name="shop", vpc=stack.vpc)
    LatticeService(stack, "S", service_network_id=network.network_id, name="shop-web", vpc=stack.vpc, port=80,
                   versions=["a"], routes=[route()])
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::VpcLattice::Service", {"CustomDomainName": Match.absent()})
    t.resource_count_is("AWS::Route53::RecordSet", 0)


def test_lattice_fails_when_hosted_zone_is_given_without_custom_domain_name(stack):
    from aws_cdk import aws_route53 as route53

    zone = route53.PrivateHostedZone(stack, "Zone", zone_name="shop.lattice.internal", vpc=stack.vpc)
    network = LatticeServiceNetwork(stack, "Net", name="shop", vpc=stack.vpc)
    with pytest.raises(PropsError, match="Lattice service shop-web: hosted_zone is given but custom_domain_name is "
                                         "not"):
        LatticeService(stack, "S", service_network_id=network.network_id, name="shop-web", vpc=stack.vpc, port=80,
                       versions=["a"], routes=[route()], hosted_zone=zone)
    with pytest.raises(PropsError, match="hosted_zone is given but custom_domain_name is not"):
        LatticeBackend(service_network_id="sn-0123456789abcdef0", vpc=stack.vpc, hosted_zone=zone)


def test_lattice_certificate_goes_only_on_services_with_an_https_listener(stack):
    from aws_cdk import aws_route53 as route53

    zone = route53.PrivateHostedZone(stack, "Zone", zone_name="shop.lattice.internal", vpc=stack.vpc)
    cert = "arn:aws:acm:eu-west-1:111122223333:certificate/abc-123"
    backend = LatticeBackend(service_network_id="sn-0123456789abcdef0", vpc=stack.vpc, hosted_zone=zone,
                             custom_domain_name=lambda s: f"{s}.shop.lattice.internal", certificate_arn=cert)
    backend.add_service(stack, "P", props())
    backend.add_service(stack, "G", props(protocol="grpc", name_override="reco"))
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::VpcLattice::Service", {"Name": "pricing", "CertificateArn": Match.absent()})
    t.has_resource_properties("AWS::VpcLattice::Service", {"Name": "reco", "CertificateArn": cert,
                                                           "CustomDomainName": "reco.shop.lattice.internal"})
    with pytest.raises(PropsError, match="certificate_arn is given but custom_domain_name is not"):
        LatticeBackend(service_network_id="sn-0123456789abcdef0", vpc=stack.vpc, certificate_arn=cert)
    network = LatticeServiceNetwork(stack, "Net", name="shop", vpc=stack.vpc)
    with pytest.raises(PropsError, match="Lattice service shop-web: certificate_arn is given but custom_domain_name"):
        LatticeService(stack, "S", service_network_id=network.network_id, name="shop-web", vpc=stack.vpc, port=80,
                       versions=["a"], routes=[route()], certificate_arn=cert)


def test_lattice_binding_admits_lattice_requests_from_its_link_local_range(stack):
    binding = LatticeBackend(service_network_id="sn-0123456789abcdef0", vpc=stack.vpc).add_service(
        stack, "P", props())
    binding.bind_ecs_service("a", *fargate(stack))
    Template.from_stack(stack).has_resource_properties("AWS::EC2::SecurityGroup", {"SecurityGroupIngress": [
        {"CidrIp": "169.254.171.0/24", "Description": "VPC Lattice requests and health checks", "FromPort": 8080,
         "IpProtocol": "tcp", "ToPort": 8080}]})
    assert LatticeBackend.client_cidrs == ("169.254.171.0/24",)


def test_beside_binding_lets_a_moved_caller_reach_the_incoming_backend_past_envoy():
    from meshspec.backends.appmesh.constructs import ENVOY_REDIRECT
    from meshspec.constructs_lib.eks.workload import KubernetesWorkloadProps, WorkloadVersion, render_manifests
    from meshspec.constructs_lib.mesh.base import ProxyRequirements
    from meshspec.constructs_lib.mesh.beside import BesideBinding

    class Fake:
        def __init__(self, proxy):
            self._proxy = proxy

        def proxy(self, version):
            return self._proxy

        def pod_registration(self, version):
            return None

    envoy = ProxyRequirements(image="envoy", environment={}, policy_statements=(), redirect=ENVOY_REDIRECT)
    # GIVEN a caller that has moved: its Envoy must not intercept Lattice's addresses
    moved = BesideBinding(Fake(envoy), Fake(None), proxy_bypass=("169.254.171.0/24",))
    assert moved.proxy("a").egress_ignored_ips == ("169.254.171.0/24",)
    assert BesideBinding(Fake(envoy), Fake(None)).proxy("a").egress_ignored_ips == ()
    # THEN on EKS the proxy init container leaves that range alone too
    docs = render_manifests(KubernetesWorkloadProps(service_name="rec", port=8080, binding=moved,
                                                    versions=(WorkloadVersion("a", "img"),)),
                            {"a": moved.proxy("a")})
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    init_env = {e["name"]: e["value"] for e in pod["initContainers"][0]["env"]}
    assert init_env["APPMESH_EGRESS_IGNORED_IP"] == "169.254.169.254,169.254.170.23,169.254.171.0/24"


def test_beside_binding_refuses_a_second_sidecar_and_binds_both():
    from meshspec.constructs_lib.mesh.base import ProxyRequirements
    from meshspec.constructs_lib.mesh.beside import BesideBinding

    class Fake:
        def __init__(self, proxy):
            self._proxy, self.bound, self.allowed = proxy, [], []

        def proxy(self, version):
            return self._proxy

        def bind_ecs_service(self, version, service, container):
            self.bound.append(version)

        def allow(self, major, caller):
            self.allowed.append((major, caller))

        def deploys(self, version):
            return True

    envoy = ProxyRequirements(image="envoy", environment={}, policy_statements=())
    with pytest.raises(PropsError, match="the incoming backend asks for a sidecar of its own"):
        BesideBinding(Fake(envoy), Fake(envoy)).proxy("a")
    primary, incoming = Fake(envoy), Fake(None)
    beside = BesideBinding(primary, incoming)
    assert beside.proxy("a") is envoy and beside.deploys("a")
    beside.bind_ecs_service("a", None, None)
    beside.allow("v1", "cart")
    assert primary.bound == incoming.bound == ["a"]
    assert primary.allowed == incoming.allowed == [("v1", "cart")]


def test_lattice_grpc_with_several_majors_matches_x_api_major(stack):
    weights = {"a": 100}
    grpc = MeshServiceProps(name="recs", port=8080, versions=("a",), protocol="grpc", dns_name="recs.shop.local",
                            majors=(MajorRoute(name="v1", path_prefix="/recs/v1/", weights=weights),
                                    MajorRoute(name="v2", path_prefix="/recs/v2/", weights=weights)))
    LatticeBackend(service_network_id="sn-0123456789abcdef0", vpc=stack.vpc).add_service(stack, "R", grpc)
    t = Template.from_stack(stack)
    for major in ("v1", "v2"):
        t.has_resource_properties("AWS::VpcLattice::Rule", {"Name": f"recs-{major}", "Match": {"HttpMatch": {
            "HeaderMatches": [{"Name": "x-api-major", "CaseSensitive": False, "Match": {"Exact": major}}]}}})
