"""meshspec migrate: every step's spec edits leave a valid spec, and the last one is on the new backend."""
from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from .conftest import SHOP, TODAY
from meshspec.infra.cli.main import main
from meshspec.infra.errors import UserError
from meshspec.infra.spec import load_spec  # before a backend's settings: the model imports them (a cycle otherwise)
from meshspec.backends.service_connect.settings import deployment_of
from meshspec.infra.migrate import apply_edits, plan_migration
from meshspec.infra.spec.loader import load_text


def shop_data() -> dict:
    return json.loads(json.dumps(YAML(typ="safe").load(SHOP.read_text()), default=str))


def load(doc: dict):
    r = load_text(json.dumps(doc), file="spec.yaml", base_dir=SHOP.parent, today=TODAY)
    assert r.ok, [e.render() for e in r.errors]
    return r.spec


def walk(doc: dict, to: str) -> list:
    """Apply each step's edits in turn; every intermediate spec must validate."""
    plan = plan_migration(load(doc), to)
    specs = []
    for step in plan.steps:
        doc = apply_edits(doc, list(step.edits))
        specs.append(load(doc))
    return plan, specs


def test_lattice_plan_runs_beside_moves_each_caller_then_retires():
    plan, specs = walk(shop_data(), "lattice")
    assert [s.id for s in plan.steps] == ["beside", "move-catalog", "move-pricing", "retire"]
    assert specs[0].aws.mesh.backend == "appmesh" and specs[0].aws.mesh.migration.to == "lattice"
    assert specs[1].aws.mesh.migration.moved == ["catalog"]
    assert specs[2].aws.mesh.migration.moved == ["catalog", "pricing"]
    assert specs[-1].aws.mesh.backend == "lattice" and specs[-1].aws.mesh.migration is None
    assert plan.steps[2].rollback == ("set aws.mesh.migration.moved back to [catalog] and deploy: ECS rolls pricing's "
                                      "tasks back to App Mesh's names and an Envoy that intercepts every call")
    # each move step says what the deploy changes in the caller's tasks
    (effect,) = plan.steps[1].effect
    assert effect.startswith("ECS replaces catalog's tasks: MESHSPEC_UPSTREAM_PRICING=http://pricing.shop.lattice."
                             "internal:80, MESHSPEC_UPSTREAM_RECOMMENDATIONS=https://recommendations.shop.lattice."
                             "internal:443 (Lattice's custom names")
    assert "its Envoy lets 169.254.171.0/24 through" in effect
    assert plan.steps[-1].run == ("meshspec validate meshspec.yaml", "meshspec cdk deploy --exclusively 'shop-svc-*'", "meshspec cdk deploy --all")


def test_service_connect_plan_settles_splits_first():
    doc = shop_data()
    doc["services"]["recommendations"]["cluster"] = "core"  # Service Connect joins ECS services only
    plan, specs = walk(doc, "service-connect")
    assert plan.steps[0].id == "prepare"
    edits = [e.to_json() for e in plan.steps[0].edits]
    # pricing: its A/B test ends (Service Connect matches no header or cookie); p-41 has 90 %, so it stays; p-42
    # goes to 0 (a rollout is finished or rolled back first)
    assert edits == [{"path": "services.pricing.majors.v1.cohorts", "action": "remove"},
                     {"path": "services.pricing.majors.v1.sticky", "action": "remove"},
                     {"path": "services.pricing.versions[0].traffic", "action": "set", "value": 100},
                     {"path": "services.pricing.versions[1].traffic", "action": "set", "value": 0}]
    beside = [e.to_json() for e in plan.steps[1].edits]
    assert beside[1]["path"] == "aws.mesh.deployment" and beside[1]["value"]["strategy"] == "canary"
    assert specs[-1].aws.mesh.backend == "service-connect"
    assert deployment_of(specs[-1]).effective_percent == 5


def test_service_connect_plan_moves_callers_before_the_services_they_call():
    doc = shop_data()
    doc["services"]["recommendations"]["cluster"] = "core"
    doc["services"]["erp-connector"]["uses"] = ["catalog/v1"]  # a cycle: catalog -> pricing -> erp-connector -> catalog
    plan, specs = walk(doc, "service-connect")
    assert [s.id for s in plan.steps] == ["prepare", "beside", "move-catalog-pricing-erp-connector", "retire"]
    doc["services"]["erp-connector"].pop("uses")
    plan, specs = walk(doc, "service-connect")
    assert [s.id for s in plan.steps] == ["prepare", "beside", "move-catalog", "move-pricing", "retire"]
    assert plan.steps[2].effect[0].startswith("the App Mesh ECS services of catalog scale to 0 tasks; ECS service "
                                              "catalog (Service Connect) serves all of its traffic")


def test_fails_when_a_service_moves_to_service_connect_before_its_callers():
    doc = shop_data()
    doc["services"]["recommendations"]["cluster"] = "core"
    doc["services"]["pricing"]["versions"][1]["traffic"] = 0
    doc["services"]["pricing"]["versions"][0]["traffic"] = 100
    doc["aws"]["mesh"]["migration"] = {"to": "service-connect", "moved": ["pricing"]}
    r = load_text(json.dumps(doc), file="spec.yaml", today=TODAY)
    (e,) = [e for e in r.errors if e.code == "migration-order"]
    assert (e.key_path, e.message, e.hint) == (
        "aws.mesh.migration.moved[0]",
        "pricing cannot move before catalog, which still calls it through App Mesh; once moved, pricing's App "
        "Mesh tasks stop", "move callers before the services they call (meshspec migrate lists that order)")
    doc["aws"]["mesh"]["migration"]["to"] = "lattice"  # on Lattice every service answers on both: any order
    r = load_text(json.dumps(doc), file="spec.yaml", today=TODAY)
    assert not [e for e in r.errors if e.code == "migration-order"]


def test_plan_resumes_a_migration_under_way():
    doc = shop_data()
    doc["aws"]["mesh"]["migration"] = {"to": "lattice", "moved": ["catalog"]}
    plan = plan_migration(load(doc), "lattice")
    assert [(s.id, s.done) for s in plan.steps] == [
        ("beside", True), ("move-catalog", True), ("move-pricing", False), ("retire", False)]


def test_retire_removes_an_explicit_egress_filter():
    doc = shop_data()
    doc["aws"]["mesh"]["egressFilter"] = "DROP_ALL"
    plan, specs = walk(doc, "lattice")
    assert "remove aws.mesh.egressFilter" in [e.render() for e in plan.steps[-1].edits]


def test_fails_when_service_connect_cannot_take_an_eks_service():
    with pytest.raises(UserError) as exc:
        plan_migration(load(shop_data()), "service-connect")
    assert exc.value.message == ("ECS Service Connect cannot run this spec as it is: services.recommendations.cluster: "
                                 "Service Connect connects ECS services only; recommendations runs on the EKS "
                                 "cluster 'ml'")
    assert exc.value.hint.startswith("backend: lattice takes ECS and EKS targets")


def test_fails_when_a_majors_objective_would_lose_its_series():
    # GIVEN pricing/v1 with an objective of its own: measured on App Mesh's per-major series, which Lattice lacks
    doc = shop_data()
    doc["services"]["pricing"]["majors"]["v1"]["slo"] = {"availability": 99.95}
    with pytest.raises(UserError) as exc:
        plan_migration(load(doc), "lattice")
    assert exc.value.message == (
        "VPC Lattice cannot run this spec as it is: services.pricing.majors.v1.slo: pricing/v1 has no series of its own "
        "to measure an objective on: the lattice backend publishes no series per major")
    assert exc.value.hint == "put the objective on services.pricing.slo (Application Signals measures the service)"


def test_fails_when_lattice_refuses_a_name():
    doc = shop_data()
    doc["services"]["pricing"]["versions"][0]["name"] = "p--41"
    doc["services"]["pricing"]["majors"]["v1"]["cohorts"][1]["version"] = "p--41"  # the A/B test's A cohort
    with pytest.raises(UserError) as exc:
        plan_migration(load(doc), "lattice")
    assert "the VPC Lattice target group name 'shop-pricing-p--41' has a double hyphen" in exc.value.message


def test_fails_when_already_on_the_target():
    doc = shop_data()
    doc["aws"]["mesh"]["backend"] = "lattice"
    with pytest.raises(UserError, match="the spec already uses backend: lattice; there is nothing to migrate"):
        plan_migration(load(doc), "lattice")


def test_fails_when_the_spec_is_not_on_app_mesh():
    doc = shop_data()
    doc["aws"]["mesh"]["backend"] = "lattice"
    with pytest.raises(UserError, match="migrate moves off App Mesh; this spec uses backend: lattice"):
        plan_migration(load(doc), "service-connect")


def test_fails_when_another_migration_is_under_way():
    doc = shop_data()
    doc["aws"]["mesh"]["migration"] = {"to": "lattice"}
    doc["services"]["recommendations"]["cluster"] = "core"
    with pytest.raises(UserError, match="a migration to lattice is under way"):
        plan_migration(load(doc), "service-connect")


def test_fails_when_nothing_runs_on_aws():
    doc = shop_data()
    doc["services"] = {k: v for k, v in doc["services"].items() if "appengine" in v}
    doc["services"]["web-app"]["uses"] = ["user-service/v1"]
    doc["queries"]["custom"] = []
    with pytest.raises(UserError, match="the spec has no services on AWS clusters"):
        plan_migration(load(doc), "lattice")


def test_fails_when_moved_names_an_unknown_or_app_engine_service():
    doc = shop_data()
    doc["aws"]["mesh"]["migration"] = {"to": "lattice", "moved": ["catalgo", "web-app"]}
    r = load_text(json.dumps(doc), file="spec.yaml", today=TODAY)
    msgs = [(e.key_path, e.message, e.hint) for e in r.errors if e.code == "migration-unknown-service"]
    assert msgs == [("aws.mesh.migration.moved[0]", "'catalgo' is not a service in this spec", "did you mean 'catalog'?"),
                    ("aws.mesh.migration.moved[1]", "'web-app' runs on App Engine, outside the mesh", None)]


def test_fails_when_migration_is_set_after_the_move():
    doc = shop_data()
    doc["aws"]["mesh"].update(backend="lattice", migration={"to": "service-connect"})
    r = load_text(json.dumps(doc), file="spec.yaml", today=TODAY)
    (e,) = [e for e in r.errors if e.code == "migration-backend"]
    assert e.message == "a migration moves off App Mesh, but the backend is already lattice"


def test_fails_when_lattice_cannot_match_an_ab_cohort():
    doc = shop_data()
    doc["services"]["pricing"]["majors"]["v1"]["cohorts"][0] = {"name": "staff", "priority": 1, "header": "x-staff",
                                                                "version": "p-42"}
    with pytest.raises(UserError) as caught:
        plan_migration(load(doc), "lattice")
    assert caught.value.message == ("VPC Lattice cannot run this spec as it is: services.pricing.majors.v1.cohorts[0]."
                                    "value: VPC Lattice matches a header's value, not whether x-staff is present")


def test_migration_checks_the_incoming_backend_too():
    doc = shop_data()
    doc["aws"]["mesh"]["migration"] = {"to": "service-connect"}
    r = load_text(json.dumps(doc), file="spec.yaml", today=TODAY)
    codes = {(e.key_path, e.code) for e in r.errors}
    assert ("services.recommendations.cluster", "backend-unsupported") in codes
    assert ("services.pricing.versions", "backend-unsupported") in codes


def test_cli_json_and_text(capsys):
    assert main(["migrate", str(SHOP), "--to", "lattice", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["command"] == "migrate" and doc["from"] == "appmesh" and doc["to"] == "lattice"
    assert [s["id"] for s in doc["steps"]] == ["beside", "move-catalog", "move-pricing", "retire"]
    assert doc["steps"][0]["edits"] == [{"path": "aws.mesh.migration", "action": "set",
                                         "value": {"to": "lattice", "moved": []}}]
    assert "4 of 4 step(s) to go" in err
    assert main(["migrate", str(SHOP), "--to", "lattice"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("Migration plan: App Mesh -> VPC Lattice (4 steps, zero downtime)")
    assert "     - set aws.mesh.migration.moved: [catalog]" in out


def test_cli_refusal_exits_1(capsys):
    assert main(["migrate", str(SHOP), "--to", "service-connect"]) == 1
    _, err = capsys.readouterr()
    assert err.startswith("error: ECS Service Connect cannot run this spec as it is")
    assert "hint: backend: lattice takes ECS and EKS targets" in err


def test_cli_usage_error_exits_2():
    with pytest.raises(SystemExit) as exc:
        main(["migrate", str(SHOP), "--to", "istio"])
    assert exc.value.code == 2


def test_fails_when_env_sets_a_variable_meshspec_reserves():
    doc = shop_data()
    doc["services"]["catalog"]["env"]["MESHSPEC_UPSTREAM_PRICING"] = "http://10.0.0.9:8080"
    r = load_text(json.dumps(doc), file="spec.yaml", today=TODAY)
    (e,) = [e for e in r.errors if e.code == "env-reserved"]
    assert (e.key_path, e.message) == (
        "services.catalog.env.MESHSPEC_UPSTREAM_PRICING",
        "MESHSPEC_UPSTREAM_PRICING is reserved: meshspec sets the MESHSPEC_* variables (the service, its version, "
        "and where each service it uses answers)")
