"""The JSON Schema of the spec, generated from the pydantic model (never written by hand)."""
from __future__ import annotations

import json

from .model import Spec

SCHEMA_ID = "https://meshspec.dev/schema/meshspec-v1.json"


def schema() -> dict:
    doc = Spec.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **doc}


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=False) + "\n"
