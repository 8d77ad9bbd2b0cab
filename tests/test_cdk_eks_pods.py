"""EKS pods get their secrets from references (ASCP) and ship their stdout to their service's log group
(Fluent Bit), as ECS tasks do (GIVEN / WHEN / THEN)."""
from __future__ import annotations

import json
import re

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match

from meshspec.constructs_lib.observability import TelemetryProps
from meshspec.constructs_lib.eks import (LOG_GROUP_ANNOTATION, EksCluster, EksClusterProps, KubernetesWorkload,
                                KubernetesWorkloadProps, PodLogRouter, PodLogRouterProps, WorkloadVersion,
                                render_manifests, write_manifests)
from meshspec.constructs_lib.eks.pod_logs import fluent_bit_config
from meshspec.constructs_lib.eks.secrets import SECRETS_STORE_ADDON
from meshspec.constructs_lib.errors import PropsError
from tests.cdk_support import stack, template

DB = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/rec/db-AbCdEf"
TOKEN = "arn:aws:ssm:eu-west-1:111122223333:parameter/shop/rec/token"
SECRETS = {"DB_PASSWORD": DB, "FEATURE_TOKEN": TOKEN}


def vpc_in(s):
    return ec2.Vpc(s, "Vpc", availability_zones=["eu-west-1a", "eu-west-1b"], nat_gateways=1)


@pytest.fixture(scope="module")
def pods(tmp_path_factory):
    # GIVEN an EKS cluster with its defaults, the project's log router, and a workload with two secret
    # references (Secrets Manager, SSM) whose pods log to their service's group
    s = stack()
    cluster = EksCluster(s, "Cluster", EksClusterProps(vpc=vpc_in(s), cluster_name="shop-ml"))
    router = PodLogRouter(s, "PodLogs", cluster=cluster,
                          props=PodLogRouterProps(log_group_prefix="/meshspec/shop/", name="ml"))
    workload = KubernetesWorkload(s, "Rec", cluster=cluster, props=KubernetesWorkloadProps(
        service_name="rec", port=8080, versions=(WorkloadVersion("r-3", "img:3"),), environment={"MODE": "fast"},
        secrets=SECRETS, log_group_name="/meshspec/shop/rec"))
    out = tmp_path_factory.mktemp("k8s")
    # WHEN synthesized and the manifests written
    files = write_manifests(None, out, workloads=[workload, router])
    return template(s), workload, router, files


def _by_kind(manifests, kind):
    return [m for m in manifests if m["kind"] == kind]


def test_the_cluster_installs_the_secrets_store_addon_with_sync_secret_on(pods):
    t, _, _, _ = pods
    t.has_resource_properties("AWS::EKS::Addon", {
        "AddonName": SECRETS_STORE_ADDON,
        "ConfigurationValues": json.dumps({"secrets-store-csi-driver": {"syncSecret": {"enabled": True}}},
                                          separators=(",", ":"))})


def test_the_pod_role_reads_exactly_the_referenced_secrets(pods):
    t, _, _, _ = pods
    (policy,) = [p for p in t.find_resources("AWS::IAM::Policy").values()
                 if "RecPodRole" in json.dumps(p["Properties"]["Roles"])]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {"Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Effect": "Allow",
            "Resource": DB} in statements
    assert {"Action": "ssm:GetParameters", "Effect": "Allow", "Resource": TOKEN} in statements
    secret_actions = [st for st in statements if "secretsmanager" in json.dumps(st) or "ssm:" in json.dumps(st)]
    assert all("*" not in json.dumps(st["Resource"]) for st in secret_actions)


def test_a_secret_provider_class_lists_the_references_for_pod_identity(pods):
    _, workload, _, _ = pods
    (spc,) = _by_kind(workload.manifests, "SecretProviderClass")
    assert spc["metadata"] == {"name": "rec-secrets", "namespace": "default"}
    params = spc["spec"]["parameters"]
    assert params["usePodIdentity"] == "true" and params["region"] == "eu-west-1"
    assert json.loads(params["objects"]) == [
        {"objectName": DB, "objectType": "secretsmanager", "objectAlias": "DB_PASSWORD"},
        {"objectName": TOKEN, "objectType": "ssmparameter", "objectAlias": "FEATURE_TOKEN"}]
    assert spc["spec"]["secretObjects"] == [{"secretName": "rec-secrets", "type": "Opaque", "data": [
        {"objectName": "DB_PASSWORD", "key": "DB_PASSWORD"}, {"objectName": "FEATURE_TOKEN", "key": "FEATURE_TOKEN"}]}]


def test_the_app_reads_its_secrets_through_secret_key_refs_and_mounts_the_csi_volume(pods):
    _, workload, _, _ = pods
    (dep,) = _by_kind(workload.manifests, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    app = pod["containers"][0]
    env = {e["name"]: e for e in app["env"]}
    assert env["DB_PASSWORD"] == {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "rec-secrets", "key": "DB_PASSWORD"}}}
    assert env["MODE"] == {"name": "MODE", "value": "fast"}
    assert [e["name"] for e in app["env"]] == sorted(env)
    assert app["volumeMounts"] == [{"name": "secrets-store", "mountPath": "/mnt/secrets-store", "readOnly": True}]
    assert pod["volumes"] == [{"name": "secrets-store", "csi": {
        "driver": "secrets-store.csi.k8s.io", "readOnly": True, "volumeAttributes": {"secretProviderClass": "rec-secrets"}}}]


def test_no_secret_variable_has_a_value_in_the_written_manifests(pods):
    _, _, _, files = pods
    rec = next(f for f in files if f.name == "rec.json")
    doc = json.loads(rec.read_text())
    for item in doc["items"]:
        for c in item.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for e in c.get("env", []):
                assert not (e["name"] in SECRETS and "value" in e), e
    assert "Secret" not in [i["kind"] for i in doc["items"]]  # the driver makes it, never the manifests


def test_pods_carry_their_log_group_annotation(pods):
    _, workload, _, _ = pods
    (dep,) = _by_kind(workload.manifests, "Deployment")
    assert dep["spec"]["template"]["metadata"]["annotations"] == {
        LOG_GROUP_ANNOTATION: "/meshspec/shop/rec", "instrumentation.opentelemetry.io/inject-python": "true"}


def test_the_log_router_writes_only_to_the_projects_log_groups(pods):
    t, _, _, _ = pods
    t.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": Match.string_like_regexp("^PodLogsRole")}],
        "PolicyDocument": {"Statement": [{
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"], "Effect": "Allow",
            "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                           ":logs:eu-west-1:111122223333:log-group:/meshspec/shop/*"]]}}]}})
    t.has_resource_properties("AWS::EKS::PodIdentityAssociation", {
        "Namespace": "meshspec-logging", "ServiceAccount": "meshspec-fluent-bit"})
    t.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/meshspec/shop/_unrouted/ml",
                                                      "RetentionInDays": 7})


def test_the_log_router_sends_the_raw_line_to_the_group_the_pod_names(pods):
    _, _, router, files = pods
    (cm,) = _by_kind(router.manifests, "ConfigMap")
    conf = cm["data"]["fluent-bit.conf"]
    lines = {tuple(line.split(None, 1)) for line in conf.splitlines() if line.startswith("    ")}
    assert ("log_key", "log") in lines  # the event is the container's line, as awslogs writes it
    assert ("log_group_template", "$kubernetes['annotations']['meshspec.io/log-group']") in lines
    assert ("Regex", "$kubernetes['annotations']['meshspec.io/log-group'] ^/meshspec/shop/") in lines
    assert ("log_stream_template", "$kubernetes['labels']['meshspec.io/version']/$kubernetes['container_name']/"
            "$kubernetes['pod_name']") in lines
    assert ("Merge_Log", "Off") in lines and ("multiline.parser", "cri") in lines
    assert ("region", "eu-west-1") in lines and ("auto_create_group", "Off") in lines
    (ds,) = _by_kind(router.manifests, "DaemonSet")
    assert ds["spec"]["template"]["spec"]["serviceAccountName"] == "meshspec-fluent-bit"
    assert "aws-for-fluent-bit:2.32.5" in ds["spec"]["template"]["spec"]["containers"][0]["image"]
    assert {f.name for f in files} == {"rec.json", "meshspec-fluent-bit.json"}


def test_the_fluent_bit_config_escapes_dots_of_the_prefix():
    conf = fluent_bit_config(PodLogRouterProps(log_group_prefix="/meshspec/a.b/", name="c"), "eu-west-1")
    assert "^/meshspec/a\\.b/" in conf


def test_a_workload_without_secrets_log_group_or_instrumentation_renders_as_before():
    telemetry = TelemetryProps(service_name="a", environment="eks:c/default", language="none", tracing=False)
    props = KubernetesWorkloadProps(service_name="a", port=80, versions=(WorkloadVersion("v", "i"),), tracing=False,
                                    telemetry=telemetry)
    docs = render_manifests(props, {"v": None})
    assert [m["kind"] for m in docs] == ["ServiceAccount", "Service", "Deployment"]
    pod_template = docs[2]["spec"]["template"]
    assert "annotations" not in pod_template["metadata"] and "volumes" not in pod_template["spec"]


def test_a_customer_key_encrypts_the_clusters_secrets_when_given():
    # GIVEN a cluster with a KMS key for Kubernetes Secrets (the synced values live there)
    s = stack()
    key = kms.Key(s, "Key", enable_key_rotation=True)
    EksCluster(s, "C", EksClusterProps(vpc=vpc_in(s), secrets_encryption_key=key))
    # THEN the cluster's encryption configuration names it
    template(s).has_resource_properties("AWS::EKS::Cluster", {"EncryptionConfig": [{
        "Provider": {"KeyArn": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]}}, "Resources": ["secrets"]}]})


def test_by_default_the_clusters_secrets_are_encrypted_with_a_rotated_key_of_its_own(pods):
    # checkov CKV_AWS_58: envelope encryption of Kubernetes Secrets with a customer managed key
    t, _, _, _ = pods
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    t.has_resource_properties("AWS::EKS::Cluster", {"EncryptionConfig": [{
        "Provider": {"KeyArn": {"Fn::GetAtt": [Match.string_like_regexp("^ClusterSecretsKey"), "Arn"]}},
        "Resources": ["secrets"]}]})
    [cluster] = t.find_resources("AWS::EKS::Cluster").values()
    assert "checkov" not in cluster.get("Metadata", {})  # nothing to skip


def test_without_secrets_encryption_the_checkov_finding_is_skipped_with_its_reason():
    # GIVEN a cluster kept without envelope encryption (an existing one: a change would replace it)
    s = stack()
    EksCluster(s, "C", EksClusterProps(vpc=vpc_in(s), encrypt_secrets=False))
    t = template(s)
    # THEN no key, no encryption configuration, and the skip says why
    t.resource_count_is("AWS::KMS::Key", 0)
    t.has_resource("AWS::EKS::Cluster", {
        "Properties": {"EncryptionConfig": Match.absent()},
        "Metadata": Match.object_like({"checkov": {"skip": [{
            "id": "CKV_AWS_58", "comment": Match.string_like_regexp("replaces a cluster")}]}})})


def test_fails_when_a_key_is_given_with_secrets_encryption_off():
    s = stack()
    with pytest.raises(PropsError, match="secrets_encryption_key"):
        EksClusterProps(vpc=vpc_in(s), encrypt_secrets=False, secrets_encryption_key=kms.Key(s, "K"))


def test_fails_when_a_secret_is_a_literal_and_never_echoes_it():
    with pytest.raises(PropsError) as err:
        KubernetesWorkloadProps(service_name="a", port=80, versions=(WorkloadVersion("v", "i"),),
                                secrets={"DB_PASSWORD": "hunter2"})
    assert "secrets['DB_PASSWORD'] is not a Secrets Manager or SSM parameter ARN (value not shown)" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_fails_when_a_variable_is_both_plain_and_secret():
    with pytest.raises(PropsError, match=r"environment=\['DB'\] contradicts secrets=\['DB'\]"):
        KubernetesWorkloadProps(service_name="a", port=80, versions=(WorkloadVersion("v", "i"),),
                                environment={"DB": "x"}, secrets={"DB": DB})


def test_fails_when_secrets_span_regions():
    other = "arn:aws:ssm:us-east-1:111122223333:parameter/x"
    with pytest.raises(PropsError, match=r"secrets reference 2 regions \(eu-west-1, us-east-1\): ASCP reads"):
        KubernetesWorkloadProps(service_name="a", port=80, versions=(WorkloadVersion("v", "i"),),
                                secrets={"A": DB, "B": other})


def test_fails_when_the_cluster_has_no_secrets_store():
    s = stack()
    cluster = EksCluster(s, "C", EksClusterProps(vpc=vpc_in(s), container_insights=False, secrets_store=False))
    with pytest.raises(PropsError, match=r"secrets of 'a' need the cluster's Secrets Store CSI driver, but its "
                                         r"EksClusterProps.secrets_store is False"):
        KubernetesWorkload(s, "W", cluster=cluster, props=KubernetesWorkloadProps(
            service_name="a", port=80, versions=(WorkloadVersion("v", "i"),), secrets={"A": DB}))


@pytest.mark.parametrize("prefix", ["meshspec/shop/", "/meshspec/shop", "/meshspec/*/"])
def test_fails_when_the_log_group_prefix_is_not_a_literal_folder(prefix):
    with pytest.raises(PropsError, match=re.escape(f"log_group_prefix is '{prefix}'")):
        PodLogRouterProps(log_group_prefix=prefix, name="c")


def test_a_reference_to_one_json_key_mounts_the_key_through_jmes_path():
    # GIVEN a variable that selects the JSON key "username" of a secret (ECS's ARN:key form)
    props = KubernetesWorkloadProps(service_name="a", port=80, versions=(WorkloadVersion("v", "i"),),
                                    secrets={"DB_USER": f"{DB}:username::"})
    # WHEN rendered
    (spc,) = _by_kind(render_manifests(props, {"v": None}), "SecretProviderClass")
    # THEN ASCP mounts the secret and extracts the key under the variable's name, which the sync reads
    assert json.loads(spc["spec"]["parameters"]["objects"]) == [
        {"objectName": DB, "objectType": "secretsmanager", "objectAlias": "DB_USER.json",
         "jmesPath": [{"path": "username", "objectAlias": "DB_USER"}]}]
    assert spc["spec"]["secretObjects"][0]["data"] == [{"objectName": "DB_USER", "key": "DB_USER"}]


def test_the_pod_role_reads_the_secret_whose_key_is_selected():
    from meshspec.constructs_lib.eks.secrets import secret_read_statements

    (st,) = secret_read_statements({"DB_USER": f"{DB}:username", "DB_PASSWORD": f"{DB}:password"})
    assert st.to_statement_json()["Resource"] == DB

