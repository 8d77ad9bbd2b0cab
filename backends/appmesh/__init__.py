"""App Mesh: a mesh, and per service a virtual node per code version, a router and a route per API major, with
Envoy sidecars. AWS ended its support on 2026-09-30; meshspec keeps it the default backend so existing specs do not
change, warns once at synth, and moves specs off it with ``meshspec migrate``.

The package: :mod:`.constructs` (CDK), :mod:`.settings` and :mod:`.rules` (the spec), :mod:`.quotas`,
:mod:`.stack` (the stacks' wiring), :mod:`.traffic` (runtime weights), :mod:`.plan`, :mod:`.migrate` (as the host
of a migration), :mod:`.registrar` (EKS pods in Cloud Map).
"""
from __future__ import annotations

from typing import Any

from meshspec.infra import naming
from meshspec.infra.mesh import Backend, CapabilityRow

from .quotas import END_OF_SUPPORT


class AppMesh(Backend):
    name = "appmesh"
    title = "App Mesh"
    summary = f"end of support {END_OF_SUPPORT}"
    position = 10
    default = True
    as_default = "an App Mesh mesh named after the project"
    end_of_support = END_OF_SUPPORT
    platforms = frozenset({"ecs", "eks"})
    features = frozenset({"lasting-weights", "per-major-versions", "egress-filter", "path-match", "header-match",
                          "header-present-match", "cookie-match", "retries", "mtls", "health-path"})
    weight_rule = "App Mesh route weights are integers"
    access_log_metrics = True
    hosts_migration = True

    def capability_row(self):
        from .docs import ROW

        return ROW

    def settings(self):
        from .settings import settings

        return settings()

    def check_unused(self, spec, problems):
        from .rules import check_unused

        check_unused(spec, problems)

    def check_placement(self, spec, problems):
        from .rules import check_eks_account

        check_eks_account(spec, problems)

    def check(self, spec, problems, *, role, complete):
        from .rules import check_cohorts

        check_cohorts(spec, problems)

    def check_quotas(self, spec, problems):
        from .rules import check_quotas

        check_quotas(spec, problems)

    def stack_model(self, platform):
        from meshspec.infra.spec.stack_quotas import ServiceModel

        # measured with the CloudWatch agent and ADOT's init container in every task (Application Signals)
        return {"ecs": ServiceModel(6, 9, 1, 3_115, 16_865, 2_005, True),
                "eks": ServiceModel(9, 2, 1, 5_340, 4_920, 2_005, None)}.get(platform)

    def shared_stack_size(self):
        return 27, 7, 15_100

    def synth_warnings(self, spec, service):
        from .rules import synth_warnings

        return synth_warnings(spec, service)

    def add_shared(self, stack, spec, vpc, vpc_cidr):
        from .stack import add_shared

        return add_shared(stack, spec)

    def validation_acknowledgements(self):
        from .stack import W3696, W3696_REASON

        return [(W3696, W3696_REASON)]

    def mesh_backend(self, spec, scope, *, shared, vpc, namespace, twin=False):
        from .stack import mesh_backend

        return mesh_backend(spec, scope, namespace)

    def registrar_part(self):
        from .registrar import CLOUD_MAP_REGISTRAR

        return CLOUD_MAP_REGISTRAR

    def route_name(self, service, major):
        return naming.route(service, major)

    def plan_routes(self, templates):
        from .plan import routes

        return routes(templates)

    def traffic(self, spec, service, ctx):
        from .traffic import AppMeshBackend

        return AppMeshBackend(spec, service, ctx)

    def traffic_permissions(self, spec):
        from .traffic import permissions

        return permissions(spec)

    def migration_host(self):
        from .migrate import AppMeshHost

        return AppMeshHost()


BACKEND = AppMesh()
