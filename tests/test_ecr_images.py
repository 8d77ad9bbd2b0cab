"""Private ECR images: recognised by their registry host, pulled with a grant of exactly their repository."""
from __future__ import annotations

import json

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs

from meshspec.constructs_lib.ecr import PULL_ACTIONS, parse_ecr_image, repository_policy
from meshspec.constructs_lib.ecs import EcsCluster, EcsClusterProps, MeshedEcsService, MeshedEcsServiceProps
from tests.cdk_support import stack

DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize("image, arn", [
    ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/pricing:41",
     "arn:aws:ecr:eu-west-1:111122223333:repository/shop/pricing"),
    ("444455556666.dkr.ecr.us-east-1.amazonaws.com/team/app", "arn:aws:ecr:us-east-1:444455556666:repository/team/app"),
    (f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/app@{DIGEST}", "arn:aws:ecr:eu-west-1:111122223333:repository/app"),
    ("111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app:1",
     "arn:aws-us-gov:ecr:us-gov-west-1:111122223333:repository/app"),
    ("111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1", "arn:aws-cn:ecr:cn-north-1:111122223333:repository/app"),
    ("111122223333.dkr-ecr.eu-west-1.on.aws/app:1", "arn:aws:ecr:eu-west-1:111122223333:repository/app"),
])
def test_an_ecr_image_names_its_repository(image, arn):
    assert parse_ecr_image(image).repository_arn == arn


@pytest.mark.parametrize("image", ["public.ecr.aws/shop/pricing:41", "nginx:1.27", "ghcr.io/org/app:1",
                                   "docker.io/library/nginx", "1111.dkr.ecr.eu-west-1.amazonaws.com/app:1"])
def test_public_and_other_registries_are_not_ecr(image):
    assert parse_ecr_image(image) is None


def task(image: str) -> dict:
    s = stack()
    vpc = ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=1)
    cluster = EcsCluster(s, "C", EcsClusterProps(vpc=vpc))
    MeshedEcsService(s, "V", MeshedEcsServiceProps(
        cluster=cluster.cluster, service_name="a", version="v", image=image, port=80,
        log_group=logs.LogGroup(s, "L"), tracing=False))
    from aws_cdk import App

    assembly = App.of(s).synth()
    artifact = assembly.get_stack_by_name("Test")
    return {"template": artifact.template, "warnings": [m.entry.data for m in artifact.messages]}


def execution_statements(t: dict) -> list[dict]:
    return [st for lid, r in t["Resources"].items() if r["Type"] == "AWS::IAM::Policy" and "ExecutionRole" in lid
            for st in r["Properties"]["PolicyDocument"]["Statement"]]


def test_a_cross_account_image_grants_the_pull_of_its_repository_only():
    # GIVEN an image in another account's ECR repository / WHEN synthesized
    out = task("444455556666.dkr.ecr.eu-west-1.amazonaws.com/shop/pricing:41")
    statements = execution_statements(out["template"])
    # THEN the execution role may pull that repository and get a token, nothing broader
    assert {"Action": list(PULL_ACTIONS), "Effect": "Allow",
            "Resource": "arn:aws:ecr:eu-west-1:444455556666:repository/shop/pricing"} in statements
    assert {"Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"} in statements
    ecr = [s for s in statements if "ecr" in json.dumps(s["Action"])]
    assert len(ecr) == 2
    # the image is written exactly as given, and CDK's "attach policies" warning no longer applies
    (td,) = [r for r in out["template"]["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert td["Properties"]["ContainerDefinitions"][0]["Image"] == "444455556666.dkr.ecr.eu-west-1.amazonaws.com/shop/pricing:41"
    assert not [w for w in out["warnings"] if "ecrImageRequiresPolicy" in str(w) or "ECR" in str(w)]


def test_a_public_image_needs_no_grant():
    out = task("public.ecr.aws/shop/pricing:41")
    assert not [s for s in execution_statements(out["template"]) if "ecr" in json.dumps(s["Action"])]


def test_the_documented_cross_account_repository_policy_is_the_one_meshspec_describes():
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "aws.md").read_text()
    assert json.dumps(repository_policy("111122223333"), indent=2) in doc
