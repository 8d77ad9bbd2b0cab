"""Partial synth for CI: ``meshspec synth --service`` / ``--changed-since`` write only the touched stacks and
what they depend on, each byte for byte the template a full synth writes."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from meshspec.infra.cli.main import main

from .conftest import EXAMPLES


def templates(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.glob("*.template.json")}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    assert main(["synth", str(EXAMPLES / "shop.yaml"), "--out", str(out)]) == 0
    return templates(out)


def test_partial_synth_writes_the_same_templates_as_a_full_synth(full, tmp_path, capsys):
    out = tmp_path / "part"
    assert main(["synth", str(EXAMPLES / "shop.yaml"), "--out", str(out), "--service", "erp-connector",
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    part = templates(out)
    # erp-connector's entry feeds its own stack, pricing's (pricing uses it: its port and protocol) and the
    # stacks of every service above it (catalog's dashboard shows it, with its objectives), plus what those
    # depend on (the shared stack, which every cluster stack changes)
    assert sorted(part) == sorted(f"{s}.template.json" for s in (
        "shop-shared", "shop-core", "shop-ml", "shop-svc-catalog", "shop-svc-pricing", "shop-svc-erp-connector"))
    for name, body in part.items():
        assert body == full[name], name
    # left out: the stacks erp-connector's entry does not feed
    assert set(full) - set(part) == {"shop-svc-recommendations.template.json", "shop-queries.template.json"}
    assert doc["partial"]["services"] == ["erp-connector"]
    assert doc["partial"]["changed"] == ["shop-svc-catalog", "shop-svc-pricing", "shop-svc-erp-connector"]
    assert doc["partial"]["stacks"] == ["shop-shared", "shop-core", "shop-ml", "shop-svc-catalog",
                                        "shop-svc-pricing", "shop-svc-erp-connector"]


@pytest.fixture
def repo(tmp_path):
    """A git repository holding a copy of the example, committed."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "base"], check=True)
    return tmp_path


def changed_since(spec: Path, out: Path, capsys) -> dict:
    assert main(["synth", str(spec), "--out", str(out), "--changed-since", "HEAD", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["partial"]


def full_synth(spec: Path, out: Path, capsys) -> dict[str, bytes]:
    assert main(["synth", str(spec), "--out", str(out)]) == 0
    capsys.readouterr()
    return templates(out)


def test_changed_since_synthesizes_the_stacks_a_change_touches(repo, full, capsys):
    spec = repo / "examples" / "shop.yaml"
    spec.write_text(spec.read_text().replace("image: public.ecr.aws/shop/pricing:42",
                                             "image: public.ecr.aws/shop/pricing:43"))
    partial = changed_since(spec, repo / "out", capsys)
    assert partial["services"] == ["pricing"]
    assert partial["changed"] == ["shop-svc-pricing"]  # no other stack reads a version's image
    part = templates(repo / "out")
    assert sorted(part) == ["shop-core.template.json", "shop-ml.template.json", "shop-shared.template.json",
                            "shop-svc-pricing.template.json"]
    assert part["shop-shared.template.json"] == full["shop-shared.template.json"]
    assert part["shop-svc-pricing.template.json"] != full["shop-svc-pricing.template.json"]
    assert b"pricing:43" in part["shop-svc-pricing.template.json"]


def partial_against_full(spec: Path, repo: Path, before: dict[str, bytes], capsys, differ: set[str]):
    """--changed-since HEAD, then a full synth: the templates that differ from ``before`` are ``differ``, and
    the partial synth wrote all of them, each as the full synth did."""
    partial = changed_since(spec, repo / "part", capsys)
    after = full_synth(spec, repo / "full", capsys)
    assert {n for n, body in after.items() if body != before[n]} == differ
    part = templates(repo / "part")
    assert differ <= set(part) and all(part[n] == after[n] for n in part)
    return partial, part


def test_a_port_change_writes_its_callers_stacks_too(repo, full, capsys):
    """Issue 16: catalog calls pricing, so pricing's port is in catalog's MESHSPEC_UPSTREAM_PRICING."""
    spec = repo / "examples" / "shop.yaml"
    text = spec.read_text()
    start = text.index("  pricing:\n")
    spec.write_text(text[:start] + text[start:].replace("port: 8080", "port: 8081", 1))
    partial, part = partial_against_full(spec, repo, full, capsys,
                                         {"shop-svc-pricing.template.json", "shop-svc-catalog.template.json"})
    assert partial["changed"] == ["shop-svc-catalog", "shop-svc-pricing"]
    assert b"pricing.shop.local:8081" in part["shop-svc-catalog.template.json"]


def test_a_new_consumer_on_lattice_writes_the_providers_auth_policy(repo, capsys):
    """Issue 16: on VPC Lattice a provider's auth policy names its consumers."""
    spec = repo / "examples" / "shop-lattice.yaml"
    before = full_synth(spec, repo / "before", capsys)
    text = spec.read_text()
    at = text.index("    versions:", text.index("  erp-connector:"))
    spec.write_text(text[:at] + "    uses: [catalog/v1]\n" + text[at:])
    # a cycle now (catalog → pricing → erp-connector → catalog): each of the three dashboards shows the others
    partial, _ = partial_against_full(spec, repo, before, capsys,
                                      {"shop-svc-catalog.template.json", "shop-svc-erp-connector.template.json",
                                       "shop-svc-pricing.template.json"})
    assert partial["changed"] == ["shop-svc-catalog", "shop-svc-pricing", "shop-svc-erp-connector"]


def test_a_contract_change_touches_no_template(repo, full, capsys):
    """Templates hold a major's path, never its contract's contents: a contract change writes nothing, says
    which contract files changed, and a full synth agrees."""
    for contract in (repo / "examples" / "contracts").glob("*.json"):
        contract.write_text(contract.read_text().replace("{", '{"description": "changed", ', 1))
    spec = repo / "examples" / "shop.yaml"
    assert main(["synth", str(spec), "--out", str(repo / "out"), "--changed-since", "HEAD", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["partial"]["stacks"] == [] and not (repo / "out").exists()
    assert "examples/contracts/catalog-v1.json" in doc["partial"]["contracts"]
    assert full_synth(spec, repo / "full", capsys) == full


def test_changed_since_with_no_aws_change_synthesizes_nothing(repo, capsys):
    assert main(["synth", str(repo / "examples" / "shop.yaml"), "--out", str(repo / "out"),
                 "--changed-since", "HEAD"]) == 0
    assert "no stack is touched: nothing to synthesize" in capsys.readouterr().err
    assert not (repo / "out").exists()


def test_changed_since_a_removed_service_names_its_stack(repo, capsys):
    spec = repo / "examples" / "shop.yaml"
    text = spec.read_text()
    start, end = text.index("  erp-connector:\n"), text.index("  recommendations:\n")
    spec.write_text((text[:start] + text[end:]).replace("uses: [erp-connector/v1]", "uses: []"))
    assert main(["synth", str(spec), "--out", str(repo / "out"), "--changed-since", "HEAD", "--format", "json"]) == 0
    captured = capsys.readouterr()
    partial = json.loads(captured.out)["partial"]
    assert partial["removedStacks"] == ["shop-svc-erp-connector"]
    assert partial["services"] == ["pricing"]  # it used erp-connector: its entry changed
    assert partial["changed"] == ["shop-svc-catalog", "shop-svc-pricing"]  # catalog's dashboard showed both
    assert "shop-svc-erp-connector: its service is gone from the spec; delete the stack" in captured.err


def test_changed_since_a_project_wide_setting_touches_the_stacks_that_read_it(repo):
    from meshspec.infra.cli.commands.synth import selection
    from meshspec.infra.spec import load_spec_or_raise

    spec = repo / "examples" / "shop.yaml"
    spec.write_text(spec.read_text().replace("logRetentionDays: 30", "logRetentionDays: 90"))
    partial = selection(load_spec_or_raise(spec), [], "HEAD", spec)
    # the shared stack (Lattice's access logs would read it) and every service stack (their log groups); the
    # cluster stacks and the queries stack do not read defaults, and the shared stack feeds the cluster stacks
    assert partial["changed"] == ["shop-shared", "shop-core", "shop-ml", "shop-svc-catalog", "shop-svc-pricing",
                                  "shop-svc-erp-connector", "shop-svc-recommendations"]


def test_fails_for_an_unknown_service(capsys):
    assert main(["synth", str(EXAMPLES / "shop.yaml"), "--service", "pricng"]) == 1
    err = capsys.readouterr().err
    assert "service 'pricng' is not in" in err and "did you mean 'pricing'?" in err


def test_fails_for_an_app_engine_service(capsys):
    assert main(["synth", str(EXAMPLES / "shop.yaml"), "--service", "web-app"]) == 1
    assert "service 'web-app' runs on App Engine: it has no AWS stack to synthesize" in capsys.readouterr().err


def test_fails_for_a_ref_git_does_not_know(repo, capsys):
    assert main(["synth", str(repo / "examples" / "shop.yaml"), "--changed-since", "no-such-ref"]) == 1
    assert "git diff --name-only no-such-ref" in capsys.readouterr().err


def test_plan_says_which_stack_holds_what(capsys):
    assert main(["plan", str(EXAMPLES / "shop.yaml"), "--format", "json"]) == 0
    layout = {s["stack"]: s for s in json.loads(capsys.readouterr().out)["layout"]}
    assert layout["shop-svc-recommendations"] == {"stack": "shop-svc-recommendations", "kind": "service",
                                                  "services": ["recommendations"], "cluster": "ml",
                                                  "dependsOn": ["shop-shared", "shop-ml"]}
    assert layout["shop-queries"]["services"] == ["catalog", "pricing"]
    assert main(["plan", str(EXAMPLES / "shop.yaml")]) == 0
    text = capsys.readouterr().out
    assert "  shop-svc-pricing: service pricing on core\n" in text
