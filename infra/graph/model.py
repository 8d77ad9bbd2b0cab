"""The service graph as data: one box per service holding its majors and code versions, edges for traffic
(major → version, with the share) and for use (consumer → the major it calls).

Pure and ordered like the spec, so the same spec always draws the same picture (the README's picture is
checked against the example by a test). Node ids are positional (``s2``, ``s2m_v1``, ``s2v0``): service and
version names may hold hyphens that Mermaid and DOT would need quoting for, and two names could collide
once escaped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from meshspec.infra.spec import Spec, major_path, shares
from meshspec.infra.spec.model import capacity_of


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # "major" or "version"
    service: str
    name: str  # v1, or the version name
    label: tuple[str, ...]  # lines
    status: str | None = None  # majors: active, deprecated, retired


@dataclass(frozen=True)
class Box:
    """One service: a Mermaid subgraph, a DOT cluster."""

    id: str
    service: str
    label: tuple[str, ...]
    platform: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    kind: str  # "traffic" (major → version) or "uses" (consumer box → major)
    label: str = ""
    status: str | None = None  # uses edges: the status of the major used


@dataclass
class Graph:
    project: str
    boxes: list[Box] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def box(self, service: str) -> Box:
        return next(b for b in self.boxes if b.service == service)

    def node(self, service: str, kind: str, name: str) -> Node:
        return next(n for n in self.nodes.values() if (n.service, n.kind, n.name) == (service, kind, name))


def _pct(d: Decimal) -> str:
    return f"{d.normalize():f}%"


def _platform(spec: Spec, name: str) -> str:
    svc = spec.services[name]
    if svc.appengine is not None:
        ae = svc.appengine
        return f"App Engine {ae.environment} · {ae.runtime}"
    cluster = spec.cluster(svc.cluster or "")
    if cluster is None:
        return f"cluster {svc.cluster}"
    cap = f" · {capacity_of(spec, svc)}" if cluster.platform == "ecs" else ""  # where its tasks run
    return f"{cluster.platform.upper()} {cluster.name}{cap}"


def build_graph(spec: Spec) -> Graph:
    g = Graph(spec.project)
    major_ids: dict[str, str] = {}
    for i, (name, svc) in enumerate(spec.services.items()):
        sid = f"s{i}"
        ids: list[str] = []
        for major, m in svc.majors.items():
            nid = f"{sid}m_{major}"
            status = m.status
            label = (major, major_path(name, major, m), status)
            if status == "deprecated" and m.sunset:
                label += (f"sunset {m.sunset}",)
            g.nodes[nid] = Node(nid, "major", name, major, label, status)
            ids.append(nid)
            major_ids[f"{name}/{major}"] = nid
        for j, v in enumerate(svc.versions):
            vid = f"{sid}v{j}"
            g.nodes[vid] = Node(vid, "version", name, v.name, (v.name,))
            ids.append(vid)
        label = (name, _platform(spec, name))
        if svc.appengine is not None and svc.appengine.default_service:
            label += ("default service",)
        g.boxes.append(Box(sid, name, label, _platform(spec, name), tuple(ids)))
        for major, m in svc.majors.items():
            if m.status == "retired":
                continue  # a retired major takes no traffic
            for j, (vname, share) in enumerate(shares(svc, major).items()):
                if share > 0:
                    g.edges.append(Edge(f"{sid}m_{major}", f"{sid}v{j}", "traffic", _pct(share)))
    for i, (name, svc) in enumerate(spec.services.items()):
        for ref in dict.fromkeys(svc.uses):  # a duplicate is the loader's warning, drawn once
            target = major_ids.get(ref)
            if target is not None:
                other, major = ref.split("/", 1)
                g.edges.append(Edge(f"s{i}", target, "uses", "", spec.services[other].majors[major].status))
    return g
