"""App Mesh backend: a major's weights are the weighted targets of its route(s) in the service's router.

Names come from :mod:`meshspec.infra.naming` (mesh = ``spec.mesh_name``, router ``{service}-router``, route
``{service}-{major}``, virtual node ``{service}-{version}``), the same the CDK stacks give.
UpdateRoute replaces the whole route spec and has no precondition (no etag, no expected version:
https://docs.aws.amazon.com/app-mesh/latest/APIReference/API_UpdateRoute.html), so the route is re-read
under a local lock right before the write and the version it returns is checked afterwards.
"""
from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from meshspec.infra import naming
from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Spec

from meshspec.infra.traffic.base import Conflict, Context, Live, NotDeployed, write_lock
from meshspec.infra.traffic.weights import Weights, validate_full

ROUTE_KINDS = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute")


def permissions(spec: Spec) -> list[tuple[tuple[str, ...], str | None]]:
    """The calls below, on the spec's own mesh (its routes and virtual nodes)."""
    return [(("appmesh:DescribeRoute", "appmesh:UpdateRoute", "appmesh:DescribeVirtualNode"),
             f"appmesh:mesh/{spec.mesh_name}/*")]


def _not_found(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    return code == "NotFoundException" or code.endswith("NotFound")


def route_targets(route_spec: dict[str, Any]) -> list[dict[str, Any]]:
    for kind in ROUTE_KINDS:
        if kind in route_spec:
            return route_spec[kind]["action"]["weightedTargets"]
    raise UserError(f"route spec has none of {', '.join(ROUTE_KINDS)}; meshspec cannot read its weights")


def with_weights(route_spec: dict[str, Any], service: str, weights: Weights) -> dict[str, Any]:
    """The route spec with new weights: existing targets keep their order and port; new ones are appended;
    a version with weight 0 that is not a target already is not added (App Mesh allows 10 targets)."""
    out = copy.deepcopy(route_spec)
    targets = route_targets(out)
    by_node = {t["virtualNode"]: t for t in targets}
    for version, share in weights.items():
        node = naming.virtual_node(service, version)
        if node in by_node:
            by_node[node]["weight"] = int(share)
        elif share > 0:
            targets.append({"virtualNode": node, "weight": int(share)})
    return out


class AppMeshBackend:
    """Implements :class:`meshspec.infra.traffic.backend.TrafficBackend` on App Mesh routes."""

    name = "appmesh"
    places = 0
    missing = "no virtual node"

    def __init__(self, spec: Spec, service: str, ctx: Context, client: Any = None):
        self.mesh = spec.mesh_name
        self.service = service
        self.versions = [v.name for v in spec.services[service].versions]
        self.ctx = ctx
        self.client = client if client is not None else ctx.aws_client(spec, "appmesh")

    # -- names ------------------------------------------------------------------------------------------
    def router(self, service: str) -> str:
        return naming.virtual_router(service)

    def routes(self, service: str, major: str) -> list[str]:
        """Every route that carries ``major``: they change together."""
        return [naming.route(service, major)]

    def target(self, service: str, major: str) -> str:
        return f"mesh {self.mesh} route {self.router(service)}/{', '.join(self.routes(service, major))}"

    def for_cohort(self, cohort: str) -> "AppMeshCohortRoute":
        """The view of one A/B cohort's route (``meshspec traffic ... --cohort NAME``)."""
        return AppMeshCohortRoute(self, cohort)

    def _version_of(self, service: str, node: str) -> str:
        for v in self.versions:
            if naming.virtual_node(service, v) == node:
                return v
        prefix = naming.virtual_node(service, "")
        return node[len(prefix):] if node.startswith(prefix) else node

    # -- reads ------------------------------------------------------------------------------------------
    def _describe(self, service: str, major: str) -> dict[str, dict[str, Any]]:
        out = {}
        for route in self.routes(service, major):
            try:
                out[route] = self.client.describe_route(
                    meshName=self.mesh, virtualRouterName=self.router(service), routeName=route)["route"]
            except ClientError as exc:
                if _not_found(exc):
                    raise NotDeployed(
                        f"{service}/{major}: App Mesh has no route {route} in router {self.router(service)} of "
                        f"mesh {self.mesh}", hint="deploy the service's stack first (meshspec cdk deploy)") from None
                raise UserError(f"App Mesh refused DescribeRoute for {route}: {exc}") from None
            except BotoCoreError as exc:
                raise UserError(f"cannot reach App Mesh: {exc}") from None
        return out

    def _live(self, service: str, described: dict[str, dict[str, Any]]) -> Live:
        weights: Weights = {}
        first = None
        for route, desc in described.items():
            w = {self._version_of(service, t["virtualNode"]): Decimal(t["weight"])
                 for t in route_targets(desc["spec"])}
            if first is None:
                first, weights = route, w
            elif w != weights:
                raise UserError(f"routes {first} and {route} of the same major carry different weights",
                                hint="shift with explicit weights for every version to bring them together")
        token = ",".join(f"{r}@{d['metadata']['version']}" for r, d in described.items())
        return Live(weights=weights, token=token, resources=tuple(d["metadata"]["arn"] for d in described.values()))

    def read_weights(self, service: str, major: str) -> Live:
        return self._live(service, self._describe(service, major))

    def check_versions(self, service: str, major: str, versions: list[str]) -> list[str]:
        """Virtual nodes are per service, shared by every major."""
        missing = []
        for v in versions:
            try:
                self.client.describe_virtual_node(meshName=self.mesh, virtualNodeName=naming.virtual_node(service, v))
            except ClientError as exc:
                if not _not_found(exc):
                    raise UserError(f"App Mesh refused DescribeVirtualNode: {exc}") from None
                missing.append(v)
        return missing

    def version_address(self, service: str, major: str, version: str) -> None:
        """A version has no address of its own on App Mesh: the canary has nothing to smoke-check."""
        return None

    # -- the write ------------------------------------------------------------------------------------
    def set_weights(self, service: str, major: str, weights: Weights, expected_token: str) -> Live:
        validate_full(weights, self.places, self.name)  # complete and expressible, before any call
        key = f"appmesh/{self.mesh}/{self.router(service)}/{major}"
        with write_lock(self.ctx.state_dir, key):
            described = self._describe(service, major)
            live = self._live(service, described)
            if live.token != expected_token:
                raise Conflict(self.target(service, major), expected_token, live)
            written: list[tuple[str, dict[str, Any]]] = []
            raced: list[str] = []
            results = {}
            try:
                for route, desc in described.items():
                    out = self.client.update_route(
                        meshName=self.mesh, virtualRouterName=self.router(service), routeName=route,
                        spec=with_weights(desc["spec"], service, weights))["route"]
                    written.append((route, desc))
                    results[route] = out
                    if out["metadata"]["version"] != desc["metadata"]["version"] + 1:
                        raced.append(route)
            except (ClientError, BotoCoreError) as exc:
                restored = self._restore(service, written)
                raise UserError(f"App Mesh refused UpdateRoute: {exc}",
                                hint=f"routes written before the failure were restored: {restored or 'none'}") from None
        new = self._live(service, results)
        if raced:
            # Someone outside this machine wrote between our re-read and our write: their weights are gone.
            raise UserError(f"{', '.join(raced)} was also changed by someone else while meshspec wrote it; the "
                            f"weights now live are meshspec's ({new.token}), the other writer's were overwritten",
                            hint="tell the other operator; run `meshspec traffic status` to check")
        return new

    def _restore(self, service: str, written: list[tuple[str, dict[str, Any]]]) -> list[str]:
        done = []
        for route, desc in written:
            try:
                self.client.update_route(meshName=self.mesh, virtualRouterName=self.router(service),
                                         routeName=route, spec=desc["spec"])
                done.append(route)
            except (ClientError, BotoCoreError):
                pass
        return done


class AppMeshCohortRoute(AppMeshBackend):
    """One A/B cohort's route of a major (``{service}-{major}-{cohort}``), read and written as the major's own
    route is: its weighted targets, its version as the token, under the major's lock."""

    def __init__(self, parent: AppMeshBackend, cohort: str):
        self.mesh, self.service, self.versions, self.ctx, self.client = (
            parent.mesh, parent.service, parent.versions, parent.ctx, parent.client)
        self.cohort = cohort

    def routes(self, service: str, major: str) -> list[str]:
        return [naming.cohort_route(service, major, self.cohort)]
