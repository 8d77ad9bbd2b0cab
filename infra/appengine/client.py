"""The Admin API edge: google-cloud-appengine-admin over REST, with a timeout and a retry on every call.

The library sets neither a timeout nor a retry on any method, and transport failures come out as raw
``requests`` exceptions rather than GoogleAPICallError (FACTS.md), so both are given here explicitly; only
429, 500, 502, 503, 504 and connection-level failures are retried. Long-running operations are polled with
growing intervals up to a deadline. Every call is counted (``calls``) for the benchmark and the tests.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Callable, Iterable

import requests
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.auth import exceptions as auth_exc
from google.auth.credentials import AnonymousCredentials
from google.cloud import appengine_admin_v1 as ae
from google.protobuf import field_mask_pb2

from meshspec.infra.errors import UserError

from .state import DesiredVersion, DispatchRule, Observed, ServiceState, Split, VersionState

ENDPOINT_ENV = "MESHSPEC_APPENGINE_ENDPOINT"

# What a retry may repeat: quota (429), server-side failures, and the connection itself.
RETRIABLE = (
    gexc.TooManyRequests, gexc.InternalServerError, gexc.BadGateway, gexc.ServiceUnavailable,
    gexc.GatewayTimeout,
    requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError,
    auth_exc.TransportError,
)
WRITES = ("versions.create", "versions.patch", "versions.delete", "services.patch", "apps.patch")


@dataclass(frozen=True)
class ClientConfig:
    """Timeouts in seconds. Default: 30 s per call, retries for up to 2 min, operations polled 1 s → 20 s up to 15 min."""

    endpoint: str | None = None
    call_timeout: float = 30.0
    retry_initial: float = 1.0
    retry_maximum: float = 16.0
    retry_multiplier: float = 2.0
    retry_deadline: float = 120.0
    poll_initial: float = 1.0
    poll_maximum: float = 20.0
    poll_multiplier: float = 1.5
    operation_deadline: float = 900.0
    page_size: int = 0  # 0: the server's default

    @classmethod
    def from_env(cls, endpoint: str | None = None, **overrides: Any) -> "ClientConfig":
        return replace(cls(), endpoint=endpoint or os.environ.get(ENDPOINT_ENV) or None, **overrides)


class OperationFailed(Exception):
    """A long-running operation finished with an error, or did not finish before the deadline."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def is_retriable(exc: BaseException) -> bool:
    return isinstance(exc, RETRIABLE)


def describe_error(exc: BaseException) -> str:
    """One line for a person: Google's status and message, or what happened to the connection."""
    if isinstance(exc, gexc.RetryError):
        cause = exc.cause
        return f"gave up retrying ({describe_error(cause) if cause else exc.message})"
    if isinstance(exc, gexc.GoogleAPICallError):
        status = f"{exc.code.value if hasattr(exc.code, 'value') else exc.code}"
        name, message = type(exc).__name__, exc.message
        try:  # Google's error body (google.rpc.Status): the status name and message, without the request URL
            body = exc.response.json()["error"] if exc.response is not None else {}
            name, message = body.get("status") or name, body.get("message") or message
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        if exc.grpc_status_code is not None and name == type(exc).__name__:
            name = exc.grpc_status_code.name
        return f"HTTP {status} {name}: {message}"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer within the call timeout ({type(exc).__name__})"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"connection failed ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


class AdminApi:
    """The handful of Admin API calls meshspec makes, each with a timeout and a retry, and counted."""

    def __init__(self, config: ClientConfig | None = None, *, credentials=None):
        self.config = config or ClientConfig.from_env()
        cfg = self.config
        options: dict[str, Any] = {}
        if cfg.endpoint:
            options["api_endpoint"] = cfg.endpoint
            credentials = credentials or AnonymousCredentials()  # the emulator takes no credentials
        else:
            credentials = credentials or _default_credentials()
        kw = {"transport": "rest", "credentials": credentials, "client_options": options or None}
        self.apps = ae.ApplicationsClient(**kw)
        self.services = ae.ServicesClient(**kw)
        self.versions = ae.VersionsClient(**kw)
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.sleep: Callable[[float], None] = time.sleep

    # -- counting --------------------------------------------------------------------------------------
    def retry_for(self, name: str) -> gretry.Retry:
        """Retry only what is retriable, with backoff up to the deadline; each repeat is counted as a call."""
        cfg = self.config

        def on_error(exc: BaseException) -> None:
            self.retries[name] += 1
            self.calls[name] += 1

        return gretry.Retry(predicate=is_retriable, initial=cfg.retry_initial, maximum=cfg.retry_maximum,
                            multiplier=cfg.retry_multiplier, timeout=cfg.retry_deadline, on_error=on_error)

    def _call(self, method: str, fn, /, *args, **kw):
        self.calls[method] += 1
        return fn(*args, retry=self.retry_for(method), timeout=self.config.call_timeout, **kw)

    @property
    def writes(self) -> int:
        return sum(n for k, n in self.calls.items() if k in WRITES)

    def reset_counts(self) -> None:
        self.calls.clear()
        self.retries.clear()

    # -- reads -----------------------------------------------------------------------------------------
    def get_app(self, app_id: str) -> ae.Application:
        return self._call("apps.get", self.apps.get_application, request=ae.GetApplicationRequest(name=f"apps/{app_id}"))

    def _pages(self, name: str, method, request) -> Iterable[Any]:
        pager = self._call(name, method, request=request)
        for i, page in enumerate(pager.pages):
            if i:  # the pager fetched the next page with the same retry and timeout
                self.calls[name] += 1
            yield page

    def list_services(self, app_id: str) -> list[ServiceState]:
        req = ae.ListServicesRequest(parent=f"apps/{app_id}", page_size=self.config.page_size)
        return [service_state(s) for page in self._pages("services.list", self.services.list_services, req)
                for s in page.services]

    def list_versions(self, app_id: str, service: str) -> tuple[VersionState, ...]:
        req = ae.ListVersionsRequest(parent=f"apps/{app_id}/services/{service}", view=ae.VersionView.FULL,
                                     page_size=self.config.page_size)
        return tuple(version_state(v) for page in self._pages("versions.list", self.versions.list_versions, req)
                     for v in page.versions)

    def observe(self, app_id: str, service_ids: Iterable[str]) -> Observed:
        """One apps.get (dispatch rules), one paged services.list, one paged versions.list per touched service."""
        try:
            app = self.get_app(app_id)
        except gexc.NotFound:
            raise UserError(f"App Engine application apps/{app_id} does not exist", hint=missing_app_hint(
                app_id, self.config.endpoint)) from None
        listed = {s.id: s for s in self.list_services(app_id)}
        services = {}
        wanted = set(service_ids)
        for sid, s in listed.items():
            services[sid] = replace(s, versions=self.list_versions(app_id, sid)) if sid in wanted else s
        rules = tuple(DispatchRule(r.domain, r.path, r.service) for r in app.dispatch_rules)
        return Observed(app_id, app.default_hostname, rules, services, location=app.location_id)

    # -- writes (each waits for its operation) ---------------------------------------------------------
    def create_version(self, app_id: str, service: str, v: DesiredVersion, on_tick=None) -> None:
        version = ae.Version(id=v.id, runtime=v.runtime, env=v.env, env_variables=dict(v.env_variables))
        if v.image:
            version.deployment = ae.Deployment(container=ae.ContainerInfo(image=v.image))
        else:
            version.deployment = ae.Deployment(zip=ae.ZipInfo(source_url=v.source_url))
        if v.warmup:
            version.inbound_services = [ae.InboundServiceType.INBOUND_SERVICE_WARMUP]
            version.automatic_scaling = ae.AutomaticScaling(max_concurrent_requests=10)
        req = ae.CreateVersionRequest(parent=f"apps/{app_id}/services/{service}", version=version)
        try:
            self._wait(self._call("versions.create", self.versions.create_version, request=req), on_tick)
        except gexc.AlreadyExists:
            # A retried create whose first attempt landed: fine if it is the same code.
            got = self._call("versions.get", self.versions.get_version, request=ae.GetVersionRequest(
                name=f"apps/{app_id}/services/{service}/versions/{v.id}", view=ae.VersionView.FULL))
            have = version_state(got)
            if (have.source_url or None, have.image or None) != (v.source_url, v.image):
                raise

    def set_serving_status(self, app_id: str, service: str, version: str, status: str, on_tick=None) -> None:
        req = ae.UpdateVersionRequest(name=f"apps/{app_id}/services/{service}/versions/{version}",
                                      version=ae.Version(serving_status=ae.ServingStatus[status]),
                                      update_mask=field_mask_pb2.FieldMask(paths=["serving_status"]))
        self._wait(self._call("versions.patch", self.versions.update_version, request=req), on_tick)

    def set_split(self, app_id: str, service: str, split: Split, migrate: bool = False, on_tick=None) -> None:
        ts = ae.TrafficSplit(shard_by=ae.TrafficSplit.ShardBy[split.shard_by],
                             allocations={v: float(a) for v, a in split.allocations})
        req = ae.UpdateServiceRequest(name=f"apps/{app_id}/services/{service}", service=ae.Service(split=ts),
                                      update_mask=field_mask_pb2.FieldMask(paths=["split"]), migrate_traffic=migrate)
        self._wait(self._call("services.patch", self.services.update_service, request=req), on_tick)

    def delete_version(self, app_id: str, service: str, version: str, on_tick=None) -> None:
        req = ae.DeleteVersionRequest(name=f"apps/{app_id}/services/{service}/versions/{version}")
        try:
            self._wait(self._call("versions.delete", self.versions.delete_version, request=req), on_tick)
        except gexc.NotFound:
            pass  # a retried delete whose first attempt landed

    def set_dispatch(self, app_id: str, rules: Iterable[DispatchRule], on_tick=None) -> None:
        app = ae.Application(dispatch_rules=[ae.UrlDispatchRule(domain=r.domain, path=r.path, service=r.service)
                                             for r in rules])
        req = ae.UpdateApplicationRequest(name=f"apps/{app_id}", application=app,
                                          update_mask=field_mask_pb2.FieldMask(paths=["dispatch_rules"]))
        self._wait(self._call("apps.patch", self.apps.update_application, request=req), on_tick)

    # -- operations ------------------------------------------------------------------------------------
    def _wait(self, lro, on_tick=None) -> None:
        """Poll operations.get (timeout + retry each) from poll_initial, ×poll_multiplier, up to the deadline."""
        cfg = self.config
        op = lro.operation
        ops = self.versions.transport.operations_client
        deadline = time.monotonic() + cfg.operation_deadline
        delay = cfg.poll_initial
        while not op.done:
            if time.monotonic() + delay > deadline:
                raise OperationFailed(f"operation {op.name} did not finish within {cfg.operation_deadline:g} s; "
                                      "it may still complete", timed_out=True)
            self.sleep(delay)
            if on_tick:
                on_tick()
            op = self._call("operations.get", ops.get_operation, op.name)
            delay = min(delay * cfg.poll_multiplier, cfg.poll_maximum)
        if op.HasField("error"):
            exc = gexc.from_grpc_status(op.error.code, op.error.message)
            raise OperationFailed(f"operation {op.name} failed: {describe_error(exc)}")


def missing_app_hint(app_id: str, endpoint: str | None) -> str:
    """Against an endpoint (meshspec's emulator serves one application, ``--project``), the fix is the emulator's
    project; against Google, creating the application."""
    if endpoint:
        return (f"{endpoint} serves another application: start the emulator for this one with "
                f"`meshspec appengine emulator --project {app_id}`, or set gcp.project to the emulator's --project")
    return f"create it once with `gcloud app create --project {app_id} --region LOCATION`"


def _default_credentials(local: str = f"for the emulator give --endpoint or {ENDPOINT_ENV}"):
    """Application Default Credentials; ``local`` says how to point the client at a local server instead."""
    import google.auth

    try:
        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except auth_exc.DefaultCredentialsError as exc:
        raise UserError("no Google credentials found (Application Default Credentials)",
                        hint="run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS; "
                             f"{local}") from exc
    return creds


# -- library types → state ---------------------------------------------------------------------------
def service_state(s: ae.Service) -> ServiceState:
    split = None
    if s.split and s.split.allocations:
        split = Split.of(ae.TrafficSplit.ShardBy(s.split.shard_by).name,
                         {v: Decimal(repr(a)) for v, a in s.split.allocations.items()})
    return ServiceState(s.id or s.name.rsplit("/", 1)[-1], split)


def version_state(v: ae.Version) -> VersionState:
    scaling = ae.Version.pb(v).WhichOneof("scaling")
    dep = v.deployment
    return VersionState(
        id=v.id or v.name.rsplit("/", 1)[-1], env=v.env or "standard",
        serving_status=ae.ServingStatus(v.serving_status).name if v.serving_status else "SERVING",
        runtime=v.runtime, source_url=dep.zip.source_url or None, image=dep.container.image or None,
        warmup=ae.InboundServiceType.INBOUND_SERVICE_WARMUP in list(v.inbound_services),
        scaling=scaling.replace("_scaling", "") if scaling else None)
