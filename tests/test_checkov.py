"""checkov's CloudFormation checks on the synthesized templates of every shipped example (one run for the module:
it is slow): nothing fails, and every skip names its reason in the resource's metadata.

checkov runs from its own environment (``./dev`` installs it into ``.tools/checkov``, pinned in
``requirements-checkov.txt``): it pins boto3 exactly to a release older than the one meshspec uses.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from meshspec.stacks.app import build, new_app, synthesize

from .conftest import EXAMPLES, ROOT, TODAY

# Skips meshspec writes on purpose, with where they come from.
EXPECTED_SKIPS = {
    "CKV_AWS_158": "a log group when the spec names no defaults.logKmsKey (CloudWatch Logs' own encryption)",
    "CKV_AWS_18": "aws.pipeline's artifact bucket: no access log (only the pipeline's own artifacts)",
    "CKV_AWS_21": "aws.pipeline's artifact bucket: no versioning (no object is read back at an earlier version)",
    "CKV_AWS_111": "an ECS cluster's EC2 instance role: the container agent's actions as aws-cdk-lib grants them",
    **{check: "aws-cdk-lib's AwsCustomResource function that turns ECS's ENI trunking on (EC2 capacity)"
       for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117")},
}


def checkov_binary() -> str:
    found = os.environ.get("MESHSPEC_CHECKOV") or (
        str(ROOT / ".tools" / "checkov" / "bin" / "checkov") if (ROOT / ".tools" / "checkov" / "bin" / "checkov").exists()
        else shutil.which("checkov"))
    if not found:
        pytest.fail("checkov is not installed: `./dev test` installs it into .tools/checkov "
                    "(or set MESHSPEC_CHECKOV to a checkov binary)")
    return found


CANARY = {"Resources": {"Plain": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}}}}


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    from meshspec.infra.spec import load_spec, load_text

    root = tmp_path_factory.mktemp("checkov")
    examples = sorted(EXAMPLES.glob("*.yaml"))
    templates = []
    for example in examples:
        spec = load_spec(example, today=TODAY).spec
        result = synthesize(build(spec, new_app(str(root / example.stem), validation=False)))
        templates += [root / example.stem / f"{n}.template.json" for n in result.stacks]
    # aws.pipeline's stack (no example has one: it names a repository and a connection of its own)
    from tests.pipeline_support import pipeline_spec_text, synth_pipeline

    synth_pipeline(load_text(pipeline_spec_text(3), today=TODAY).spec, root / "pipeline")
    templates.append(root / "pipeline" / "big-pipeline.template.json")
    # a log group with no key and no skip: shows the scan can fail
    (root / "canary").mkdir()
    (root / "canary" / "canary.template.json").write_text(json.dumps(CANARY))
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # offline: no guideline download
    proc = subprocess.run([checkov_binary(), "-d", str(root), "--framework", "cloudformation", "--skip-download",
                           "-o", "json"], capture_output=True, text=True, timeout=900, env=env)
    assert proc.stdout.strip(), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    [cfn] = [r for r in (report if isinstance(report, list) else [report]) if r["check_type"] == "cloudformation"]
    return examples, templates, cfn["results"]


def _file(check) -> str:
    return check["file_path"].lstrip("/")


def test_no_check_fails_on_any_example(scan):
    _, _, results = scan
    failed = [(c["check_id"], _file(c), c["resource"]) for c in results["failed_checks"]
              if not _file(c).startswith("canary/")]
    assert failed == []


def test_the_scan_can_fail_a_log_group_without_a_key(scan):
    _, _, results = scan
    canary = [c["check_id"] for c in results["failed_checks"] if _file(c).startswith("canary/")]
    assert canary == ["CKV_AWS_158"]


def test_every_skip_is_expected_and_names_its_reason(scan):
    _, _, results = scan
    skips = results["skipped_checks"]
    assert skips, "the example without logKmsKey acknowledges its log groups"
    assert {c["check_id"] for c in skips} <= set(EXPECTED_SKIPS)
    for c in skips:
        assert len(c["check_result"].get("suppress_comment") or "") > 40, c


def test_a_key_in_the_spec_leaves_nothing_to_skip(scan):
    # shop-lattice.yaml names defaults.logKmsKey: create; shop.yaml leaves it out
    _, _, results = scan
    skipped = Counter(_file(c).split("/")[0] for c in results["skipped_checks"] if c["check_id"] == "CKV_AWS_158")
    passed = Counter(_file(c).split("/")[0] for c in results["passed_checks"])
    assert skipped["shop-lattice"] == 0 and passed["shop-lattice"] > 0
    _, templates, _ = scan
    plain = Counter(t.parent.name for t in templates for r in json.loads(t.read_text())["Resources"].values()
                    if r["Type"] == "AWS::Logs::LogGroup" and "KmsKeyId" not in r["Properties"])
    assert plain["shop-lattice"] == 0
    assert skipped == plain  # one skip for each log group left to CloudWatch Logs' own encryption, no other
    assert "CKV_AWS_58" in {c["check_id"] for c in results["passed_checks"]}  # EKS secrets encrypted by default


def test_every_example_and_template_was_scanned(scan):
    examples, templates, results = scan
    scanned = {_file(c) for kind in ("passed_checks", "skipped_checks") for c in results[kind]}
    assert {e.stem for e in examples} <= {f.split("/")[0] for f in scanned}
    with_resources = [t for t in templates if any(
        r["Type"] != "AWS::CDK::Metadata" for r in json.loads(t.read_text()).get("Resources", {}).values())]
    missing = [str(t) for t in with_resources if f"{t.parent.name}/{t.name}" not in scanned
               and not _only_unchecked(t)]
    assert missing == []


def _only_unchecked(template: Path) -> bool:
    """Templates whose resources no CloudFormation check of checkov looks at (saved queries only)."""
    kinds = {r["Type"] for r in json.loads(template.read_text())["Resources"].values()}
    return kinds <= {"AWS::CDK::Metadata", "AWS::Logs::QueryDefinition"}


def test_the_pipelines_artifact_bucket_is_the_only_skip_of_its_stack(scan):
    _, _, results = scan
    skips = [(c["check_id"], c["resource"]) for c in results["skipped_checks"] if _file(c).startswith("pipeline/")]
    assert sorted(skips) == [("CKV_AWS_18", "AWS::S3::Bucket.PipelineArtifactsBucket7F53AAE0"),
                             ("CKV_AWS_21", "AWS::S3::Bucket.PipelineArtifactsBucket7F53AAE0")]
    assert [c for c in results["passed_checks"] if _file(c).startswith("pipeline/")]



def test_ec2_capacity_skips_only_what_aws_cdk_lib_generates_for_it(scan):
    # shop.yaml's core cluster offers EC2 capacity (erp-connector runs there); the other examples' do not
    _, _, results = scan
    ec2 = [(c["check_id"], _file(c), c["resource"]) for c in results["skipped_checks"]
           if c["check_id"] in {"CKV_AWS_111", "CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}]
    assert {(check, f) for check, f, _ in ec2} == {(check, "shop/shop-core.template.json") for check in (
        "CKV_AWS_111", "CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117")}
    assert {r for _, _, r in ec2} == {"AWS::IAM::Policy.ClusterInstanceRoleDefaultPolicyCCF783BA",
                                      "AWS::Lambda::Function.AWS679f53fac002430cb0da5b7982bd22872D164C4C"}
