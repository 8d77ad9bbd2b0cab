"""How long ``contracts check`` takes to compare one pair of large OpenAPI documents (the issue's 5,000 lines).

Writes a generated document (N paths, each with a GET and a PUT, a parameter, a request body and a response
schema in components) and a changed copy (a path removed, a response property retyped, a request property made
required, an operation added), then times, best of --runs, each in this process:

- compare: read both documents (parse with positions, follow $refs, index operations) and classify every change;
- validate: openapi-spec-validator on one document, uncached (meshspec validate pays it once per contract
  content; contracts check validates the new side only, and reuses validate's result in the same process).

Usage: .venv/bin/python benchmarks/contracts_openapi.py [--paths 59] [--runs 5]
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import tempfile
import time

import yaml

from meshspec.infra.contracts.openapi import load_openapi
from meshspec.infra.contracts.openapi_diff import compare_openapi


def document(paths: int) -> dict:
    doc = {"openapi": "3.1.0", "info": {"title": "big", "version": "1.0.0"}, "servers": [{"url": "/big/v1"}],
           "paths": {}, "components": {"schemas": {}}}
    for i in range(paths):
        props = {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string", "maxLength": 100},
                 **{f"f{j}": {"type": "integer", "minimum": 0, "description": f"field {j}"} for j in range(8)}}
        doc["components"]["schemas"][f"Item{i}"] = {"type": "object", "required": ["id", "name"], "properties": props}
        ref = {"$ref": f"#/components/schemas/Item{i}"}
        doc["paths"][f"/items{i}/{{id}}"] = {
            "get": {"operationId": f"get{i}", "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "q", "in": "query", "schema": {"type": "string", "enum": ["a", "b"]}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": ref}}},
                              "404": {"description": "not found"}}},
            "put": {"operationId": f"put{i}", "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": {"204": {"description": "stored"}}}}
    return doc


def changed(doc: dict) -> dict:
    new = copy.deepcopy(doc)
    new["paths"].pop("/items0/{id}")
    new["components"]["schemas"]["Item1"]["properties"]["f1"]["type"] = "string"
    new["components"]["schemas"]["Item2"]["required"].append("f2")
    new["paths"]["/extra"] = {"get": {"operationId": "extra", "responses": {"200": {"description": "ok"}}}}
    return new


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=59)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    old, new = document(args.paths), changed(document(args.paths))
    texts = [yaml.safe_dump(d, sort_keys=False) for d in (old, new)]
    print(f"documents: {len(texts[0].splitlines())} and {len(texts[1].splitlines())} lines")
    best = float("inf")
    for _ in range(args.runs):
        start = time.perf_counter()
        a = load_openapi("old.yaml", texts[0], lambda r: None, validate=False)
        b = load_openapi("new.yaml", texts[1], lambda r: None, validate=False)
        changes = compare_openapi(a, b, dt.date(2026, 12, 6))
        best = min(best, time.perf_counter() - start)
    assert not a.problems and not b.problems
    print(f"compare (read both, follow refs, classify): best {best:.3f} s of {args.runs}; {len(changes)} changes, "
          f"{sum(c.level == 'error' for c in changes)} breaking")
    start = time.perf_counter()
    os.environ["MESHSPEC_CACHE_DIR"] = tempfile.mkdtemp()  # uncached: no verdict from an earlier run
    c = load_openapi("new.yaml", texts[1], lambda r: None)
    assert not c.problems, c.problems
    print(f"validate (openapi-spec-validator, one document, uncached): {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
