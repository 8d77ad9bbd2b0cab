"""Draw a :class:`~meshspec.infra.graph.model.Graph` as Mermaid (GitHub renders it in Markdown) or as Graphviz DOT."""
from __future__ import annotations

from .model import Graph

# One palette for both renderings: active green, deprecated amber and dashed, retired grey and dotted.
STYLE = {
    "active": {"fill": "#e6f4ea", "stroke": "#1e8e3e", "dash": None, "color": "#202124"},
    "deprecated": {"fill": "#fef7e0", "stroke": "#e37400", "dash": "5 3", "color": "#202124"},
    "retired": {"fill": "#f1f3f4", "stroke": "#9aa0a6", "dash": "2 2", "color": "#80868b"},
    "version": {"fill": "#ffffff", "stroke": "#5f6368", "dash": None, "color": "#202124"},
}


def _mm(text: str) -> str:
    """Mermaid label text inside double quotes (entity codes, as Mermaid documents)."""
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(g: Graph) -> str:
    out = ["flowchart LR"]
    for box in g.boxes:
        out.append(f'  subgraph {box.id}["{"<br/>".join(_mm(x) for x in box.label)}"]')
        for nid in box.nodes:
            n = g.nodes[nid]
            text = "<br/>".join(_mm(x) for x in n.label)
            out.append(f'    {nid}(["{text}"])' if n.kind == "major" else f'    {nid}["{text}"]')
        out.append("  end")
    for e in g.edges:
        if e.kind == "traffic":
            out.append(f'  {e.src} -- "{_mm(e.label)}" --> {e.dst}')
        else:
            out.append(f"  {e.src} -. uses .-> {e.dst}")
    for name, s in STYLE.items():
        dash = f",stroke-dasharray:{s['dash']}" if s["dash"] else ""
        out.append(f"  classDef {name} fill:{s['fill']},stroke:{s['stroke']},color:{s['color']}{dash}")
    for cls in STYLE:
        ids = [n.id for n in g.nodes.values() if (n.status if n.kind == "major" else "version") == cls]
        if ids:
            out.append(f"  class {','.join(ids)} {cls}")
    return "\n".join(out) + "\n"


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lines(parts: tuple[str, ...]) -> str:
    return _dq("\n".join(parts)).replace("\n", "\\n")


def to_dot(g: Graph) -> str:
    out = [
        f"digraph {_dq(g.project)} {{",
        '  graph [rankdir=LR, compound=true, newrank=true, nodesep=0.3, ranksep=0.6, fontname="Helvetica", '
        f'fontsize=12, labelloc=t, label={_dq(g.project + " · services, API majors, code versions")}];',
        '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#5f6368"];',
    ]
    first_node = {b.id: b.nodes[0] for b in g.boxes if b.nodes}
    for box in g.boxes:
        out.append(f"  subgraph cluster_{box.id} {{")
        out.append(f'    label={_lines(box.label)}; style="rounded"; color="#dadce0"; bgcolor="#f8f9fa";')
        for nid in box.nodes:
            n = g.nodes[nid]
            s = STYLE[n.status if n.kind == "major" else "version"]
            style = "rounded,filled" + (",dashed" if s["dash"] and n.status == "deprecated" else
                                        ",dotted" if s["dash"] else "")
            shape = "box" if n.kind == "major" else "note"
            out.append(f'    {nid} [label={_lines(n.label)}, shape={shape}, style="{style}", fillcolor="{s["fill"]}", '
                       f'color="{s["stroke"]}", fontcolor="{s["color"]}"];')
        out.append("  }")
    for e in g.edges:
        if e.kind == "traffic":
            out.append(f"  {e.src} -> {e.dst} [label={_dq(e.label)}];")
        else:
            # From the consumer's box: DOT edges join nodes, so start at its first node and clip at the box.
            tail = first_node[e.src]
            color = STYLE.get(e.status or "active", STYLE["active"])["stroke"]
            out.append(f'  {tail} -> {e.dst} [ltail=cluster_{e.src}, style=dashed, color="{color}", '
                       f'label="uses", fontcolor="{color}"];')
    out.append("}")
    return "\n".join(out) + "\n"
