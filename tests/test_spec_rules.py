"""Cross-reference rules and quotas, one small spec per rule (GIVEN a spec, WHEN loaded, THEN this error)."""
from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from meshspec.infra.spec import load_text, shares
from meshspec.infra.spec.model import metric_majors

from .conftest import EXAMPLES, TODAY

AWS_HEAD = """\
apiVersion: meshspec/v1
project: shop
aws:
  region: eu-west-1
  account: '111122223333'
  clusters:
    - {name: core, platform: ecs}
gcp: {project: shop-prod-4711, location: europe-west}
services:
  front:
    appengine: {environment: standard, runtime: nodejs22, defaultService: true}
    majors: {v1: {contract: c.json, path: /}}
    versions: [{name: f-1, source: gs://bkt/f.zip, traffic: 100}]
"""


def aws_service(name, versions=(("a", 100),), uses=(), majors=("v1",), extra=""):
    vs = "".join(f"      - {{name: {v}, image: img/{name}:{v}, traffic: {t}}}\n" for v, t in versions)
    ms = "".join(f"      {m}: {{contract: c.json}}\n" for m in majors)
    return (f"  {name}:\n    cluster: core\n{extra}    majors:\n{ms}    versions:\n{vs}"
            f"    uses: [{', '.join(uses)}]\n")


def gae_service(name, versions=(("a", 100),), majors=("v1",), appengine="{environment: standard, runtime: python312}",
                major_block=None):
    vs = "".join(f"      - {{name: {v}, source: gs://bkt/{v}.zip, traffic: {t}}}\n" for v, t in versions)
    ms = major_block or "".join(f"      {m}: {{contract: c.json}}\n" for m in majors)
    return f"  {name}:\n    appengine: {appengine}\n    majors:\n{ms}    versions:\n{vs}"


def load(text, today=TODAY):
    return load_text(text, file="spec.yaml", today=today)


def codes(result):
    return [e.code for e in result.errors]


def test_the_shipped_example_is_valid_and_warns_about_the_deprecated_major():
    from meshspec.infra.spec import load_spec

    result = load_spec(EXAMPLES / "shop.yaml", today=TODAY)
    assert result.ok
    assert [(w.code, w.key_path) for w in result.warnings] == [("uses-deprecated", "services.web-app.uses[0]")]
    svc = result.spec.services["user-service"]
    assert {k: int(v) for k, v in shares(svc, "v2").items()} == {"apple": 90, "banana": 10}


def test_all_problems_of_a_file_are_reported_in_one_run():
    text = AWS_HEAD + aws_service("a", versions=(("x", 50),), uses=("nope/v1",), extra="    env: {API_TOKEN: abc}\n") \
        + aws_service("b", extra="    cpu: 300\n")
    assert sorted(codes(load(text))) == ["fargate-cpu", "secret-literal", "traffic-sum", "unknown-service"]


def test_field_errors_in_one_service_do_not_hide_cross_reference_errors_in_another():
    text = AWS_HEAD + aws_service("a", extra="    port: none\n") + aws_service("b", uses=("zzz/v1", "a/v1"))
    result = load(text)
    assert codes(result) == ["int-parsing", "unknown-service"]  # b's use of a/v1 is not flagged
    assert result.spec is None


def test_a_bad_key_outside_the_services_does_not_hide_the_services_cross_reference_errors():
    # GIVEN a typo and a bad value in the aws section, and a service that uses an unknown service
    text = AWS_HEAD.replace("  account: '111122223333'\n", "  regoin: x\n  account: '12'\n") \
        + aws_service("a", uses=("nope/v1",))
    result = load(text)
    # THEN the field errors and the cross-reference error come in the same run, each once
    assert sorted((e.code, e.key_path) for e in result.errors) == [
        ("bad-format", "aws.account"), ("unknown-key", "aws.regoin"), ("unknown-service", "services.a.uses[0]")]
    assert result.spec is None


def test_a_default_standing_in_for_a_bad_key_does_not_speak_again():
    # GIVEN a Lattice spec whose certificate is malformed and an http2 service that AWS callers reach
    text = AWS_HEAD.replace("  clusters:", "  mesh: {backend: lattice, certificateArn: nope}\n  clusters:") \
        + aws_service("a", extra="    protocol: http2\n") + aws_service("b", uses=("a/v1",))
    result = load(text)
    # THEN only the certificate's own error: no "no certificate" warning from the default that stood in for it
    assert [(e.code, e.key_path) for e in result.errors] == [("bad-format", "aws.mesh.certificateArn")]
    assert not [w for w in result.warnings if "certificateArn" in (w.allowed or "") + w.message]


def test_a_bad_backend_stops_the_cross_reference_rules():
    # GIVEN an unknown backend: no default may stand in (the wrong backend's rules would speak)
    text = AWS_HEAD.replace("  clusters:", "  mesh: {backend: istio}\n  clusters:") + aws_service("a", uses=("nope/v1",))
    result = load(text)
    assert [e.key_path for e in result.errors] == ["aws.mesh.backend"]


def test_sunset_passed_is_an_error_and_before_is_a_warning():
    major = "      v1: {contract: c.json, status: deprecated, sunset: 2026-12-01}\n"
    text = AWS_HEAD + gae_service("users", major_block=major) + aws_service("web", uses=("users/v1",))
    before = load(text, today=dt.date(2026, 11, 30))
    assert before.ok and [w.code for w in before.warnings] == ["uses-deprecated"]
    after = load(text, today=dt.date(2026, 12, 2))
    assert codes(after) == ["uses-sunset"]
    assert "was sunset on 2026-12-01" in after.errors[0].message


def test_app_engine_service_without_majors_as_services_needs_one_split_for_all_majors():
    text = AWS_HEAD + """\
  users:
    appengine: {environment: standard, runtime: python312}
    majors: {v1: {contract: c.json}, v2: {contract: c.json}}
    versions:
      - {name: a, source: gs://bkt/a.zip, traffic: {v1: 100, v2: 50}}
      - {name: b, source: gs://bkt/b.zip, traffic: {v1: 0, v2: 50}}
"""
    result = load(text)
    assert codes(result) == ["appengine-split-per-major"]
    assert "majorsAsServices" in result.errors[0].hint
    fixed = text.replace("runtime: python312}", "runtime: python312, majorsAsServices: true}")
    assert load(fixed).ok


def test_cookie_split_takes_tenths_of_a_percent_ip_does_not():
    versions = (("a", 99.5), ("b", 0.5))
    assert load(AWS_HEAD + gae_service("u", versions=versions,
                                       appengine="{environment: standard, runtime: python312, splitBy: cookie}")).ok
    result = load(AWS_HEAD + gae_service("u", versions=versions,
                                         appengine="{environment: standard, runtime: python312, splitBy: ip}"))
    assert codes(result) == ["traffic-precision", "traffic-precision"]
    cookie = load(AWS_HEAD + gae_service("u", versions=(("a", 99.95), ("b", 0.05)),
                                         appengine="{environment: standard, runtime: python312, splitBy: cookie}"))
    assert codes(cookie) == ["traffic-precision", "traffic-precision"]
    assert "at most 3 decimals" in cookie.errors[0].message


def test_aws_weights_are_integers():
    result = load(AWS_HEAD + aws_service("a", versions=(("x", 50.5), ("y", 49.5))))
    assert codes(result) == ["traffic-precision", "traffic-precision"]
    assert "App Mesh route weights are integers" in result.errors[0].message


def test_traffic_for_an_unknown_major_is_refused():
    text = AWS_HEAD + aws_service("a").replace("traffic: 100", "traffic: {v1: 100, v9: 0}")
    result = load(text)
    assert codes(result) == ["unknown-major"]
    assert result.errors[0].key_path == "services.a.versions[0].traffic.v9"


def test_app_engine_needs_exactly_one_default_service():
    text = AWS_HEAD.replace(", defaultService: true", "") + gae_service("u")
    result = load(text)
    assert codes(result) == ["appengine-default"]
    assert result.errors[0].key_path == "services.front.appengine"
    assert "defaultService: true" in result.errors[0].hint
    two = AWS_HEAD + gae_service("u", appengine="{environment: standard, runtime: python312, defaultService: true}")
    assert codes(load(two)) == ["appengine-default"]
    assert "front already is" in load(two).errors[0].message


def test_migrate_traffic_is_refused_for_flexible():
    text = AWS_HEAD + """\
  u:
    appengine: {environment: flexible, runtime: custom, migrateTraffic: true}
    majors: {v1: {contract: c.json}}
    versions:
      - {name: a, image: gcr.io/p/a:1, traffic: 100}
"""
    result = load(text)
    assert codes(result) == ["migrate-flexible"]
    assert result.errors[0].key_path == "services.u.appengine.migrateTraffic"


def test_duplicate_version_and_duplicate_path():
    text = AWS_HEAD + aws_service("a", versions=(("x", 50), ("x", 50))) + \
        aws_service("b").replace("v1: {contract: c.json}", "v1: {contract: c.json, path: /a/v1/}")
    assert codes(load(text)) == ["duplicate-version", "duplicate-path"]


def test_secret_references_must_match_the_platform():
    text = AWS_HEAD + aws_service("a", extra="    secrets: {DB_PASSWORD: projects/p/secrets/db}\n")
    result = load(text)
    assert codes(result) == ["secret-ref"]
    assert "arn:aws:secretsmanager" in result.errors[0].allowed
    assert result.errors[0].given == "'projects/p/secrets/db'"  # a reference: shown, to fix the typo


def test_a_secret_given_as_a_value_is_refused_and_not_shown():
    result = load(AWS_HEAD + aws_service("a", extra="    secrets: {DB_PASSWORD: hunter2}\n"))
    (err,) = result.errors
    assert err.code == "secret-ref" and err.given == "a value that is not a reference (not shown)"
    assert "hunter2" not in str(err)


def test_eks_cluster_refuses_capacity():
    text = AWS_HEAD.replace("{name: core, platform: ecs}", "{name: core, platform: eks, capacity: fargate}") \
        + aws_service("a")
    result = load(text)
    assert codes(result) == ["eks-capacity"]
    assert result.errors[0].key_path == "aws.clusters[0].capacity"


def test_quota_virtual_nodes_per_mesh():
    text = AWS_HEAD + "".join(aws_service(f"s{i}", versions=(("a", 50), ("b", 50))) for i in range(101))
    result = load(text)
    assert codes(result) == ["quota-appmesh"]
    assert "202 virtual nodes" in result.errors[0].message and result.errors[0].allowed == "at most 200"


def test_quota_backends_per_virtual_node():
    many = [f"s{i}/v1" for i in range(51)]
    text = AWS_HEAD + "".join(aws_service(f"s{i}") for i in range(51)) + aws_service("caller", uses=many)
    result = load(text)
    assert codes(result) == ["quota-appmesh"]
    assert result.errors[0].key_path == "services.caller.uses"


def test_quota_app_engine_versions_per_app():
    versions = tuple((f"v-{i}", 100 if i == 0 else 0) for i in range(20))
    text = AWS_HEAD + "".join(gae_service(f"s{i}", versions=versions) for i in range(11))
    result = load(text)
    assert codes(result) == ["quota-appengine"]
    assert "221 versions" in result.errors[0].message


def test_yaml_1_1_booleans_stay_text():
    text = AWS_HEAD.replace("{name: core, platform: ecs}", "{name: core, platform: ecs, containerInsights: off}") \
        + aws_service("a")
    result = load(text)
    assert result.ok and result.spec.aws.clusters[0].container_insights == "off"


@pytest.mark.parametrize("text, code", [
    ("", "empty"),
    ("- a\n- b\n", "not-a-mapping"),
    ("apiVersion: meshspec/v9\n", "api-version"),
    ("a: 1\n---\nb: 2\n", "yaml-syntax"),
])
def test_documents_that_are_not_specs(text, code):
    assert codes(load(text)) == [code]


def test_contract_files_must_exist(tmp_path):
    (tmp_path / "c.json").write_text("{}")
    text = AWS_HEAD + aws_service("a", majors=("v1", "v2")).replace("v2: {contract: c.json}", "v2: {contract: missing.json}")
    result = load_text(text, file="spec.yaml", base_dir=tmp_path, today=TODAY)
    assert codes(result) == ["contract-missing"]
    assert result.errors[0].key_path == "services.a.majors.v2.contract"


def test_quota_metric_filters_per_log_group():
    # GIVEN an ECS service on App Mesh with 34 live majors (3 metric filters each on its log group)
    text = AWS_HEAD + aws_service("wide", majors=tuple(f"v{i}" for i in range(1, 35)))
    # WHEN loaded
    result = load(text)
    # THEN refused at its majors, naming CloudWatch Logs' 100 filters per log group
    assert codes(result) == ["quota-logs"]
    err = result.errors[0]
    assert err.key_path == "services.wide.majors"
    assert err.message == ("34 live majors need 102 metric filters on the service's log group (3 per major: "
                           "requests, 5xx, latency); CloudWatch Logs allows 100 per log group")
    assert err.allowed == "at most 33 live majors"


def test_33_majors_fit_the_metric_filters_of_a_log_group():
    result = load(AWS_HEAD + aws_service("wide", majors=tuple(f"v{i}" for i in range(1, 34))))
    assert "quota-logs" not in codes(result)


@pytest.mark.parametrize("head, extra, majors, want", [
    (AWS_HEAD, "", ("v1", "v2"), {"v1": "/m/v1/", "v2": "/m/v2/"}),
    (AWS_HEAD, "    protocol: grpc\n", ("v1",), {"v1": None}),  # one major: every line of the service
    (AWS_HEAD, "    protocol: grpc\n", ("v1", "v2"), {}),  # routed on a header the access log does not hold
    (AWS_HEAD.replace("platform: ecs", "platform: eks"), "", ("v1",), {"v1": "/m/v1/"}),  # Fluent Bit router
    (AWS_HEAD.replace("  clusters:", "  mesh: {backend: lattice}\n  clusters:"), "", ("v1",), {}),  # no Envoy log
])
def test_metric_majors_are_the_majors_whose_access_log_lines_reach_the_service_log_group(head, extra, majors, want):
    result = load(head + aws_service("m", majors=majors, extra=extra))
    assert result.ok, [e.message for e in result.errors]
    assert metric_majors(result.spec, "m") == want


def test_secrets_on_an_eks_service_validate():
    text = AWS_HEAD.replace("{name: core, platform: ecs}", "{name: core, platform: eks}") + aws_service(
        "a", extra="    secrets: {DB_PASSWORD: arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf,\n"
                   "              TOKEN: arn:aws:ssm:eu-west-1:111122223333:parameter/a/token}\n")
    result = load(text)
    assert result.ok, [e.message for e in result.errors]


def test_secrets_of_an_eks_service_in_two_regions_are_refused_by_validate():
    text = AWS_HEAD.replace("{name: core, platform: ecs}", "{name: core, platform: eks}") + aws_service(
        "a", extra="    secrets: {DB_PASSWORD: arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf,\n"
                   "              TOKEN: arn:aws:ssm:us-east-1:111122223333:parameter/a/token}\n")
    result = load(text)
    assert codes(result) == ["eks-secret-regions"]
    (err,) = result.errors
    assert err.key_path == "services.a.secrets"
    assert err.message == ("on EKS a service's secrets come from one region: the Secrets Store CSI driver's AWS "
                           "provider reads a pod's SecretProviderClass from one region")
    assert err.given == "references in eu-west-1, us-east-1" and "replica secrets" in err.hint


def test_secrets_of_an_ecs_service_may_span_regions():
    result = load(AWS_HEAD + aws_service(
        "a", extra="    secrets: {DB_PASSWORD: arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf,\n"
                   "              TOKEN: arn:aws:ssm:us-east-1:111122223333:parameter/a/token}\n"))
    assert result.ok, [e.message for e in result.errors]


@pytest.mark.parametrize("ref, ok", [
    ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf", True),
    ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf:username", True),
    ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf:username::", True),
    ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf:user-name", False),  # not a JMESPath name
    ("arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf:username:AWSCURRENT:", False),
    ("arn:aws:ssm:eu-west-1:111122223333:parameter/a/token", True),
    ("arn:aws:ssm:eu-west-1:111122223333:parameter/a/token:key", False),
    ("hunter2", False),
])
def test_validate_and_the_constructs_read_a_secret_reference_alike(ref, ok):
    from meshspec.constructs_lib.secret_refs import parse_ref
    from meshspec.infra.spec.checks import AWS_SECRET_REF

    assert bool(AWS_SECRET_REF.match(ref)) is ok
    assert (parse_ref(ref) is not None) is ok


def test_a_secret_reference_with_a_version_stage_is_refused_with_the_forms_allowed():
    result = load(AWS_HEAD + aws_service("a", extra="    secrets: {DB_USER: 'arn:aws:secretsmanager:eu-west-1:"
                                                     "111122223333:secret:db-AbCdEf:username:AWSCURRENT:'}\n"))
    (err,) = result.errors
    assert err.code == "secret-ref" and err.key_path == "services.a.secrets.DB_USER"
    assert err.allowed == ("arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[:JSON_KEY] or "
                           "arn:aws:ssm:REGION:ACCOUNT:parameter/NAME")



def test_services_on_eks_with_app_mesh_need_an_account_as_synth_does():
    text = AWS_HEAD.replace("  account: '111122223333'\n", "").replace(
        "{name: core, platform: ecs}", "{name: core, platform: eks}") + aws_service("rec")
    [err] = load(text).errors
    assert (err.line, err.key_path, err.code) == (4, "aws", "eks-needs-account")
    assert err.given == "no account (environment-agnostic stacks)" and "rec on EKS with App Mesh" in err.message
    assert load(text.replace("aws:\n", "aws:\n  mesh: {backend: lattice}\n")).ok  # Lattice's manifests need none


def test_a_partial_secret_arn_is_granted_with_a_wildcard_for_its_suffix():
    from meshspec.constructs_lib.secret_refs import parse_ref

    complete = parse_ref("arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/db-AbCdEf:username")
    partial = parse_ref("arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/db")
    parameter = parse_ref("arn:aws:ssm:eu-west-1:111122223333:parameter/shop/key")
    assert (complete.complete, complete.policy_arn) == (
        True, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/db-AbCdEf")
    assert (partial.complete, partial.policy_arn) == (
        False, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/db-??????")
    assert (parameter.complete, parameter.policy_arn) == (True, "arn:aws:ssm:eu-west-1:111122223333:parameter/shop/key")


def test_quota_connected_envoys_per_virtual_node():
    # GIVEN an ECS service on App Mesh whose 26 tasks become 52 during a deployment (maximumPercent 200)
    text = AWS_HEAD + aws_service("busy", extra="    desiredCount: 26\n")
    # WHEN loaded
    result = load(text)
    # THEN refused at its desiredCount, naming App Mesh's 50 connected Envoys per virtual node
    assert codes(result) == ["quota-appmesh"]
    err = result.errors[0]
    assert err.key_path == "services.busy.desiredCount"
    assert err.message == ("52 Envoys of one code version connect to its virtual node during a deployment (twice "
                           "desiredCount); App Mesh allows 50 connected Envoy processes per virtual node")
    assert err.allowed == "desiredCount at most 25"
    assert "connected Envoy processes per virtual node" in err.hint
    assert load(AWS_HEAD + aws_service("busy", extra="    desiredCount: 25\n")).ok


def test_quota_connected_envoys_counts_the_rolling_update_surge_on_eks():
    head = AWS_HEAD.replace("platform: ecs", "platform: eks")
    result = load(head + aws_service("busy", extra="    desiredCount: 41\n"))
    assert codes(result) == ["quota-appmesh"]
    assert result.errors[0].message.startswith("52 Envoys of one code version connect to its virtual node during "
                                               "a rolling update (replicas plus the 25 % surge)")
    assert result.errors[0].allowed == "desiredCount at most 40"
    assert load(head + aws_service("busy", extra="    desiredCount: 40\n")).ok


def test_quota_cloud_map_instances_per_namespace_on_app_mesh():
    # GIVEN 21 App Mesh services of two versions, 25 tasks each: 21 * 2 * 50 tasks during deployments + 21 names
    text = AWS_HEAD + "".join(aws_service(f"s{i}", versions=(("a", 50), ("b", 50)), extra="    desiredCount: 25\n")
                              for i in range(21))
    result = load(text)
    # THEN refused at services, naming Cloud Map's 2,000 instances per namespace
    assert codes(result) == ["quota-appmesh"]
    err = result.errors[0]
    assert err.key_path == "services"
    assert err.message == ("2121 tasks and pods during deployments, and a name per service, register in the Cloud "
                           "Map namespace shop.local; it allows 2000 instances")
    assert err.allowed == "at most 2000"


def test_quota_metric_filter_pattern_length():
    # GIVEN a major whose path prefix makes its metric filter's pattern longer than CloudWatch Logs' 1,024
    long = "/" + "p" * 1000 + "/"
    text = AWS_HEAD + aws_service("m", majors=("v1",)).replace("v1: {contract: c.json}",
                                                                f"v1: {{contract: c.json, path: '{long}'}}\n"
                                                                "      v2: {contract: c.json}")
    result = load(text)
    assert "quota-logs" in codes(result)
    (err,) = [e for e in result.errors if e.code == "quota-logs"]
    assert err.key_path == "services.m.majors.v1.path"
    assert err.message.startswith("the RequestCount metric filter of v1 would have a ")
    assert err.message.endswith("CloudWatch Logs allows 1024 per filter pattern")


def test_a_service_whose_majors_are_all_retired_fails_validation():
    text = AWS_HEAD + aws_service("old").replace("v1: {contract: c.json}", "v1: {contract: c.json, status: retired}")
    result = load(text)
    assert codes(result) == ["no-live-major"]
    err = result.errors[0]
    assert err.key_path == "services.old.majors"
    assert err.allowed == "at least one major with status active or deprecated"
