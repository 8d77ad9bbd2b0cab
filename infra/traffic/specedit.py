"""Fold live weights back into the spec file, keeping its comments and layout (ruamel.yaml round trip).

So that the next deploy does not undo a shift. Only ``traffic`` values of the service's versions change:
a version whose ``traffic`` is one number stays one number when every live major moves together, and becomes
a per-major mapping (``{v1: 10, v2: 90}``) when only one major moved.
"""
from __future__ import annotations

import datetime as dt
import difflib
import io
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.util import load_yaml_guess_indent

from meshspec.infra.errors import UserError
from meshspec.infra.naming import STICKY_PREFIX
from meshspec.infra.spec import load_text
from meshspec.infra.spec.model import live_majors


def _number(v: Decimal) -> int | float:
    return int(v) if v == v.to_integral_value() else float(v)


def _yaml(text: str) -> YAML:
    """A round-trip YAML that writes ``text``'s own indentation back."""
    _, indent, offset = load_yaml_guess_indent(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2 if indent is None else min(indent, 2 if offset else indent),
                sequence=indent or 4, offset=offset if offset is not None else 2)
    return yaml


def fold(text: str, service: str, majors: Iterable[str], weights: Mapping[str, Decimal],
         live: Iterable[str]) -> str:
    """``text`` with ``weights`` (version → percent, a complete split: a version left out takes 0) written as
    the traffic of ``majors``.

    ``live`` are the service's live majors: when ``majors`` covers them all, a scalar ``traffic`` stays scalar.
    """
    majors, live = list(majors), list(live)
    yaml = _yaml(text)
    doc = yaml.load(text)
    versions = doc["services"][service]["versions"]
    all_majors = set(majors) >= set(live)
    for item in versions:
        new = Decimal(weights.get(str(item["name"]), 0))
        old = item.get("traffic")
        if old is None and new == 0:
            continue  # 0 is the default: leave the key out
        if isinstance(old, dict):
            for m in majors:
                old[m] = _number(new)
        elif all_majors:
            item["traffic"] = _number(new)
        else:
            base = Decimal(str(old)) if old is not None else Decimal(0)
            mapping = CommentedMap((m, _number(new) if m in majors else _number(base)) for m in live)
            mapping.fa.set_flow_style()
            item["traffic"] = mapping
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def plan_edit(spec_file: str | Path, service: str, majors: Iterable[str], weights: Mapping[str, Decimal],
              today: dt.date | None = None) -> tuple[str, str, str]:
    """(old text, new text, unified diff); refuses an edit that would leave the spec invalid."""
    path = Path(spec_file)
    old = path.read_text(encoding="utf-8")
    result = load_text(old, file=str(path), base_dir=path.parent, today=today)
    if not result.ok:
        raise UserError(f"{path} is not a valid spec; fix it before folding weights into it")
    live = list(live_majors(result.spec.services[service]))
    _written_in_place(old, str(path), service, len(result.spec.services[service].versions))
    new = fold(old, service, majors, weights, live)
    check = load_text(new, file=str(path), base_dir=path.parent, today=today)
    if not check.ok:
        raise UserError("folding the live weights into the spec would make it invalid: "
                        + "; ".join(e.render() for e in check.errors),
                        hint="edit the spec by hand (the diff above shows what meshspec would change)")
    diff = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(path), str(path)))
    return old, new, diff


def plan_cohort_edit(spec_file: str | Path, service: str, major: str, cohort: str, weights: Mapping[str, Decimal],
                     today: dt.date | None = None) -> tuple[str, str, str]:
    """(old text, new text, unified diff) that point the cohort at the version now taking all of its route's
    traffic. Refused when the route splits between versions (a cohort sends to one version) or when it is a
    sticky cookie's route (those follow the versions' traffic and are not written in the spec)."""
    path = Path(spec_file)
    old = path.read_text(encoding="utf-8")
    result = load_text(old, file=str(path), base_dir=path.parent, today=today)
    if not result.ok:
        raise UserError(f"{path} is not a valid spec; fix it before folding weights into it")
    if cohort.startswith(STICKY_PREFIX):
        raise UserError(f"{cohort} is the route of the sticky cookie's holders: the spec does not write it (it follows "
                        "the versions' traffic), so the next deploy points it back at its own version")
    taking = [v for v, w in weights.items() if w > 0]
    if len(taking) != 1 or weights[taking[0]] != 100:
        split = ", ".join(f"{v}={w}" for v, w in weights.items() if w)
        raise UserError(f"cohort {cohort} splits its requests ({split}), but a cohort in the spec sends them to one "
                        "version")
    yaml = _yaml(old)
    doc = yaml.load(old)
    entry = next(c for c in doc["services"][service]["majors"][major]["cohorts"] if str(c["name"]) == cohort)
    entry["version"] = taking[0]
    out = io.StringIO()
    yaml.dump(doc, out)
    new = out.getvalue()
    diff = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(path), str(path)))
    return old, new, diff


def _written_in_place(text: str, file: str, service: str, versions: int) -> None:
    """Refuses to fold weights into versions or traffic that came through an alias or a merge key: writing there
    would change every service that shares the anchor."""
    from meshspec.infra.spec.errors import Problems
    from meshspec.infra.spec.yamlpos import parse

    _, positions = parse(text, Problems(file))
    paths = [("services", service, "versions")] + [("services", service, "versions", i, "traffic")
                                                   for i in range(versions)]
    for path in paths:
        found = positions.locate(path)
        if found is not None and found[2]:
            raise UserError(f"{'.'.join(map(str, path))} {found[2]} (line {found[0]}): meshspec folds weights "
                            "only into values written in the service itself; the anchor may be shared",
                            hint="write the service's versions and traffic out in the service, or edit the "
                                 "anchor by hand (the diff above shows the weights)")


def write(spec_file: str | Path, new: str) -> None:
    path = Path(spec_file)
    tmp = path.with_name(path.name + ".meshspec-tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)

