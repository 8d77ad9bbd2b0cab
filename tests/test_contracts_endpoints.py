"""The example's OpenAPI contracts end to end: validate (paths under the major, operations consumers name, deprecated
and sunset operations), ``contracts check`` against a git base with a breaking and a non-breaking change, consumers
per endpoint, JUnit output, and ``retire-plan`` endpoint by endpoint; and the forms of ``uses``."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import EXAMPLES, TODAY
from meshspec.infra.cli.main import main
from meshspec.infra.spec import load_spec, load_text
from meshspec.infra.spec.model import Service


def _copy(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "shop.yaml", dst / "shop.yaml")
    shutil.copytree(EXAMPLES / "contracts", dst / "contracts")
    return dst / "shop.yaml"


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


# -- validate ------------------------------------------------------------------------------------------------

def test_the_example_validates_with_its_openapi_contracts():
    result = load_spec(EXAMPLES / "shop.yaml", today=TODAY)
    assert result.ok, [e.render() for e in result.errors]
    assert [w.code for w in result.warnings] == ["uses-deprecated"]  # web-app on v1; not findUsers, it is not called
    web = result.spec.services["web-app"]
    assert web.uses == ["user-service/v1", "catalog/v1"]
    assert web.calls == {"user-service/v1": ("GET /users/{userId}",), "catalog/v1": None}


def test_an_operation_outside_the_major_prefix_is_an_error_at_validate(tmp_path):
    spec = _copy(tmp_path)
    _replace(spec.parent / "contracts" / "user-service-v2.yaml", "url: /user-service/v2", "url: /users/v2")
    [err] = load_spec(spec, today=TODAY).errors
    assert (err.code, err.file, err.line) == ("contract-path", str(spec.parent / "contracts" / "user-service-v2.yaml"),
                                             _line(spec.parent / "contracts" / "user-service-v2.yaml", "    get:"))
    assert err.message == "GET /users/v2/users/{userId} is outside user-service/v2's path prefix /user-service/v2/"
    assert err.key_path == "services.user-service.majors.v2.contract" and "meshspec help contracts" in err.hint


def test_an_invalid_openapi_contract_is_one_error_with_its_line(tmp_path):
    spec = _copy(tmp_path)
    contract = spec.parent / "contracts" / "user-service-v1.yaml"
    _replace(contract, "        lastName:\n          type: string", "        lastName:\n          type: text")
    _replace(contract, "$ref: \"user-service-common.yaml", "$ref: \"https://shop.example/common.yaml")
    [err] = load_spec(spec, today=TODAY).errors
    assert (err.code, err.file, err.line) == ("contract-invalid", str(contract), _line(contract, "https://shop"))
    assert err.message.startswith("the contract of user-service/v1 is invalid: $ref 'https://shop.example/common.yaml")
    _replace(contract, "$ref: \"https://shop.example/common.yaml", "$ref: \"user-service-common.yaml")
    [err] = load_spec(spec, today=TODAY).errors
    assert (err.code, err.line) == ("contract-invalid", _line(contract, "type: text"))
    assert "not a valid OpenAPI 3.1 document: 'text' is not valid" in err.message


def test_a_missing_contract_stays_one_error(tmp_path):
    spec = _copy(tmp_path)
    (spec.parent / "contracts" / "user-service-v2.yaml").unlink()
    assert [(e.code, e.line) for e in load_spec(spec, today=TODAY).errors] == [("contract-missing", _line(spec, "user-service-v2.yaml"))]


def test_an_operation_a_consumer_names_must_exist(tmp_path):
    spec = _copy(tmp_path)
    _replace(spec, "          - GET /users/{userId}\n", "          - GET /users/{id}\n          - DELETE /users/{id}\n")
    [err] = load_spec(spec, today=TODAY).errors
    assert (err.code, err.line, err.key_path) == ("uses-unknown-operation", _line(spec, "DELETE /users"),
                                                 "services.web-app.uses[0].user-service/v1[1]")
    assert err.message == "user-service/v1 has no operation DELETE /users/{id}"
    assert err.allowed == "GET /users/{userId}, GET /users"


def test_a_deprecated_operation_warns_its_callers_and_refuses_them_after_its_sunset(tmp_path):
    spec = _copy(tmp_path)
    _replace(spec, "          - GET /users/{userId}\n", "          - GET /users/{userId}\n          - GET /users\n")
    _replace(spec, "uses: [user-service/v2]", "uses: [user-service/v1]")  # recommendations: all of v1
    result = load_spec(spec, today=TODAY)
    assert result.ok
    ops = [(w.code, w.key_path, w.message) for w in result.warnings if w.code == "uses-operation-deprecated"]
    assert ops == [
        ("uses-operation-deprecated", "services.recommendations.uses[0]", "recommendations uses all of "
         "user-service/v1, so it calls GET /user-service/v1/users, which is deprecated until 2027-03-31"),
        ("uses-operation-deprecated", "services.web-app.uses[0].user-service/v1[1]",
         "web-app calls GET /user-service/v1/users, which is deprecated until 2027-03-31")]
    later = load_spec(spec, today=dt.date(2027, 4, 1))
    assert [(e.code, e.key_path) for e in later.errors] == [
        ("uses-operation-sunset", "services.recommendations.uses[0]"),
        ("uses-operation-sunset", "services.web-app.uses[0].user-service/v1[1]")]
    assert "name the operations recommendations calls" in later.errors[0].hint


@pytest.mark.parametrize("entry,code,message", [
    ("pricing", "uses-ref", "'pricing' is not <service>/<major>"),
    ("{pricing/v1: []}", "uses-operations", "pricing/v1 needs a list of the operations called"),
    ("{pricing/v1: [FETCH /prices]}", "uses-operation", "'FETCH /prices' is not METHOD /path"),
    ("{pricing/v1: [GET /a], erp-connector/v1: [GET /b]}", "uses-entry",
     "a uses entry is a major, or one major with the operations called"),
])
def test_a_bad_uses_entry_is_one_clear_error(entry, code, message):
    text = (EXAMPLES / "shop.yaml").read_text().replace("uses: [erp-connector/v1]", f"uses: [{entry}]")
    result = load_text(text, file="shop.yaml", base_dir=EXAMPLES, today=TODAY)
    [err] = result.errors
    assert (err.code, err.key_path, err.message) == (code, "services.pricing.uses[0]", message)
    assert err.line == _line(EXAMPLES / "shop.yaml", "uses: [erp-connector/v1]") and err.allowed


def test_uses_round_trips_in_both_forms():
    data = {"cluster": "c", "majors": {"v1": {"contract": "x.json"}}, "versions": [{"name": "a"}],
            "uses": ["a/v1", {"b/v2": ["GET /x/{id}"]}, {"b/v2": ["POST /x"]}]}
    svc = Service.model_validate(data)
    assert svc.uses == ["a/v1", "b/v2", "b/v2"]
    assert svc.calls == {"a/v1": None, "b/v2": ("GET /x/{id}", "POST /x")}
    assert Service.model_validate(svc.model_dump(by_alias=True)).model_dump(by_alias=True)["uses"] == data["uses"]


# -- contracts check against a git base ------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    spec = _copy(tmp_path / "deploy")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "shop")
    monkeypatch.chdir(tmp_path)
    return spec


def _check(capsys, *extra: str) -> tuple[int, dict]:
    code = main(["contracts", "check", "deploy/shop.yaml", "--base", "main", "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_a_breaking_change_in_an_operation_names_its_callers_and_both_lines(repo, capsys):
    v1 = repo.parent / "contracts" / "user-service-v1.yaml"
    _replace(v1, "        lastName:\n          type: string\n", "")
    code, out = _check(capsys)
    assert code == 1 and out["ok"] is False
    [f] = [f for f in out["findings"] if f["breaking"]]
    assert (f["rule"], f["severity"], f["operation"]) == (
        "response-required-property-removed", "error", "GET /user-service/v1/users/{userId}")
    assert f["consumers"] == ["web-app"]
    assert f["file"] == "deploy/contracts/user-service-v1.yaml" and f["line"] == _line(v1, "    properties:")
    assert f["baseFile"] == "main:contracts/user-service-v1.yaml" and f["baseLine"] == 61
    assert f["message"] == "response property 'lastName' (response 200, application/json) was removed"


def test_a_non_breaking_change_passes(repo, capsys):
    v2 = repo.parent / "contracts" / "user-service-v2.yaml"
    _replace(v2, "          format: email\n", "          format: email\n        company:\n          type: string\n")
    code, out = _check(capsys)
    assert code == 0 and out["ok"] is True and out["breakingCount"] == 0
    assert [(f["rule"], f["severity"], f["operation"]) for f in out["findings"] if f["service"] == "user-service"
            and f["rule"] != "uses-deprecated"] == [
        ("response-optional-property-added", "notice", "GET /user-service/v2/users/{userId}")]


def test_removing_an_operation_nobody_calls_is_not_breaking(repo, capsys):
    v1 = repo.parent / "contracts" / "user-service-v1.yaml"
    text = v1.read_text()
    v1.write_text(text[:text.index("  /users:\n")] + text[text.index("components:"):])
    code, out = _check(capsys)
    assert code == 0
    [f] = [f for f in out["findings"] if f["rule"].startswith("api-")]
    assert (f["rule"], f["severity"], f["breaking"]) == ("api-path-removed-before-sunset", "notice", False)
    assert f["message"].endswith("no consumer calls it (web-app names only other operations), so nothing breaks")
    # ... but once a consumer uses all of v1, the same removal breaks it
    _replace(repo, "uses: [user-service/v2]", "uses: [user-service/v1]")
    code, out = _check(capsys)
    assert code == 1
    [f] = [f for f in out["findings"] if f["rule"].startswith("api-")]
    assert (f["severity"], f["consumers"]) == ("error", ["recommendations"])


def test_junit_output_has_a_failure_per_breaking_change(repo, capsys):
    v1 = repo.parent / "contracts" / "user-service-v1.yaml"
    _replace(v1, "        lastName:\n          type: string\n", "")
    assert main(["contracts", "check", "deploy/shop.yaml", "--base", "main", "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == "testsuites" and root.get("failures") == "1"
    suite = next(s for s in root if s.get("name") == "user-service/v1")
    case = next(c for c in suite if c.get("name") == "GET /user-service/v1/users/{userId}")
    [failure] = case.findall("failure")
    assert failure.get("type") == "response-required-property-removed"
    assert "consumers: web-app" in failure.text
    passing = next(s for s in root if s.get("name") == "catalog/v1")
    assert [c.get("name") for c in passing] == ["contract"] and not passing.find("testcase").findall("failure")


# -- retire-plan endpoint by endpoint ------------------------------------------------------------------------------

def test_retire_plan_says_who_calls_each_endpoint(capsys):
    assert main(["contracts", "retire-plan", str(EXAMPLES / "shop.yaml"), "user-service", "v1", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["endpoints"] == [
        {"operation": "GET /user-service/v1/users/{userId}", "callers": ["web-app"], "removable": False,
         "deprecated": False},
        {"operation": "GET /user-service/v1/users", "callers": [], "removable": True, "deprecated": True}]
    assert plan["callsEverything"] == []


def test_retire_plan_text_asks_whole_major_consumers_to_name_their_operations(tmp_path, capsys):
    spec = _copy(tmp_path)
    _replace(spec, "uses: [user-service/v2]", "uses: [user-service/v1]")
    assert main(["contracts", "retire-plan", str(spec), "user-service", "v1"]) == 0
    out = capsys.readouterr().out
    assert "  [ ] GET /user-service/v1/users/{userId}: called by recommendations, web-app" in out
    assert "  [ ] GET /user-service/v1/users (deprecated): called by recommendations" in out
    assert "recommendations names only the major, so call every endpoint" in out


def _catalog_with_search(spec: Path, search_response: dict) -> None:
    """catalog/v1 (a JSON Schema contract) gains a second endpoint; web-app names only getProduct."""
    path = spec.parent / "contracts" / "catalog-v1.json"
    doc = json.loads(path.read_text())
    doc["properties"]["search"] = {"type": "object", "x-meshspec-endpoint": "GET /catalog/v1/search", "properties": {
        "request": {"type": "object", "properties": {"q": {"type": "string"}}},
        "response": {"type": "object", "properties": search_response, "required": sorted(search_response)}}}
    path.write_text(json.dumps(doc, indent=2))
    _replace(spec, "      - catalog/v1\n", "      - catalog/v1: [\"GET /products/{sku}\"]\n")  # quoted: { in flow style


def test_json_schema_contracts_are_weighed_per_endpoint_too(tmp_path, capsys):
    base, head = _copy(tmp_path / "base"), _copy(tmp_path / "head")
    _catalog_with_search(base, {"hits": {"type": "array"}, "total": {"type": "integer"}})
    _catalog_with_search(head, {"hits": {"type": "array"}})
    assert main(["contracts", "check", str(head), "--base-spec", str(base), "--format", "json"]) == 0
    [f] = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["service"] == "catalog"]
    assert (f["rule"], f["severity"], f["breaking"]) == ("field-removed", "notice", False)
    assert "no consumer calls it (web-app names only other operations)" in f["message"]
    # the endpoint web-app calls still breaks it
    _replace(head.parent / "contracts" / "catalog-v1.json", '"title": {', '"name": {')
    assert main(["contracts", "check", str(head), "--base-spec", str(base), "--format", "json"]) == 1
    broken = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["breaking"]]
    assert [(f["rule"], f["consumers"]) for f in broken] == [("field-renamed", ["web-app"])]


def test_github_annotations_point_at_the_changed_line_and_the_base(repo, capsys):
    v1 = repo.parent / "contracts" / "user-service-v1.yaml"
    _replace(v1, "        lastName:\n          type: string\n", "")
    assert main(["contracts", "check", "deploy/shop.yaml", "--base", "main", "--format", "github"]) == 1
    [error] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::error ")]
    assert error.startswith(f"::error file=deploy/contracts/user-service-v1.yaml,line={_line(v1, '    properties:')},"
                            "title=meshspec response-required-property-removed::user-service/v1 GET "
                            "/user-service/v1/users/{userId}: response property 'lastName'")
    assert "%0Awas: main:contracts/user-service-v1.yaml:61%0Aconsumers: web-app" in error
