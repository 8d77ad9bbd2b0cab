"""``meshspec contracts check``: against a second spec, against a git ref, the retirement rule, and the three
output formats."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import EXAMPLES, TODAY
from meshspec.infra.cli.main import main
from meshspec.infra.contracts import FileBase, GitBase, run_check
from meshspec.infra.errors import UserError

FIX = Path(__file__).parent / "fixtures" / "contracts"


def _copy(src: Path, dst: Path) -> Path:
    """A spec and its contracts folder, copied so a test can edit them."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst / src.name)
    shutil.copytree(src.parent / "contracts", dst / "contracts", dirs_exist_ok=True)
    return dst / src.name


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _merge_names(doc):
    r = doc["properties"]["getUser"]["properties"]["response"]
    r["properties"] = {"userId": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"}}
    r["required"] = ["userId", "name", "email"]


def _shop_without_v2(tmp_path: Path) -> Path:
    """The example as it was before user-service/v2 existed: v1 only (with the JSON Schema contract of it), used by
    web-app (App Engine, one operation) and recommendations (EKS, all of v1)."""
    spec = _copy(EXAMPLES / "shop.yaml", tmp_path)
    text = spec.read_text().replace("user-service-v1.yaml", "user-service-v1.json")  # its JSON Schema contract
    text = text.replace("        status: deprecated\n        sunset: 2027-06-30\n", "")
    text = text.replace("      v2:\n        contract: contracts/user-service-v2.yaml\n", "")
    text = text.replace("uses: [user-service/v2]", "uses: [user-service/v1]")
    spec.write_text(text)
    return spec


# -- breaking changes against a second spec ---------------------------------------------------------------

def test_breaking_change_inside_a_major_fails_and_says_what_to_do(tmp_path, capsys):
    base = _shop_without_v2(tmp_path / "base")
    head = _shop_without_v2(tmp_path / "head")
    _edit(head.parent / "contracts" / "user-service-v1.json", _merge_names)
    code = main(["contracts", "check", str(head), "--base-spec", str(base), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["ok"] is False
    breaking = [f for f in out["findings"] if f["breaking"]]
    assert [(f["rule"], f["pointer"].rsplit("/", 1)[1]) for f in breaking] == [
        ("field-removed", "firstName"), ("field-removed", "lastName"), ("field-removed", "username")]
    first = breaking[0]
    assert (first["service"], first["major"], first["severity"]) == ("user-service", "v1", "error")
    assert first["file"].endswith("contracts/user-service-v1.json")
    assert first["pointer"] == "/properties/getUser/properties/response/properties/firstName"
    assert first["line"] == 29  # the response's "properties", where firstName was
    assert first["consumers"] == ["recommendations", "web-app"]
    [major] = out["majors"]
    assert major["consumers"] == ["recommendations", "web-app"]
    assert major["consumerPlatforms"] == {"recommendations": "EKS ml", "web-app": "App Engine"}
    assert major["action"].startswith("keep user-service/v1 as it was and publish user-service/v2 beside v1")
    assert "move recommendations, web-app to it" in major["action"]


def test_text_output_names_consumers_and_the_new_major(tmp_path, capsys):
    base = _shop_without_v2(tmp_path / "base")
    head = _shop_without_v2(tmp_path / "head")
    _edit(head.parent / "contracts" / "user-service-v1.json", _merge_names)
    assert main(["contracts", "check", str(head), "--base-spec", str(base)]) == 1
    err = capsys.readouterr().err
    assert ": error: user-service/v1 /properties/getUser/properties/response/properties/firstName: " \
           "response field 'firstName' was removed [field-removed]" in err
    assert ("user-service/v1: 3 breaking change(s) inside an existing major; would break "
            "recommendations (EKS ml), web-app (App Engine)") in err
    assert "publish user-service/v2 beside v1" in err


def test_adding_a_response_field_passes(tmp_path, capsys):
    base = _shop_without_v2(tmp_path / "base")
    head = _shop_without_v2(tmp_path / "head")
    _edit(head.parent / "contracts" / "user-service-v1.json",
          lambda d: d["properties"]["getUser"]["properties"]["response"]["properties"].update(
              company={"type": "string"}))
    code = main(["contracts", "check", str(head), "--base-spec", str(base), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] is True and out["breakingCount"] == 0
    [f] = [f for f in out["findings"] if f["rule"] != "uses-deprecated"]
    assert (f["rule"], f["severity"], f["breaking"]) == ("response-field-added", "notice", False)


def test_the_example_against_itself_is_clean(capsys):
    report = run_check(EXAMPLES / "shop.yaml", FileBase(EXAMPLES / "shop.yaml"), today=TODAY)
    assert report.ok
    # the one finding is the loader's own deprecation warning for web-app, passed through, not re-derived
    assert [(f.rule, f.severity, f.subject, f.consumers) for f in report.findings] == [
        ("uses-deprecated", "warning", "user-service/v1", ("web-app",))]


def test_a_major_path_change_is_breaking(tmp_path):
    base = _copy(FIX / "stage1.yaml", tmp_path / "base")
    head = _copy(FIX / "stage1.yaml", tmp_path / "head")
    head.write_text(head.read_text().replace("v1: {contract: contracts/ledger-v1.json}",
                                             "v1: {contract: contracts/ledger-v1.json, path: /books/v1/}"))
    _edit(head.parent / "contracts" / "ledger-v1.json", lambda d: d["properties"]["post"].update(
        {"x-meshspec-endpoint": "POST /books/v1/entries"}))
    report = run_check(head, FileBase(base), today=TODAY)
    rules = [(f.rule, f.severity, f.subject, f.pointer, f.consumers) for f in report.findings]
    assert ("major-path-changed", "error", "ledger/v1", "/services/ledger/majors/v1/path", ("mailer",)) in rules
    assert ("endpoint-moved", "error", "ledger/v1", "/properties/post/x-meshspec-endpoint", ("mailer",)) in rules
    moved = next(f for f in report.findings if f.rule == "major-path-changed")
    assert moved.message == "ledger/v1 moved from /ledger/v1/ to /books/v1/; consumers call the old path"
    assert moved.file == str(head) and moved.line == 34


def test_a_new_major_is_not_breaking(tmp_path):
    report = run_check(FIX / "stage2.yaml", FileBase(FIX / "stage1.yaml"), today=TODAY)
    assert report.ok
    assert ("major-added", "accounts/v2") in [(f.rule, f.subject) for f in report.findings]


# -- the retirement rule ----------------------------------------------------------------------------------

def test_retiring_a_major_still_in_use_is_refused_naming_every_consumer():
    report = run_check(FIX / "retired-in-use.yaml", FileBase(FIX / "stage2.yaml"), today=TODAY)
    assert not report.ok
    [f] = [f for f in report.findings if f.severity == "error"]  # the loader's per-consumer errors fold into it
    assert f.rule == "retired-in-use" and f.subject == "accounts/v1"
    assert f.message == ("accounts/v1 is marked retired, but 2 consumer(s) still use it: "
                         "orders (ECS core), mailer (App Engine)")
    assert f.consumers == ("orders", "mailer")
    assert f.pointer == "/services/accounts/majors/v1/status" and f.line == 14


def test_removing_a_major_still_in_use_is_refused_naming_every_consumer():
    report = run_check(FIX / "removed-in-use.yaml", FileBase(FIX / "stage2.yaml"), today=TODAY)
    errors = [f for f in report.findings if f.severity == "error"]
    assert [(f.rule, f.subject, f.consumers) for f in errors] == [
        ("removed-in-use", "accounts/v1", ("orders", "mailer"))]
    assert errors[0].message == ("accounts/v1 was removed from the spec, but 2 consumer(s) still use accounts/v1: "
                                 "orders (ECS core), mailer (App Engine)")


def test_removing_a_service_still_in_use_is_refused(tmp_path):
    head = _copy(FIX / "stage1.yaml", tmp_path)
    text = head.read_text()
    head.write_text(text[:text.index("  ledger:\n")])  # ledger (ECS) goes; mailer (App Engine) still uses it
    report = run_check(head, FileBase(FIX / "stage1.yaml"), today=TODAY)
    errors = [(f.rule, f.message) for f in report.findings if f.severity == "error"]
    assert errors == [("removed-in-use", "service ledger was removed from the spec, but 1 consumer(s) still use "
                                         "ledger/v1: mailer (App Engine)")]


def test_retiring_a_major_nobody_uses_passes():
    report = run_check(FIX / "done.yaml", FileBase(FIX / "stage3.yaml"), today=TODAY)
    assert report.ok, [f.render() for f in report.errors]


def test_removing_a_major_nobody_uses_passes(tmp_path):
    head = _copy(FIX / "stage3.yaml", tmp_path)
    head.write_text(head.read_text().replace(
        "      v1: {contract: contracts/accounts-v1.json, status: deprecated, sunset: 2027-01-31}\n", ""))
    report = run_check(head, FileBase(FIX / "stage3.yaml"), today=TODAY)
    assert report.ok, [f.render() for f in report.errors]


def test_sunset_comes_from_the_loader_warning_before_error_after():
    before = run_check(FIX / "stage2.yaml", FileBase(FIX / "stage2.yaml"), today=TODAY)
    assert before.ok
    assert [(f.rule, f.severity, f.subject, f.consumers) for f in before.findings] == [
        ("uses-deprecated", "warning", "accounts/v1", ("mailer",))]
    after = run_check(FIX / "sunset-passed.yaml", FileBase(FIX / "stage2.yaml"), today=TODAY)
    assert not after.ok
    assert [(f.rule, f.severity, f.subject, f.consumers, f.message) for f in after.errors] == [
        ("uses-sunset", "error", "accounts/v1", ("mailer",), "accounts/v1 was sunset on 2026-10-31")]


# -- contract files themselves ----------------------------------------------------------------------------

@pytest.mark.parametrize("change,rule,pointer,message", [
    (lambda d: d.update({"type": "objekt"}), "contract-schema", "/type", "not a valid JSON Schema 2020-12: "),
    (lambda d: d["properties"]["send"].pop("x-meshspec-endpoint"), "contract-shape", "/properties/send",
     "an endpoint needs x-meshspec-endpoint: \"METHOD /path\""),
    (lambda d: d["properties"]["send"].update({"x-meshspec-endpoint": "SEND /mailer/v1/mails"}), "contract-shape",
     "/properties/send/x-meshspec-endpoint", "endpoint 'SEND /mailer/v1/mails' is not METHOD /path"),
    (lambda d: d["properties"]["send"]["properties"].pop("response"), "contract-shape",
     "/properties/send/properties", "an endpoint's properties need a response schema"),
    (lambda d: d.update({"$schema": "http://json-schema.org/draft-07/schema#"}), "contract-shape", "/$schema",
     "meshspec contracts are JSON Schema 2020-12"),
    (lambda d: d["properties"]["send"].update({"x-meshspec-endpoint": "POST /ledger/v1/mails"}), "contract-path",
     "/properties/send/x-meshspec-endpoint", "endpoint POST /ledger/v1/mails is outside mailer/v1's path prefix "
                                             "/mailer/v1/"),
    (lambda d: d["x-meshspec"].update({"major": "v2"}), "contract-mismatch", "/x-meshspec/major",
     "the contract says major 'v2', but the spec uses it for mailer/v1"),
    (lambda d: d["properties"]["send"]["properties"]["request"].update({"$ref": "https://example.com/x.json"}),
     "contract-ref", "/properties/send/properties/request/$ref", "$ref 'https://example.com/x.json' points outside"),
], ids=["not a JSON Schema", "endpoint without route", "bad method", "no response", "draft-07",
        "route outside the major", "wrong major", "remote $ref"])
def test_invalid_contract_files_are_errors_with_a_pointer(tmp_path, change, rule, pointer, message):
    head = _copy(FIX / "stage1.yaml", tmp_path)
    _edit(head.parent / "contracts" / "mailer-v1.json", change)
    report = run_check(head, FileBase(FIX / "stage1.yaml"), today=TODAY)
    errors = [(f.rule, f.subject, f.pointer) for f in report.errors]
    assert (rule, "mailer/v1", pointer) in errors
    found = next(f for f in report.errors if f.rule == rule)
    assert found.message.startswith(message) and found.line is not None


def test_a_contract_that_is_not_json(tmp_path):
    head = _copy(FIX / "stage1.yaml", tmp_path)
    (head.parent / "contracts" / "mailer-v1.json").write_text("{ nope")
    [f] = run_check(head, FileBase(FIX / "stage1.yaml"), today=TODAY).errors
    assert (f.rule, f.subject) == ("contract-json", "mailer/v1")
    assert f.message.startswith("not valid JSON: Expecting property name enclosed in double quotes at line 1")


def test_the_example_contracts_are_valid():
    from meshspec.infra.contracts import parse_contract

    for path in sorted((EXAMPLES / "contracts").glob("*.json")):
        assert parse_contract(path.read_text(), str(path)).problems == [], path


# -- --base REF on a real git repository ------------------------------------------------------------------

def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    spec = _shop_without_v2(tmp_path / "deploy")  # the spec lives in a sub-folder of the repository
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "v1 only")
    return spec


def test_base_ref_reads_the_committed_contracts(repo, capsys, monkeypatch):
    _edit(repo.parent / "contracts" / "user-service-v1.json", _merge_names)
    monkeypatch.chdir(repo.parent.parent)
    code = main(["contracts", "check", "deploy/shop.yaml", "--base", "main", "--format", "github"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    errors = [line for line in out if line.startswith("::error ")]
    assert len(errors) == 3
    assert errors[0].startswith("::error file=deploy/contracts/user-service-v1.json,line=29,"
                                "title=meshspec field-removed::user-service/v1 "
                                "/properties/getUser/properties/response/properties/firstName: "
                                "response field 'firstName' was removed%0Aconsumers: recommendations, web-app")
    assert any(line.startswith("::notice file=deploy/contracts/user-service-v1.json,line=33,"
                               "title=meshspec response-field-added::") for line in out)


def test_base_ref_sees_a_removed_major_and_a_committed_base(repo, capsys):
    _git(repo.parent.parent, "mv", "deploy/contracts/user-service-v1.json", "deploy/contracts/users-v1.json")
    repo.write_text(repo.read_text().replace("contracts/user-service-v1.json", "contracts/users-v1.json"))
    report = run_check(repo, GitBase("HEAD", repo), today=TODAY)
    assert report.ok, [f.render() for f in report.errors]  # renaming the file is not a contract change
    repo.write_text(repo.read_text().replace("uses: [user-service/v1, catalog/v1]", "uses: [catalog/v1]"))
    report = run_check(repo, GitBase("HEAD", repo), today=TODAY)
    assert report.ok


def test_base_ref_where_the_spec_did_not_exist_makes_everything_new(repo):
    _git(repo.parent.parent, "commit", "-q", "--allow-empty", "-m", "empty")
    (repo.parent.parent / "other").mkdir()
    other = _copy(FIX / "stage1.yaml", repo.parent.parent / "other")
    report = run_check(other, GitBase("HEAD", other), today=TODAY)
    assert report.ok
    assert report.findings[0].rule == "base-missing"


def test_bad_ref_is_a_user_error(repo, capsys):
    assert main(["contracts", "check", str(repo), "--base", "no-such-branch"]) == 1
    err = capsys.readouterr().err
    assert "error: 'no-such-branch' is not a commit in this repository" in err
    assert "hint: give a branch, tag or commit, e.g. --base origin/main" in err


def test_base_ref_outside_a_repository_is_a_user_error(tmp_path):
    spec = _copy(FIX / "stage1.yaml", tmp_path)
    with pytest.raises(UserError, match="is not inside a git repository, so --base main cannot be read"):
        GitBase("main", spec)


def test_a_base_spec_that_does_not_load_is_a_user_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: meshspec/v1\nproject: Not A Label\n")
    assert main(["contracts", "check", str(FIX / "stage1.yaml"), "--base-spec", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"error: the base spec {bad} does not load (" in err and "nothing to compare with" in err


def test_a_missing_base_spec_is_a_user_error(tmp_path, capsys):
    assert main(["contracts", "check", str(FIX / "stage1.yaml"), "--base-spec", str(tmp_path / "nope.yaml")]) == 1
    assert "error: cannot read the base spec" in capsys.readouterr().err


def test_base_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["contracts", "check", str(FIX / "stage1.yaml")])
    assert exc.value.code == 2
    assert "one of the arguments --base --base-spec is required" in capsys.readouterr().err


def test_a_duplicate_key_in_a_contract_is_an_error(tmp_path):
    head = _copy(FIX / "stage1.yaml", tmp_path)
    path = head.parent / "contracts" / "mailer-v1.json"
    path.write_text(path.read_text().replace('"to": {', '"to": {"type": "integer"},\n          "to": {', 1))
    [f] = run_check(head, FileBase(FIX / "stage1.yaml"), today=TODAY).errors
    assert (f.rule, f.subject, f.pointer) == ("contract-duplicate-key", "mailer/v1",
                                              "/properties/send/properties/request/properties/to")
    assert f.message.startswith("duplicate key 'to'; it was already given on line ")
    assert f.message.endswith("(JSON keeps only the last one)")
