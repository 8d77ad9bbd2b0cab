"""HTTP front of the emulator: the App Engine Admin API v1 paths, errors in Google's shape, faults.

Routes are built from the discovery document itself (``flatPath`` and ``httpMethod`` of each method
id), so the emulator serves exactly Google's paths; methods it does not emulate answer 501
UNIMPLEMENTED in Google's error shape. A control surface under ``/_emulator/`` (faults, reset, call
log, state) is documented in docs/appengine-emulator.md.
"""
from __future__ import annotations

import difflib
import json
import re
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from google.cloud.appengine_admin_v1 import types as gae

from . import wire
from .faults import Fault, Faults
from .rules import ApiError, STATUS_FOR_HTTP, invalid
from .state import AppState

DEFAULT_PROJECT = "meshspec-local"
DEFAULT_LOCATION = "us-central"


@dataclass
class Call:
    """One request as the emulator saw it: what the API-call counts in tests and benchmarks use."""
    method: str | None      # discovery id without "appengine.", None for an unknown path
    http_method: str
    path: str
    query: dict
    status: int | None      # None: the connection was dropped
    fault: int | None = None

    @property
    def is_write(self) -> bool:
        return self.http_method in ("POST", "PATCH", "PUT", "DELETE")


def _flag(value: str | None) -> bool:
    return str(value).lower() in ("true", "1")


def _int(query: dict, name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise invalid(f"Invalid value at '{name}' (TYPE_INT32), {value!r}", name) from None


class _Routes:
    """(HTTP method, compiled flatPath) → method id, for every method of the discovery document."""

    def __init__(self):
        self.table: list[tuple[str, re.Pattern, str]] = []

        def walk(resource: dict, prefix: str):
            for name, method in resource.get("methods", {}).items():
                pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/:]+)", re.escape(method["flatPath"])
                                 .replace(r"\{", "{").replace(r"\}", "}"))
                self.table.append((method["httpMethod"], re.compile(f"^/{pattern}$"), prefix + name))
            for name, child in resource.get("resources", {}).items():
                walk(child, f"{prefix}{name}.")

        walk(wire.discovery(), "")

    def method_ids(self) -> set[str]:
        return {method_id for _, _, method_id in self.table}

    def match(self, http_method: str, path: str) -> tuple[str | None, dict, bool]:
        """(method id, path params, path known with another HTTP method)."""
        known_path = False
        for verb, pattern, method_id in self.table:
            m = pattern.match(path)
            if m:
                if verb == http_method:
                    return method_id, {k: unquote(v) for k, v in m.groupdict().items()}, True
                known_path = True
        return None, {}, known_path


ROUTES = _Routes()


class Emulator:
    """An App Engine Admin API v1 server for one application (id = ``project``).

    >>> with Emulator(project="demo") as emu:          # port 0: a free port on 127.0.0.1
    ...     clients = emu.clients()                     # google.cloud.appengine_admin_v1, REST, anonymous
    ...     emu.add_fault("error", method="apps.services.patch", status=503)
    """

    def __init__(self, project: str = DEFAULT_PROJECT, location: str = DEFAULT_LOCATION, *,
                 host: str = "127.0.0.1", port: int = 0, operation_delay: float = 0.0,
                 page_size: int = 100, state_file: str | None = None, verbose: bool = False):
        self.state = AppState(project=project, location=location, operation_delay=operation_delay,
                              default_page_size=page_size, state_file=state_file and str(state_file))
        self.faults = Faults()
        self.generation = 0  # bumped by reset(); requests from an older generation are dropped
        self.calls: list[Call] = []
        self._calls_lock = threading.Lock()
        self.verbose = verbose
        self._httpd = _Server((host, port), _Handler)
        self._httpd.emulator = self
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def project(self) -> str:
        return self.state.project

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self) -> "Emulator":
        """Serve in a daemon thread; returns at once."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="gae-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- control ----------------------------------------------------------------------------------

    @property
    def operation_delay(self) -> float:
        return self.state.operation_delay

    @operation_delay.setter
    def operation_delay(self, seconds: float) -> None:
        self.state.operation_delay = float(seconds)

    def add_fault(self, kind: str, **options: Any) -> Fault:
        """See faults.py: kind ``error``/``slow``/``drop``/``operation_error``; options ``method``,
        ``http_method``, ``path``, ``status``, ``message``, ``seconds``, ``apply``, ``times``, ``after``."""
        method = options.get("method")
        if method and method.removeprefix("appengine.") not in ROUTES.method_ids():
            close = difflib.get_close_matches(method.removeprefix("appengine."), ROUTES.method_ids(), n=1)
            raise ValueError(f"method {method!r} is not an App Engine Admin API v1 method"
                             + (f"; did you mean {close[0]!r}?" if close else ""))
        return self.faults.add(kind, **options)

    def clear_faults(self) -> None:
        self.faults.clear()

    def clear_calls(self) -> None:
        with self._calls_lock:
            self.calls.clear()

    def reset(self) -> None:
        """An empty application, no faults, no recorded calls. A slow request still sleeping from before the
        reset is dropped when it wakes, so it cannot write into the next test's application."""
        self.generation += 1
        self.state.reset()
        self.clear_faults()
        self.clear_calls()

    def count(self, method: str | None = None, *, writes: bool = False) -> int:
        """Recorded calls, optionally of one API method (``apps.services.patch``) or writes only."""
        with self._calls_lock:
            return sum(1 for c in self.calls
                       if (method is None or c.method == method) and (not writes or c.is_write))

    def refusals(self) -> list[Call]:
        """Calls answered 4xx that no fault caused: what Google would have refused. meshspec validates
        before sending, so a test of plan/apply can assert this is empty."""
        with self._calls_lock:
            return [c for c in self.calls if c.fault is None and c.status and 400 <= c.status < 500]

    def _record(self, call: Call) -> None:
        with self._calls_lock:
            self.calls.append(call)

    # --- seeding and inspection -------------------------------------------------------------------

    def seed_version(self, service: str, version: str, *, env: str = "standard",
                     runtime: str = "python312", scaling: str = "automatic", warmup: bool = True,
                     serving_status: str = "SERVING", **fields: Any) -> dict:
        """Put a version in place at once (no operation, no default-first rule); a new service gets all
        its traffic on it. ``fields`` are extra Version fields in camelCase."""
        doc: dict = {"id": version, "runtime": runtime, "env": env, "servingStatus": serving_status,
                     f"{scaling}Scaling": {} if scaling != "manual" else {"instances": 1}, **fields}
        if warmup:
            doc["inboundServices"] = ["INBOUND_SERVICE_WARMUP"]
        return self.state.seed_version(service, doc)

    def seed_split(self, service: str, allocations: dict[str, float], shard_by: str = "IP") -> None:
        self.state.seed_split(service, {"allocations": allocations, "shardBy": shard_by})

    def seed_dispatch(self, rules: list[dict]) -> None:
        self.state.seed_dispatch(rules)

    def snapshot(self) -> dict:
        return self.state.snapshot()

    # --- clients ----------------------------------------------------------------------------------

    def client_options(self) -> dict:
        return {"api_endpoint": self.url}

    def clients(self) -> SimpleNamespace:
        """The real client library (REST transport, anonymous credentials) pointed at this emulator:
        ``applications``, ``services``, ``versions``."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import appengine_admin_v1 as admin

        kw = dict(transport="rest", client_options=self.client_options(), credentials=AnonymousCredentials())
        return SimpleNamespace(applications=admin.ApplicationsClient(**kw),
                               services=admin.ServicesClient(**kw),
                               versions=admin.VersionsClient(**kw))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    emulator: Emulator


class _Dropped(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self):
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def log_message(self, fmt, *args):  # noqa: D102 - quiet unless asked
        if self.server.emulator.verbose:
            sys.stderr.write("emulator: " + (fmt % args) + "\n")

    # --- plumbing ---------------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle's algorithm and the client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, doc: Any) -> None:
        body = json.dumps(doc, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self, call: Call) -> None:
        self.server.emulator._record(call)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped

    def _handle(self) -> None:
        emu = self.server.emulator
        url = urlsplit(self.path)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        http_method = self.command
        if path.startswith("/_emulator/"):
            return self._control(path, http_method, raw)
        method_id, params, known_path = ROUTES.match(http_method, path)
        call = Call(method_id, http_method, path, query, None)
        fault = emu.faults.take(method_id, http_method, path)
        call.fault = fault.id if fault else None
        # The call is recorded before the client can see an answer, so counts are exact when it returns.
        try:
            try:
                if fault and fault.kind == "error":
                    raise ApiError(STATUS_FOR_HTTP[int(fault.status)], fault.default_message())
                if fault and fault.kind == "drop" and not fault.apply:
                    self._drop(call)
                if fault and fault.kind == "slow":
                    born = emu.generation
                    time.sleep(fault.seconds)
                    if emu.generation != born:  # reset while asleep: answer nothing, record nothing
                        self.close_connection = True
                        raise _Dropped
                if method_id is None:
                    if known_path:
                        raise ApiError("UNIMPLEMENTED", f"Method {http_method} is not allowed on {path}.")
                    raise ApiError("NOT_FOUND", f"The requested URL {path} was not found on this server.")
                fail_with = None
                if fault and fault.kind == "operation_error":
                    fail_with = ApiError(fault.rpc_status(), fault.default_message())
                status, doc = 200, self._dispatch(emu, method_id, params, query, raw, fail_with)
            except ApiError as exc:
                status, doc = exc.http_status, exc.to_json()
            except _Dropped:
                raise
            except Exception as exc:  # a bug in the emulator: say so in Google's shape, not a hang-up
                status, doc = 500, ApiError("INTERNAL", f"meshspec emulator bug: {type(exc).__name__}: "
                                                        f"{exc}").to_json()
            if fault and fault.kind == "drop":
                self._drop(call)
        except _Dropped:
            return
        call.status = status
        emu._record(call)
        self._send(status, doc)

    # --- the API ----------------------------------------------------------------------------------

    def _dispatch(self, emu: Emulator, method_id: str, p: dict, q: dict, raw: bytes,
                  fail_with: ApiError | None) -> dict:
        state = emu.state
        ints = "enum-encoding=int" in q.get("$alt", "")
        app = p.get("appsId")
        op: Callable[[Any], dict] = lambda o: wire.render_operation(o.to_json(app), ints)  # noqa: E731
        page = (_int(q, "pageSize"), q.get("pageToken"))
        view = wire.enum_name(gae.VersionView, q.get("view"), "view")
        if method_id == "apps.get":
            return wire.render("Application", state.get_app(app), ints)
        if method_id == "apps.patch":
            return op(state.patch_app(app, wire.load_body(raw), q.get("updateMask"), fail_with))
        if method_id == "apps.services.list":
            result = state.list_services(app, *page)
            return _list("services", [wire.render("Service", s, ints) for s in result.items], result)
        if method_id == "apps.services.get":
            return wire.render("Service", state.get_service(app, p["servicesId"]), ints)
        if method_id == "apps.services.patch":
            return op(state.patch_service(app, p["servicesId"], wire.load_body(raw), q.get("updateMask"),
                                          _flag(q.get("migrateTraffic")), fail_with))
        if method_id == "apps.services.delete":
            return op(state.delete_service(app, p["servicesId"], fail_with))
        if method_id == "apps.services.versions.list":
            result = state.list_versions(app, p["servicesId"], view, *page)
            return _list("versions", [wire.render("Version", v, ints) for v in result.items], result)
        if method_id == "apps.services.versions.get":
            return wire.render("Version", state.get_version(app, p["servicesId"], p["versionsId"], view), ints)
        if method_id == "apps.services.versions.create":
            return op(state.create_version(app, p["servicesId"], wire.load_body(raw), fail_with))
        if method_id == "apps.services.versions.patch":
            return op(state.patch_version(app, p["servicesId"], p["versionsId"], wire.load_body(raw),
                                          q.get("updateMask"), fail_with))
        if method_id == "apps.services.versions.delete":
            return op(state.delete_version(app, p["servicesId"], p["versionsId"], fail_with))
        if method_id == "apps.operations.get":
            return wire.render_operation(state.get_operation(app, p["operationsId"]), ints)
        if method_id == "apps.operations.list":
            result = state.list_operations(app, *page)
            return _list("operations", [wire.render_operation(o, ints) for o in result.items], result)
        raise ApiError("UNIMPLEMENTED", f"Method appengine.{method_id} is not implemented by the meshspec "
                                        f"emulator (see `meshspec help appengine-emulator`).")

    # --- /_emulator/ ------------------------------------------------------------------------------

    def _control(self, path: str, http_method: str, raw: bytes) -> None:
        emu = self.server.emulator
        try:
            body = wire.load_body(raw) if raw else {}
            key = (http_method, path.rstrip("/"))
            if key == ("GET", "/_emulator/faults"):
                doc = {"faults": emu.faults.to_json()}
            elif key == ("POST", "/_emulator/faults"):
                options = {re.sub(r"([A-Z])", r"_\1", k).lower(): v for k, v in body.items()}
                kind = options.pop("kind", None)
                try:
                    doc = emu.add_fault(kind, **options).to_json()
                except (TypeError, ValueError) as exc:
                    raise invalid(f"Invalid fault: {exc}") from None
            elif key == ("DELETE", "/_emulator/faults"):
                emu.clear_faults()
                doc = {}
            elif key == ("POST", "/_emulator/reset"):
                emu.reset()
                doc = {}
            elif key == ("GET", "/_emulator/calls"):
                doc = {"calls": [asdict(c) for c in list(emu.calls)]}
            elif key == ("DELETE", "/_emulator/calls"):
                emu.clear_calls()
                doc = {}
            elif key == ("GET", "/_emulator/state"):
                doc = emu.snapshot()
            elif key in (("PATCH", "/_emulator/config"), ("POST", "/_emulator/config")):
                if "operationDelay" in body:
                    emu.operation_delay = float(body["operationDelay"])
                doc = {"operationDelay": emu.operation_delay}
            else:
                raise ApiError("NOT_FOUND", f"No emulator control endpoint {http_method} {path}.")
            self._send(200, doc)
        except ApiError as exc:
            self._send(exc.http_status, exc.to_json())


def _list(field: str, items: list, page) -> dict:
    doc: dict = {field: items} if items else {}
    if page.next_token:
        doc["nextPageToken"] = page.next_token
    return doc
