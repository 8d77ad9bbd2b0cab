#!/usr/bin/env python3
"""The same app written by hand, as the CDK docs teach: Stack subclasses, L2 constructs, a loop over a config.

It is the yardstick for `meshspec synth` in benchmarks/synth_bench.py: for the services in a services.json
(written by benchmarks/gen_spec.py beside each spec) it declares the resources meshspec generates, stack by
stack (a shared stack, a stack per cluster, a stack per service), without any of meshspec's code.

Run: CDK_OUTDIR=out python benchmarks/handwritten/app.py services.json   (what `cdk synth` runs)
     python benchmarks/handwritten/app.py --empty                         (an empty App: the floor)
"""
from __future__ import annotations

import json
import os
import sys

import aws_cdk as cdk
from aws_cdk import aws_appmesh as appmesh
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

ENVOY_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"
AGENT_IMAGE = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300064.1b1344"
ADOT_IMAGE = "public.ecr.aws/aws-observability/adot-autoinstrumentation-python:v0.9.0"
AGENT_CONFIG = json.dumps({"logs": {"metrics_collected": {"application_signals": {}}},
                           "traces": {"traces_collected": {"application_signals": {}, "xray": {}}}})
OTEL_ENV = {"OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "true", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4316/v1/traces",
            "OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT": "http://localhost:4316/v1/metrics",
            "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "OTEL_PYTHON_DISTRO": "aws_distro",
            "OTEL_PYTHON_CONFIGURATOR": "aws_configurator", "PYTHONPATH": "/otel/opentelemetry/instrumentation/auto_instrumentation:/otel"}
QUERIES = {
    "errors-by-service": "fields @timestamp, service, version, path, response_code\n| filter response_code >= 500"
                         "\n| stats count(*) as errors by service, version\n| sort errors desc",
    "p99-latency-by-version": "filter ispresent(duration)\n| stats pct(duration, 99) as p99_ms by service, version",
    "trace-lookup": "fields @timestamp, service, version, path, trace_id\n| sort @timestamp desc\n| limit 100",
}


class SharedStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, project: str, azs: list[str], **kwargs) -> None:
        self._azs = azs
        super().__init__(scope, id, **kwargs)
        self.vpc = ec2.Vpc(self, "Vpc", availability_zones=azs, nat_gateways=1, subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20)])
        self.vpc.add_flow_log("FlowLog")
        self.namespace = sd.PrivateDnsNamespace(self, "Namespace", name=f"{project}.local", vpc=self.vpc)
        self.mesh = appmesh.Mesh(self, "Mesh", mesh_name=project,
                                 egress_filter=appmesh.MeshFilterType.DROP_ALL)
        from aws_cdk import aws_applicationsignals as appsignals

        appsignals.CfnDiscovery(self, "ApplicationSignals")  # Application Signals, enabled once

    @property
    def availability_zones(self) -> list[str]:
        return self._azs


class EcsClusterStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, vpc: ec2.IVpc, name: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc, cluster_name=name, enable_fargate_capacity_providers=True,
                                   container_insights_v2=ecs.ContainerInsights.ENHANCED)


class EksClusterStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, vpc: ec2.IVpc, name: str, project: str, cluster: str,
                 **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        key = kms.Key(self, "SecretsKey", enable_key_rotation=True)  # envelope encryption of Kubernetes Secrets
        self.cluster = eks.Cluster(self, "Cluster", version=eks.KubernetesVersion.of("1.33"), vpc=vpc,
                                   cluster_name=name, compute=eks.ComputeConfig(node_pools=["system", "general-purpose"]),
                                   secrets_encryption_key=key,
                                   default_capacity_type=eks.DefaultCapacityType.AUTOMODE,
                                   cluster_logging=[eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT])
        role = iam.Role(self, "ObservabilityRole", assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com"))
        role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy"))
        assoc = eks.CfnPodIdentityAssociation(self, "ObservabilityIdentity", cluster_name=self.cluster.cluster_name,
                                              namespace="amazon-cloudwatch", service_account="cloudwatch-agent",
                                              role_arn=role.role_arn)
        eks.Addon(self, "Observability", cluster=self.cluster,
                  addon_name="amazon-cloudwatch-observability").node.add_dependency(assoc)
        eks.Addon(self, "SecretsStore", cluster=self.cluster, addon_name="aws-secrets-store-csi-driver-provider",
                  configuration_values={"secrets-store-csi-driver": {"syncSecret": {"enabled": True}}})
        # Fluent Bit sends each pod's lines to its service's log group, the rest to one group per cluster
        logs.LogGroup(self, "UnroutedLogs", log_group_name=f"/meshspec/{project}/_unrouted/{cluster}",
                      retention=logs.RetentionDays.ONE_WEEK, removal_policy=cdk.RemovalPolicy.DESTROY)
        log_role = iam.Role(self, "PodLogsRole", assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com"))
        log_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            resources=[self.format_arn(service="logs", resource="log-group", resource_name=f"/meshspec/{project}/*",
                                       arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)]))
        eks.CfnPodIdentityAssociation(self, "PodLogsIdentity", cluster_name=self.cluster.cluster_name,
                                      namespace="meshspec-logging", service_account="meshspec-fluent-bit",
                                      role_arn=log_role.role_arn)


class ServiceStack(cdk.Stack):
    """One microservice: logs, mesh wiring, a Fargate service (or pod role on EKS) per code version, dashboard."""

    def __init__(self, scope: Construct, id: str, *, project: str, svc: dict, shared: SharedStack,
                 cluster: cdk.Stack, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        name = svc["name"]
        mesh = appmesh.Mesh.from_mesh_name(self, "Mesh", project)
        log_group = logs.LogGroup(self, "Logs", log_group_name=f"/meshspec/{project}/{name}",
                                  retention=logs.RetentionDays.ONE_MONTH, removal_policy=cdk.RemovalPolicy.RETAIN)
        for qname, text in QUERIES.items():
            logs.QueryDefinition(self, f"Query-{qname}", query_definition_name=f"{project}/{name}/{qname}",
                                 query_string=logs.QueryString(display=text), log_groups=[log_group])
        backends = [appmesh.Backend.virtual_service(appmesh.VirtualService.from_virtual_service_attributes(
            self, f"Backend-{u}", mesh=mesh, virtual_service_name=f"{u}.{project}.local")) for u in svc["uses"]]
        nodes = {}
        for v in svc["versions"]:
            discovery = sd.Service(self, f"Discovery-{v['name']}", namespace=shared.namespace,
                                   name=f"{name}-{v['name']}", dns_record_type=sd.DnsRecordType.A,
                                   custom_health_check=sd.HealthCheckCustomConfig(failure_threshold=1))
            nodes[v["name"]] = node = appmesh.VirtualNode(
                self, f"Node-{v['name']}", mesh=mesh, virtual_node_name=f"{name}-{v['name']}",
                service_discovery=appmesh.ServiceDiscovery.cloud_map(discovery),
                listeners=[appmesh.VirtualNodeListener.http(
                    port=svc["port"], health_check=appmesh.HealthCheck.http(path="/healthz"))],
                backends=backends, access_log=appmesh.AccessLog.from_file_path("/dev/stdout"))
            if svc["platform"] == "ecs":
                self.fargate_version(project, svc, v, cluster, log_group, node, discovery)
        router = appmesh.VirtualRouter(self, "Router", mesh=mesh, virtual_router_name=f"{name}-router",
                                       listeners=[appmesh.VirtualRouterListener.http(svc["port"])])
        for priority, major in enumerate(svc["majors"]):
            router.add_route(f"Route-{major['name']}", route_name=f"{name}-{major['name']}",
                             route_spec=appmesh.RouteSpec.http(
                                 match=appmesh.HttpRouteMatch(path=appmesh.HttpRoutePathMatch.starts_with(major["path"])),
                                 weighted_targets=[appmesh.WeightedTarget(virtual_node=nodes[v["name"]], weight=v["traffic"])
                                                   for v in svc["versions"]], priority=priority))
        appmesh.VirtualService(self, "VirtualService", virtual_service_name=f"{name}.{project}.local",
                               virtual_service_provider=appmesh.VirtualServiceProvider.virtual_router(router))
        # the virtual service's name must resolve so Envoy can intercept the call: a placeholder record
        dns = sd.Service(self, "VirtualServiceDns", namespace=shared.namespace, name=name,
                         dns_record_type=sd.DnsRecordType.A)
        dns.register_ip_instance("Placeholder", ipv4="10.10.10.10", port=80)
        if svc["platform"] == "eks":
            role = iam.Role(self, "PodRole", assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com"))
            role.add_to_policy(iam.PolicyStatement(actions=["appmesh:StreamAggregatedResources"],
                                                   resources=[n.virtual_node_arn for n in nodes.values()]))
            eks.CfnPodIdentityAssociation(self, "PodIdentity", cluster_name=cluster.cluster.cluster_name,
                                          namespace="default", service_account=name, role_arn=role.role_arn)
        # per-version metrics from Envoy's JSON access log (routed to it by Fluent Bit on EKS), a namespace per major
        for major in svc["majors"]:
            ns, base = f"meshspec/Envoy/{major['name']}", [
                logs.FilterPattern.string_value("$.service", "=", name),
                logs.FilterPattern.string_value("$.upstream_cluster", "=", "cds_ingress_*"),  # inbound only
                logs.FilterPattern.string_value("$.path", "=", major["path"] + "*")]
            dims = {"Service": "$.service", "Version": "$.version"}
            log_group.add_metric_filter(f"Requests-{major['name']}", metric_namespace=ns,
                                        metric_name="RequestCount", filter_pattern=logs.FilterPattern.all(*base),
                                        metric_value="1", dimensions=dims)
            log_group.add_metric_filter(f"Errors-{major['name']}", metric_namespace=ns,
                                        metric_name="Http5xxCount", metric_value="1", dimensions=dims,
                                        filter_pattern=logs.FilterPattern.all(
                                            *base, logs.FilterPattern.number_value("$.response_code", ">=", 500)))
            log_group.add_metric_filter(f"Latency-{major['name']}", metric_namespace=ns,
                                        metric_name="LatencyMs", metric_value="$.duration", dimensions=dims,
                                        unit=cw.Unit.MILLISECONDS, filter_pattern=logs.FilterPattern.all(*base))
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{project}-{name}")
        for major in svc["majors"]:
            dashboard.add_widgets(*[cw.GraphWidget(title=f"{major['name']} {metric}", left=[
                cw.Metric(namespace="meshspec", metric_name=metric, dimensions_map={
                    "Service": name, "Version": v["name"], "Major": major["name"]}) for v in svc["versions"]])
                for metric in ("Requests", "5xx", "LatencyMs")])

    def fargate_version(self, project, svc, v, cluster, log_group, node, discovery) -> None:
        name = svc["name"]
        task = ecs.FargateTaskDefinition(
            self, f"Task-{v['name']}", cpu=svc["cpu"], memory_limit_mib=svc["memory"], family=f"{name}-{v['name']}",
            proxy_configuration=ecs.AppMeshProxyConfiguration(container_name="envoy", properties=ecs.AppMeshProxyConfigurationProps(
                app_ports=[svc["port"]], proxy_ingress_port=15000, proxy_egress_port=15001, ignored_uid=1337,
                egress_ignored_i_ps=["169.254.170.2", "169.254.169.254"])))
        secrets = {k: ecs.Secret.from_secrets_manager(secretsmanager.Secret.from_secret_complete_arn(self, f"{v['name']}-{k}", arn))
                   for k, arn in svc["secrets"].items()}
        app = task.add_container("app", image=ecs.ContainerImage.from_registry(v["image"]), environment=svc["env"],
                                 secrets=secrets, port_mappings=[ecs.PortMapping(container_port=svc["port"])],
                                 logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{v['name']}/app", log_group=log_group))
        envoy = task.add_container("envoy", image=ecs.ContainerImage.from_registry(ENVOY_IMAGE), user="1337",
                                   memory_reservation_mib=128, environment={"APPMESH_RESOURCE_ARN": node.virtual_node_arn},
                                   logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{v['name']}/envoy", log_group=log_group),
                                   health_check=ecs.HealthCheck(command=["CMD-SHELL", "curl -s http://localhost:9901/ready"]))
        app.add_container_dependencies(ecs.ContainerDependency(container=envoy, condition=ecs.ContainerDependencyCondition.HEALTHY))
        # Application Signals: the CloudWatch agent, ADOT's Python agent copied in by an init container
        task.add_container("cloudwatch-agent", image=ecs.ContainerImage.from_registry(AGENT_IMAGE), essential=False,
                           memory_reservation_mib=64, user="0:1338", environment={"CW_CONFIG_CONTENT": AGENT_CONFIG},
                           logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{v['name']}/agent", log_group=log_group))
        task.add_volume(name="otel")
        init = task.add_container("adot-init", image=ecs.ContainerImage.from_registry(ADOT_IMAGE), essential=False,
                                  memory_limit_mib=32, command=["cp", "-a", "/autoinstrumentation/.", "/otel"])
        init.add_mount_points(ecs.MountPoint(source_volume="otel", container_path="/otel", read_only=False))
        app.add_mount_points(ecs.MountPoint(source_volume="otel", container_path="/otel", read_only=False))
        app.add_container_dependencies(ecs.ContainerDependency(container=init, condition=ecs.ContainerDependencyCondition.SUCCESS))
        for key, value in OTEL_ENV.items():
            app.add_environment(key, value)
        task.add_to_task_role_policy(iam.PolicyStatement(actions=["appmesh:StreamAggregatedResources"],
                                                         resources=[node.virtual_node_arn]))
        task.add_to_task_role_policy(iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                                                         resources=["*"]))
        task.add_to_task_role_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=["arn:aws:logs:*:*:log-group:/aws/application-signals/data:*"]))
        service = ecs.FargateService(self, f"Service-{v['name']}", cluster=cluster.cluster, task_definition=task,
                                     service_name=f"{name}-{v['name']}", desired_count=2,
                                     circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True))
        service.connections.allow_from(ec2.Peer.ipv4(cluster.cluster.vpc.vpc_cidr_block), ec2.Port.tcp(svc["port"]))
        service.associate_cloud_map_service(service=discovery, container=app, container_port=svc["port"])


def main() -> None:
    app = cdk.App()
    if sys.argv[1:] == ["--empty"]:
        app.synth()
        return
    config = json.loads(open(sys.argv[1]).read())
    project = config["project"]
    env = cdk.Environment(account=config["account"], region=config["region"])
    shared = SharedStack(app, f"{project}-shared", project=project, azs=config["availabilityZones"], env=env)
    clusters: dict[str, cdk.Stack] = {}
    for c in config["clusters"]:
        if c["platform"] == "ecs":
            clusters[c["name"]] = EcsClusterStack(app, f"{project}-{c['name']}", vpc=shared.vpc,
                                                  name=f"{project}-{c['name']}", env=env)
        else:
            clusters[c["name"]] = EksClusterStack(app, f"{project}-{c['name']}", vpc=shared.vpc,
                                                  name=f"{project}-{c['name']}", project=project, cluster=c["name"],
                                                  env=env)
    for svc in config["services"]:
        ServiceStack(app, f"{project}-svc-{svc['name']}", project=project, svc=svc, shared=shared,
                     cluster=clusters[svc["cluster"]], env=env)
    app.synth()


if __name__ == "__main__":
    os.environ.setdefault("CDK_OUTDIR", "cdk.out")
    main()
