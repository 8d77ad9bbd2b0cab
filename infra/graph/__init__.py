"""The service graph: built from the spec (``model``), drawn as Mermaid or DOT (``render``), as SVG by Graphviz
compiled to WebAssembly on the project's own Node (``svg``)."""
from .model import Graph, build_graph
from .render import to_dot, to_mermaid

__all__ = ["Graph", "build_graph", "to_dot", "to_mermaid"]
