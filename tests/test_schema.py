"""The checked-in JSON Schema is generated from the model and accepts every valid example."""
from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from meshspec.infra.spec.schema import schema_text

from .conftest import EXAMPLES, ROOT

SCHEMA_FILE = ROOT / "schema" / "meshspec.schema.json"


def test_checked_in_schema_is_up_to_date():
    assert SCHEMA_FILE.read_text() == schema_text(), "run: meshspec schema --out schema/meshspec.schema.json"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_schema_validates_every_example(example):
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load(example.read_text())
    data = json.loads(json.dumps(data, default=str))  # dates as strings, as an editor sees them
    jsonschema.Draft202012Validator(schema).validate(data)


@pytest.mark.parametrize("example", sorted(p for p in EXAMPLES.rglob("*.yaml") if "contracts" not in p.relative_to(EXAMPLES).parts),
                         ids=lambda p: p.name)
def test_examples_name_the_schema_in_their_first_line(example):  # specs; contracts/*.yaml are OpenAPI documents
    first = example.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (example.parent / first.split("=", 1)[1]).resolve()
    assert target == SCHEMA_FILE


def test_schema_refuses_an_unknown_key():
    schema = json.loads(SCHEMA_FILE.read_text())
    data = yaml.safe_load((EXAMPLES / "shop.yaml").read_text())
    data["services"]["catalog"]["helthCheck"] = "/x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(data, default=str)))
