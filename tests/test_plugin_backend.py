"""A mesh backend written in this one file goes end to end with no change to meshspec's core: a spec naming it
validates (with a rule of its own that can fail), synthesizes, plans, and answers `traffic status` and `traffic
shift` against a fake cloud (moto's SSM in server mode).

The backend, "paramesh", keeps each API major's weights in an SSM parameter ``/paramesh/<project>/<service>/<major>``
(a JSON object version → weight); its "mesh" is nothing more. It is registered in process, as a third-party backend
would be through the ``meshspec.backends`` entry-point group.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from meshspec.constructs_lib.mesh.base import MeshBackend, MeshServiceProps
from meshspec.infra.aws.plan import resources
from meshspec.infra.cli.main import main
from meshspec.infra.mesh import Backend, registry
from meshspec.infra.spec import load_spec_or_raise, load_text
from meshspec.infra.spec.schema import schema
from meshspec.infra.traffic.base import Conflict, Live, NotDeployed, write_lock
from meshspec.infra.traffic.weights import Weights, validate_full
from tests.traffic_support import REGION, aws, moto_server, write_spec  # noqa: F401

from .conftest import TODAY

MAX_VERSIONS = 2


def parameter(project: str, service: str, major: str) -> str:
    return f"/paramesh/{project}/{service}/{major}"


# -- the backend: rules, constructs, plan, traffic -------------------------------------------------------------
class ParameterBinding:
    """A service on paramesh: no sidecar, nothing to register, every version deployed."""

    def __init__(self, scope: Any, id: str, project: str, props: MeshServiceProps) -> None:
        from aws_cdk import CfnResource
        from constructs import Construct

        node = Construct(scope, id)
        for m in props.majors:
            CfnResource(node, f"Weights-{m.name}", type="AWS::SSM::Parameter", properties={
                "Name": parameter(project, props.name, m.name), "Type": "String",
                "Value": json.dumps(dict(m.weights), sort_keys=True)})
        self.versions = props.versions

    def proxy(self, version):
        return None

    def bind_ecs_service(self, version, service, container):
        return None

    def pod_registration(self, version):
        return None

    def deploys(self, version):
        return version in self.versions

    def allow(self, major, caller):
        return None

    def dashboard_series(self, cluster_name):
        return None


class ParameterMesh(MeshBackend):
    def __init__(self, project: str) -> None:
        self.project = project

    def add_service(self, scope, id, props):
        return ParameterBinding(scope, id, self.project, props)


class ParameterTraffic:
    """The traffic adapter: a parameter's JSON is the weights, its version the token."""

    name = "paramesh"
    places = 0
    missing = "no such version"

    def __init__(self, spec, service, ctx):
        self.project, self.ctx = spec.project, ctx
        self.versions = [v.name for v in spec.services[service].versions]
        self.ssm = ctx.aws_client(spec, "ssm")

    def target(self, service, major):
        return f"parameter {parameter(self.project, service, major)}"

    def read_weights(self, service, major):
        name = parameter(self.project, service, major)
        try:
            p = self.ssm.get_parameter(Name=name)["Parameter"]
        except self.ssm.exceptions.ParameterNotFound:
            raise NotDeployed(f"paramesh has no parameter {name}", hint="deploy the service's stack first") from None
        from decimal import Decimal

        weights = {v: Decimal(w) for v, w in json.loads(p["Value"]).items()}
        return Live(weights=weights, token=f"{name}@{p['Version']}", resources=(name,))

    def check_versions(self, service, major, versions):
        return [v for v in versions if v not in self.versions]

    def set_weights(self, service, major, weights: Weights, expected_token):
        validate_full(weights, self.places, self.name)
        with write_lock(self.ctx.state_dir, f"paramesh/{service}/{major}"):
            live = self.read_weights(service, major)
            if live.token != expected_token:
                raise Conflict(self.target(service, major), expected_token, live)
            self.ssm.put_parameter(Name=parameter(self.project, service, major), Overwrite=True, Type="String",
                                   Value=json.dumps({v: int(w) for v, w in weights.items()}, sort_keys=True))
        return self.read_weights(service, major)

    def version_address(self, service, major, version):
        return None


class Paramesh(Backend):
    name = "paramesh"
    title = "Parameter Mesh"
    summary = "a test backend"
    features = frozenset({"lasting-weights"})

    def check(self, spec, problems, *, role, complete):
        for name, svc in spec.aws_services().items():
            if len(svc.versions) > MAX_VERSIONS:
                problems.add(("services", name, "versions"), f"paramesh keeps at most {MAX_VERSIONS} code versions "
                             f"per service; {name} has {len(svc.versions)}", "quota-paramesh",
                             given=len(svc.versions), allowed=f"at most {MAX_VERSIONS}")

    def mesh_backend(self, spec, scope, *, shared, vpc, namespace, twin=False):
        return ParameterMesh(spec.project)

    def route_name(self, service, major):
        return f"{service}-{major}"

    def plan_routes(self, templates):
        out = {}
        for t in templates.values():
            for r in resources(t).values():
                props = r.get("Properties", {})
                if r.get("Type") == "AWS::SSM::Parameter" and str(props.get("Name", "")).startswith("/paramesh/"):
                    _, _, _, service, major = props["Name"].split("/")
                    out[f"{service}-{major}"] = (None, json.loads(props["Value"]))
        return out

    def traffic(self, spec, service, ctx):
        return ParameterTraffic(spec, service, ctx)


# -- the proof ------------------------------------------------------------------------------------------------
SPEC = """\
apiVersion: meshspec/v1
project: shop
aws:
  region: eu-west-1
  availabilityZones: [eu-west-1a, eu-west-1b]
  clusters:
    - {name: core, platform: ecs}
  mesh: {backend: paramesh}
services:
  checkout:
    cluster: core
    majors:
      v1:
        contract: contracts/checkout-v1.json
    versions:
      - {name: apple, image: "public.ecr.aws/shop/checkout:apple", traffic: 90}
      - {name: banana, image: "public.ecr.aws/shop/checkout:banana", traffic: 10}
"""


@pytest.fixture(scope="module", autouse=True)
def paramesh():
    backend = registry.register(Paramesh())
    yield backend
    registry.unregister(backend.name)


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    return write_spec(tmp_path, SPEC)


def test_a_spec_naming_the_backend_validates_and_the_schema_lists_it(spec_file):
    spec = load_spec_or_raise(spec_file, today=TODAY)
    assert spec.backend == "paramesh"
    backend_key = schema()["$defs"]["Mesh"]["properties"]["backend"]
    assert backend_key["enum"][-1] == "paramesh" and "paramesh (a test backend)" in backend_key["description"]


def test_its_own_rule_refuses_what_it_cannot_keep():
    text = SPEC.replace('      - {name: banana, image: "public.ecr.aws/shop/checkout:banana", traffic: 10}\n',
                        '      - {name: banana, image: "public.ecr.aws/shop/checkout:banana", traffic: 10}\n'
                        '      - {name: cherry, image: "public.ecr.aws/shop/checkout:cherry"}\n')
    result = load_text(text, today=TODAY)
    (e,) = [e for e in result.errors if e.code == "quota-paramesh"]
    assert (e.key_path, e.message, e.line) == ("services.checkout.versions",
                                               "paramesh keeps at most 2 code versions per service; checkout has 3", 16)


def test_an_unknown_backend_is_refused_with_every_registered_one():
    result = load_text(SPEC.replace("backend: paramesh", "backend: nomesh"), today=TODAY)
    (e,) = result.errors
    assert e.key_path == "aws.mesh.backend" and e.message == "not one of the allowed values"
    assert e.allowed == "'appmesh', 'service-connect', 'lattice' or 'paramesh'"


def test_it_synthesizes_and_plans(spec_file, tmp_path, capsys):
    # synth: the backend's resources, none of another backend's
    assert main(["synth", str(spec_file), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    template = json.loads((tmp_path / "out" / "shop-svc-checkout.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::SSM::Parameter" in types and not any(t.startswith(("AWS::AppMesh", "AWS::VpcLattice")) for t in types)
    capsys.readouterr()
    # plan: the backend's route, labelled with the service and major
    assert main(["plan", str(spec_file), "--format", "json"]) == 0
    routes = json.loads(capsys.readouterr().out)["routes"]
    assert routes == [{"route": "checkout-v1", "service": "checkout", "major": "v1", "match": None,
                       "action": "create", "weights": {"apple": 90, "banana": 10}, "previousWeights": None}]


def test_traffic_status_and_shift_against_the_fake(spec_file, aws, capsys):  # noqa: F811
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/paramesh/shop/checkout/v1", Type="String", Value='{"apple": 90, "banana": 10}')
    assert main(["traffic", "status", str(spec_file), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert (row["platform"], row["live"], row["drift"]) == ("paramesh", {"apple": 90, "banana": 10}, False)
    assert main(["traffic", "shift", str(spec_file), "checkout", "--to", "banana=30", "--format", "json"]) == 0
    change = json.loads(capsys.readouterr().out)["change"]
    assert change["written"] and change["after"] == {"apple": 70, "banana": 30}
    assert json.loads(ssm.get_parameter(Name="/paramesh/shop/checkout/v1")["Parameter"]["Value"]) == {
        "apple": 70, "banana": 30}
