"""ECS Service Connect in meshspec's stacks: the namespace in the shared stack, and the backend a services stack
adds its services to, with the spec's deployment."""
from __future__ import annotations

from typing import Any

from aws_cdk import Duration

from meshspec.infra.spec.model import Spec

from . import names
from .constructs.binding import ServiceConnectBackend
from .constructs.deployment import ServiceConnectDeploymentStrategy, ServiceConnectNamespace
from .settings import deployment_of


def deployment_strategy(spec: Spec) -> ServiceConnectDeploymentStrategy:
    d = deployment_of(spec)
    return ServiceConnectDeploymentStrategy(
        strategy=d.strategy, percent=float(d.effective_percent), step_wait=Duration.minutes(d.step_minutes),
        bake_time=Duration.minutes(d.bake_minutes))


def add_shared(stack: Any, spec: Spec) -> ServiceConnectNamespace:
    namespace = ServiceConnectNamespace(stack, "ServiceConnectNamespace", name=names.namespace(spec.project))
    # exported explicitly like the shared stack's other values, so its template is the same whichever services exist
    stack.export_value(namespace.arn)
    return namespace


def mesh_backend(spec: Spec, shared: ServiceConnectNamespace | None, twin: bool) -> ServiceConnectBackend:
    """The services' backend. ``twin``: during a migration, the backend each ECS service's second workload joins:
    ECS's proxy cannot share a task with the host's sidecar, so every ECS service also runs as ``<service>`` with
    Service Connect (the version taking the traffic), built exactly as the service stays after the host retires
    (construct id ``Current``, no replacement then). Its 5xx rollback alarm comes with the retire step: the
    alarm's name is fixed and its construct path changes then, and CloudFormation cannot create a named alarm
    while the old one still exists."""
    if shared is None:
        raise ValueError("backend service-connect needs the shared stack's namespace")
    if twin:
        return ServiceConnectBackend(namespace_arn=shared.arn, deployment=deployment_strategy(spec),
                                     rollback_on_5xx=False)
    return ServiceConnectBackend(namespace_arn=shared.arn, deployment=deployment_strategy(spec),
                                 rollback_on_5xx=deployment_of(spec).rollback_on_alarm)
