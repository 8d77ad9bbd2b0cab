"""ECS Service Connect: a Cloud Map namespace, one ECS service per meshspec service publishing its port under the
service's alias, and ECS's own canary or linear deployments, rolled back by a 5xx alarm. No lasting split between
code versions: the spec gives one version 100 % and ECS shifts traffic while it deploys it.

The package: :mod:`.constructs` (CDK), :mod:`.settings` (``aws.mesh.deployment``) and :mod:`.rules` (the spec),
:mod:`.quotas`, :mod:`.names`, :mod:`.stack` (the stacks' wiring), :mod:`.traffic` (which says there are no weights
to shift), :mod:`.migrate` (coming in beside a host).
"""
from __future__ import annotations

from meshspec.infra.mesh import Backend


class ServiceConnect(Backend):
    name = "service-connect"
    title = "ECS Service Connect"
    summary = "ECS Service Connect with ECS canary/linear deployments"
    position = 20
    platforms = frozenset({"ecs"})
    features = frozenset({"deployment-strategies", "mtls"})
    single_revision = True
    weight_rule = "meshspec gives whole percentages to the service-connect backend"
    joins = "twin"
    migration_moved = "their App Mesh tasks stop, so each comes after every service that calls it"

    def capability_row(self):
        from .docs import ROW

        return ROW

    def settings(self):
        from .settings import settings

        return settings()

    def check_unused(self, spec, problems):
        from .rules import check_unused

        check_unused(spec, problems)

    def check(self, spec, problems, *, role, complete):
        from .rules import check, check_primary

        if role == "primary":
            check_primary(spec, problems)
        check(spec, problems, complete)

    def stack_model(self, platform):
        from meshspec.infra.spec.stack_quotas import ServiceModel

        # one ECS service per service; measured with the CloudWatch agent and ADOT's init container in every task
        return {"ecs": ServiceModel(10, 0, 0, 15_490, 10, 0, False)}.get(platform)

    def shared_stack_size(self):
        return 27, 8, 15_400

    def add_shared(self, stack, spec, vpc, vpc_cidr):
        from .stack import add_shared

        return add_shared(stack, spec)

    def mesh_backend(self, spec, scope, *, shared, vpc, namespace, twin=False):
        from .stack import mesh_backend

        return mesh_backend(spec, shared, twin)

    def traffic(self, spec, service, ctx):
        from .traffic import refuse

        refuse(service)

    def migration_target(self):
        from .migrate import ServiceConnectTarget

        return ServiceConnectTarget()


BACKEND = ServiceConnect()
