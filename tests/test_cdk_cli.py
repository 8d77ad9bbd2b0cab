"""`meshspec synth` and `meshspec plan`: outputs, exit codes, refusals; one integration test against `cdk synth`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshspec.infra.cli.main import main
from tests.conftest import EXAMPLES, ROOT, SHOP


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def previous(tmp_path_factory):
    """A cloud assembly of the shop as it is, synthesized once for the module."""
    out = tmp_path_factory.mktemp("prev") / "cdk.out"
    assert main(["synth", str(SHOP), "--out", str(out), "--no-validation"]) == 0
    return out


@pytest.fixture
def shifted(tmp_path) -> Path:
    """The shop with pricing's split moved from 90/10 to 80/20."""
    shutil.copytree(EXAMPLES / "contracts", tmp_path / "contracts")
    text = SHOP.read_text(encoding="utf-8")
    text = text.replace("image: public.ecr.aws/shop/pricing:41\n        traffic: 90",
                        "image: public.ecr.aws/shop/pricing:41\n        traffic: 80")
    text = text.replace("image: public.ecr.aws/shop/pricing:42\n        traffic: 10",
                        "image: public.ecr.aws/shop/pricing:42\n        traffic: 20")
    path = tmp_path / "shop.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_synth_writes_templates_and_says_the_app_mesh_warning_once(previous, capsys, tmp_path):
    code, out, err = run(capsys, "synth", str(SHOP), "--out", str(tmp_path / "o"), "--no-validation",
                         "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert {s["name"] for s in doc["stacks"]} >= {"shop-shared", "shop-core", "shop-ml"}
    assert all((tmp_path / "o" / s["template"]).is_file() for s in doc["stacks"])
    assert err.count("App Mesh reached end of support on 2026-09-30") == 1
    assert any(m.endswith("k8s/shop-svc-recommendations/recommendations.json") for m in doc["kubernetesManifests"])
    assert not [w for w in doc["warnings"] if "runs on EKS" in w]  # its pods register themselves (the registrar)


def test_plan_lists_resources_to_create_and_routes_with_weights(capsys):
    code, out, _ = run(capsys, "plan", str(SHOP))
    assert code == 0
    assert "stack shop-shared: create" in out
    assert "+ AWS::AppMesh::Mesh" in out
    assert "pricing/v1 [pricing-v1] /pricing/v1/: pricing-p-41=90, pricing-p-42=10 create" in out
    # the A/B test's cohort routes, each with its header (or cookie) on top of the path prefix
    assert "pricing/v1 [pricing-v1-testers-b] /pricing/v1/, x-shop-cohort=b: pricing-p-42=100 create" in out
    assert ("pricing/v1 [pricing-v1-sticky-p-41] /pricing/v1/, cookie~=^(.*;\\s*)?shop-ab=p-41(;.*)?$: "
            "pricing-p-41=100 create") in out
    assert "recommendations/v1 [recommendations-v1] content-type^=application/grpc: recommendations-r-3=100" in out


def test_plan_detailed_exitcode_is_2_when_everything_is_new(capsys):
    code, _, _ = run(capsys, "plan", str(SHOP), "--detailed-exitcode")
    assert code == 2


def test_plan_against_the_same_assembly_has_no_changes(previous, capsys):
    code, out, _ = run(capsys, "plan", str(SHOP), "--against", str(previous), "--detailed-exitcode", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["changes"] is False
    assert {s["action"] for s in doc["stacks"]} == {"none"}


def test_plan_against_a_previous_assembly_shows_the_weight_change(previous, shifted, capsys):
    code, out, _ = run(capsys, "plan", str(shifted), "--against", str(previous), "--detailed-exitcode",
                       "--format", "json")
    assert code == 2
    doc = json.loads(out)
    (route,) = [r for r in doc["routes"] if r["route"] == "pricing-v1"]
    assert route == {"route": "pricing-v1", "service": "pricing", "major": "v1", "match": "/pricing/v1/",
                     "action": "update", "weights": {"pricing-p-41": 80, "pricing-p-42": 20},
                     "previousWeights": {"pricing-p-41": 90, "pricing-p-42": 10}}
    changed = [s for s in doc["stacks"] if s["action"] != "none"]
    assert [s["update"] for s in changed] == [[{"logicalId": route_id, "type": "AWS::AppMesh::Route"}]
                                             for route_id in [changed[0]["update"][0]["logicalId"]]]


def test_plan_fails_when_against_is_not_a_cloud_assembly(tmp_path, capsys):
    code, _, err = run(capsys, "plan", str(SHOP), "--against", str(tmp_path))
    assert code == 1
    assert f"error: {tmp_path} is not a cloud assembly: it has no manifest.json" in err
    assert "hint: give the directory `cdk synth` or `meshspec synth --out` wrote" in err


def test_synth_fails_on_an_invalid_spec(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: meshspec/v1\nproject: Shop\n", encoding="utf-8")
    code, _, err = run(capsys, "synth", str(bad), "--out", str(tmp_path / "o"))
    assert code == 1 and "error(s)" in err


def test_synth_fails_when_the_spec_has_no_aws_section(tmp_path, capsys):
    spec = tmp_path / "gae.yaml"
    spec.write_text("apiVersion: meshspec/v1\nproject: p\ngcp: {project: proj-12345, location: europe-west}\n"
                    "services:\n  a:\n    appengine: {environment: standard, runtime: python312, defaultService: true}\n"
                    "    majors: {v1: {contract: c.json}}\n"
                    "    versions: [{name: x, source: gs://bkt/x.zip, traffic: 100}]\n", encoding="utf-8")
    (tmp_path / "c.json").write_text("{}", encoding="utf-8")
    code, _, err = run(capsys, "synth", str(spec), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "error: the spec has no aws section: nothing to synthesize for AWS" in err


def test_synth_fails_when_eks_manifests_need_an_account(tmp_path, capsys):
    # GIVEN the shop without aws.account (environment-agnostic stacks) and an EKS service
    shutil.copytree(EXAMPLES / "contracts", tmp_path / "contracts")
    text = SHOP.read_text(encoding="utf-8").replace('  account: "111122223333"\n', "")
    (tmp_path / "shop.yaml").write_text(text, encoding="utf-8")
    # WHEN synthesized / THEN refused by validate, before synth, with what to do (no internal error)
    code, _, err = run(capsys, "synth", str(tmp_path / "shop.yaml"), "--out", str(tmp_path / "o"), "--no-validation")
    assert code == 1
    assert ("error: aws: recommendations on EKS with App Mesh need aws.account: each pod's Envoy names its virtual "
            "node's ARN in the Kubernetes manifests meshspec writes") in err
    assert "hint: set aws.account, or use backend: lattice" in err
    assert not (tmp_path / "o").exists()  # nothing written


@pytest.mark.skipif(not (ROOT / "node_modules" / ".bin" / "cdk").exists(), reason="the CDK CLI is installed by ./dev")
def test_cdk_synth_with_builtin_validation_gives_the_same_templates(tmp_path, capsys):
    """The one integration test with CDK's built-in CloudFormation validation on: the npm CDK CLI on the
    project's Node, from the repository root, and `meshspec synth` write the same templates."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "JSII_NODE": str(Path(sys.executable).parent / "node"), "CDK_DISABLE_VERSION_CHECK": "1",
           "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    cli_out = tmp_path / "cli"
    proc = subprocess.run([str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "-o", str(cli_out),
                           "-c", f"spec={SHOP}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("App Mesh reached end of support on 2026-09-30") == 1
    assert "W3696" not in proc.stderr.replace("CloudFormation's W3696", "")
    report = json.loads((cli_out / "validation-report.json").read_text())
    (builtin,) = [p for p in report["pluginReports"] if p["pluginName"] == "CloudFormation Validate"]
    assert builtin["conclusion"] == "success" and builtin["violations"] == []
    acknowledged = {v["ruleName"] for v in builtin["suppressedViolations"]}
    assert "W3696" in acknowledged and acknowledged <= {"W3696", "W3010"}

    code, _, _ = run(capsys, "synth", str(SHOP), "--out", str(tmp_path / "meshspec"))
    assert code == 0
    cli = sorted(p.name for p in cli_out.glob("*.template.json"))
    ours = sorted(p.name for p in (tmp_path / "meshspec").glob("*.template.json"))
    assert cli == ours and len(cli) == 8
    for name in cli:
        assert json.loads((cli_out / name).read_text()) == json.loads((tmp_path / "meshspec" / name).read_text()), name
