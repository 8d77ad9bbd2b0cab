"""meshspec traffic status/shift on VPC Lattice listener-rule weights, against moto in server mode on 127.0.0.1
(real boto3 and HTTP; GetRule/ListRules/UpdateRule come from tests.lattice_support's shim, moto lacks them)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from meshspec.infra.cli.main import main
from meshspec.infra.errors import UserError
from meshspec.infra.spec import load_spec_or_raise
from meshspec.infra.traffic.backend import Conflict, Context, NotDeployed, backend_for
from meshspec.backends.lattice.traffic import LatticeBackend, with_weights

from .conftest import TODAY
from .lattice_support import build_lattice, install_rule_shim, lattice, rule_weights
from .traffic_support import SPEC, aws, moto_server, write_spec  # noqa: F401

install_rule_shim()
LATTICE_SPEC = SPEC.replace("    name: shop-mesh   # the mesh the routes live in\n",
                            "    name: shop-mesh   # the mesh the routes live in\n    backend: lattice\n")
assert "backend: lattice" in LATTICE_SPEC


@pytest.fixture
def world(tmp_path: Path, aws: str):  # noqa: F811
    ids = build_lattice()
    return write_spec(tmp_path, LATTICE_SPEC), ids


def backend(spec_file: Path, service: str = "checkout") -> LatticeBackend:
    spec = load_spec_or_raise(spec_file, today=TODAY)
    return backend_for(spec, service, Context(state_dir=spec_file.parent / ".meshspec"))


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_spec_picks_the_lattice_backend(world):
    spec_file, _ = world
    b = backend(spec_file)
    assert isinstance(b, LatticeBackend) and b.name == "lattice" and b.places == 0
    assert b.target("checkout", "v1") == "Lattice service shop-checkout rule checkout-http/checkout-v1"


def test_read_weights_from_the_rule(world):
    spec_file, ids = world
    live = backend(spec_file).read_weights("checkout", "v1")
    assert live.weights == {"apple": 90, "banana": 10}
    assert live.token.startswith(f"{ids['v1']}@2026-11-23T10:00:00")
    assert live.resources[0].endswith(f"/rule/{ids['v1']}")


def test_shift_writes_the_rule_and_only_that_rule(world, capsys):
    spec_file, ids = world
    code, out, err = cli(capsys, "traffic", "shift", spec_file, "checkout", "--major", "v1", "--to", "banana=30")
    assert code == 0, err
    assert rule_weights(ids, "v1") == {"apple": 70, "banana": 30}
    assert rule_weights(ids, "v2") == {"apple": 90, "banana": 10}


def test_status_json_shows_live_beside_spec(world, capsys):
    spec_file, _ = world
    code, out, err = cli(capsys, "traffic", "status", spec_file, "checkout", "--format", "json")
    assert code == 0, err
    rows = {(r["service"], r["major"]): r for r in json.loads(out)["rows"]}
    assert rows["checkout", "v1"]["live"] == {"apple": 90, "banana": 10}
    assert rows["checkout", "v1"]["drift"] is False


def test_set_weights_refuses_a_stale_token_and_writes_nothing(world):
    spec_file, ids = world
    b = backend(spec_file)
    token = b.read_weights("checkout", "v1").token
    b.set_weights("checkout", "v1", {"apple": Decimal(50), "banana": Decimal(50)}, token)
    with pytest.raises(Conflict) as exc:
        b.set_weights("checkout", "v1", {"apple": Decimal(0), "banana": Decimal(100)}, token)
    assert "changed since it was read" in exc.value.message
    assert rule_weights(ids, "v1") == {"apple": 50, "banana": 50}


def test_shift_to_a_version_without_a_target_group_is_refused(world):
    spec_file, ids = world
    b = backend(spec_file)
    assert b.check_versions("checkout", "v1", ["apple", "banana", "cherry"]) == ["cherry"]
    token = b.read_weights("checkout", "v1").token
    with pytest.raises(NotDeployed) as exc:
        b.set_weights("checkout", "v1", {"apple": Decimal(80), "banana": Decimal(0), "cherry": Decimal(20)}, token)
    assert exc.value.message == "checkout: no Lattice target group for cherry"
    assert rule_weights(ids, "v1") == {"apple": 90, "banana": 10}


def test_undeployed_service_says_so(world, capsys):
    spec_file, _ = world
    code, _, err = cli(capsys, "traffic", "status", spec_file, "pricing")
    assert code == 1
    assert "VPC Lattice has no service shop-pricing" in err


def test_relative_weights_written_by_others_read_as_percentages(world):
    spec_file, ids = world
    lattice().update_rule(serviceIdentifier=ids["service"], listenerIdentifier=ids["listener"], ruleIdentifier=ids["v2"],
                          action={"forward": {"targetGroups": [
                              {"targetGroupIdentifier": ids["tg"]["apple"], "weight": 3},
                              {"targetGroupIdentifier": ids["tg"]["banana"], "weight": 1}]}})
    assert backend(spec_file).read_weights("checkout", "v2").weights == {"apple": 75, "banana": 25}


def test_with_weights_keeps_order_appends_new_versions_and_caps_at_ten():
    action = {"forward": {"targetGroups": [{"targetGroupIdentifier": "tg-a", "weight": 90},
                                           {"targetGroupIdentifier": "tg-b", "weight": 10}]}}
    out = with_weights(action, {"a": "tg-a", "b": "tg-b", "c": "tg-c"},
                       {"a": Decimal(80), "b": Decimal(0), "c": Decimal(20)})
    assert out == {"forward": {"targetGroups": [{"targetGroupIdentifier": "tg-a", "weight": 80},
                                                {"targetGroupIdentifier": "tg-b", "weight": 0},
                                                {"targetGroupIdentifier": "tg-c", "weight": 20}]}}
    full = {"forward": {"targetGroups": [{"targetGroupIdentifier": f"tg-{i}", "weight": 10} for i in range(10)]}}
    with pytest.raises(UserError, match="the rule would forward to 11 target groups; VPC Lattice allows 10"):
        with_weights(full, {"new": "tg-new"}, {"new": Decimal(5)})


def test_service_connect_explains_that_it_has_no_weights(tmp_path, aws):  # noqa: F811
    text = LATTICE_SPEC.replace("    name: shop-mesh   # the mesh the routes live in\n", "").replace(
        "backend: lattice", "backend: service-connect").replace(
        "        traffic: 90   # the stable one", "        traffic: 100").replace(
        "        traffic: 10\n", "        traffic: 0\n")
    spec_file = write_spec(tmp_path, text)
    with pytest.raises(UserError) as exc:
        backend(spec_file)
    assert exc.value.message == "checkout runs on ECS Service Connect, which keeps no weights between code versions"
    assert "aws.mesh.deployment (canary or linear)" in exc.value.hint
