"""Snapshots of the shop example's stacks, and no secret literal in any template, asset, manifest or snapshot."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from meshspec.infra.spec.checks import AWS_SECRET_REF, SECRET_NAME
from meshspec.stacks.app import build, new_app, synthesize

SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_cdk_snapshots"
LEAKS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)\"(?:password|passwd|secret|token|api_?key)\"\s*:\s*\"[^\"{]"),  # a secret-named literal
]


@pytest.fixture(scope="module")
def shop(shop_spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("snap")
    return synthesize(build(shop_spec, new_app(str(out), validation=False)))


@pytest.fixture
def template_snapshot(meshspec_snapshot):
    """meshspec's own pytest plugin (the one users get): its extension scrubs asset hashes, CDK paths and
    machine paths, in one place, before a template is compared."""

    def check(name: str, template: dict) -> None:
        assert template == meshspec_snapshot(name=name)

    return check


def test_shop_stacks_match_their_snapshots(shop, template_snapshot):
    assert sorted(shop.stacks) == ["shop-core", "shop-ml", "shop-queries", "shop-shared", "shop-svc-catalog",
                                   "shop-svc-erp-connector", "shop-svc-pricing", "shop-svc-recommendations"]
    for name in sorted(shop.stacks):
        template_snapshot(name, shop.stacks[name])


def test_secret_named_variables_come_from_references_only(shop):
    for stack, t in shop.stacks.items():
        for r in t["Resources"].values():
            if r["Type"] != "AWS::ECS::TaskDefinition":
                continue
            for c in r["Properties"]["ContainerDefinitions"]:
                for env in c.get("Environment", []):
                    assert not SECRET_NAME.search(env["Name"].upper()), (stack, c["Name"], env["Name"])
                for secret in c.get("Secrets", []):
                    ref = secret["ValueFrom"]
                    text = ref if isinstance(ref, str) else json.dumps(ref)
                    assert AWS_SECRET_REF.match(ref) if isinstance(ref, str) else ":parameter/" in text


def test_no_secret_literal_in_any_template_asset_manifest_or_snapshot(shop):
    files = [p for p in Path(shop.directory).rglob("*") if p.is_file()]
    files += [p for p in SNAPSHOTS.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".template.json") for p in files) and any("k8s" in p.parts for p in files)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in LEAKS:
            assert not pattern.search(text), f"{path}: {pattern.pattern}"


def test_the_leak_patterns_catch_a_literal():
    # the check above can fail: a secret-named literal and an access key are found
    assert LEAKS[2].search('{"password": "hunter2"}')
    assert LEAKS[0].search("AKIAABCDEFGHIJKLMNOP")
