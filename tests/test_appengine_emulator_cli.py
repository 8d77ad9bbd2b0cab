"""``meshspec appengine emulator``: serves until interrupted; refuses a busy port and a negative delay."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from meshspec.infra.appengine.emulator import Emulator
from meshspec.infra.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def test_serves_the_api_until_interrupted():
    proc = subprocess.Popen([sys.executable, "-m", "meshspec.infra.cli", "appengine", "emulator", "--port", "0",
                             "--project", "cli-demo", "--location", "europe-west"],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
        assert "App Engine Admin API emulator for apps/cli-demo listening on http://127.0.0.1:" in first
        url = first.rsplit(" ", 1)[1].strip()
        with urllib.request.urlopen(f"{url}/v1/apps/cli-demo", timeout=10) as resp:
            app = json.loads(resp.read())
        assert (app["id"], app["locationId"]) == ("cli-demo", "europe-west")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and "interrupted" in err


def test_busy_port_is_a_user_error(capsys):
    with Emulator() as busy:
        code = main(["appengine", "emulator", "--port", str(busy.port)])
    assert code == 1
    err = capsys.readouterr().err
    assert f"error: cannot listen on 127.0.0.1:{busy.port}" in err
    assert "hint: choose another --port, or --port 0 for a free one" in err


def test_negative_operation_delay_is_a_user_error(capsys):
    assert main(["appengine", "emulator", "--operation-delay", "-1"]) == 1
    assert "error: --operation-delay must be 0 or more seconds, got -1.0" in capsys.readouterr().err


def test_state_file_keeps_finished_writes_across_restarts(tmp_path):
    state = tmp_path / "gae.json"
    with Emulator(project="keep", state_file=state) as emu:
        emu.clients().versions.create_version(request={"parent": "apps/keep/services/default", "version": {
            "id": "v1", "runtime": "python312", "deployment": {"zip": {"source_url": "gs://b/x"}}}},
            timeout=10).result(timeout=10)
    with Emulator(project="keep", state_file=state) as again:
        assert list(again.snapshot()["services"]["default"]["versions"]) == ["v1"]
        again.reset()
    with Emulator(project="keep", state_file=state) as emptied:
        assert emptied.snapshot()["services"] == {}


def test_state_file_of_another_project_is_a_user_error(tmp_path, capsys):
    state = tmp_path / "gae.json"
    with Emulator(project="one", state_file=state) as emu:
        emu.seed_version("default", "v1")
    assert main(["appengine", "emulator", "--port", "0", "--project", "two", "--state", str(state)]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot read the emulator state {state}: {state} holds application 'one', not 'two'" in err
    assert "hint: delete the file to start from an empty application" in err
