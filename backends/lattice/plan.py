"""VPC Lattice's listener rules as ``meshspec plan`` shows them, read from synthesized templates (pure)."""
from __future__ import annotations

from typing import Any, Mapping

from meshspec.infra.aws.plan import Routes, Templates, header_match_text, resources


def routes(templates: Templates) -> Routes:
    """Rule name → (path prefix or header matches, {target group name: weight})."""
    groups: dict[str, str] = {}
    rules: list[Mapping[str, Any]] = []
    for t in templates.values():
        for lid, r in resources(t).items():
            if r.get("Type") == "AWS::VpcLattice::TargetGroup":
                groups[lid] = r["Properties"].get("Name", lid)
            elif r.get("Type") == "AWS::VpcLattice::Rule":
                rules.append(r["Properties"])
    out: Routes = {}
    for props in rules:
        http = props.get("Match", {}).get("HttpMatch", {})
        match = dict(http.get("PathMatch", {}).get("Match", {}))
        if http.get("HeaderMatches"):  # gRPC's major header, an A/B cohort's header (after the path prefix)
            match["Prefix"] = ", ".join([*([match["Prefix"]] if match.get("Prefix") else []),
                                         *(header_match_text(h) for h in http["HeaderMatches"])])
        weights = {}
        for target in props.get("Action", {}).get("Forward", {}).get("TargetGroups", []):
            ref = target.get("TargetGroupIdentifier")
            if isinstance(ref, dict) and "Fn::GetAtt" in ref:
                ref = groups.get(ref["Fn::GetAtt"][0], ref["Fn::GetAtt"][0])
            weights[str(ref)] = int(target.get("Weight", 1))
        out[str(props.get("Name"))] = (match.get("Prefix") or match.get("Exact"), weights)
    return out
