"""ECS Service Connect: a Cloud Map namespace, each ECS service as server (its port published under a DNS
alias) and client of the others, and ECS's own canary or linear deployment with alarm-based rollback.

Service Connect has no lasting weighted split between two code versions: an ECS service runs one revision, and
traffic moves to a new revision only during a deployment (canary: one step then the rest; linear: equal steps),
with a bake time in which both revisions run so a rollback is instant. Limits (ECS API reference,
CanaryConfiguration and LinearConfiguration): canary percent 0.1-100 in tenths, linear step 3-100, waits and bake
time 0-1440 minutes; CloudFormation refuses deployments computed to last over 33 hours.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Sequence

from aws_cdk import Duration, aws_cloudwatch as cw, aws_ec2 as ec2, aws_ecs as ecs, aws_logs as logs
from aws_cdk import aws_servicediscovery as sd
from constructs import Construct

from meshspec.constructs_lib.errors import PropsError

from ..quotas import DEPLOYMENT_MAX_MINUTES as MAX_DEPLOYMENT_MINUTES, LINEAR_STEP_MIN, MAX_WAIT_MINUTES


class ServiceConnectNamespace(Construct):
    """The Cloud Map HTTP namespace the services publish to and resolve from (no Route 53 zone needed)."""

    def __init__(self, scope: Construct, id: str, *, name: str, description: str | None = None) -> None:
        """
        :param name: namespace name (unique per account and region).
        :param description: Default: "meshspec Service Connect namespace".
        """
        super().__init__(scope, id)
        self.namespace = sd.HttpNamespace(self, "Resource", name=name,
                                          description=description or "meshspec Service Connect namespace")

    @property
    def arn(self) -> str:
        return self.namespace.namespace_arn


@dataclass(frozen=True)
class ServiceConnectDeploymentStrategy:
    """ECS native canary or linear traffic shift for a new revision (deployment controller ECS)."""

    strategy: Literal["canary", "linear"] = "canary"
    percent: float | None = None
    """Canary: the first step's share; linear: each step. Default: 5 for canary, 10 for linear."""
    step_wait: Duration = field(default_factory=lambda: Duration.minutes(10))
    """Wait after the canary step or between linear steps. Default: 10 minutes."""
    bake_time: Duration = field(default_factory=lambda: Duration.minutes(10))
    """Both revisions keep running this long after the shift, for an instant rollback. Default: 10 minutes."""
    rollback_alarm_names: Sequence[str] = ()
    """Names of alarms that roll the deployment back (names, so the service need not wait for the alarm
    construct). Default: none; the circuit breaker still rolls back tasks that fail to start."""

    @property
    def effective_percent(self) -> float:
        if self.percent is not None:
            return self.percent
        return 5.0 if self.strategy == "canary" else 10.0

    def validate(self) -> None:
        pct = self.effective_percent
        if self.strategy == "canary" and not (0.1 <= pct <= 100 and Decimal(str(pct)) % Decimal("0.1") == 0):
            raise PropsError(f"canary percent must be 0.1 to 100 in steps of 0.1, received {pct}")
        if self.strategy == "linear" and not LINEAR_STEP_MIN <= pct <= 100:
            raise PropsError(f"linear step percent must be {LINEAR_STEP_MIN} to 100, received {pct}")
        for what, d in (("step_wait", self.step_wait), ("bake_time", self.bake_time)):
            if not 0 <= d.to_minutes() <= MAX_WAIT_MINUTES:
                raise PropsError(f"{what} must be 0 to {MAX_WAIT_MINUTES} minutes, received {d.to_minutes()}")
        if self.total_minutes() > MAX_DEPLOYMENT_MINUTES:
            raise PropsError(f"the deployment would take {self.total_minutes()} minutes; CloudFormation refuses "
                             f"more than {MAX_DEPLOYMENT_MINUTES}")

    def total_minutes(self) -> int:
        import math

        waits = 1 if self.strategy == "canary" else max(1, math.ceil(100 / self.effective_percent) - 1)
        return int(self.bake_time.to_minutes() + self.step_wait.to_minutes() * waits)

    def service_props(self) -> dict[str, Any]:
        """Keyword arguments for ``ecs.FargateService`` (aws-cdk-lib 2.275's L2 has them all; no escape hatch)."""
        self.validate()
        shift = ecs.TrafficShiftConfig(step_percent=self.effective_percent, step_bake_time=self.step_wait)
        props: dict[str, Any] = {
            "deployment_controller": ecs.DeploymentController(type=ecs.DeploymentControllerType.ECS),
            "deployment_strategy": ecs.DeploymentStrategy.CANARY if self.strategy == "canary"
            else ecs.DeploymentStrategy.LINEAR,
            "bake_time": self.bake_time,
            "circuit_breaker": ecs.DeploymentCircuitBreaker(rollback=True),
        }
        props["canary_configuration" if self.strategy == "canary" else "linear_configuration"] = shift
        if self.rollback_alarm_names:
            props["deployment_alarms"] = ecs.DeploymentAlarmConfig(
                alarm_names=list(self.rollback_alarm_names),
                behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM)
        return props


def server_5xx_metric(cluster_name: str, service_name: str, discovery_name: str,
                      period: Duration | None = None) -> cw.Metric:
    """5xx answers counted by the Service Connect proxy in front of the service (namespace AWS/ECS)."""
    return cw.Metric(namespace="AWS/ECS", metric_name="HTTPCode_Target_5XX_Count", statistic="Sum",
                     period=period or Duration.minutes(1),
                     dimensions_map={"ClusterName": cluster_name, "ServiceName": service_name,
                                     "DiscoveryName": discovery_name})


class ServiceConnectFargateService(Construct):
    """One ECS Fargate service in a Service Connect namespace: server for its own port and client of every other
    service in the namespace, deployed with a canary or linear shift and rolled back on its 5xx alarm."""

    def __init__(self, scope: Construct, id: str, *, cluster: ecs.ICluster, task_definition: ecs.TaskDefinition,
                 namespace: ServiceConnectNamespace, service_name: str, port_mapping_name: str, dns_name: str,
                 port: int, discovery_name: str | None = None, desired_count: int = 2,
                 deployment: ServiceConnectDeploymentStrategy | None = None, rollback_on_5xx: bool = True,
                 alarm_threshold: int = 5, security_groups: Sequence[ec2.ISecurityGroup] | None = None,
                 vpc_subnets: ec2.SubnetSelection | None = None, proxy_log_group: logs.ILogGroup | None = None,
                 per_request_timeout: Duration | None = None) -> None:
        """
        :param service_name: the ECS service name; fixed so the rollback alarm can name it without a cycle.
        :param port_mapping_name: the container port mapping (by name) that Service Connect publishes.
        :param dns_name: the alias clients call (e.g. catalog.shop.local).
        :param port: the port clients call on ``dns_name``.
        :param discovery_name: the Cloud Map service name. Default: ``port_mapping_name``.
        :param desired_count: Default: 2.
        :param deployment: Default: canary, 5 % for 10 minutes, bake time 10 minutes.
        :param rollback_on_5xx: add an alarm on the proxy's 5xx count and roll back when it fires. Default: true.
        :param alarm_threshold: 5xx answers per minute, two minutes running, that trigger the rollback. Default: 5.
        :param security_groups: Default: a new security group, as FargateService makes.
        :param vpc_subnets: Default: the cluster VPC's private subnets.
        :param proxy_log_group: where the Service Connect proxy logs. Default: the proxy logs nowhere.
        :param per_request_timeout: Default: Service Connect's (15 seconds).
        """
        super().__init__(scope, id)
        discovery = discovery_name or port_mapping_name
        strategy = deployment or ServiceConnectDeploymentStrategy()
        self.alarm: cw.Alarm | None = None
        if rollback_on_5xx:
            self.alarm = cw.Alarm(
                self, "Rollback5xx", alarm_name=f"{service_name}-service-connect-5xx",
                alarm_description=f"5xx answers of {service_name}; rolls an ECS deployment back",
                metric=server_5xx_metric(cluster.cluster_name, service_name, discovery),
                threshold=alarm_threshold, evaluation_periods=2, datapoints_to_alarm=2,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
            strategy = dataclasses.replace(
                strategy, rollback_alarm_names=[*strategy.rollback_alarm_names, self.alarm.alarm_name])
        self.strategy = strategy
        sc_service = ecs.ServiceConnectService(port_mapping_name=port_mapping_name, discovery_name=discovery,
                                               dns_name=dns_name, port=port, per_request_timeout=per_request_timeout)
        self.service = ecs.FargateService(
            self, "Service", cluster=cluster, task_definition=task_definition, service_name=service_name,
            desired_count=desired_count, security_groups=security_groups, vpc_subnets=vpc_subnets,
            min_healthy_percent=100, max_healthy_percent=200,
            service_connect_configuration=ecs.ServiceConnectProps(
                namespace=namespace.arn, services=[sc_service],
                log_driver=ecs.LogDrivers.aws_logs(stream_prefix="service-connect", log_group=proxy_log_group)
                if proxy_log_group is not None else None),
            **strategy.service_props())

