"""The shell commands the pipeline's CodeBuild actions run, run here with stand-ins for aws, the CDK CLI and
meshspec on PATH (POSIX sh, as CodeBuild's buildspec 0.2 runs them: one shell for all of a phase's commands)."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from meshspec.infra import waves
from meshspec.stacks.pipeline import CANARIES_FILE, CDK, deploy_commands, synth_commands
from tests.conftest import TODAY
from tests.pipeline_support import pipeline_spec_text


def _tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def sandbox(tmp_path):
    """A working directory and a bin/ of stand-ins that log their arguments to calls.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    # meshspec (and through it the CDK CLI) logs what it was asked; a canary of service "bad" rolls back (exit 1)
    _tool(bin_dir, "meshspec", f'echo "meshspec $*" >> {log}\ncase "$*" in *"canary"*" bad "*) exit 1;; esac\n'
                               'case "$1 $2" in "traffic grown") echo \'{"versions": ["grown"]}\';; esac\n')
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "MESHSPEC_SPEC": "meshspec.yaml"}
    return tmp_path, bin_dir, log, env


def _run(commands: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-e", "-c", "\n".join(commands)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def _plan(app: Path, canaries: list[dict]) -> None:
    """What `meshspec traffic grown --format json` wrote beside the assembly."""
    app.mkdir(exist_ok=True)
    (app / CANARIES_FILE).write_text(json.dumps({"command": "traffic grown", "versions": canaries}))


BATCH = waves.Batch("Deploy-01", ("big-svc-a", "big-svc-b"), ("a", "b"))


def test_a_batch_deploys_its_stacks_at_once_then_runs_the_canaries_of_its_services(sandbox):
    cwd, _, log, env = sandbox
    _plan(cwd / "cdk.out", [{"service": "a", "major": "v1", "version": "a2", "steps": "10"},
                            {"service": "b", "major": "v2", "version": "b7", "steps": "25"},
                            {"service": "elsewhere", "major": "v1", "version": "x", "steps": "10"}])
    proc = _run(deploy_commands(BATCH, "cdk.out", canary=True), cwd, env)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == f"{CDK} deploy --app cdk.out --exclusively --require-approval never --concurrency 2 " \
                       "big-svc-a big-svc-b"
    # each judged at the spec's share and held there (CI never moves traffic past the spec), not another batch's
    assert sorted(calls[1:]) == [
        "meshspec canary meshspec.yaml a --major v1 --version a2 --steps 10 --hold",
        "meshspec canary meshspec.yaml b --major v2 --version b7 --steps 25 --hold"]


def test_a_batch_fails_when_one_canary_rolls_back_after_all_have_run(sandbox):
    cwd, _, log, env = sandbox
    batch = waves.Batch("Deploy-01", ("big-svc-bad", "big-svc-a"), ("bad", "a"))
    _plan(cwd / "cdk.out", [{"service": "bad", "major": "v1", "version": "b2", "steps": "10"},
                            {"service": "a", "major": "v1", "version": "a2", "steps": "10"}])
    proc = _run(deploy_commands(batch, "cdk.out", canary=True), cwd, env)
    assert proc.returncode != 0
    assert len([c for c in log.read_text().splitlines() if "canary" in c]) == 2


def test_a_batch_without_grown_versions_runs_no_canary(sandbox):
    cwd, _, log, env = sandbox
    _plan(cwd / "cdk.out", [])
    proc = _run(deploy_commands(BATCH, "cdk.out", canary=True), cwd, env)
    assert proc.returncode == 0 and not [c for c in log.read_text().splitlines() if "canary" in c]


def test_the_pipeline_runs_each_canary_as_the_workflow_meshspec_init_writes_does(sandbox):
    """One command line for CI's canary (``grown.CANARY_COMMAND``): the GitHub workflow's canary job, given a
    version of `traffic grown`'s list as its matrix entry, and a deploy action, given the same list, call
    meshspec alike."""
    from ruamel.yaml import YAML

    from meshspec.infra.init import render

    cwd, _, log, env = sandbox
    grown = {"service": "a", "major": "v1", "version": "a2", "from": 0.0, "to": 10.0, "steps": "10"}
    workflow = YAML(typ="safe").load(render("shop", "1.0")[".github/workflows/meshspec.yml"])
    job = workflow["jobs"]["canary"]
    (step,) = [s for s in job["steps"] if "meshspec canary" in s.get("run", "")]
    job_env = {k: str(grown[re.fullmatch(r"\$\{\{ matrix\.(\w+) \}\}", v).group(1)]) for k, v in job["env"].items()}
    assert _run([step["run"]], cwd, {**env, **job_env}).returncode == 0
    from_workflow = log.read_text().splitlines()
    log.write_text("")
    _plan(cwd / "cdk.out", [grown])
    assert _run(deploy_commands(BATCH, "cdk.out", canary=True), cwd, env).returncode == 0
    from_pipeline = [c for c in log.read_text().splitlines() if " canary " in c]
    assert from_workflow == from_pipeline == [
        "meshspec canary meshspec.yaml a --major v1 --version a2 --steps 10 --hold"]


def _spec():
    from meshspec.infra.spec import load_text

    return load_text(pipeline_spec_text(2), today=TODAY).spec


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("last_success", ["None", "unknown", "known"])
def test_the_synth_compares_with_the_last_successful_run_when_git_knows_it(sandbox, last_success):
    cwd, bin_dir, log, env = sandbox
    _git(cwd, "init", "-q")
    (cwd / "meshspec.yaml").write_text("x")
    _git(cwd, "add", "meshspec.yaml")
    _git(cwd, "commit", "-qm", "one")
    head = _git(cwd, "rev-parse", "HEAD")
    answer = {"None": "None", "unknown": "0" * 40, "known": head}[last_success]
    _tool(bin_dir, "aws", f'echo "aws $*" >> {log}\necho {answer}\n')
    (cwd / "cdk.out").mkdir()
    proc = _run(synth_commands(_spec(), canary=True), cwd, env)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == 'meshspec synth meshspec.yaml --out cdk.out'
    assert calls[1].startswith("aws codepipeline list-pipeline-executions --pipeline-name big-pipeline --query ")
    written = json.loads((cwd / "cdk.out" / CANARIES_FILE).read_text())
    if last_success == "known":
        assert calls[2:] == [f"meshspec traffic grown meshspec.yaml --since {head} --format json"]
        assert written == {"versions": ["grown"]}
    else:  # the first run, or a commit git does not know (a rewritten history): no canary, nothing to compare with
        assert calls[2:] == [] and written == {"versions": []}


def test_without_canaries_the_synth_only_synthesizes(sandbox):
    cwd, _, log, env = sandbox
    proc = _run(synth_commands(_spec(), canary=False), cwd, env)
    assert proc.returncode == 0 and log.read_text().splitlines() == ["meshspec synth meshspec.yaml --out cdk.out"]
