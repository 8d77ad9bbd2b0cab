"""The emulated application: services, versions, dispatch rules and long-running operations.

One application per emulator (id = the project). Every write is checked when it is received (a refusal
is an HTTP error, nothing changes) and takes effect when its operation finishes, ``operation_delay``
seconds later, as on Google, where a version being created is not listed until its operation is done.
The state is canonical JSON (see wire.py); all access goes through one lock.
"""
from __future__ import annotations

import base64
import copy
import json
import os
import datetime as dt
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from google.cloud.appengine_admin_v1 import types as gae

from . import rules, wire
from .rules import ApiError, invalid

USER = "emulator@meshspec.invalid"


def now_rfc3339(t: float | None = None) -> str:
    stamp = dt.datetime.fromtimestamp(time.time() if t is None else t, tz=dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def not_found(what: str) -> ApiError:
    return ApiError("NOT_FOUND", f"{what} not found.")


@dataclass
class Operation:
    """A long-running operation: ``check`` is rerun and ``commit`` applied when it finishes."""
    id: str
    method: str          # e.g. google.appengine.v1.Services.UpdateService
    target: str          # e.g. apps/demo/services/default
    check: Callable[[], None]
    commit: Callable[[], tuple[str, dict] | None]   # (kind, resource) or None for Empty
    insert_time: float
    done_at: float
    fail_with: ApiError | None = None
    done: bool = False
    end_time: float | None = None
    response: tuple[str, dict] | None = None
    error: ApiError | None = None

    def finish(self, at: float) -> None:
        try:
            if self.fail_with is not None:
                raise self.fail_with
            self.check()
            self.response = self.commit()
        except ApiError as exc:
            self.error = exc
        self.done, self.end_time = True, at

    def to_json(self, app: str) -> dict:
        meta = {"@type": wire.type_url("OperationMetadataV1"), "method": self.method,
                "insertTime": now_rfc3339(self.insert_time), "user": USER, "target": self.target}
        if self.end_time is not None:
            meta["endTime"] = now_rfc3339(self.end_time)
        doc: dict = {"name": f"apps/{app}/operations/{self.id}", "metadata": meta, "done": self.done}
        if not self.done:
            doc.pop("done")  # proto3 JSON omits false
        elif self.error is not None:
            doc["error"] = self.error.to_status()
        elif self.response is None:
            doc["response"] = {"@type": wire.EMPTY_TYPE}
        else:
            kind, resource = self.response
            doc["response"] = {"@type": wire.type_url(kind), **resource}
        return doc


@dataclass
class Page:
    items: list
    next_token: str


def paginate(items: list, page_size: int | None, page_token: str | None, kind: str,
             default_size: int, max_size: int) -> Page:
    """pageSize/pageToken/nextPageToken as in every List method of the discovery document."""
    size = default_size if not page_size else page_size
    if size < 0:
        raise invalid(f"pageSize must not be negative (got {size}).", "page_size")
    size = min(size, max_size)
    start = 0
    if page_token:
        try:
            prefix, _, offset = base64.urlsafe_b64decode(page_token.encode()).decode().partition(":")
            start = int(offset)
            if prefix != kind or start < 0:
                raise ValueError
        except ValueError:
            raise invalid(f"Invalid page token {page_token!r}.", "page_token") from None
    end = start + size
    token = base64.urlsafe_b64encode(f"{kind}:{end}".encode()).decode() if end < len(items) else ""
    return Page(items[start:end], token)


@dataclass
class AppState:
    project: str
    location: str = "us-central"
    operation_delay: float = 0.0
    default_page_size: int = 100
    max_page_size: int = 1000
    state_file: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self):
        self._empty()
        if self.state_file and os.path.exists(self.state_file):
            self._load()

    # --- persistence (optional): finished writes survive the process, pending operations do not ---

    def _load(self) -> None:
        with open(self.state_file, encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("app", {}).get("id") != self.project:
            raise ValueError(f"{self.state_file} holds application {doc.get('app', {}).get('id')!r}, "
                             f"not {self.project!r}")
        self.app, self.services, self.versions = doc["app"], doc["services"], doc["versions"]

    def _save(self) -> None:
        if not self.state_file:
            return
        tmp = f"{self.state_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"app": self.app, "services": self.services, "versions": self.versions}, f, indent=1)
        os.replace(tmp, self.state_file)

    def reset(self) -> None:
        """An empty application (and, with a state file, an empty file)."""
        with self.lock:
            self._empty()
            self._save()

    def _empty(self) -> None:
        with self.lock:
            self.app: dict = {
                "name": f"apps/{self.project}", "id": self.project, "locationId": self.location,
                "authDomain": "gmail.com", "servingStatus": "SERVING",
                "defaultHostname": f"{self.project}.appspot.com",
                "codeBucket": f"staging.{self.project}.appspot.com",
                "defaultBucket": f"{self.project}.appspot.com",
                "gcrDomain": "us.gcr.io", "databaseType": "CLOUD_DATASTORE_COMPATIBILITY",
            }
            self.services: dict[str, dict] = {}
            self.versions: dict[str, dict[str, dict]] = {}
            self.operations: dict[str, Operation] = {}

    # --- plumbing ---------------------------------------------------------------------------------

    def settle(self) -> None:
        """Finish every operation whose time has come, in the order they were started."""
        with self.lock:
            at = time.time()
            finished = False
            for op in self.operations.values():
                if not op.done and op.done_at <= at:
                    op.finish(at)
                    finished = True
            if finished:
                self._save()

    def _app(self, app: str) -> None:
        if app != self.project:
            raise ApiError("NOT_FOUND", f"Could not find Application \"{app}\".")

    def _service(self, app: str, service: str) -> dict:
        self._app(app)
        if service not in self.services:
            raise not_found(f"Service apps/{app}/services/{service}")
        return self.services[service]

    def _version(self, app: str, service: str, version: str) -> dict:
        self._service(app, service)
        found = self.versions[service].get(version)
        if found is None:
            raise not_found(f"Version apps/{app}/services/{service}/versions/{version}")
        return found

    def _start(self, method: str, target: str, check, commit, fail_with: ApiError | None) -> Operation:
        check()  # refusals are synchronous: nothing is queued
        at = time.time()
        op = Operation(id=str(uuid.uuid4()),
                       method=method, target=target, check=check, commit=commit, insert_time=at,
                       done_at=at + self.operation_delay, fail_with=fail_with)
        self.operations[op.id] = op
        if self.operation_delay <= 0:
            op.finish(at)
            self._save()
        return op

    # --- apps -------------------------------------------------------------------------------------

    def get_app(self, app: str) -> dict:
        with self.lock:
            self.settle()
            self._app(app)
            return copy.deepcopy(self.app)

    def patch_app(self, app: str, body: dict, mask: str | None, fail_with=None) -> Operation:
        with self.lock:
            self.settle()
            self._app(app)
            paths = rules.check_mask(mask, rules.APPLICATION_MASK, "an Application")
            update = wire.parse("Application", body, "application")
            for rule in update.get("dispatchRules", []):
                rule.setdefault("domain", "*")  # UrlDispatchRule.domain: 'Defaults to [...] "*"'
            camel = {p: _camel(p) for p in paths}

            def check():
                if "dispatch_rules" in paths:
                    rules.check_dispatch_rules(update.get("dispatchRules", []), self.services)

            def commit():
                for path, key in camel.items():
                    if key in update:
                        self.app[key] = copy.deepcopy(update[key])
                    else:
                        self.app.pop(key, None)
                _hide_iap_secret(self.app)
                return "Application", copy.deepcopy(self.app)

            return self._start("google.appengine.v1.Applications.UpdateApplication", f"apps/{app}",
                               check, commit, fail_with)

    # --- services ---------------------------------------------------------------------------------

    def list_services(self, app: str, page_size: int | None, page_token: str | None) -> Page:
        with self.lock:
            self.settle()
            self._app(app)
            items = [copy.deepcopy(self.services[s]) for s in sorted(self.services)]
            return paginate(items, page_size, page_token, "services", self.default_page_size,
                            self.max_page_size)

    def get_service(self, app: str, service: str) -> dict:
        with self.lock:
            self.settle()
            return copy.deepcopy(self._service(app, service))

    def patch_service(self, app: str, service: str, body: dict, mask: str | None, migrate: bool,
                      fail_with=None) -> Operation:
        with self.lock:
            self.settle()
            self._service(app, service)
            paths = rules.check_mask(mask, rules.SERVICE_MASK, "a Service")
            update = wire.parse("Service", body, "service")

            def check():
                self._service(app, service)
                if "split" in paths:
                    split = update.get("split", {})
                    allocations = split.get("allocations", {})
                    shard_by = split.get("shardBy", "UNSPECIFIED")
                    rules.check_split(allocations, shard_by, self.versions[service], service)
                    if migrate:
                        rules.check_migration(allocations, shard_by, self.versions[service], service)
                elif migrate:
                    raise invalid("migrateTraffic applies to the traffic split: include 'split' in the "
                                  "update mask.", "migrate_traffic")

            def commit():
                current = self.services[service]
                for path in paths:
                    key = _camel(path)
                    if key in update:
                        current[key] = copy.deepcopy(update[key])
                    else:
                        current.pop(key, None)
                return "Service", copy.deepcopy(current)

            return self._start("google.appengine.v1.Services.UpdateService",
                               f"apps/{app}/services/{service}", check, commit, fail_with)

    def delete_service(self, app: str, service: str, fail_with=None) -> Operation:
        """The default service cannot be deleted (https://cloud.google.com/appengine/docs/standard/
        an-overview-of-app-engine: "the default service [...] cannot be deleted"; delete the app's
        project instead)."""
        with self.lock:
            self.settle()

            def check():
                self._service(app, service)
                if service == "default":
                    raise invalid("The default service cannot be deleted.", "name")

            def commit():
                self.services.pop(service, None)
                self.versions.pop(service, None)
                return None

            return self._start("google.appengine.v1.Services.DeleteService",
                               f"apps/{app}/services/{service}", check, commit, fail_with)

    # --- versions ---------------------------------------------------------------------------------

    def list_versions(self, app: str, service: str, view: str | None, page_size: int | None,
                      page_token: str | None) -> Page:
        with self.lock:
            self.settle()
            self._service(app, service)
            items = [_view(v, view) for _, v in sorted(self.versions[service].items())]
            return paginate(items, page_size, page_token, f"versions/{service}", self.default_page_size,
                            self.max_page_size)

    def get_version(self, app: str, service: str, version: str, view: str | None) -> dict:
        with self.lock:
            self.settle()
            return _view(self._version(app, service, version), view)

    def create_version(self, app: str, service: str, body: dict, fail_with=None) -> Operation:
        """A version is created in its service; the service is created with it, all its traffic on that
        version. "The first service (module) you upload to a new application must be the 'default'
        service" (Google's refusal, also https://cloud.google.com/appengine/docs/standard/
        configuration-files#the_default_service). ``deployment`` is required ("This format is required
        when creating resources", view FULL in the discovery document), and so is ``runtime``."""
        with self.lock:
            self.settle()
            self._app(app)
            rules.check_service_id(service, "parent")
            version = wire.parse("Version", body, "version")
            vid = version.get("id", "")
            rules.check_version_id(vid)
            if not version.get("runtime"):
                raise invalid(f"Version {vid!r}: runtime is required.", "version.runtime")
            deployment = version.get("deployment", {})
            if not (deployment.get("files") or deployment.get("container", {}).get("image")
                    or deployment.get("zip", {}).get("sourceUrl")):
                raise invalid(f"Version {vid!r}: deployment is required (files, container.image or "
                              f"zip.sourceUrl).", "version.deployment")
            if version.get("servingStatus") == "SERVING_STATUS_UNSPECIFIED":
                raise invalid("SERVING_STATUS_UNSPECIFIED is an invalid value.", "version.serving_status")

            def check():
                if service != "default" and "default" not in self.services:
                    raise invalid(f"The first service (module) you upload to a new application must be the "
                                  f"'default' service (module). Please upload a version of the 'default' "
                                  f"service (module) before uploading a version for the '{service}' "
                                  f"service (module).", "parent")
                if vid in self.versions.get(service, {}):
                    raise ApiError("ALREADY_EXISTS",
                                   f"Version apps/{app}/services/{service}/versions/{vid} already exists.")

            def commit():
                return "Version", self._add_version(service, version)

            return self._start("google.appengine.v1.Versions.CreateVersion",
                               f"apps/{app}/services/{service}/versions/{vid}", check, commit, fail_with)

    def _add_version(self, service: str, version: dict) -> dict:
        vid = version["id"]
        stored = copy.deepcopy(version)
        stored.pop("name", None)
        stored.update(name=f"apps/{self.project}/services/{service}/versions/{vid}",
                      createTime=now_rfc3339(), createdBy=USER)
        stored.setdefault("servingStatus", "SERVING")
        stored.setdefault("env", "standard")
        host = self.project if service == "default" else f"{service}-dot-{self.project}"
        stored["versionUrl"] = f"https://{vid}-dot-{host}.appspot.com"
        if service not in self.services:
            self.services[service] = {"name": f"apps/{self.project}/services/{service}", "id": service,
                                      "split": {"allocations": {vid: 1.0}}}
            self.versions[service] = {}
        self.versions[service][vid] = stored
        return copy.deepcopy(stored)

    def patch_version(self, app: str, service: str, version: str, body: dict, mask: str | None,
                      fail_with=None) -> Operation:
        with self.lock:
            self.settle()
            current = self._version(app, service, version)
            if rules.is_flexible(current):
                allowed = rules.VERSION_MASK_FLEXIBLE
            elif "automaticScaling" in current or not ("basicScaling" in current or "manualScaling" in current):
                allowed = rules.VERSION_MASK_STANDARD_AUTOMATIC
            else:
                allowed = rules.VERSION_MASK_STANDARD_OTHER
            paths = rules.check_mask(mask, allowed, f"version {version!r} (environment "
                                     f"{current.get('env', 'standard')}, its scaling)")
            update = wire.parse("Version", body, "version")
            if "serving_status" in paths and update.get("servingStatus") not in ("SERVING", "STOPPED"):
                raise invalid("servingStatus must be SERVING or STOPPED.", "version.serving_status")

            def check():
                self._version(app, service, version)

            def commit():
                target = self.versions[service][version]
                for path in paths:
                    keys = [_camel(p) for p in path.split(".")]
                    _copy_path(update, target, keys)
                return "Version", copy.deepcopy(target)

            return self._start("google.appengine.v1.Versions.UpdateVersion",
                               f"apps/{app}/services/{service}/versions/{version}", check, commit, fail_with)

    def delete_version(self, app: str, service: str, version: str, fail_with=None) -> Operation:
        """TrafficSplit.allocations: versions "that have traffic allocated cannot be deleted until either
        the service is deleted or their traffic allocation is removed" (discovery document)."""
        with self.lock:
            self.settle()

            def check():
                self._version(app, service, version)
                share = self.services[service].get("split", {}).get("allocations", {}).get(version)
                if share:
                    raise ApiError("FAILED_PRECONDITION",
                                   f"Cannot delete version {version!r} of service {service!r}: it has a "
                                   f"traffic allocation of {share}. Move its traffic to other versions first.",
                                   field="name")

            def commit():
                self.versions[service].pop(version, None)
                return None

            return self._start("google.appengine.v1.Versions.DeleteVersion",
                               f"apps/{app}/services/{service}/versions/{version}", check, commit, fail_with)

    # --- operations -------------------------------------------------------------------------------

    def get_operation(self, app: str, op_id: str) -> dict:
        with self.lock:
            self.settle()
            self._app(app)
            if op_id not in self.operations:
                raise not_found(f"Operation apps/{app}/operations/{op_id}")
            return self.operations[op_id].to_json(app)

    def list_operations(self, app: str, page_size: int | None, page_token: str | None) -> Page:
        with self.lock:
            self.settle()
            self._app(app)
            items = [op.to_json(app) for op in reversed(list(self.operations.values()))]
            return paginate(items, page_size, page_token, "operations", self.default_page_size,
                            self.max_page_size)

    # --- seeding (Python API only) ----------------------------------------------------------------

    def seed_version(self, service: str, version: dict) -> dict:
        """Add a version at once, without an operation and without the default-first rule."""
        with self.lock:
            rules.check_service_id(service)
            doc = wire.parse("Version", version, "version")
            rules.check_version_id(doc.get("id", ""))
            added = self._add_version(service, doc)
            self._save()
            return added

    def seed_split(self, service: str, split: dict) -> None:
        with self.lock:
            doc = wire.parse("Service", {"split": split}, "service")["split"]
            rules.check_split(doc.get("allocations", {}), doc.get("shardBy", "UNSPECIFIED"),
                              self.versions.get(service, {}), service)
            self.services[service]["split"] = doc
            self._save()

    def seed_dispatch(self, dispatch_rules: list[dict]) -> None:
        with self.lock:
            doc = wire.parse("Application", {"dispatchRules": dispatch_rules}, "application")
            for rule in doc.get("dispatchRules", []):
                rule.setdefault("domain", "*")
            rules.check_dispatch_rules(doc.get("dispatchRules", []), self.services)
            self.app["dispatchRules"] = doc.get("dispatchRules", [])
            self._save()

    def snapshot(self) -> dict:
        """Everything a test asserts on, settled: services with split and versions, dispatch rules."""
        with self.lock:
            self.settle()
            return {
                "dispatchRules": copy.deepcopy(self.app.get("dispatchRules", [])),
                "services": {
                    sid: {"split": copy.deepcopy(s.get("split", {})),
                          "versions": {vid: {"servingStatus": v.get("servingStatus"), "env": v.get("env")}
                                       for vid, v in sorted(self.versions[sid].items())}}
                    for sid, s in sorted(self.services.items())},
                "pendingOperations": sum(1 for op in self.operations.values() if not op.done),
            }


def _hide_iap_secret(app: dict) -> None:
    """IdentityAwareProxy.oauth2ClientSecret is "For security reasons, this value cannot be retrieved via
    the API. Instead, the SHA-256 hash of the value is returned in the oauth2_client_secret_sha256
    field." (discovery document)"""
    iap = app.get("iap", {})
    secret = iap.pop("oauth2ClientSecret", None)
    if secret is not None:
        iap["oauth2ClientSecretSha256"] = hashlib.sha256(secret.encode()).hexdigest()


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


def _copy_path(source: dict, target: dict, keys: list[str]) -> None:
    """Copy one field-mask path from ``source`` to ``target``; absent in source means cleared."""
    *parents, last = keys
    src, dst = source, target
    for key in parents:
        src = src.get(key, {}) if isinstance(src, dict) else {}
        dst = dst.setdefault(key, {})
    if last in src:
        dst[last] = copy.deepcopy(src[last])
    else:
        dst.pop(last, None)


def _view(version: dict, view: str | None) -> dict:
    """BASIC (default) omits the fields the discovery document marks "Only returned in GET requests if
    view=FULL is set"."""
    doc = copy.deepcopy(version)
    if view != gae.VersionView.FULL.name:
        for name in wire.full_view_fields():
            doc.pop(name, None)
    return doc
