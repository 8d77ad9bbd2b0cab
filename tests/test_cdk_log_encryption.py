"""defaults.logKmsKey encrypts every log group meshspec creates, and clusters[].secretsEncryption the EKS
cluster's Kubernetes Secrets: each key takes effect in the templates, and is validated."""
from __future__ import annotations

import pytest

from meshspec.infra.spec import load_spec, load_text
from meshspec.stacks.app import build, new_app, synthesize

from .conftest import EXAMPLES, SHOP, TODAY

KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def log_groups(templates: dict) -> dict[str, dict]:
    return {f"{stack}/{name}": r for stack, t in templates.items() for name, r in t["Resources"].items()
            if r["Type"] == "AWS::Logs::LogGroup"}


@pytest.fixture(scope="module")
def created(tmp_path_factory):
    # GIVEN the Lattice example, which asks for logKmsKey: create
    spec = load_spec(EXAMPLES / "shop-lattice.yaml", today=TODAY).spec
    assert spec.defaults.log_kms_key == "create"
    return synthesize(build(spec, new_app(str(tmp_path_factory.mktemp("created")), validation=False))).stacks


@pytest.fixture(scope="module")
def given_arn(tmp_path_factory):
    # GIVEN the shop with an existing key's ARN, and its EKS cluster kept without secrets encryption
    text = SHOP.read_text().replace("  tracing: true\n", f"  tracing: true\n  logKmsKey: {KEY_ARN}\n").replace(
        "      platform: eks\n", "      platform: eks\n      secretsEncryption: false\n")
    result = load_text(text, file=str(SHOP), base_dir=SHOP.parent, today=TODAY)
    assert result.ok, [e.render() for e in result.errors]
    return synthesize(build(result.spec, new_app(str(tmp_path_factory.mktemp("arn")), validation=False))).stacks


def test_create_makes_one_rotated_key_whose_policy_lets_cloudwatch_logs_use_it(created):
    keys = {n: r for n, r in created["shop-shared"]["Resources"].items() if r["Type"] == "AWS::KMS::Key"}
    [(name, key)] = keys.items()
    assert name.startswith("LogsKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    [logs] = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
              if s.get("Principal", {}).get("Service") == "logs.eu-west-1.amazonaws.com"]
    assert set(logs["Action"]) == {"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                   "kms:Describe*"}
    assert logs["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Join": [
        "", ["arn:", {"Ref": "AWS::Partition"}, ":logs:eu-west-1:111122223333:log-group:*"]]}}}


def test_create_encrypts_every_log_group_of_every_stack(created):
    groups = log_groups(created)
    assert len(groups) >= 6  # services, flow log, Lattice access logs, EKS pods' fallback
    for where, group in groups.items():
        key = group["Properties"].get("KmsKeyId")
        assert key is not None, where
        assert "LogsKey" in str(key), where  # the shared key, in its own stack or through its export
        assert "checkov" not in group.get("Metadata", {}), where


def test_an_existing_key_arn_is_named_by_every_log_group_and_no_key_is_created(given_arn):
    groups = log_groups(given_arn)
    assert groups and {g["Properties"].get("KmsKeyId") for g in groups.values()} == {KEY_ARN}
    assert not [r for r in given_arn["shop-shared"]["Resources"].values() if r["Type"] == "AWS::KMS::Key"]


def test_secrets_encryption_false_keeps_the_cluster_without_it_and_says_why_to_checkov(given_arn):
    ml = given_arn["shop-ml"]["Resources"]
    assert not [r for r in ml.values() if r["Type"] == "AWS::KMS::Key"]
    [cluster] = [r for r in ml.values() if r["Type"] == "AWS::EKS::Cluster"]
    assert "EncryptionConfig" not in cluster["Properties"]
    assert cluster["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_58"


HEAD = """\
apiVersion: meshspec/v1
project: shop
defaults: {DEFAULTS}
aws:
  region: eu-west-1
  clusters: [{CLUSTER}]
services:
  a:
    cluster: core
    majors: {v1: {contract: c.json}}
    versions: [{name: a, image: img:1, traffic: 100}]
"""


def load(defaults: str = "{}", cluster: str = "{name: core, platform: ecs}"):
    return load_text(HEAD.replace("{DEFAULTS}", defaults).replace("{CLUSTER}", cluster), file="spec.yaml",
                     today=TODAY)


def test_fails_when_the_key_is_in_another_region():
    [err] = load("{logKmsKey: " + KEY_ARN.replace("eu-west-1", "us-east-1") + "}").errors
    assert (err.line, err.key_path, err.code) == (3, "defaults.logKmsKey", "log-key-region")
    assert "this key is in us-east-1, the log groups in eu-west-1" in err.message


def test_fails_when_the_key_is_no_kms_key_arn():
    [err] = load("{logKmsKey: alias/logs}").errors
    assert (err.line, err.key_path, err.code) == (3, "defaults.logKmsKey", "log-kms-key")
    assert err.message == "logKmsKey is `create` or the ARN of a KMS key"
    assert err.allowed == "create, or arn:aws:kms:REGION:ACCOUNT:key/KEY_ID (not an alias)"


def test_fails_when_there_are_no_aws_log_groups_to_encrypt():
    text = """\
apiVersion: meshspec/v1
project: shop
defaults: {logKmsKey: create}
gcp: {project: shop-prod-4711, location: europe-west}
services:
  web:
    appengine: {environment: standard, runtime: nodejs22, defaultService: true}
    majors: {v1: {contract: c.json}}
    versions: [{name: w1, source: gs://bkt/w1.zip, traffic: 100}]
"""
    [err] = load_text(text, file="spec.yaml", today=TODAY).errors
    assert (err.key_path, err.code) == ("defaults.logKmsKey", "log-key-without-aws")


def test_fails_when_secrets_encryption_is_set_on_an_ecs_cluster():
    [err] = load(cluster="{name: core, platform: ecs, secretsEncryption: true}").errors
    assert (err.key_path, err.code) == ("aws.clusters[0].secretsEncryption", "eks-only")
