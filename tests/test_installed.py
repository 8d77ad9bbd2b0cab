"""meshspec as a user gets it: the wheel built from this checkout, installed into a fresh virtual environment
outside the checkout, `meshspec init` in a folder that has its own infra/, stacks/ and constructs_lib/, then the
initialized repository's own tests, `meshspec cdk synth`, `meshspec graph --format svg`, every runtime command,
and every step of the CI workflow that needs no cloud account.

One venv for the module (building and installing take about a minute from the pip cache); every test reuses it.
A runtime import that the wheel does not declare fails here (and, cheaper, in tests/test_packaging.py).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def sh(cmd: list[str] | str, *, cwd: Path, env: dict | None = None, timeout: float = 600,
       check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          shell=isinstance(cmd, str), executable="/bin/bash" if isinstance(cmd, str) else None)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


class Installed:
    def __init__(self, venv: Path, home: Path):
        self.venv, self.home = venv, home
        self.bin = venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """A user's shell: the venv first on PATH, nothing of the checkout, meshspec's cache in a test folder."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("JSII_", "MESHSPEC_", "PYTEST_", "VIRTUAL_ENV"))}
        return {**keep, "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(self.venv),
                "MESHSPEC_CACHE_DIR": str(self.home / "cache"), "CDK_DISABLE_VERSION_CHECK": "1",
                "CDK_DISABLE_CLI_TELEMETRY": "true", **extra}

    def run(self, *args: str, cwd: Path, check: bool = True, timeout: float = 600, **env: str):
        return sh([str(self.bin / args[0]), *args[1:]], cwd=cwd, env=self.env(**env), check=check, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    home = tmp_path_factory.mktemp("user")
    dist = home / "dist"
    had_build = (ROOT / "build").exists()
    sh([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)], cwd=home)
    assert had_build or not (ROOT / "build").exists(), "pip left a build/ folder in the checkout"
    (wheel,) = dist.glob("meshspec-*.whl")
    venv = home / "venv"
    sh([sys.executable, "-m", "venv", str(venv)], cwd=home)
    sh([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt"),
        f"{wheel}[testing]"], cwd=home, timeout=900)
    return Installed(venv, home)


@pytest.fixture(scope="module")
def repo(installed) -> Path:
    """`meshspec init` in a folder that already has the user's own infra/, stacks/ and constructs_lib/ packages
    (a stacks/ that breaks whoever imports it), committed as the base of the CI tests."""
    repo = installed.home / "platform"
    for own in ("infra", "stacks", "constructs_lib"):
        (repo / own).mkdir(parents=True)
        (repo / own / "__init__.py").write_text(f"raise ImportError('the user\\'s own {own} was imported')\n")
    done = installed.run("meshspec", "init", str(repo), cwd=installed.home)
    assert "tests: 2 passed" in done.stderr and f"synthesized 3 stack(s) into {repo}/cdk.out" in done.stderr
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "meshspec init")
    return repo


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return sh(["git", *args], cwd=repo, env=env).stdout


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout and "internal error" not in proc.stderr, proc.stderr[-3000:]


def test_the_wheel_ships_docs_viz_and_templates(installed):
    probe = installed.run("python", "-c", "import meshspec, pathlib; r = pathlib.Path(meshspec.__file__).parent; "
                          "print(sorted(p.relative_to(r).as_posix() for p in r.rglob('*') if p.suffix in "
                          "('.md', '.js', '.yml', '.yaml', '.txt', '.ini', '.mjs') or p.name == 'gitignore'))",
                          cwd=installed.home)
    files = set(eval(probe.stdout))  # noqa: S307 - our own repr
    assert {"docs/repository.md", "docs/testing.md", "infra/graph/vendor/viz.js", "infra/graph/viz_render.mjs",
            "infra/init/template/meshspec.yml", "infra/init/template/gitignore"} <= files
    assert not [f for f in files if f.startswith(("tests/", "examples/"))]
    assert installed.run("meshspec", "--version", cwd=installed.home).stdout.strip() == f"meshspec {VERSION}"
    # every file of the data folders, whatever its suffix (pyproject.toml's package-data lists their patterns)
    probe = installed.run("python", "-c", "import meshspec, pathlib; r = pathlib.Path(meshspec.__file__).parent; "
                          "print(sorted(p.relative_to(r).as_posix() for d in ('infra/init/template', "
                          "'infra/graph/vendor') for p in (r / d).iterdir() if p.is_file()))", cwd=installed.home)
    shipped = set(eval(probe.stdout))  # noqa: S307 - our own repr
    here = {p.relative_to(ROOT).as_posix() for d in ("infra/init/template", "infra/graph/vendor")
            for p in (ROOT / d).iterdir() if p.is_file()}
    assert here and shipped == here


def test_the_initialized_repository_has_every_file_and_its_tests_pass(installed, repo):
    for rel in ("meshspec.yaml", "contracts/orders-v1.json", "contracts/web-v1.json", "cdk.json", "pytest.ini",
                "tests/test_meshspec.py", ".github/workflows/meshspec.yml", ".gitignore", "README.md",
                "requirements.txt"):
        assert (repo / rel).is_file(), rel
    assert json.loads((repo / "cdk.json").read_text())["app"] == "meshspec-cdk-app"
    assert f"meshspec[testing]=={VERSION}" in (repo / "requirements.txt").read_text()
    readme = (repo / "README.md").read_text()
    assert "pip install -r requirements.txt" in readme and "\npytest " in readme
    spec = YAML(typ="safe").load((repo / "meshspec.yaml").read_text())
    assert spec["aws"]["mesh"]["backend"] != "appmesh" and spec["aws"]["clusters"][0]["capacity"] == "fargate"
    assert {s for s, v in spec["services"].items() if "appengine" in v} == {"web"}
    done = installed.run("python", "-m", "pytest", "-q", cwd=repo)
    assert "2 passed" in done.stdout and "3 snapshots passed" in done.stdout


def test_a_template_change_fails_the_snapshot_test_until_updated(installed, repo):
    spec = repo / "meshspec.yaml"
    original = spec.read_text()
    try:
        # GIVEN orders moved to another port (the test's own Template assertion still holds)
        spec.write_text(original.replace("    port: 8080\n", "    port: 8181\n", 1))
        failed = installed.run("python", "-m", "pytest", "-q", cwd=repo, check=False)
        assert failed.returncode == 1 and "8181" in failed.stdout and "snapshot failed" in failed.stdout
        installed.run("python", "-m", "pytest", "-q", "--snapshot-update", cwd=repo)
        assert "3 snapshots passed" in installed.run("python", "-m", "pytest", "-q", cwd=repo).stdout
    finally:
        spec.write_text(original)
        git(repo, "checkout", "-q", "--", "tests")


def test_a_broken_spec_fails_the_tests_with_the_spec_errors(installed, repo):
    bad = repo / "bad.yaml"
    bad.write_text((repo / "meshspec.yaml").read_text().replace("traffic: 100", "traffic: 90", 1))
    try:
        proc = installed.run("python", "-m", "pytest", "-q", f"--meshspec-spec={bad}", cwd=repo, check=False)
    finally:
        bad.unlink()
    assert proc.returncode == 1
    assert re.search(rf"meshspec: {re.escape(str(bad))} cannot be synthesized:\n{re.escape(str(bad))}:\d+:7: error: "
                     r"services\.orders\.versions: the shares of v1 sum to 90%, not 100%", proc.stdout), proc.stdout
    assert f"\n1 error(s) in {bad}\n" in proc.stdout and "2 errors in" in proc.stdout
    assert "Traceback" not in proc.stdout and "During handling" not in proc.stdout and "site-packages" not in proc.stdout


def test_cdk_synth_installs_the_matching_cli_once_and_writes_meshspec_synths_templates(installed, repo):
    first = installed.run("meshspec", "cdk", "synth", "--quiet", "-o", "cdk.cli", cwd=repo, timeout=900)
    lib = installed.run("python", "-c", "from importlib.metadata import version; print(version('aws-cdk-lib'))",
                        cwd=repo).stdout.strip()
    match = re.search(r"meshspec: installing the CDK CLI aws-cdk@(\S+) \(the release built for aws-cdk-lib "
                      rf"{re.escape(lib)}\) into (\S+), once", first.stderr)
    assert match, first.stderr[-2000:]
    dev_cli = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert match.group(1) == dev_cli, "package.json's CDK CLI (./dev) is not the one meshspec picks for its library"
    again = installed.run("meshspec", "cdk", "--version", cwd=repo)
    assert "installing" not in again.stderr and again.stdout.startswith(match.group(1))
    installed.run("meshspec", "synth", "meshspec.yaml", "--out", "cdk.meshspec", cwd=repo)
    cli = sorted(p.name for p in (repo / "cdk.cli").glob("*.template.json"))
    assert cli == sorted(p.name for p in (repo / "cdk.meshspec").glob("*.template.json")) and len(cli) == 3
    for name in cli:
        assert (repo / "cdk.cli" / name).read_bytes() == (repo / "cdk.meshspec" / name).read_bytes(), name


def test_cdk_offline_with_an_empty_cache_is_one_clear_error(installed, repo, tmp_path):
    with socket.socket() as s:  # a port nothing listens on: the registry cannot be reached
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = installed.run("meshspec", "cdk", "synth", cwd=repo, check=False, timeout=300,
                         MESHSPEC_CACHE_DIR=str(tmp_path / "empty"), npm_config_registry=f"http://127.0.0.1:{port}/")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: the CDK CLI for aws-cdk-lib ") and "installing it from the npm registry failed" \
        in lines[0] and "ECONNREFUSED" in lines[0]
    assert lines[1].startswith("hint: connect to the npm registry") and f"npm install --prefix {tmp_path}/empty" in lines[1]
    assert len(lines) == 2


def test_graph_in_every_format_from_the_wheel(installed, repo, tmp_path):
    for fmt, head in (("mermaid", "flowchart LR"), ("dot", "digraph"), ("svg", "<?xml")):
        out = tmp_path / f"g.{fmt}"
        installed.run("meshspec", "graph", "meshspec.yaml", "--format", fmt, "--out", str(out), cwd=repo)
        assert out.read_text().lstrip().startswith(head)
    assert ">orders<" in (tmp_path / "g.svg").read_text()


def test_every_runtime_command_runs_from_the_wheel(installed, repo, tmp_path):
    run = lambda *a, **kw: installed.run("meshspec", *a, cwd=repo, **kw)  # noqa: E731
    assert "meshspec.yaml: ok" in run("validate", "meshspec.yaml").stderr
    assert json.loads(run("schema").stdout)["title"]
    assert "3 stack(s) written" in run("synth", "meshspec.yaml", "--out", str(tmp_path / "o")).stderr
    assert "stack " in run("plan", "meshspec.yaml").stdout
    assert run("contracts", "check", "meshspec.yaml", "--base", "HEAD").returncode == 0
    assert "meshspec help TOPIC" in run("help").stdout and "pytest" in run("help", "testing").stdout
    # the topic validate's pipeline hints name ships with the wheel
    assert "## Throughput for 500 services" in run("help", "pipelines").stdout
    # App Engine against the emulator, started from the wheel too
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gcp = YAML(typ="safe").load((repo / "meshspec.yaml").read_text())["gcp"]
    emulator = subprocess.Popen([str(installed.bin / "meshspec"), "appengine", "emulator", "--port", str(port),
                                 "--project", gcp["project"], "--location", gcp["location"]], env=installed.env(),
                                stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on" in emulator.stderr.readline()
        endpoint = f"http://127.0.0.1:{port}"
        state = ["--endpoint", endpoint, "--state-dir", str(tmp_path / "state")]
        plan = ["appengine", "plan", "meshspec.yaml", "--endpoint", endpoint, "--detailed-exitcode"]
        assert run(*plan, check=False).returncode == 2
        run("appengine", "apply", "meshspec.yaml", *state)
        assert run(*plan).returncode == 0
        # web is the spec's defaultService: App Engine's service `default`
        run("appengine", "promote", "default", "w-1", "--spec", "meshspec.yaml", *state)
        rollback = run("appengine", "rollback", "default", "--spec", "meshspec.yaml", *state, check=False)
        no_traceback(rollback)  # web is the defaultService: see issue #15's rollback note (another change)
        status = run("traffic", "status", "meshspec.yaml", "web", "--state-dir", str(tmp_path / "state"),
                     check=False, MESHSPEC_APPENGINE_ENDPOINT=endpoint)
        no_traceback(status)
        assert status.returncode in (0, 2) and "w-1" in status.stdout
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    # AWS at runtime needs an account: the commands load and refuse cleanly (exit 1, no traceback)
    for args in (("canary", "meshspec.yaml", "orders", "--version", "o-9"),
                 ("migrate", "meshspec.yaml", "--to", "service-connect")):
        proc = run(*args, check=False)
        assert proc.returncode == 1 and proc.stderr.startswith("error: "), proc.stderr
        no_traceback(proc)


# -- the CI workflow `init` writes -------------------------------------------------------------------------
NO_CLOUD_ACTIONS = ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@")


def expand(value: str, context: dict[str, str]) -> str:
    """The workflow's few `${{ ... }}` expressions in env values, from ``context``; any other one fails."""
    def one(m: re.Match) -> str:
        key = m.group(1).strip()
        assert key in context, f"the test does not know ${{{{ {key} }}}}"
        return context[key]
    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def run_job(installed: Installed, repo: Path, workflow: dict, job: str, context: dict[str, str],
            tmp: Path) -> dict[str, str]:
    """Every step of ``job`` in order, as the runner would (bash -eo pipefail, GITHUB_OUTPUT, the summary file);
    its outputs."""
    spec = workflow["jobs"][job]
    env = {k: expand(v, context) for k, v in {**workflow.get("env", {}), **spec.get("env", {})}.items()}
    output, summary = tmp / f"{job}.output", tmp / f"{job}.summary"
    outputs: dict[str, str] = {}
    for step in spec["steps"]:
        if "uses" in step:
            assert step["uses"].startswith(NO_CLOUD_ACTIONS), step["uses"]
            continue
        output.write_text("")
        step_env = {**env, **{k: expand(v, context) for k, v in step.get("env", {}).items()},
                    "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "CI": "true"}
        proc = sh(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                  env=installed.env(**step_env), check=False, timeout=900)
        assert proc.returncode == 0, f"{job}: {step.get('name')}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        for line in output.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[f"{step.get('id')}.{key}"] = value
    outputs["summary"] = summary.read_text() if summary.exists() else ""
    return outputs


def test_the_workflow_is_valid_and_deploys_through_oidc(repo):
    import jsonschema

    from importlib.resources import files

    # SchemaStore's schema as check-jsonschema vendors it (a dev dependency keeps it current; nothing copied here)
    schema = json.loads(files("check_jsonschema.builtin_schemas.vendor").joinpath("github-workflows.json").read_text())
    workflow = YAML(typ="safe").load((repo / ".github" / "workflows" / "meshspec.yml").read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert [e.message for e in validator.iter_errors(workflow)] == []
    broken = {**workflow, "jobs": {"x": {"runs-on": "ubuntu-latest", "steps": [{"run": "a", "uses": "b"}]}}}
    assert list(validator.iter_errors(broken))  # the schema can fail
    text = (repo / ".github" / "workflows" / "meshspec.yml").read_text()
    assert "aws-access-key-id" not in text and "secrets." not in text
    levels = [f"deploy-level{i}" for i in range(4)]
    for job in (*levels, "deploy-appengine", "canary", "plan-appengine"):
        assert workflow["jobs"][job]["permissions"]["id-token"] == "write"
    # AWS: one matrix job per dependency level, each after the one before, each job deploying its plan's stacks
    for i, job in enumerate(levels):
        aws = workflow["jobs"][job]
        assert aws["strategy"]["matrix"]["include"] == f"${{{{ fromJSON(needs.changes.outputs.level{i}) }}}}"
        assert aws["needs"] == ("changes" if i == 0 else ["changes", levels[i - 1]])
        assert f"needs.changes.outputs.level{i} != '[]'" in aws["if"]
        assert aws["env"]["STACKS"] == "${{ join(matrix.stacks, ' ') }}"
        assert any(s.get("with", {}).get("role-to-assume") == "${{ vars.AWS_ROLE_ARN }}" for s in aws["steps"])
        assert any(s.get("with", {}).get("name") == "cdk-out" for s in aws["steps"])  # the assembly, as an artifact
        assert "meshspec cdk deploy --app cdk.out" in aws["steps"][-1]["run"]
    assert workflow["jobs"]["changes"]["outputs"]["level2"] == "${{ steps.plan.outputs.level2 }}"
    assert workflow["jobs"]["canary"]["strategy"]["matrix"]["include"] == \
        "${{ fromJSON(needs.changes.outputs.canaries) }}"
    assert set(levels) <= set(workflow["jobs"]["canary"]["needs"])


def test_every_workflow_step_that_needs_no_cloud_account_runs_on_the_repository(installed, repo, tmp_path):
    workflow = YAML(typ="safe").load((repo / ".github" / "workflows" / "meshspec.yml").read_text())
    cloudless = [j for j, spec in workflow["jobs"].items() if spec.get("permissions", {}).get("id-token") != "write"]
    assert cloudless == ["check", "changes"]
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "feature")
    try:
        # GIVEN a pull request that moves orders to port 8181 (its snapshots updated in the same change) and
        # gives web's new version w-2 10 % (App Engine keeps splits; Service Connect would refuse one)
        spec = repo / "meshspec.yaml"
        text = spec.read_text().replace("    port: 8080\n", "    port: 8181\n", 1)
        spec.write_text(text.replace(
            "        source: gs://platform-builds/web/w-1.zip\n        traffic: 100\n",
            "        source: gs://platform-builds/web/w-1.zip\n        traffic: 90\n"
            "      - name: w-2\n        source: gs://platform-builds/web/w-2.zip\n        traffic: 10\n"))
        installed.run("python", "-m", "pytest", "-q", "--snapshot-update", cwd=repo)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "orders o-2 at 10 %")
        git(repo, "update-ref", "refs/remotes/origin/main", base)
        # WHEN the pull request's job runs / THEN every step passes and the plan is the job summary
        check = run_job(installed, repo, workflow, "check", {"github.base_ref": "main", "github.ref": "refs/pull/1"},
                        tmp_path)
        assert "## meshspec plan" in check["summary"] and "stack " in check["summary"]
        synth = json.loads((repo / "synth.json").read_text())
        assert synth["partial"]["services"] == ["orders"]
        # WHEN main's first job runs on the push / THEN it lists the stacks to deploy and the canary to run
        changes = run_job(installed, repo, workflow, "changes", {"github.event.before": base,
                                                                  "github.ref": "refs/heads/main"}, tmp_path)
        stacks = json.loads(changes["synth.stacks"])
        assert stacks and all(s.startswith(repo.name) for s in stacks) and f"{repo.name}-svc-orders" in stacks
        # … by dependency level, as the deploy jobs' matrices: every stack synth wrote, once, each after its
        # dependencies (the shared stack, then the cluster, then orders)
        levels = [json.loads(changes[f"plan.level{i}"]) for i in range(4)]
        assert sorted(s for jobs in levels for job in jobs for s in job["stacks"]) == sorted(stacks)
        assert [[s for job in jobs for s in job["stacks"]] for jobs in levels][:3] == [
            [f"{repo.name}-shared"], [s for s in stacks if s not in (f"{repo.name}-shared", f"{repo.name}-svc-orders")],
            [f"{repo.name}-svc-orders"]]
        assert levels[2][0]["services"] == ["orders"]
        assert json.loads(changes["grown.canaries"]) == [
            {"service": "web", "major": "v1", "version": "w-2", "from": 0.0, "to": 10.0, "steps": "10"}]
    finally:
        git(repo, "checkout", "-q", "main")
        git(repo, "clean", "-qfdx", "-e", "cdk.out")
