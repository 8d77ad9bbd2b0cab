"""The CLI conventions: exit codes, JSON on stdout, messages on stderr, no traceback for user errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from meshspec.infra.cli.main import main

from .conftest import EXAMPLES, ROOT


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_ok_exits_0_and_prints_a_summary(capsys):
    code, out, err = run(capsys, "validate", str(EXAMPLES / "shop.yaml"))
    assert code == 0 and out == ""
    assert "shop.yaml: ok (6 services, 1 warning(s))" in err


def test_validate_bad_spec_exits_1_with_every_error(capsys):
    code, out, err = run(capsys, "validate", str(EXAMPLES / "bad" / "bad-references.yaml"))
    assert code == 1
    assert err.count(": error: ") == 4
    assert "Traceback" not in err
    assert "4 error(s), 0 warning(s) in 1 file(s)" in err


def test_validate_json_shape(capsys):
    code, out, _ = run(capsys, "validate", "--format", "json", str(EXAMPLES / "shop.yaml"),
                       str(EXAMPLES / "bad" / "traffic-sum.yaml"))
    doc = json.loads(out)
    assert code == 1
    assert doc["command"] == "validate" and doc["ok"] is False
    assert doc["errorCount"] == 1 and doc["warningCount"] == 1
    good, bad = doc["files"]
    assert good["ok"] is True and good["services"] == 6 and good["errors"] == []
    [error] = bad["errors"]
    assert set(error) == {"file", "path", "message", "code", "line", "column", "given", "allowed", "hint", "severity"}
    assert error["path"] == "services.user-service.versions" and error["line"] == 18 and error["code"] == "traffic-sum"


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["validate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("meshspec ")


def test_missing_file_is_a_user_error(capsys, tmp_path):
    code, _, err = run(capsys, "validate", str(tmp_path / "missing.yaml"))
    assert code == 1 and "cannot read the spec" in err and "Traceback" not in err


def test_entry_point_runs_as_a_process():
    proc = subprocess.run([sys.executable, "-m", "meshspec.infra.cli", "validate", "examples/bad/syntax.yaml"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "syntax.yaml:8:4: error: not valid YAML" in proc.stderr
    assert proc.stdout == ""


def test_a_failed_command_still_prints_one_json_document(capsys, tmp_path):
    """GIVEN --format json, WHEN the spec is invalid or the command is refused, THEN stdout holds one JSON
    document saying why (CI parses stdout), and the messages are on stderr."""
    code, out, err = run(capsys, "appengine", "plan", str(EXAMPLES / "bad" / "traffic-sum.yaml"), "--format", "json",
                         "--endpoint", "http://127.0.0.1:9")
    assert code == 1 and "traffic-sum" in err
    doc = json.loads(out)
    assert doc["command"] == "appengine plan" and doc["ok"] is False
    assert doc["error"]["kind"] == "spec-invalid"
    assert [e["code"] for e in doc["error"]["errors"]] == ["traffic-sum"]
    code, out, err = run(capsys, "contracts", "retire-plan", str(EXAMPLES / "shop.yaml"), "nope", "v1",
                         "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False and doc["error"]["kind"] == "user-error" and doc["error"]["message"] in err


def test_validate_json_is_printed_once_even_when_it_fails(capsys):
    code, out, _ = run(capsys, "validate", "--format", "json", str(EXAMPLES / "bad" / "syntax.yaml"))
    assert code == 1 and json.loads(out)["command"] == "validate"
