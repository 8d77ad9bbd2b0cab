"""Amazon VPC Lattice: a service network, and per service a Lattice service with a listener rule per API major
forwarding to weighted target groups, one per code version, behind an IAM auth policy that admits the declared
callers. No sidecar: ECS registers tasks, a registrar sidecar registers EKS pods.

The package: :mod:`.constructs` (CDK), :mod:`.settings` and :mod:`.rules` (the spec), :mod:`.quotas`,
:mod:`.names`, :mod:`.metrics`, :mod:`.stack` (the stacks' wiring), :mod:`.traffic` and :mod:`.figures` (runtime
weights and the canary's figures), :mod:`.plan`, :mod:`.migrate` (coming in beside a host), :mod:`.registrar`.
"""
from __future__ import annotations

from meshspec.infra.mesh import Backend

from . import names

INGRESS_RULE_BYTES = 560  # an EKS cluster's ingress rule from Lattice's range, per distinct service port


class Lattice(Backend):
    name = "lattice"
    title = "VPC Lattice"
    summary = "Amazon VPC Lattice, weighted target groups"
    position = 30
    platforms = frozenset({"ecs", "eks"})
    features = frozenset({"lasting-weights", "per-major-versions", "path-match", "header-match", "cookie-match",
                          "auth-policy", "health-path"})
    weight_rule = "VPC Lattice target group weights are integers (meshspec sends percentages)"
    shared_log_groups = 1  # its access log group
    joins = "same-tasks"
    migration_moved = "their MESHSPEC_UPSTREAM_* variables name the Lattice services"

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
        from .rules import check

        check(spec, problems, complete)

    def stack_model(self, platform):
        from meshspec.infra.spec.stack_quotas import ServiceModel

        # incl. 2 access-log queries; measured with the CloudWatch agent and ADOT's init container in every task
        return {"ecs": ServiceModel(10, 8, 1, 5_320, 13_225, 2_145, True),
                "eks": ServiceModel(12, 1, 1, 6_505, 2_205, 2_145, None)}.get(platform)

    def shared_stack_size(self):
        return 33, 9, 18_900

    def cluster_stack_extra(self, spec, cluster):
        """One ingress rule from Lattice's range per distinct service port of an EKS cluster (stack.add_to_cluster)."""
        if cluster.platform != "eks":
            return 0, 0
        ports = {svc.port for svc in spec.aws_services().values() if svc.cluster == cluster.name}
        return len(ports), INGRESS_RULE_BYTES * len(ports)

    def endpoint(self, spec, target):
        return names.endpoint(spec.project, target, spec.services[target].protocol)

    def add_shared(self, stack, spec, vpc, vpc_cidr):
        from .stack import add_shared

        return add_shared(stack, spec, vpc, vpc_cidr)

    def cluster_facts(self, spec, cluster):
        """An EKS cluster's services' ports, which it opens to Lattice (stack.add_to_cluster)."""
        if cluster.platform != "eks":
            return {}
        return {"ports": tuple(sorted({svc.port for svc in spec.aws_services().values()
                                       if svc.cluster == cluster.name}))}

    def add_to_cluster(self, stack, spec, cluster, eks, facts):
        from .stack import add_to_cluster

        add_to_cluster(stack, cluster, eks, facts.get("ports"))

    def mesh_backend(self, spec, scope, *, shared, vpc, namespace, twin=False):
        from .stack import mesh_backend

        return mesh_backend(spec, shared, vpc)

    def registrar_part(self):
        from .registrar import TARGET_GROUP_REGISTRAR

        return TARGET_GROUP_REGISTRAR

    def route_name(self, service, major):
        return names.rule(service, major)

    def plan_routes(self, templates):
        from .plan import routes

        return routes(templates)

    def traffic(self, spec, service, ctx):
        from .traffic import LatticeBackend

        return LatticeBackend(spec, service, ctx)

    def traffic_permissions(self, spec):
        from .traffic import permissions

        return permissions(spec)

    def metrics_source(self, spec, service, ctx):
        from .figures import LatticeFigures
        from .traffic import LatticeBackend

        groups = LatticeBackend(spec, service, ctx)
        return LatticeFigures(ctx.aws_client(spec, "cloudwatch"), groups.target_groups)

    def migration_target(self):
        from .migrate import LatticeTarget

        return LatticeTarget()


BACKEND = Lattice()
