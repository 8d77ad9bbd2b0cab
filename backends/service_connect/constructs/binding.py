"""The ECS Service Connect implementation of :class:`~meshspec.constructs_lib.mesh.base.MeshBackend`.

Per service: one ECS service (the code version that takes the traffic) publishing its named port under the
service's DNS alias in the namespace, client of every other service there; a new code version reaches it through
ECS's canary or linear deployment, rolled back by the service's 5xx alarm. No sidecar of ours: ECS injects its
own Service Connect proxy, so ``proxy()`` is None.

The stack builds the ECS service before the binding sees it (``bind_ecs_service``). Service Connect itself and the
deployment alarms have L2 methods for that (``enable_service_connect``, ``enable_deployment_alarms``); the
strategy, canary or linear steps and bake time are L2 props only at construction, so the binding sets them on
the AWS::ECS::Service (an L1 override) with the values ``ServiceConnectDeploymentStrategy`` validated.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

from aws_cdk import Token, aws_cloudwatch as cw, aws_ecs as ecs, aws_logs as logs
from constructs import Construct

from meshspec.constructs_lib.dashboard import Graphs, ServiceDashboardProps, metric_row
from meshspec.constructs_lib.mesh.base import (MeshBackend, MeshServiceProps, PodRegistration, PropsError,
                                               ProxyRequirements)

from .deployment import ServiceConnectDeploymentStrategy, server_5xx_metric


class ServiceConnectBinding(Construct):
    """One meshed service on Service Connect; implements :class:`~meshspec.constructs_lib.mesh.base.MeshServiceBinding`."""

    def __init__(self, scope: Construct, id: str, *, backend: "ServiceConnectBackend", props: MeshServiceProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self._backend = backend
        taking = [v for v in props.versions if any(m.weights.get(v, 0) > 0 for m in props.majors)]
        if len(taking) != 1:
            raise PropsError(f"{props.name}: Service Connect runs one revision per service, but "
                             f"{taking or 'no version'} take traffic (a lasting split needs the lattice backend)")
        self.version = taking[0]
        self.alarm: cw.Alarm | None = None

    def deploys(self, version: str) -> bool:
        """Only the version taking the traffic runs; the others are not deployed on Service Connect."""
        return version == self.version

    def proxy(self, version: str) -> ProxyRequirements | None:
        return None

    def pod_registration(self, version: str) -> PodRegistration | None:
        """Service Connect connects ECS services only: there are no pods to register."""
        return None

    def allow(self, major: str, caller: str) -> None:
        """Anyone in the namespace may call: Service Connect has no per-caller policy."""

    def dashboard_series(self, cluster_name: str | None) -> "ServiceConnectSeries | None":
        """What the service's Service Connect proxy publishes (``AWS/ECS`` by cluster, ECS service and discovery
        name, which all carry the service's name: one ECS service per service)."""
        if cluster_name is None:
            return None
        return ServiceConnectSeries(cluster_name=cluster_name, service_name=self.props.name,
                                    discovery_name=self.props.name)

    def bind_ecs_service(self, version: str, service: ecs.BaseService, container: ecs.ContainerDefinition) -> None:
        if version != self.version:
            raise PropsError(f"{self.props.name}: version {version!r} takes no traffic; on Service Connect only "
                             f"{self.version!r} runs (ask deploys(version) before building it)")
        mapping = next((pm for pm in container.port_mappings if pm.container_port == self.props.port), None)
        if mapping is None or not mapping.name:
            raise PropsError(f"{self.props.name}: the container needs a named port mapping for port "
                             f"{self.props.port} (Service Connect publishes ports by name)")
        b = self._backend
        log_group = b.proxy_log_group(self.props.name)
        service.enable_service_connect(
            namespace=b.namespace_arn,
            services=[ecs.ServiceConnectService(port_mapping_name=mapping.name, discovery_name=self.props.name,
                                                dns_name=self.props.dns_name or self.props.name,
                                                port=self.props.port)],
            log_driver=ecs.LogDrivers.aws_logs(stream_prefix="service-connect", log_group=log_group)
            if log_group is not None else None)
        strategy = b.deployment
        if b.rollback_on_5xx:
            ecs_name = service.node.default_child.service_name
            if not isinstance(ecs_name, str) or Token.is_unresolved(ecs_name):
                raise PropsError(f"{self.props.name}: give the ECS service a fixed name, so its rollback alarm can "
                                 "watch it without a dependency cycle")
            self.alarm = cw.Alarm(
                self, "Rollback5xx", alarm_name=f"{ecs_name}-service-connect-5xx",
                alarm_description=f"5xx answers of {ecs_name}; rolls an ECS deployment back",
                metric=server_5xx_metric(service.cluster.cluster_name, ecs_name, self.props.name),
                threshold=b.alarm_threshold, evaluation_periods=2, datapoints_to_alarm=2,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
            strategy = dataclasses.replace(strategy, rollback_alarm_names=[
                *strategy.rollback_alarm_names, self.alarm.alarm_name])  # a Ref: the alarm comes first
        apply_strategy(service, strategy)


def apply_strategy(service: ecs.BaseService, strategy: ServiceConnectDeploymentStrategy) -> None:
    """Set a validated canary or linear strategy on an ECS service that already exists (L1 override)."""
    props = strategy.service_props()
    cfn: ecs.CfnService = service.node.default_child
    shift = props.get("canary_configuration") or props.get("linear_configuration")
    cfn.add_property_override("DeploymentController", {"Type": "ECS"})
    cfn.add_property_override("DeploymentConfiguration.Strategy", strategy.strategy.upper())
    cfn.add_property_override("DeploymentConfiguration.BakeTimeInMinutes", int(strategy.bake_time.to_minutes()))
    if strategy.strategy == "canary":
        cfn.add_property_override("DeploymentConfiguration.CanaryConfiguration", {
            "CanaryPercent": shift.step_percent, "CanaryBakeTimeInMinutes": int(shift.step_bake_time.to_minutes())})
    else:
        cfn.add_property_override("DeploymentConfiguration.LinearConfiguration", {
            "StepPercent": shift.step_percent, "StepBakeTimeInMinutes": int(shift.step_bake_time.to_minutes())})
    if strategy.rollback_alarm_names:
        service.enable_deployment_alarms(list(strategy.rollback_alarm_names),
                                         behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM)


class ServiceConnectBackend(MeshBackend):
    """An ECS Service Connect namespace and its services, behind the common mesh-backend interface. One ECS
    service per meshspec service whose name and construct id carry no version (``single_revision``), so a new
    version is a new revision of the same ECS service, which is what ECS canaries, not a replacement."""

    single_revision = True

    def __init__(self, *, namespace_arn: str,
                 deployment: ServiceConnectDeploymentStrategy | None = None, rollback_on_5xx: bool = True,
                 alarm_threshold: int = 5,
                 proxy_log_group: Callable[[str], logs.ILogGroup | None] | None = None) -> None:
        """
        :param namespace_arn: the Cloud Map namespace the services publish to (a ``ServiceConnectNamespace``,
            usually in a shared stack).
        :param deployment: for every service. Default: canary, 5 % for 10 minutes, bake time 10 minutes.
        :param rollback_on_5xx: each service gets a 5xx alarm that rolls its deployment back. Default: true.
        :param alarm_threshold: 5xx answers per minute, two minutes running, that roll back. Default: 5.
        :param proxy_log_group: per service, where ECS's Service Connect proxy logs. Default: nowhere.
        """
        self.namespace_arn = namespace_arn
        self.deployment = deployment or ServiceConnectDeploymentStrategy()
        self.deployment.validate()
        self.rollback_on_5xx = rollback_on_5xx
        self.alarm_threshold = alarm_threshold
        self.proxy_log_group = proxy_log_group or (lambda s: None)

    def add_service(self, scope: Construct, id: str, props: MeshServiceProps) -> ServiceConnectBinding:
        return ServiceConnectBinding(scope, id, backend=self, props=props)


SC_REQUESTS, SC_ERRORS_5XX, SC_LATENCY_MS = "RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime"


@dataclass(frozen=True)
class ServiceConnectSeries:
    """A service's dashboard on what its Service Connect proxy publishes (``AWS/ECS``: RequestCount,
    HTTPCode_Target_5XX_Count, TargetResponseTime by ClusterName, ServiceName, DiscoveryName): one line for the
    service in one row for all majors, since ECS shifts whole revisions and keeps no lasting per-version split."""

    cluster_name: str
    service_name: str
    discovery_name: str

    def rows(self, props: ServiceDashboardProps) -> list[tuple[str, Graphs]]:
        return [("all majors", metric_row(functools.partial(service_connect_metrics, props, self),
                                          SC_REQUESTS, SC_ERRORS_5XX, SC_LATENCY_MS))]


def service_connect_metrics(props: ServiceDashboardProps, sc: ServiceConnectSeries, metric: str,
                            statistic: str) -> list[list]:
    """The service's one series from its Service Connect proxy (pure: no construct)."""
    return [["AWS/ECS", metric, "ClusterName", sc.cluster_name, "DiscoveryName", sc.discovery_name,
             "ServiceName", sc.service_name,
             {"label": f"{props.service_name} {statistic}", "period": props.period_minutes * 60, "stat": statistic}]]


__all__ = ["ServiceConnectBackend", "ServiceConnectBinding", "ServiceConnectSeries", "apply_strategy"]
