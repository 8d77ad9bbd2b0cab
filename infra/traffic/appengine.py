"""App Engine backend: a major's weights are its App Engine service's traffic split (services.get / patch).

Without ``majorsAsServices`` one App Engine service serves every major, so its split is shared: shifting one
major shifts them all (``Live.shared_with`` says which). The Admin API has no etag on Service and no
precondition on UpdateService, so the token is a digest of the split itself, re-read under a local lock right
before the write. Allocations are fractions in (0, 1]: versions at 0 % are left out of the split
(types/service.py, TrafficSplit).

Clients: ``Context.appengine_services``/``appengine_versions`` if given; else ``MESHSPEC_APPENGINE_ENDPOINT``
(e.g. the emulator, http://127.0.0.1:PORT, anonymous credentials); else Google's default endpoint and
application-default credentials.
"""
from __future__ import annotations

import hashlib
import json
import os
from decimal import Decimal
from typing import Any

from infra import naming
from infra.errors import UserError
from infra.spec.model import Spec, live_majors

from .backend import Conflict, Context, Live, NotDeployed, register, write_lock
from .weights import Weights

ENDPOINT_ENV = "MESHSPEC_APPENGINE_ENDPOINT"
OPERATION_TIMEOUT_S = 300


def make_clients() -> tuple[Any, Any]:
    from google.cloud import appengine_admin_v1 as gae

    endpoint = os.environ.get(ENDPOINT_ENV)
    kwargs: dict[str, Any] = {"transport": "rest"}
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        kwargs.update(client_options={"api_endpoint": endpoint}, credentials=AnonymousCredentials())
    return gae.ServicesClient(**kwargs), gae.VersionsClient(**kwargs)


def _split_token(shard_by: str, allocations: dict[str, float]) -> str:
    doc = json.dumps({"shardBy": shard_by, "allocations": dict(sorted(allocations.items()))}, sort_keys=True)
    return "split:" + hashlib.sha256(doc.encode()).hexdigest()[:16]


class AppEngineBackend:
    name = "appengine"

    def __init__(self, spec: Spec, service: str, ctx: Context, services: Any = None, versions: Any = None):
        svc = spec.services[service]
        self.project = spec.gcp.project if spec.gcp else None
        if self.project is None:
            raise UserError(f"service {service} runs on App Engine but the spec has no gcp section")
        self.ae = svc.appengine
        self.majors = list(live_majors(svc))
        self.ctx = ctx
        self.places = 0 if self.ae.split_by == "ip" else 1
        services = services or ctx.appengine_services
        versions = versions or ctx.appengine_versions
        if services is None or versions is None:
            made = make_clients()
            services, versions = services or made[0], versions or made[1]
        self.services, self.versions_client = services, versions

    def app_service(self, service: str, major: str) -> str:
        return naming.appengine_service(service, major if self.ae.majors_as_services else None)

    def _name(self, service: str, major: str) -> str:
        return f"apps/{self.project}/services/{self.app_service(service, major)}"

    def target(self, service: str, major: str) -> str:
        return f"App Engine {self._name(service, major)} split"

    def _shared(self, major: str) -> tuple[str, ...]:
        return () if self.ae.majors_as_services else tuple(m for m in self.majors if m != major)

    def _get(self, service: str, major: str) -> Any:
        from google.api_core import exceptions as gexc

        try:
            return self.services.get_service(request={"name": self._name(service, major)})
        except gexc.NotFound:
            raise NotDeployed(f"{service}/{major}: App Engine has no service {self._name(service, major)}",
                              hint="deploy it first (meshspec gae apply)") from None
        except gexc.GoogleAPICallError as exc:
            raise UserError(f"App Engine refused services.get for {self._name(service, major)}: {exc}") from None
        except Exception as exc:  # the REST transport raises raw requests errors (FACTS.md)
            if type(exc).__module__.startswith(("requests", "urllib3")):
                raise UserError(f"cannot reach the App Engine Admin API: {exc}") from None
            raise

    def _live(self, svc: Any, service: str, major: str) -> Live:
        split = svc.split
        shard = split.shard_by.name if split and split.shard_by else "UNSPECIFIED"
        alloc = dict(split.allocations) if split else {}
        weights = {v: (Decimal(repr(f)) * 100).quantize(Decimal(1).scaleb(-3)).normalize() for v, f in alloc.items()}
        weights = {v: w if w != w.to_integral_value() else w.quantize(Decimal(1)) for v, w in weights.items()}
        return Live(weights=weights, token=_split_token(shard, alloc), resources=(self._name(service, major),),
                    shared_with=self._shared(major))

    def read_weights(self, service: str, major: str) -> Live:
        return self._live(self._get(service, major), service, major)

    def check_versions(self, service: str, versions: list[str]) -> list[str]:
        from google.api_core import exceptions as gexc

        missing = []
        major = self.majors[0] if self.majors else "v1"
        for v in versions:
            try:
                self.versions_client.get_version(request={"name": f"{self._name(service, major)}/versions/{v}"})
            except gexc.NotFound:
                missing.append(v)
        return missing

    def version_address(self, service: str, major: str, version: str) -> str:
        """The version's own URL (``https://VERSION-dot-SERVICE-dot-APP…``), for the canary's smoke check."""
        got = self.versions_client.get_version(request={"name": f"{self._name(service, major)}/versions/{version}"})
        if not got.version_url:
            raise UserError(f"App Engine gives no address for version {version} of {self._name(service, major)}")
        return got.version_url

    def set_weights(self, service: str, major: str, weights: Weights, expected_token: str) -> Live:
        from google.api_core import exceptions as gexc
        from google.cloud import appengine_admin_v1 as gae

        with write_lock(self.ctx.state_dir, f"appengine/{self._name(service, major)}"):
            live = self.read_weights(service, major)
            if live.token != expected_token:
                raise Conflict(self.target(service, major), expected_token, live)
            shard = {"ip": gae.TrafficSplit.ShardBy.IP, "cookie": gae.TrafficSplit.ShardBy.COOKIE,
                     "random": gae.TrafficSplit.ShardBy.RANDOM}[self.ae.split_by]
            alloc = {v: float(w / 100) for v, w in weights.items() if w > 0}
            body = gae.Service(split=gae.TrafficSplit(shard_by=shard, allocations=alloc))
            try:
                op = self.services.update_service(request={
                    "name": self._name(service, major), "service": body, "update_mask": {"paths": ["split"]}})
                op.result(timeout=OPERATION_TIMEOUT_S)
            except gexc.GoogleAPICallError as exc:
                raise UserError(f"App Engine refused the split for {self._name(service, major)}: {exc}",
                                hint="nothing was changed by meshspec") from None
            new = self.read_weights(service, major)
        return new


@register("appengine")
def _factory(spec: Spec, service: str, ctx: Context) -> AppEngineBackend:
    return AppEngineBackend(spec, service, ctx)
