"""App Engine backend: a major's weights are its App Engine service's traffic split (services.get / patch).

It goes through the project's App Engine edge (:class:`meshspec.infra.appengine.client.AdminApi`: timeouts, retries,
operation polling; ``$MESHSPEC_APPENGINE_ENDPOINT`` for the emulator) and computes allocations exactly as
``gcloud app services set-traffic`` does (:mod:`meshspec.infra.appengine.fractions`).

Without ``majorsAsServices`` one App Engine service serves every major, so its split is shared: shifting one
major shifts them all (``Live.shared_with`` says which). The Admin API has no etag on Service and no
precondition on UpdateService, so the token is a digest of the split itself, re-read under a local lock right
before the write. Versions at 0 % are not in the split (allocations are in (0, 1]).
"""
from __future__ import annotations

from typing import Any

from meshspec.infra import naming
from meshspec.infra.appengine.state import percent, split_target, split_token
from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Spec, live_majors, major_path

from .base import Conflict, Context, Live, NotDeployed, write_lock
from .weights import Weights, validate_full


def _api(ctx: Context) -> Any:
    if ctx.appengine_api is None:
        from meshspec.infra.appengine.client import AdminApi, ClientConfig

        ctx.appengine_api = AdminApi(ClientConfig.from_env())
    return ctx.appengine_api


class AppEngineBackend:
    """Implements :class:`~.backend.TrafficBackend` on App Engine traffic splits."""

    name = "appengine"
    missing = "no such version"

    def __init__(self, spec: Spec, service: str, ctx: Context, api: Any = None):
        svc = spec.services[service]
        if spec.gcp is None:
            raise UserError(f"service {service} runs on App Engine but the spec has no gcp section")
        self.project = spec.gcp.project
        self.svc = svc
        self.ae = svc.appengine
        self.majors = list(live_majors(svc))
        self.ctx = ctx
        # App Engine fractions take 2 decimals (ip) or 3 (cookie, random): percentages with 0 or 1.
        self.places = 0 if self.ae.split_by == "ip" else 1
        self.api = api or _api(ctx)

    def app_service(self, service: str, major: str) -> str:
        return app_service_id(self.svc, service, major)

    def _name(self, service: str, major: str) -> str:
        return f"apps/{self.project}/services/{self.app_service(service, major)}"

    def target(self, service: str, major: str) -> str:
        return split_target(self.project, self.app_service(service, major))

    def _call(self, method: str, fn: Any, request: Any) -> Any:
        from google.api_core import exceptions as gexc

        from meshspec.infra.appengine.client import describe_error

        self.api.calls[method] += 1
        try:
            return fn(request=request, retry=self.api.retry_for(method), timeout=self.api.config.call_timeout)
        except gexc.NotFound:
            raise
        except Exception as exc:
            from meshspec.infra.appengine.client import is_retriable

            if isinstance(exc, gexc.GoogleAPICallError) or is_retriable(exc) or isinstance(exc, gexc.RetryError):
                raise UserError(f"App Engine {method} failed: {describe_error(exc)}") from None
            raise

    def read_weights(self, service: str, major: str) -> Live:
        from google.api_core import exceptions as gexc
        from google.cloud import appengine_admin_v1 as ae

        from meshspec.infra.appengine.client import service_state

        try:
            got = self._call("services.get", self.api.services.get_service,
                             ae.GetServiceRequest(name=self._name(service, major)))
        except gexc.NotFound:
            raise NotDeployed(f"{service}/{major}: App Engine has no service {self._name(service, major)}",
                              hint="deploy it first (meshspec appengine apply)") from None
        split = service_state(got).split
        shared = () if self.ae.majors_as_services else tuple(m for m in self.majors if m != major)
        return Live(weights=percent(split) or {}, token=split_token(split), resources=(self._name(service, major),),
                    shared_with=shared, shard_by=split.shard_by if split else None)

    def check_versions(self, service: str, major: str, versions: list[str]) -> list[str]:
        """Versions live in the App Engine service of ``major`` (its own with majorsAsServices, else the shared one)."""
        from google.api_core import exceptions as gexc
        from google.cloud import appengine_admin_v1 as ae

        missing = []
        for v in versions:
            try:
                self._call("versions.get", self.api.versions.get_version,
                           ae.GetVersionRequest(name=f"{self._name(service, major)}/versions/{v}"))
            except gexc.NotFound:
                missing.append(v)
        return missing

    def version_address(self, service: str, major: str, version: str) -> str:
        """The version's own address plus the major's path and the health check, as `appengine apply` smokes."""
        from meshspec.infra.appengine import smoke

        host = self.api.get_app(self.project).default_hostname
        base = smoke.base_url(version, self.app_service(service, major), self.project, host)
        return smoke.url_for(base, major_path(service, major, self.svc.majors[major]), self.svc.health_check)

    def set_weights(self, service: str, major: str, weights: Weights, expected_token: str) -> Live:
        from google.api_core import exceptions as gexc

        from meshspec.infra.appengine import fractions
        from meshspec.infra.appengine.client import OperationFailed, describe_error

        validate_full(weights, self.places, self.name)  # complete and expressible, before any call
        with write_lock(self.ctx.state_dir, f"appengine/{self._name(service, major)}"):
            live = self.read_weights(service, major)
            if live.token != expected_token:
                raise Conflict(self.target(service, major), expected_token, live)
            split = fractions.split_for(weights, self.ae.split_by, service=self.app_service(service, major))
            try:
                self.api.set_split(self.project, self.app_service(service, major), split)
            except (gexc.GoogleAPICallError, gexc.RetryError, OperationFailed) as exc:
                raise UserError(f"App Engine refused the split for {self._name(service, major)}: "
                                f"{describe_error(exc) if not isinstance(exc, OperationFailed) else exc}") from None
            return self.read_weights(service, major)


def app_service_id(svc: Any, service: str, major: str) -> str:
    """The App Engine service (Monitoring's ``module_id``) that serves ``major``: its own with majorsAsServices."""
    ae = svc.appengine
    return naming.appengine_service(service, major if ae.majors_as_services else None, default=ae.default_service)
