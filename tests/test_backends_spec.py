"""aws.mesh.backend: what service-connect and lattice cannot express is refused with the backend that can."""
from __future__ import annotations

import copy
import json

import pytest

from meshspec.infra.spec import load_spec
from meshspec.infra.spec.loader import load_text
from meshspec.backends.lattice import quotas as lattice_q
from meshspec.infra.spec import quotas as sc_q
from meshspec.backends.service_connect.settings import deployment_of

from .conftest import SHOP, TODAY


def base(backend: str | None = None, **mesh) -> dict:
    """Two ECS services, one calling the other; one code version each."""
    doc = {
        "apiVersion": "meshspec/v1",
        "project": "shop",
        "aws": {"region": "eu-west-1", "clusters": [{"name": "core", "platform": "ecs"},
                                                    {"name": "ml", "platform": "eks"}],
                "mesh": dict(mesh, **({"backend": backend} if backend else {}))},
        "services": {
            "catalog": {"cluster": "core", "majors": {"v1": {"contract": "c.json"}},
                        "versions": [{"name": "c-1", "image": "img:1", "traffic": 100}],
                        "uses": ["pricing/v1"]},
            "pricing": {"cluster": "core", "majors": {"v1": {"contract": "p.json"}},
                        "versions": [{"name": "p-1", "image": "img:1", "traffic": 100}]},
        },
    }
    return doc


def check(doc: dict):
    return load_text(json.dumps(doc), file="spec.yaml", today=TODAY)


def only(result, code: str):
    found = [e for e in result.problems if e.code == code]
    assert found, [e.render() for e in result.problems]
    return found


def test_default_backend_is_appmesh_and_shop_is_unchanged():
    r = load_spec(SHOP, today=TODAY)
    assert r.ok and r.spec.backend == "appmesh"
    assert check(base()).spec.aws.mesh.backend == "appmesh"


@pytest.mark.parametrize("backend", ["service-connect", "lattice"])
def test_new_backends_accept_a_plain_spec(backend):
    r = check(base(backend))
    assert r.ok, [e.render() for e in r.problems]
    assert r.spec.backend == backend


def test_fails_when_backend_is_unknown():
    r = check(base("istio"))
    (e,) = only(r, "not-allowed")
    assert e.key_path == "aws.mesh.backend"
    assert e.allowed == "'appmesh', 'service-connect' or 'lattice'"


# -- service-connect ---------------------------------------------------------------------------------------
def test_fails_when_service_connect_is_asked_for_a_lasting_split():
    doc = base("service-connect")
    doc["services"]["pricing"]["versions"] = [{"name": "p-1", "image": "i:1", "traffic": 90},
                                              {"name": "p-2", "image": "i:2", "traffic": 10}]
    (e,) = only(check(doc), "backend-unsupported")
    assert e.key_path == "services.pricing.versions"
    assert e.message == ("service-connect cannot keep a lasting weighted split between code versions "
                         "(v1: p-1=90%, p-2=10%); ECS shifts traffic only while a new revision deploys "
                         "(canary or linear)")
    assert "backend: lattice keeps weighted target groups" in e.hint


def test_fails_when_service_connect_is_given_a_health_check_path_it_never_probes():
    # GIVEN a health path written on a service whose backend probes no path (found on the installed package's path)
    doc = base("service-connect")
    doc["services"]["pricing"]["healthCheck"] = "/health"
    (e,) = only(check(doc), "backend-unsupported")
    assert (e.key_path, e.given) == ("services.pricing.healthCheck", "'/health'")
    assert e.message == ("healthCheck is the path App Mesh and VPC Lattice probe; Service Connect probes no path "
                         "(its proxy ejects endpoints that fail, by outlier detection)")
    assert e.allowed == "backend: lattice, or leave healthCheck out"  # App Mesh is past its end of support
    # the same path on the backends that probe it is fine
    for backend in ("appmesh", "lattice"):
        doc = base(backend)
        doc["services"]["pricing"]["healthCheck"] = "/health"
        assert check(doc).ok, backend


def test_fails_when_service_connect_serves_majors_from_different_versions():
    doc = base("service-connect")
    doc["services"]["pricing"]["majors"]["v2"] = {"contract": "p2.json"}
    doc["services"]["pricing"]["versions"] = [{"name": "p-1", "image": "i:1", "traffic": {"v1": 100, "v2": 0}},
                                              {"name": "p-2", "image": "i:2", "traffic": {"v1": 0, "v2": 100}}]
    (e,) = only(check(doc), "backend-unsupported")
    assert e.message == ("service-connect runs one revision per service for all its majors, but the majors are "
                         "served by different versions (p-1, p-2)")
    assert "backend: lattice routes each major's path prefix" in e.hint


def test_fails_when_service_connect_is_asked_for_an_eks_service():
    doc = base("service-connect")
    doc["services"]["pricing"]["cluster"] = "ml"
    (e,) = only(check(doc), "backend-unsupported")
    assert e.key_path == "services.pricing.cluster"
    assert e.message == "Service Connect connects ECS services only; pricing runs on the EKS cluster 'ml'"
    assert e.hint.startswith("backend: lattice takes ECS and EKS targets")


def test_warns_that_idle_versions_are_not_deployed_on_service_connect():
    doc = base("service-connect")
    doc["services"]["pricing"]["versions"].append({"name": "p-2", "image": "i:2", "traffic": 0})
    r = check(doc)
    assert r.ok
    (w,) = only(r, "version-not-deployed")
    assert w.severity == "warning" and w.key_path == "services.pricing.versions[1]"


def test_deployment_defaults_to_a_five_percent_canary():
    d = deployment_of(check(base("service-connect")).spec)
    assert (d.strategy, d.effective_percent, d.step_minutes, d.bake_minutes, d.rollback_on_alarm) == (
        "canary", 5, 10, 10, True)
    assert deployment_of(check(base("service-connect", deployment={"strategy": "linear"})).spec) \
        .effective_percent == 10


def test_fails_when_a_canary_step_has_hundredths():
    (e,) = only(check(base("service-connect", deployment={"percent": 2.55})), "deployment-percent")
    assert e.message == "an ECS canary step of 2.55% cannot be expressed"
    assert e.allowed == "0.1 to 100 in steps of 0.1"


def test_fails_when_a_linear_step_is_below_three_percent():
    (e,) = only(check(base("service-connect", deployment={"strategy": "linear", "percent": 2})),
                "deployment-percent")
    assert e.message == "an ECS linear step of 2% is below the minimum"


def test_fails_when_percent_is_out_of_range():
    (e,) = only(check(base("service-connect", deployment={"percent": 0})), "percent-range")
    assert e.message == "percent must be between 0.1 and 100"


def test_fails_when_a_deployment_outlasts_cloudformation():
    r = check(base("service-connect", deployment={"strategy": "linear", "percent": 3, "stepMinutes": 60,
                                                  "bakeMinutes": 60}))
    (e,) = only(r, "deployment-too-long")
    # 34 steps of 3 %: 33 waits of 60 minutes, then 60 minutes bake.
    assert e.message.startswith("the deployment would take 2040 minutes; CloudFormation refuses")


def test_fails_when_deployment_is_given_to_another_backend():
    (e,) = only(check(base("lattice", deployment={"strategy": "canary"})), "backend-unsupported")
    assert e.key_path == "aws.mesh.deployment"
    assert e.message == "deployment applies to backend: service-connect; lattice does not use it"


def test_fails_when_egress_filter_is_given_to_a_successor():
    (e,) = only(check(base("lattice", egressFilter="DROP_ALL")), "backend-unsupported")
    assert e.message == "lattice has no egress filter; egressFilter is an App Mesh setting"
    assert "only backend: appmesh filters" in e.hint
    assert check(base("appmesh", egressFilter="DROP_ALL")).ok


def test_fails_when_service_connect_tasks_exceed_cloud_map_quotas():
    doc = base("service-connect")
    doc["services"]["pricing"]["desiredCount"] = 600
    r = check(doc)
    (e,) = [x for x in only(r, "quota-service-connect") if x.key_path == "services.pricing.desiredCount"]
    assert e.message == ("1200 tasks during a deployment (twice desiredCount) register in Cloud Map; a service "
                         f"allows {sc_q.CLOUDMAP_INSTANCES_PER_SERVICE} instances")
    doc = base("service-connect")
    for i in range(3):
        doc["services"][f"s{i}x"] = copy.deepcopy(doc["services"]["pricing"]) | {"desiredCount": 400}
    (e,) = only(check(doc), "quota-service-connect")
    assert e.key_path == "services"
    assert e.message.startswith("2408 tasks during deployments (twice each desiredCount) register in one Cloud Map")


# -- lattice -----------------------------------------------------------------------------------------------
def test_lattice_keeps_weighted_splits():
    doc = base("lattice")
    doc["services"]["pricing"]["versions"] = [{"name": "p-1", "image": "i:1", "traffic": 90},
                                              {"name": "p-2", "image": "i:2", "traffic": 10}]
    doc["services"]["pricing"]["cluster"] = "ml"
    assert check(doc).ok


def test_fails_when_lattice_weights_have_fractions():
    doc = base("lattice")
    doc["services"]["pricing"]["versions"] = [{"name": "p-1", "image": "i:1", "traffic": 90.5},
                                              {"name": "p-2", "image": "i:2", "traffic": 9.5}]
    errors = only(check(doc), "traffic-precision")
    assert errors[0].message == ("90.5% of v1 cannot be expressed: VPC Lattice target group weights are integers "
                                 "(meshspec sends percentages)")


def test_fails_when_a_lattice_service_name_is_too_long():
    doc = base("lattice")
    doc["services"]["a-very-long-service-name-for-lattice-x"] = doc["services"].pop("pricing")
    doc["services"]["catalog"]["uses"] = []
    (e,) = only(check(doc), "lattice-name")
    assert e.message == ("the VPC Lattice service name 'shop-a-very-long-service-name-for-lattice-x' has "
                         "43 characters")
    assert e.allowed == "3 to 40 characters a-z, 0-9 and single inner hyphens, not starting with 'svc-'"


def test_fails_when_a_lattice_target_group_name_has_a_double_hyphen():
    doc = base("lattice")
    doc["services"]["pricing"]["versions"][0]["name"] = "p--1"
    (e,) = only(check(doc), "lattice-name")
    assert e.key_path == "services.pricing.versions[0].name"
    assert e.message == "the VPC Lattice target group name 'shop-pricing-p--1' has a double hyphen"


def test_fails_when_the_service_network_name_is_reserved():
    (e,) = only(check(base("lattice", name="servicenetwork-x")), "lattice-name")
    assert e.key_path == "aws.mesh.name"
    assert e.message == "the VPC Lattice service network name 'servicenetwork-x' has the reserved prefix " \
                        "'servicenetwork-'"


def test_fails_when_majors_exceed_lattice_rules_per_listener():
    doc = base("lattice")
    n = lattice_q.RULES_PER_LISTENER + 1
    doc["services"]["pricing"]["majors"] = {f"v{i}": {"contract": "p.json"} for i in range(1, n + 1)}
    (e,) = only(check(doc), "quota-lattice")
    assert e.message == f"{n} listener rules (one per live major); VPC Lattice allows 10 per listener"


def test_fails_when_versions_exceed_lattice_target_groups_per_action():
    doc = base("lattice")
    doc["services"]["pricing"]["versions"] = [{"name": f"p-{i}", "image": "i", "traffic": 100 if i == 0 else 0}
                                              for i in range(11)]
    (e,) = only(check(doc), "quota-lattice")
    assert e.message == ("11 code versions are weighted target groups of each rule; VPC Lattice allows 10 per "
                         "forward action")


def test_fails_when_a_path_prefix_is_too_long_for_lattice():
    doc = base("lattice")
    doc["services"]["pricing"]["majors"]["v1"]["path"] = "/" + "p" * 200 + "/"
    (e,) = only(check(doc), "quota-lattice")
    assert e.message == "the path prefix is 202 characters; a VPC Lattice path match takes at most 200"


def test_fails_when_the_auth_policy_would_exceed_ten_kilobytes():
    doc = base("lattice")
    for i in range(160):  # 160 callers with 60-character names: about 10.6 KB
        doc["services"][f"caller-{i:03d}-" + "x" * 49] = {"cluster": "core", "majors": {"v1": {"contract": "x.json"}},
                                          "versions": [{"name": "x", "image": "i", "traffic": 100}],
                                          "uses": ["pricing/v1"]}
    errors = [e for e in only(check(doc), "quota-lattice") if e.key_path == "services.pricing"]
    assert errors[0].message.startswith("the auth policy naming every consumer would be about 10")
    assert int(errors[0].given) > 10_240
    assert errors[0].message.endswith("bytes; VPC Lattice allows 10240 bytes per policy")


def test_fails_when_target_groups_exceed_the_region_quota():
    doc = base("lattice")
    for i in range(51):
        doc["services"][f"s{i}"] = {"cluster": "core", "majors": {"v1": {"contract": "x.json"}},
                                    "versions": [{"name": f"v{j}", "image": "i", "traffic": 100 if j == 0 else 0}
                                                 for j in range(10)]}
    errors = [e for e in only(check(doc), "quota-lattice") if e.key_path == "services"]
    assert errors[0].message == "512 target groups (one per code version); VPC Lattice allows 500 per region"


def test_warns_when_callers_reach_an_https_lattice_service_without_a_certificate():
    doc = base("lattice")
    doc["services"]["pricing"]["protocol"] = "grpc"
    r = check(doc)
    (w,) = [e for e in r.warnings if e.code == "lattice-https-name"]
    assert (w.key_path, w.message) == (
        "services.pricing.protocol",
        "callers reach pricing (grpc) through Lattice at https://pricing.shop.lattice.internal:443, but Lattice's own "
        "certificate covers only its generated name: TLS to the custom name fails")
    assert w.hint == ("give aws.mesh.certificateArn an ACM certificate for *.shop.lattice.internal (a private "
                      "certificate from AWS Private CA, imported or issued)")
    doc["aws"]["mesh"]["certificateArn"] = "arn:aws:acm:eu-west-1:111122223333:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    assert not [e for e in check(doc).problems if e.code == "lattice-https-name"]
    doc["services"]["pricing"]["protocol"] = "http"  # an HTTP listener needs no certificate
    doc["aws"]["mesh"].pop("certificateArn")
    assert not [e for e in check(doc).problems if e.code == "lattice-https-name"]


def test_fails_when_certificate_arn_is_given_off_lattice():
    doc = base("appmesh", certificateArn="arn:aws:acm:eu-west-1:111122223333:certificate/abc-123")
    r = check(doc)
    (e,) = [e for e in r.errors if e.code == "backend-unsupported"]
    assert (e.key_path, e.message) == ("aws.mesh.certificateArn",
                                       "certificateArn applies to backend: lattice; appmesh does not use it")
    doc["aws"]["mesh"]["migration"] = {"to": "lattice"}  # coming in: allowed
    assert not [e for e in check(doc).errors if e.code == "backend-unsupported"]
    doc["aws"]["mesh"]["certificateArn"] = "arn:aws:iam::111122223333:server-certificate/x"
    assert [e.key_path for e in check(doc).errors] == ["aws.mesh.certificateArn"]
