"""``meshspec contracts retire-plan``: the three deploys at each stage, on consumers of both platforms."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import TODAY
from meshspec.infra.cli.main import main
from meshspec.infra.contracts import retire_plan
from meshspec.infra.errors import UserError
from meshspec.infra.spec import load_spec

FIX = Path(__file__).parent / "fixtures" / "contracts"


def _plan(name: str, service: str = "accounts", major: str = "v1"):
    loaded = load_spec(FIX / f"{name}.yaml", today=TODAY)
    assert loaded.spec is not None
    return retire_plan(loaded.spec, service, major)


def _marks(plan):
    return [(d.number, d.done, d.blocked) for d in plan.deploys]


def test_before_deploy_1_publishing_the_new_major_is_next():
    plan = _plan("stage1")
    assert plan.successor is None and plan.next.number == 1
    assert _marks(plan) == [
        (1, False, None),
        (2, False, "deploy 1 first: accounts/v2 is not published"),
        (3, False, "2 consumer(s) still use accounts/v1: orders (ECS core), mailer (App Engine)"),
    ]
    assert plan.deploys[0].title == "publish accounts/v2 beside v1"
    assert [(s.text, s.done) for s in plan.deploys[1].steps] == [
        ("orders (ECS core) still uses accounts/v1", False), ("mailer (App Engine) still uses accounts/v1", False)]


def test_after_deploy_1_moving_the_consumers_is_next():
    plan = _plan("stage2")
    assert plan.successor == "v2" and plan.next.number == 2
    assert _marks(plan) == [(1, True, None), (2, False, None),
                            (3, False, "1 consumer(s) still use accounts/v1: mailer (App Engine)")]
    assert [(s.text, s.done) for s in plan.deploys[0].steps] == [
        ("accounts/v2 is in the spec, active, with its own contract", True),
        ("accounts/v1 is marked deprecated (sunset 2027-01-31)", True)]
    assert [(s.text, s.done) for s in plan.deploys[1].steps] == [
        ("orders (ECS core) uses accounts/v2", True), ("mailer (App Engine) still uses accounts/v1", False)]
    assert plan.render().splitlines()[-1] == ("next: deploy 2 (move each consumer from v1 to v2): nothing blocks it; "
                                              "to do: mailer (App Engine) still uses accounts/v1")


def test_after_deploy_2_removing_the_old_major_is_next():
    plan = _plan("stage3")
    assert _marks(plan) == [(1, True, None), (2, True, None), (3, False, None)]
    assert plan.next.title == "remove accounts/v1 and its compatibility code"


def test_after_deploy_3_all_is_done(capsys):
    plan = _plan("done")
    assert plan.done and plan.next is None and plan.broken is None
    assert plan.render().splitlines()[-1] == "all three deploys are done"
    assert main(["contracts", "retire-plan", str(FIX / "done.yaml"), "accounts", "v1", "--detailed-exitcode"]) == 0


def test_a_removed_major_counts_as_deploy_3_done(tmp_path):
    from meshspec.infra.spec import load_text

    text = (FIX / "stage3.yaml").read_text().replace(
        "      v1: {contract: contracts/accounts-v1.json, status: deprecated, sunset: 2027-01-31}\n", "")
    spec = load_text(text, today=TODAY).spec
    assert retire_plan(spec, "accounts", "v1").done


@pytest.mark.parametrize("name,word", [("retired-in-use", "retired"), ("removed-in-use", "removed")])
def test_a_broken_retirement_names_every_consumer(name, word, capsys):
    plan = _plan(name)
    assert plan.broken == (f"accounts/v1 is already {word}, but orders (ECS core), mailer (App Engine) still use it: "
                           "the retirement rule is broken; put the major back or move them in this change")
    assert main(["contracts", "retire-plan", str(FIX / f"{name}.yaml"), "accounts", "v1"]) == 1
    assert f"error: accounts/v1 is already {word}" in capsys.readouterr().out


def test_cross_platform_ecs_provider_app_engine_consumer():
    """ledger runs on ECS; mailer, on App Engine, uses it: planned like any other consumer."""
    plan = _plan("stage1", "ledger", "v1")
    assert plan.deploys[2].blocked == "1 consumer(s) still use ledger/v1: mailer (App Engine)"


def test_cli_json_and_detailed_exit_code(capsys):
    code = main(["contracts", "retire-plan", str(FIX / "stage2.yaml"), "accounts", "v1", "--format", "json",
                 "--detailed-exitcode"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2
    assert (doc["next"], doc["successor"], doc["done"]) == (2, "v2", False)
    assert [d["done"] for d in doc["deploys"]] == [True, False, False]
    assert main(["contracts", "retire-plan", str(FIX / "stage2.yaml"), "accounts", "v1"]) == 0


@pytest.mark.parametrize("service,major,message", [
    ("billing", "v1", "'billing' is not a service in this spec"),
    ("accounts", "v9", "accounts has no major v9"),
    ("accounts", "one", "'one' is not a major name"),
])
def test_unknown_service_or_major_is_a_user_error(service, major, message, capsys):
    assert main(["contracts", "retire-plan", str(FIX / "stage2.yaml"), service, major]) == 1
    assert f"error: {message}" in capsys.readouterr().err
    with pytest.raises(UserError):
        _plan("stage2", service, major)
