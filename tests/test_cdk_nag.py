"""cdk-nag's AwsSolutions pack on every stack (cdk-nag 3: a validation plugin, not an Aspect)."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from meshspec.stacks.app import build, new_app
from tests.cdk_support import load, shop_variant_ec2


def nag(app: cdk.App) -> list[dict]:
    """Synthesize with AwsSolutions; the findings (empty when synth passes)."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    try:
        app.synth()
    except RuntimeError as exc:
        if "ValidationFailed" not in str(exc):
            raise
        report = json.loads((Path(app.outdir) / "validation-report.json").read_text())
        return [{"rule": v["ruleName"], "paths": [c["constructPath"] for c in v["violatingConstructs"]]}
                for p in report["pluginReports"] for v in p["violations"]]
    return []


@pytest.mark.parametrize("variant", ["shop", "shop-ec2"])
def test_aws_solutions_has_no_unexplained_findings(variant, shop_spec, tmp_path):
    # GIVEN the example (Fargate, EKS) and its EC2-capacity variant / WHEN checked / THEN nothing is left
    spec = shop_spec if variant == "shop" else load(shop_variant_ec2())
    app = build(spec, new_app(str(tmp_path), validation=False)).app
    assert nag(app) == []


def test_an_unexplained_wildcard_is_a_finding(tmp_path):
    # the check above can fail: a role with Resource '*' and no acknowledgement is reported
    app = new_app(str(tmp_path), validation=False)
    stack = cdk.Stack(app, "Bare", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    findings = nag(app)
    assert [f["rule"] for f in findings] == ["AwsSolutions-IAM5[Resource::*]"]
