"""JSON on the wire: parsed and rendered through Google's own protobuf messages.

Requests are read with ``json_format.ParseDict(..., ignore_unknown_fields=False)`` into the
``google.appengine.v1`` messages the client library ships, so an unknown field or enum value is refused
as Google refuses it, and both enum encodings are accepted (the Python client sends integers with
``$alt=json;enum-encoding=int``, gcloud sends names). State is kept as canonical JSON (camelCase,
enum names, defaults omitted) and rendered back in the encoding the request asked for.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from google.cloud.appengine_admin_v1 import types as gae
from google.longrunning import operations_pb2
from google.protobuf import json_format

from .rules import invalid

PB = {
    "Application": gae.Application.meta.pb,
    "Service": gae.Service.meta.pb,
    "Version": gae.Version.meta.pb,
    "OperationMetadataV1": gae.OperationMetadataV1.meta.pb,
}
TYPE_URL = "type.googleapis.com/"
EMPTY_TYPE = TYPE_URL + "google.protobuf.Empty"


def type_url(kind: str) -> str:
    return f"{TYPE_URL}google.appengine.v1.{kind}"


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def load_body(raw: bytes) -> dict:
    """Parse a request body; a key given twice (e.g. one version twice in a split) is refused, as a
    protobuf map cannot hold it ("Each version can be specified only once", TrafficSplit)."""
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise invalid(f"Invalid JSON payload received. Duplicate map key: {exc}. Each version can be "
                      f"specified only once.") from None
    except ValueError as exc:
        raise invalid(f"Invalid JSON payload received. {exc}.") from None
    if not isinstance(doc, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    return doc


def parse(kind: str, doc: dict, where: str) -> dict:
    """Validate ``doc`` against the ``kind`` message and return its canonical JSON."""
    message = PB[kind]()
    try:
        json_format.ParseDict(doc, message, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        first_line = str(exc).splitlines()[0]
        raise invalid(f"Invalid JSON payload received at '{where}': {first_line}") from None
    return json_format.MessageToDict(message)


def render(kind: str, doc: dict, int_enums: bool) -> dict:
    if not int_enums:
        return doc
    message = json_format.ParseDict(doc, PB[kind]())
    return json_format.MessageToDict(message, use_integers_for_enums=True)


def render_operation(doc: dict, int_enums: bool) -> dict:
    if not int_enums:
        return doc
    message = json_format.ParseDict(doc, operations_pb2.Operation())
    return json_format.MessageToDict(message, use_integers_for_enums=True)


def enum_name(enum_cls, value: str | int | None, field: str) -> str | None:
    """A query parameter enum (``view``) given as a name or as an integer."""
    if value in (None, ""):
        return None
    try:
        return enum_cls(int(value)).name if str(value).lstrip("-").isdigit() else enum_cls[str(value)].name
    except (KeyError, ValueError):
        raise invalid(f"Invalid value at '{field}': {value!r}.", field) from None


@lru_cache(maxsize=1)
def discovery() -> dict:
    """The discovery document google-api-python-client ships: the contract the emulator follows."""
    path = resources.files("googleapiclient") / "discovery_cache" / "documents" / "appengine.v1.json"
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def full_view_fields() -> frozenset[str]:
    """Version fields that "Only returned in GET requests if view=FULL is set" (discovery document)."""
    props = discovery()["schemas"]["Version"]["properties"]
    return frozenset(name for name, p in props.items()
                     if "view=FULL" in p.get("description", ""))
