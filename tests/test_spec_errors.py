"""Every file in examples/bad/ gets exactly the errors listed here: line, key path, code and what is allowed.

The table is the contract of the error format (as pre-commit's clientlib tests assert messages verbatim).
"""
from __future__ import annotations

import shutil

import pytest

from meshspec.infra.spec import load_spec

from .conftest import EXAMPLES, TODAY

BAD = EXAMPLES / "bad"

# file -> [(line, key path, code, substring of the message, substring of "allowed" or None)]
EXPECTED = {
    "unknown-key.yaml": [
        (13, "services.catalog.helthCheck", "unknown-key", "unknown key 'helthCheck'", "healthCheck"),
    ],
    "duplicate-key.yaml": [
        (20, "services.catalog", "duplicate-key", "already given on line 11", "each key once"),
    ],
    "traffic-sum.yaml": [
        (18, "services.user-service.versions", "traffic-sum", "the shares of v1 sum to 90%, not 100%", "summing to 100"),
    ],
    "traffic-precision.yaml": [
        (21, "services.user-service.versions[0].traffic", "traffic-precision", "87.5% of v1 cannot be expressed",
         "whole percentages"),
        (24, "services.user-service.versions[1].traffic", "traffic-precision",
         "App Engine ip splits take fractions with at most 2 decimals", "whole percentages"),
    ],
    "secret-literal.yaml": [
        (14, "services.catalog.env.DB_PASSWORD", "secret-literal", "DB_PASSWORD looks like a secret", "secrets:"),
    ],
    "fargate-size.yaml": [
        (15, "services.catalog.memory", "fargate-memory", "Fargate does not offer 4096 MiB with 256 CPU units",
         "512, 1024, 2048"),
    ],
    "bad-references.yaml": [
        (12, "services.catalog.cluster", "unknown-cluster", "cluster 'cor' is not defined", "core"),
        (20, "services.catalog.uses[0]", "unknown-service", "'pricng' is not a service", "catalog, pricing"),
        (20, "services.catalog.uses[1]", "unknown-major", "pricing has no major v3", "pricing/v1, pricing/v2"),
        (20, "services.catalog.uses[2]", "uses-retired", "pricing/v1 is retired", "pricing/v2"),
    ],
    "appengine-version-ids.yaml": [
        (18, "services.user-service.versions[0].name", "appengine-version-id", "reserves", "not 'default'"),
        (21, "services.user-service.versions[1].name", "appengine-version-id", "reserves", "no '-dot-'"),
        (24, "services.user-service.versions[2].name", "appengine-version-id", "reserves", "'ah-'"),
    ],
    "wrong-types.yaml": [
        (14, "services.catalog.port", "int-parsing", "valid integer", "a whole number"),
        (15, "services.catalog.protocol", "not-allowed", "not one of the allowed values", "'http', 'http2' or 'grpc'"),
    ],
    "missing-keys.yaml": [
        (8, "aws.clusters[0].platform", "missing-key", "required key 'platform' is missing", "aws.clusters[0]"),
        (11, "services.catalog.majors", "missing-key", "required key 'majors' is missing", "services.catalog"),
    ],
    "syntax.yaml": [
        (8, "(document)", "yaml-syntax", "not valid YAML", None),
    ],
    "alias-bomb.yaml": [
        (8, "a5[0]", "yaml-alias-limit", "the alias *a4 stands for 66430 nodes", "at most 100000 nodes"),
    ],
    "merge-key.yaml": [
        (13, "services.catalog.memory", "fargate-memory",
         "Fargate does not offer 4096 MiB with 256 CPU units (came through the merge key `<<` on line 16)",
         "512, 1024, 2048"),
    ],
    "secret-shapes.yaml": [
        (15, "services.catalog.env.DB_PASS", "secret-literal", "its name says it is a secret (DB_PASS)", "secrets:"),
        (16, "services.catalog.env.DATABASE_URL", "secret-literal", "the shape of a password inside a URL",
         "secrets:"),
    ],
    "appengine-dispatch-rules.yaml": [
        (27, "services.user-service.majors", "quota-appengine", "App Engine would need 23 dispatch rules",
         "at most 20"),
    ],
    "account-leading-zero.yaml": [
        (7, "aws.account", "leading-zero-dropped", "012345678901 as a number and dropped its leading zero",
         "text"),
    ],
    "yaml-tag.yaml": [
        (14, "services.catalog.env.LOG_LEVEL", "yaml-tag", "the tag !!python/object/apply:os.system is not allowed",
         "!!str"),
    ],
    "quota-weighted-targets.yaml": [
        (17, "services.catalog.versions", "quota-appmesh", "11 code versions are weighted targets", "at most 10"),
    ],
}


def test_every_bad_example_is_in_the_table():
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_example_reports_exactly_its_errors(name):
    result = load_spec(BAD / name, today=TODAY)
    assert not result.ok
    got = [(e.line, e.key_path, e.code) for e in result.errors]
    assert got == [(line, path, code) for line, path, code, _, _ in EXPECTED[name]]
    for err, (_, _, _, message, allowed) in zip(result.errors, EXPECTED[name]):
        assert err.file.endswith(name)
        assert err.column is not None
        assert message in err.message
        if allowed is not None:
            assert allowed in (err.allowed or "")


def test_unknown_key_suggests_the_closest_key():
    [err] = load_spec(BAD / "unknown-key.yaml").errors
    assert err.hint == "did you mean 'healthCheck'?"
    assert err.render() == (
        f"{err.file}:13:5: error: services.catalog.helthCheck: unknown key 'helthCheck' (given: 'helthCheck'; "
        "allowed: cluster, appengine, capacity, port, protocol, healthCheck, cpu, memory, desiredCount, env, secrets, majors, "
        "versions, notSecret, uses, logRetentionDays, language, slo)\n    hint: did you mean 'healthCheck'?")


def test_secret_value_never_appears_in_the_message():
    [err] = load_spec(BAD / "secret-literal.yaml").errors
    assert "hunter2" not in err.render()
    assert "hunter2" not in str(err.to_json())
    for err in load_spec(BAD / "secret-shapes.yaml").errors:
        assert "Zr9#kq2" not in err.render() and "s3cretPassw0rd" not in err.render()


def test_unreadable_file_is_an_error_not_a_traceback(tmp_path):
    result = load_spec(tmp_path / "nope.yaml")
    [err] = result.errors
    assert err.code == "unreadable"
    assert "No such file" in err.message


def test_every_pattern_of_the_schema_is_explained_in_words():
    # a value that breaks a pattern is told what is allowed in words, never as a regular expression
    import json

    from meshspec.infra.spec.loader import _PATTERN_WORDS
    from meshspec.infra.spec.schema import schema_text

    patterns = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(schema_text()))
    # a backend's own keys (Lattice's certificate ARN) are the backend's to word; the core names no backend
    from meshspec.backends.lattice.settings import CertificateArn

    backend_patterns = {m.pattern for m in CertificateArn.__metadata__}
    assert patterns and patterns - backend_patterns <= set(_PATTERN_WORDS), sorted(
        patterns - backend_patterns - set(_PATTERN_WORDS))


def test_a_header_name_with_spaces_is_refused_in_words(tmp_path):
    spec = tmp_path / "shop.yaml"
    spec.write_text((EXAMPLES / "shop.yaml").read_text().replace("header: x-shop-cohort\n", 'header: "x shop"\n', 1))
    shutil.copytree(EXAMPLES / "contracts", tmp_path / "contracts")
    errors = load_spec(spec, today=TODAY).errors
    [err] = [e for e in errors if e.key_path.endswith("header")]
    assert err.key_path == "services.pricing.majors.v1.cohorts[0].header" and "x shop" in str(err.given)
    assert err.allowed.startswith("a header or cookie name (an HTTP token") and "{1,100}" not in err.allowed
