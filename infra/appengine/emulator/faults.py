"""Fault injection: make chosen calls fail the ways Google and networks fail.

A :class:`Fault` matches calls by API method (the discovery id without ``appengine.``, e.g.
``apps.services.patch``), HTTP method and/or a path regex, and fires on the matching calls number
``after + 1`` to ``after + times`` (``times=None``: every call from then on). Kinds:

- ``error``: answer ``status`` (500, 503, 429, ...) in Google's error shape; nothing changes.
- ``slow``: wait ``seconds`` before answering (past the client's timeout); the call is then processed,
  so a write lands although the client gave up, as it can on Google.
- ``drop``: close the connection without an answer; with ``apply=True`` the call is processed first
  (the write lands, the answer is lost).
- ``operation_error``: the call is accepted and returns an operation that finishes with
  ``status``/``message`` as its error; nothing changes.
"""
from __future__ import annotations

import itertools
import re
import threading
from dataclasses import asdict, dataclass, field

from .rules import HTTP_STATUS, STATUS_FOR_HTTP

KINDS = ("error", "slow", "drop", "operation_error")


@dataclass
class Fault:
    kind: str
    method: str | None = None       # API method, e.g. "apps.services.patch"
    http_method: str | None = None  # GET, PATCH, ...
    path: str | None = None         # regex searched in the URL path, e.g. "/services/web-app$"
    status: int | str = 503         # HTTP status (error) or rpc status name/HTTP status (operation_error)
    message: str | None = None
    seconds: float = 2.0            # slow
    apply: bool = False             # drop: process the call before dropping the connection
    times: int | None = 1
    after: int = 0
    id: int = 0
    matched: int = 0                # calls that matched so far
    fired: int = 0                  # calls it changed

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.method and self.method.startswith("appengine."):
            self.method = self.method[len("appengine."):]
        if self.http_method:
            self.http_method = self.http_method.upper()
        if self.path:
            re.compile(self.path)
        if self.kind == "error" and int(self.status) not in STATUS_FOR_HTTP:
            raise ValueError(f"status {self.status!r} is not one of {sorted(STATUS_FOR_HTTP)}")
        if self.kind == "operation_error":
            self.rpc_status()  # validates

    def matches(self, method: str | None, http_method: str, path: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.http_method is None or self.http_method == http_method)
                and (self.path is None or re.search(self.path, path) is not None))

    def rpc_status(self) -> str:
        if isinstance(self.status, str) and not self.status.isdigit():
            if self.status not in HTTP_STATUS:
                raise ValueError(f"unknown rpc status {self.status!r}")
            return self.status
        return STATUS_FOR_HTTP.get(int(self.status), "INTERNAL")

    def default_message(self) -> str:
        return self.message or {
            429: "Quota exceeded (injected by the meshspec emulator).",
            503: "The service is currently unavailable (injected by the meshspec emulator).",
        }.get(int(self.status) if str(self.status).isdigit() else 0,
              f"{self.rpc_status()} (injected by the meshspec emulator).")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Faults:
    """The registry; thread-safe. ``take`` returns the fault to apply to one call, if any."""
    rules: list[Fault] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, **options) -> Fault:
        fault = Fault(kind, **options)
        with self._lock:
            fault.id = next(self._ids)
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, method: str | None, http_method: str, path: str) -> Fault | None:
        """Count the call against every matching fault; the first one in range fires."""
        chosen = None
        with self._lock:
            for fault in self.rules:
                if not fault.matches(method, http_method, path):
                    continue
                fault.matched += 1
                n = fault.matched - fault.after
                if chosen is None and n >= 1 and (fault.times is None or n <= fault.times):
                    fault.fired += 1
                    chosen = fault
        return chosen

    def to_json(self) -> list[dict]:
        with self._lock:
            return [f.to_json() for f in self.rules]
