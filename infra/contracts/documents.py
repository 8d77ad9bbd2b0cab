"""Both kinds of contract behind one view: which operations a major serves, and where each one is.

A contract is an OpenAPI 3.0/3.1 document (YAML or JSON, recognised by its top-level ``openapi``) or a meshspec
JSON Schema 2020-12 contract (JSON with ``x-meshspec-endpoint``s). Validate, ``contracts check`` and
``contracts retire-plan`` all read contracts through :func:`load_contract` and :func:`operations`.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Callable, Union

from .contract import ENDPOINT, Contract, parse_contract, pointer
from .openapi import OpenAPIContract, Read, Routed, is_openapi, load_openapi, template

AnyContract = Union[Contract, OpenAPIContract]


@dataclass(frozen=True)
class Op(Routed):
    """One operation a major serves, as consumers name it."""

    method: str
    full: str  # the whole path a consumer calls, e.g. /user-service/v1/users/{userId}
    deprecated: bool
    sunset: dt.date | None
    file: str
    line: int | None
    pointer: str


def load_contract(rel: str, read: Read, display: Callable[[str], str] = lambda r: r, *,
                  validate: bool = True) -> AnyContract | None:
    """The contract at ``rel`` (relative to the spec's folder), checked; None when it cannot be read.
    ``validate=False``: no openapi-spec-validator run (see :func:`load_openapi`)."""
    text = read(rel)
    if text is None:
        return None
    if rel.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if not is_openapi(data):
            return parse_contract(text, display(rel))
    return load_openapi(rel, text, read, display, validate=validate)


def operations(contract: AnyContract) -> dict[str, Op]:
    """Route (``GET /users/{}``, parameter names blanked) → operation, in document order."""
    out: dict[str, Op] = {}
    if isinstance(contract, OpenAPIContract):
        for route, o in contract.operations.items():
            out[route] = Op(o.method, o.full, o.deprecated, o.sunset, contract.display(o.where),
                            contract.line(o.where), pointer(o.where.path))
        return out
    if not contract.ok:
        return out
    for name, (endpoint, _) in contract.endpoints().items():
        m = ENDPOINT.match(endpoint)
        if m is None:
            continue
        ptr = pointer(("properties", name, "x-meshspec-endpoint"))
        op = Op(m.group(1), m.group(2), False, None, contract.file, contract.line(ptr), ptr)
        out.setdefault(op.route, op)
    return out


def find(ops: dict[str, Op], prefix: str, named: str) -> Op | None:
    """The operation a consumer names: ``GET /users/{id}`` relative to the major's prefix, or its whole path."""
    method, _, path = named.partition(" ")
    for full in (prefix.rstrip("/") + path, path):
        hit = ops.get(f"{method} {template(full)}")
        if hit is not None:
            return hit
    return None


def under(full: str, prefix: str) -> bool:
    """Is a path served under the major's prefix (``/user-service/v1/``, or ``/`` for everything)?"""
    return full == prefix.rstrip("/") or full.startswith(prefix) or prefix == "/"
