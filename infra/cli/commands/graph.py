"""``meshspec graph SPEC``: services, majors, code versions and consumers, drawn from the spec."""
from __future__ import annotations

import argparse
from pathlib import Path

from meshspec.infra.errors import UserError
from meshspec.infra.graph import build_graph, to_dot, to_mermaid
from meshspec.infra.spec import load_spec_or_raise

from .. import output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("graph", help="draw services, API majors, code versions and who uses what",
                       description="Draw the spec as Mermaid (GitHub renders it), Graphviz DOT, or SVG (Graphviz "
                                   "compiled to WebAssembly, run on the project's Node).")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--format", choices=("mermaid", "dot", "svg"), default="mermaid",
                   help="mermaid (default), dot, or svg")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def render(spec_path: str, fmt: str) -> str:
    graph = build_graph(load_spec_or_raise(spec_path))
    if fmt == "mermaid":
        return to_mermaid(graph)
    dot = to_dot(graph)
    if fmt == "dot":
        return dot
    from meshspec.infra.graph.svg import render_svg

    return render_svg(dot)


def run(args: argparse.Namespace) -> int:
    text = render(args.spec, args.format)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
        output.say(f"wrote {args.out} ({args.format}, {len(text)} bytes)")
    else:
        print(text, end="")
    return output.OK
