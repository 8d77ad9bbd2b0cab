"""App Mesh's routes as ``meshspec plan`` shows them, read from synthesized templates (pure)."""
from __future__ import annotations

from typing import Any, Mapping

from meshspec.infra.aws.plan import Routes, Templates, header_match_text, resources


def routes(templates: Templates) -> Routes:
    """Route name → (path prefix or header matches, {virtual node name: weight})."""
    nodes: dict[str, str] = {}
    found: list[Mapping[str, Any]] = []
    for t in templates.values():
        for lid, r in resources(t).items():
            if r.get("Type") == "AWS::AppMesh::VirtualNode":
                nodes[lid] = r["Properties"].get("VirtualNodeName") or r["Properties"].get("Name", lid)
            elif r.get("Type") == "AWS::AppMesh::Route":
                found.append(r["Properties"])
    out: Routes = {}
    for props in found:
        spec = props.get("Spec", {})
        body = spec.get("HttpRoute") or spec.get("Http2Route") or spec.get("GrpcRoute") or {}
        match = body.get("Match", {})
        prefix = match.get("Prefix") or (match.get("Path") or {}).get("Exact")
        if prefix is None and match.get("Metadata"):  # gRPC: header matches
            prefix = ", ".join(header_match_text(m) for m in match["Metadata"])
        elif match.get("Headers"):  # an A/B cohort: the path prefix and its header
            prefix = ", ".join([prefix or "", *(header_match_text(m) for m in match["Headers"])]).lstrip(", ")
        weights = {}
        for target in body.get("Action", {}).get("WeightedTargets", []):
            ref = target.get("VirtualNode")
            if isinstance(ref, dict) and "Fn::GetAtt" in ref:
                ref = nodes.get(ref["Fn::GetAtt"][0], ref["Fn::GetAtt"][0])
            weights[str(ref)] = int(target.get("Weight", 0))
        out[str(props.get("RouteName"))] = (prefix, weights)
    return out
