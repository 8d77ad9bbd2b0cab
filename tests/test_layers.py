"""The layers, kept by a tool: import-linter's contracts (pyproject.toml, [tool.importlinter]) on the package as it
installs (setup.py maps infra/, stacks/, constructs_lib/ and backends/ under meshspec/).

import-linter (with grimp, its import graph) is the well-kept tool for this: contracts are configuration, one per
rule, and it has the contract types the rules need (forbidden, protected, layers, acyclic_siblings). It reads a
package from the file system below the package's folder, and meshspec's folders sit beside ``meshspec/`` in the
repository, so the test lays the package out as it installs, in a temporary folder, and runs it there.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

LAYERS = ("infra", "stacks", "constructs_lib", "backends")


def installed_layout(into: Path) -> Path:
    """meshspec/ with its layers inside, as setup.py installs them (Python files only)."""
    package = into / "meshspec"
    shutil.copytree(ROOT / "meshspec", package, ignore=shutil.ignore_patterns("__pycache__"))
    for layer in LAYERS:
        shutil.copytree(ROOT / layer, package / layer,
                        ignore=lambda d, names: [n for n in names if not (n.endswith(".py") or (Path(d) / n).is_dir())
                                                 or n == "__pycache__"])
    return into


def lint(tree: Path) -> subprocess.CompletedProcess:
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True))")
    return subprocess.run([sys.executable, "-c", code], cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return installed_layout(tmp_path_factory.mktemp("layout"))


def test_every_import_contract_is_kept(tree):
    result = lint(tree)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 9 kept, 0 broken." in result.stdout


def test_a_construct_that_reads_the_spec_breaks_the_contracts(tmp_path):
    # GIVEN constructs_lib importing the spec model, and a spec rule importing aws-cdk-lib
    tree = installed_layout(tmp_path)
    dashboard = tree / "meshspec" / "constructs_lib" / "dashboard.py"
    dashboard.write_text(dashboard.read_text() + "\nfrom meshspec.infra.spec.model import Spec  # noqa\n")
    checks = tree / "meshspec" / "infra" / "spec" / "checks.py"
    checks.write_text(checks.read_text() + "\nimport aws_cdk  # noqa\n")
    # WHEN the contracts run / THEN they are broken, and say where
    result = lint(tree)
    assert result.returncode != 0
    assert "meshspec.constructs_lib.dashboard -> meshspec.infra.spec.model" in result.stdout
    assert "meshspec.infra.spec.checks -> aws_cdk" in result.stdout
