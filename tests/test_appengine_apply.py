"""plan / apply / promote / rollback through the real client library over HTTP to the emulator, with faults.

GIVEN an application in the emulator (tests/appengine_fixtures.py), WHEN meshspec plans and applies a spec,
THEN the application ends as the spec says, with the calls counted by the emulator; a fault is retried when
retriable, stops apply cleanly otherwise, and a rerun converges.
"""
from __future__ import annotations

import http.server
import io
import json
import threading
import time

import pytest

from .appengine_fixtures import GAE_PROJECT
from .conftest import TODAY
from meshspec.infra.appengine.apply import ApplyFailed, Options, SmokeFailed, make_plan, promote, rollback, run_plan
from meshspec.infra.appengine.client import AdminApi, ClientConfig
from meshspec.infra.appengine.journal import Journal
from meshspec.infra.appengine.progress import Progress
from meshspec.infra.cli.main import main
from meshspec.infra.errors import UserError
from meshspec.infra.spec import load_text

FAST = dict(call_timeout=10.0, retry_initial=0.01, retry_maximum=0.05, retry_deadline=5.0, poll_initial=0.01,
            poll_maximum=0.05, operation_deadline=5.0)


def spec_text(user_traffic: str = "apple: 90, banana: 10", *, split_by: str = "cookie", extra: str = "",
              env: str = "standard", majors: str = "") -> str:
    versions = "\n".join(
        f"      - {{name: {name}, {'image: gcr.io/p/u:' + name if env == 'flexible' else 'source: gs://bkt/' + name + '.zip'}"
        f", traffic: {share.strip()}}}"
        for name, share in (map(str.strip, pair.split(":")) for pair in user_traffic.split(",")))
    return f"""apiVersion: meshspec/v1
project: shop
gcp: {{project: {GAE_PROJECT}, location: us-central}}
services:
  default:
    appengine: {{environment: standard, runtime: python312, defaultService: true}}
    majors: {{v1: {{path: /, contract: c.json}}}}
    versions: [{{name: d1, source: gs://bkt/d1.zip, traffic: 100}}]
  user-service:
    appengine: {{environment: {env}, runtime: {'custom' if env == 'flexible' else 'python312'}, splitBy: {split_by}{extra}}}
    majors:
      v1: {{contract: c.json, status: deprecated}}
      v2: {{contract: c.json}}{majors}
    versions:
{versions}
"""


def load(text: str):
    r = load_text(text, today=TODAY)
    assert r.ok, [e.render() for e in r.errors]
    return r.spec


@pytest.fixture
def api(gae_emulator, request):
    """The client edge on the emulator; afterwards, the emulator must have answered no 4xx that no injected
    fault caused: meshspec validates before it sends."""
    yield AdminApi(ClientConfig(endpoint=gae_emulator.url, **FAST))
    assert [(c.method, c.status) for c in gae_emulator.refusals()] == []


@pytest.fixture
def journal(tmp_path):
    return Journal(tmp_path / "state")


def quiet() -> Progress:
    return Progress(io.StringIO(), interactive=False)


def apply(api, spec, journal, prune="stop", **options):
    desired, observed, p = make_plan(api, spec, prune)
    return run_plan(api, p, observed, desired, journal, quiet(), Options(**options))


def split_of(emu, service):
    return {k: float(v) for k, v in emu.snapshot()["services"][service]["split"]["allocations"].items()}


# --- round trips ----------------------------------------------------------------------------------------

def test_apply_then_rerun_sends_no_write(gae_emulator, api, journal):
    spec = load(spec_text())
    result = apply(api, spec, journal)
    # default/d1 and user-service/apple open their services with all their traffic: no split write for default
    assert [a.kind for a in result.done] == ["create-version"] * 3 + ["set-split", "set-dispatch"]
    assert gae_emulator.count(writes=True) == len(result.done) == 5
    snap = gae_emulator.snapshot()
    assert snap["services"]["user-service"]["split"] == {"shardBy": "COOKIE",
                                                         "allocations": {"apple": 0.9, "banana": 0.1}}
    assert snap["dispatchRules"] == [
        {"domain": "*", "path": "/user-service/v1/*", "service": "user-service"},
        {"domain": "*", "path": "/user-service/v2/*", "service": "user-service"},
        {"domain": "*", "path": "/*", "service": "default"}]

    gae_emulator.clear_calls()
    api.reset_counts()
    again = apply(api, spec, journal)
    assert again.done == [] and not again.plan.has_changes
    assert gae_emulator.count(writes=True) == 0
    assert gae_emulator.count("apps.get") == 1
    assert gae_emulator.count("apps.services.list") == 1
    assert gae_emulator.count("apps.services.versions.list") == 2  # default and user-service
    assert api.writes == 0


def test_plan_reads_one_paged_list_of_services_and_one_per_touched_service(gae_emulator, journal):
    big = AdminApi(ClientConfig(endpoint=gae_emulator.url, **FAST))
    apply(big, load(spec_text()), journal)
    gae_emulator.clear_calls()
    paged = AdminApi(ClientConfig(endpoint=gae_emulator.url, page_size=1, **FAST))
    _, observed, p = make_plan(paged, load(spec_text()))
    assert not p.has_changes and set(observed.services) == {"default", "user-service"}
    # page_size=1: two services are two pages of the one services.list; user-service's two versions two pages.
    assert gae_emulator.count("apps.services.list") == 2
    assert gae_emulator.count("apps.services.versions.list") == 3
    assert paged.calls["services.list"] == 2 and paged.calls["versions.list"] == 3


def test_a_canary_then_promote_then_rollback(gae_emulator, api, journal):
    apply(api, load(spec_text("apple: 100")), journal)
    result = apply(api, load(spec_text("apple: 90, banana: 10")), journal)
    assert [a.describe() for a in result.done] == [
        "create version user-service/banana (standard, python312, source https://storage.googleapis.com/bkt/banana.zip)",
        "set split of user-service: apple=100% (by unspecified) -> apple=90%, banana=10% (by cookie)"]
    promote(api, GAE_PROJECT, "user-service", "banana", journal, quiet())
    assert split_of(gae_emulator, "user-service") == {"banana": 1.0}
    rollback(api, GAE_PROJECT, "user-service", journal, quiet())
    assert split_of(gae_emulator, "user-service") == {"apple": 0.9, "banana": 0.1}
    rollback(api, GAE_PROJECT, "user-service", journal, quiet())  # undoes the rollback
    assert split_of(gae_emulator, "user-service") == {"banana": 1.0}


def test_rollback_after_the_new_spec_stopped_the_old_flexible_version(gae_emulator, api, journal):
    apply(api, load(spec_text("a1: 100", env="flexible")), journal)
    result = apply(api, load(spec_text("b2: 100", env="flexible")), journal)
    assert [a.kind for a in result.done] == ["create-version", "set-split", "set-serving-status"]
    assert gae_emulator.snapshot()["services"]["user-service"]["versions"]["a1"]["servingStatus"] == "STOPPED"
    back = rollback(api, GAE_PROJECT, "user-service", journal, quiet())
    assert [a.describe() for a in back.done] == [
        "start version user-service/a1", "set split of user-service: b2=100% (by cookie) -> a1=100% (by unspecified)"]
    assert gae_emulator.snapshot()["services"]["user-service"]["versions"]["a1"]["servingStatus"] == "SERVING"


def test_prune_delete_removes_old_versions_once_they_take_no_traffic(gae_emulator, api, journal):
    apply(api, load(spec_text("apple: 50, banana: 50")), journal)
    result = apply(api, load(spec_text("cherry: 100")), journal, prune="delete")
    assert [a.kind for a in result.done] == ["create-version", "set-split", "delete-version", "delete-version"]
    assert set(gae_emulator.snapshot()["services"]["user-service"]["versions"]) == {"cherry"}
    with pytest.raises(UserError, match=r"version\(s\) apple, banana no longer exist"):
        rollback(api, GAE_PROJECT, "user-service", journal, quiet())


def test_gradual_migration_is_sent_with_migrate_traffic(gae_emulator, api, journal):
    apply(api, load(spec_text("apple: 100", extra=", migrateTraffic: true")), journal)
    gae_emulator.clear_calls()
    apply(api, load(spec_text("apple: 0, banana: 100", extra=", migrateTraffic: true")), journal)
    patches = [c for c in gae_emulator.calls if c.method == "apps.services.patch"]
    assert len(patches) == 1 and patches[0].query.get("migrateTraffic") == "true"
    assert split_of(gae_emulator, "user-service") == {"banana": 1.0}


def test_fails_before_any_write_when_the_plan_would_be_refused(gae_emulator, api, journal):
    """One bad version among good ones: nothing at all is sent, not even the good versions. (validate refuses
    this source first; the spec is built past it, so the plan's own refusal is what stops the apply.)"""
    import yaml

    from meshspec.infra.spec import Spec

    text = spec_text().replace("source: gs://bkt/banana.zip", "source: http://example.com/banana.zip")
    assert [e.code for e in load_text(text, today=TODAY).errors] == ["version-artifact"]
    with pytest.raises(UserError, match="source 'http://example.com/banana.zip' is not a Cloud Storage object"):
        apply(api, Spec.model_validate(yaml.safe_load(text)), journal)
    assert gae_emulator.count(writes=True) == 0


# --- faults ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,options", [
    ("error", {"status": 503}),
    ("error", {"status": 429}),
    ("error", {"status": 500}),
    ("drop", {"apply": True}),       # the write lands, the answer is lost
    ("drop", {"apply": False}),
])
def test_retriable_faults_on_a_write_are_retried_and_apply_completes(gae_emulator, api, journal, kind, options):
    gae_emulator.add_fault(kind, method="apps.services.patch", times=1, **options)
    result = apply(api, load(spec_text()), journal)
    assert len(result.done) == 5
    assert api.retries["services.patch"] == 1
    assert split_of(gae_emulator, "user-service") == {"apple": 0.9, "banana": 0.1}


def test_a_slow_create_past_the_call_timeout_is_retried_and_the_duplicate_is_recognised(gae_emulator, journal):
    api = AdminApi(ClientConfig(endpoint=gae_emulator.url, **{**FAST, "call_timeout": 0.3}))
    gae_emulator.add_fault("slow", method="apps.services.versions.create", seconds=0.6, times=1)
    result = apply(api, load(spec_text()), journal)
    assert len(result.done) == 5 and api.retries["versions.create"] >= 1
    gae_emulator.clear_calls()
    assert not apply(api, load(spec_text()), journal).plan.has_changes


def test_retriable_faults_on_reads_are_retried(gae_emulator, api, journal):
    gae_emulator.add_fault("error", method="apps.services.list", status=503, times=2)
    _, _, p = make_plan(api, load(spec_text()))
    assert p.has_changes and api.retries["services.list"] == 2


def test_a_non_retriable_error_stops_apply_and_says_what_was_and_was_not_done(gae_emulator, api, journal):
    gae_emulator.add_fault("error", method="apps.services.patch", status=400, times=1,
                           message="Injected refusal.")
    with pytest.raises(ApplyFailed) as err:
        apply(api, load(spec_text()), journal)
    text = str(err.value)
    assert text.startswith("apply stopped at step 4/5 (set split of user-service: (new service) -> apple=90%, "
                           "banana=10% (by cookie)): "
                           "HTTP 400 INVALID_ARGUMENT: Injected refusal.\n")
    assert "done:\n  1. create version default/d1" in text and "  3. create version user-service/banana" in text
    assert "not done:\n  4. set split of user-service" in text and "  5. update dispatch rules" in text
    assert api.retries["services.patch"] == 0
    assert "rerun `meshspec appengine apply`" in err.value.hint
    assert journal.runs()[-1].outcome == "failed"
    rerun = apply(api, load(spec_text()), journal)
    assert [a.describe() for a in rerun.done] == [
        "set split of user-service: apple=100% (by unspecified) -> apple=90%, banana=10% (by cookie)",
        "update dispatch rules (3 rules): +*/user-service/v1/* -> user-service, +*/user-service/v2/* -> "
        "user-service, +*/* -> default"]


def test_an_operation_that_ends_in_error_stops_apply_and_a_rerun_converges(gae_emulator, api, journal):
    gae_emulator.add_fault("operation_error", method="apps.patch", status="INTERNAL", times=1)
    with pytest.raises(ApplyFailed, match=r"stopped at step 5/5 \(update dispatch rules .*\): operation .* failed: "
                                          r"HTTP 500 INTERNAL: "):
        apply(api, load(spec_text()), journal)
    rerun = apply(api, load(spec_text()), journal)
    assert [a.kind for a in rerun.done] == ["set-dispatch"]


def test_retries_give_up_at_the_deadline_with_a_clean_stop(gae_emulator, journal):
    api = AdminApi(ClientConfig(endpoint=gae_emulator.url, **{**FAST, "retry_deadline": 0.3}))
    gae_emulator.add_fault("error", method="apps.patch", status=503, times=None)
    with pytest.raises(ApplyFailed) as err:
        apply(api, load(spec_text()), journal)
    assert "gave up retrying" in str(err.value) and "HTTP 503" in str(err.value)
    assert "did not answer in time" in err.value.hint
    gae_emulator.clear_faults()
    assert [a.kind for a in apply(api, load(spec_text()), journal).done] == ["set-dispatch"]


def test_an_operation_past_its_deadline_stops_apply_and_the_rerun_finds_it_done(gae_emulator, journal):
    api = AdminApi(ClientConfig(endpoint=gae_emulator.url, **{**FAST, "operation_deadline": 0.2}))
    gae_emulator.operation_delay = 0.6
    with pytest.raises(ApplyFailed) as err:
        apply(api, load(spec_text()), journal)
    assert "did not finish within 0.2 s" in str(err.value) and "may still finish" in err.value.hint
    gae_emulator.operation_delay = 0.0
    time.sleep(0.7)  # the operation finishes on its own, as it does on Google
    rerun = apply(api, load(spec_text()), journal)
    assert "default/d1" not in " ".join(a.describe() for a in rerun.done if a.kind == "create-version")
    gae_emulator.clear_calls()
    assert not apply(api, load(spec_text()), journal).plan.has_changes


class Killed(BaseException):
    """Stands for a kill: nothing in apply catches it, the journal gets no finish line."""


def reference_state(gae_emulator, api, journal, spec_a, spec_b, **options):
    apply(api, spec_a, journal)
    apply(api, spec_b, journal, **options)
    return gae_emulator.snapshot()


@pytest.mark.parametrize("kill_after", range(1, 6))
def test_apply_killed_after_any_step_converges_on_rerun(gae_emulator, api, tmp_path, kill_after):
    spec_a = load(spec_text("apple: 100", env="flexible"))
    spec_b = load(spec_text("banana: 60, cherry: 40", split_by="random", env="flexible",
                            majors="\n      v3: {contract: c.json}"))
    want = reference_state(gae_emulator, api, Journal(tmp_path / "ref"), spec_a, spec_b)
    gae_emulator.reset()
    journal = Journal(tmp_path / "state")
    apply(api, spec_a, journal)
    before = split_of(gae_emulator, "user-service")

    def kill(step, action):
        if step == kill_after:
            raise Killed(step)

    desired, observed, p = make_plan(api, spec_b)
    assert [a.kind for a in p.actions] == ["create-version", "create-version", "set-split", "set-dispatch",
                                           "set-serving-status"]
    with pytest.raises(Killed):
        run_plan(api, p, observed, desired, journal, quiet(), Options(after_step=kill))
    assert journal.runs()[-1].outcome is None and len(journal.runs()[-1].steps) == kill_after

    rerun = apply(api, spec_b, journal)
    assert len(rerun.done) == 5 - kill_after
    assert gae_emulator.snapshot() == want
    if rerun.done:
        assert journal.runs()[-1].inherited_from == journal.runs()[-2].id
    gae_emulator.clear_calls()
    assert not apply(api, spec_b, journal).plan.has_changes
    assert gae_emulator.count(writes=True) == 0
    # rollback goes to the split before the interrupted run, not to a half-applied one
    rollback(api, GAE_PROJECT, "user-service", journal, quiet())
    assert split_of(gae_emulator, "user-service") == before


# --- smoke checks ---------------------------------------------------------------------------------------

class _Health(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        type(self).seen.append(self.path)
        ok = self.path.startswith("/good/") or self.path.startswith("/apple/") or self.path.startswith("/d1/")
        self.send_response(200 if ok else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Health.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/{{version}}/{{service}}"
    server.shutdown()
    server.server_close()


def test_smoke_checks_each_gaining_version_at_its_own_address_before_the_split(gae_emulator, api, journal,
                                                                              health_server):
    apply(api, load(spec_text("apple: 100")), journal, smoke=True, smoke_template=health_server)
    assert _Health.seen == []  # a new service's first version takes its traffic when created: nothing to check
    apply(api, load(spec_text("apple: 90, good: 10")), journal, smoke=True, smoke_template=health_server)
    assert _Health.seen == ["/good/user-service/user-service/v1/healthz", "/good/user-service/user-service/v2/healthz"]
    assert split_of(gae_emulator, "user-service") == {"apple": 0.9, "good": 0.1}
    with pytest.raises(SmokeFailed) as err:
        apply(api, load(spec_text("apple: 80, good: 10, bad: 10")), journal, smoke=True, smoke_template=health_server,
              smoke_attempts=1)
    assert "smoke check http://127.0.0.1:" in str(err.value) and "/bad/user-service/user-service/v1/healthz answered " \
        "HTTP 503" in str(err.value)
    assert "done:\n  1. create version user-service/bad" in str(err.value)
    assert split_of(gae_emulator, "user-service") == {"apple": 0.9, "good": 0.1}  # no traffic moved


def test_smoke_default_address_is_version_dot_service_dot_app_host():
    from meshspec.infra.appengine import smoke

    assert smoke.base_url("v7", "users", "shop-prod-4711", "") == "https://v7-dot-users-dot-shop-prod-4711.appspot.com"
    assert smoke.base_url("v7", "users", "p", "p.ew.r.appspot.com") == "https://v7-dot-users-dot-p.ew.r.appspot.com"
    assert smoke.url_for("https://x", "/users/v2/", "/healthz") == "https://x/users/v2/healthz"
    assert smoke.url_for("https://x", "/", "/healthz") == "https://x/healthz"


# --- CLI ------------------------------------------------------------------------------------------------

@pytest.fixture
def spec_file(tmp_path):
    def write(text: str):
        (tmp_path / "c.json").write_text("{}")
        path = tmp_path / "spec.yaml"
        path.write_text(text)
        return str(path)
    return write


def test_cli_plan_apply_rerun(gae_emulator, spec_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MESHSPEC_APPENGINE_ENDPOINT", gae_emulator.url)
    path = spec_file(spec_text())
    assert main(["appengine", "plan", path, "--format", "json", "--detailed-exitcode"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "appengine plan" and doc["changes"] == 5
    assert doc["calls"] == {"apps.get": 1, "services.list": 1}
    state = str(tmp_path / "st")
    assert main(["appengine", "apply", path, "--state-dir", state, "--poll-interval", "0.01"]) == 0
    out, errs = capsys.readouterr()
    assert "5 change(s)" in out and "[5/5] update dispatch rules" in errs and "applied 5 change(s)" in errs
    assert main(["appengine", "plan", path, "--detailed-exitcode"]) == 0
    assert "no changes" in capsys.readouterr().out
    assert main(["appengine", "promote", "user-service", "banana", "--state-dir", state, "--poll-interval", "0.01",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == 1
    assert main(["appengine", "rollback", "user-service", "--state-dir", state, "--poll-interval", "0.01"]) == 0
    assert split_of(gae_emulator, "user-service") == {"apple": 0.9, "banana": 0.1}


def test_cli_refusal_is_a_message_and_exit_1(gae_emulator, spec_file, capsys):
    path = spec_file(spec_text().replace("source: gs://bkt/banana.zip", "source: http://example.com/banana.zip"))
    assert main(["appengine", "plan", path, "--endpoint", gae_emulator.url]) == 1
    err = capsys.readouterr().err
    # validate finds what the plan would refuse, before any call
    assert "error: services.user-service.versions[1].source: App Engine deploys source from a Cloud Storage object" in err
    assert "allowed: gs://BUCKET/OBJECT.zip" in err
    assert gae_emulator.count(writes=True) == 0


def test_cli_rollback_without_journal_or_app_says_what_to_give(tmp_path, capsys):
    assert main(["appengine", "rollback", "user-service", "--state-dir", str(tmp_path), "--endpoint",
                 "http://127.0.0.1:9"]) == 1
    assert "no application given and no journal at" in capsys.readouterr().err


def test_cli_fails_on_a_bad_timeout(capsys, spec_file):
    assert main(["appengine", "plan", spec_file(spec_text()), "--call-timeout", "0", "--endpoint", "http://x"]) == 1
    assert "--call-timeout must be more than 0 seconds, got 0.0" in capsys.readouterr().err


def test_without_endpoint_credentials_come_from_adc(monkeypatch, tmp_path):
    monkeypatch.delenv("MESHSPEC_APPENGINE_ENDPOINT", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(UserError) as err:
        AdminApi(ClientConfig.from_env())
    assert err.value.message == "no Google credentials found (Application Default Credentials)"
    assert "gcloud auth application-default login" in err.value.hint


def test_every_call_gets_a_timeout_and_a_retry(gae_emulator, api, monkeypatch):
    seen = []
    original = api.services.list_services

    def spy(*args, **kw):
        seen.append((kw.get("timeout"), kw.get("retry")))
        return original(*args, **kw)

    monkeypatch.setattr(api.services, "list_services", spy)
    api.list_services(GAE_PROJECT)
    (timeout, retry), = seen
    assert timeout == FAST["call_timeout"] and retry is not None and retry._timeout == FAST["retry_deadline"]


def test_progress_is_plain_lines_off_a_terminal_and_a_spinner_on_one():
    plain, tty = io.StringIO(), io.StringIO()
    for stream, interactive in ((plain, False), (tty, True)):
        p = Progress(stream, interactive=interactive)
        p.begin(1, 2, "create version a/b")
        p.tick()
        p.end()
    assert "\r" not in plain.getvalue() and plain.getvalue().startswith("[1/2] create version a/b ...\n")
    assert "\r\x1b[K" in tty.getvalue() and "[1/2] create version a/b: done" in tty.getvalue()


def test_apply_killed_by_sigkill_while_waiting_on_an_operation_converges_on_rerun(gae_emulator, spec_file, tmp_path):
    """A real kill: the CLI in its own process, SIGKILLed during step 2; the rerun finishes the job."""
    import os
    import signal
    import subprocess
    import sys

    path = spec_file(spec_text())
    state = tmp_path / "st"
    gae_emulator.operation_delay = 0.4
    env = {**os.environ, "MESHSPEC_APPENGINE_ENDPOINT": gae_emulator.url, "CI": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "meshspec.infra.cli.main", "appengine", "apply", path, "--state-dir",
                             str(state), "--poll-interval", "0.05"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env=env, text=True)
    try:
        for line in proc.stderr:
            if line.startswith("[2/5]") and line.rstrip().endswith("..."):
                deadline = time.monotonic() + 10
                while gae_emulator.count("apps.services.versions.create") < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)  # kill while it waits on the operation, not before it sent the create
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    journal = Journal(state)
    assert journal.runs()[-1].outcome is None and len(journal.runs()[-1].steps) == 1
    time.sleep(0.5)  # the operation the killed process was waiting on finishes on its own
    gae_emulator.operation_delay = 0.0
    api = AdminApi(ClientConfig(endpoint=gae_emulator.url, **FAST))
    rerun = apply(api, load(spec_text()), journal)
    assert [a.describe().split(" (")[0] for a in rerun.done] == [
        "create version user-service/banana", "set split of user-service: apple=100%", "update dispatch rules"]
    assert split_of(gae_emulator, "user-service") == {"apple": 0.9, "banana": 0.1}
    assert not apply(api, load(spec_text()), journal).plan.has_changes


@pytest.mark.skipif(__import__("shutil").which("gcloud") is None, reason="the gcloud CLI is not installed")
def test_gcloud_sees_what_apply_did_and_apply_undoes_a_hand_typed_set_traffic(gae_emulator, api, journal, tmp_path):
    """The other tool on the same application: gcloud reads meshspec's split; meshspec plans gcloud's drift away."""
    import os
    import shutil
    import subprocess

    token = tmp_path / "token"
    token.write_text("dummy-token-for-the-emulator\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")}
    env.update(CLOUDSDK_CONFIG=str(tmp_path / "gcloud"), CLOUDSDK_CORE_PROJECT=GAE_PROJECT,
               CLOUDSDK_API_ENDPOINT_OVERRIDES_APPENGINE=f"{gae_emulator.url}/", CLOUDSDK_CORE_DISABLE_PROMPTS="1",
               CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true", CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true")

    def gcloud(*args):
        r = subprocess.run([shutil.which("gcloud"), *args, f"--access-token-file={token}", "--quiet"], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    apply(api, load(spec_text()), journal)
    listed = json.loads(gcloud("app", "services", "describe", "user-service", "--format=json"))
    assert listed["split"] == {"allocations": {"apple": 0.9, "banana": 0.1}, "shardBy": "COOKIE"}
    gcloud("app", "services", "set-traffic", "user-service", "--splits=apple=1,banana=2", "--split-by=ip")
    p = make_plan(api, load(spec_text()))[2]
    assert [a.describe() for a in p.actions] == [
        "set split of user-service: apple=33%, banana=67% (by ip) -> apple=90%, banana=10% (by cookie)"]


def test_against_google_a_missing_application_is_created_with_gcloud():
    from meshspec.infra.appengine.client import missing_app_hint

    assert missing_app_hint("other-app-42", None) == (
        "create it once with `gcloud app create --project other-app-42 --region LOCATION`")


def test_fails_when_the_application_does_not_exist(gae_emulator, api):
    spec = load(spec_text().replace(f"project: {GAE_PROJECT}", "project: other-app-42"))
    with pytest.raises(UserError) as err:
        make_plan(api, spec)
    assert err.value.message == "App Engine application apps/other-app-42 does not exist"
    assert err.value.hint == (f"{api.config.endpoint} serves another application: start the emulator for this one "
                              "with `meshspec appengine emulator --project other-app-42`, or set gcp.project to the "
                              "emulator's --project")
    gae_emulator.clear_calls()  # Google answers 404 here too; that is how meshspec learns it
