"""A cloud assembly cut into per-stack fragments and put back together, byte for byte.

A synth worker (``meshspec.stacks.worker``) synthesizes a share of the stacks into a directory of its own; the
synth cache keeps each stack's part. Both are *fragments*: a stack's files (template, asset manifest, metadata,
Kubernetes manifests, file assets), the exact text of its entries in ``manifest.json`` (the stack and its asset
manifest) and of its subtree in ``tree.json``. :func:`assemble` writes them, in the layout's order, between the
parts of the assembly that belong to the app (the ``cdk.out`` marker, the tree and feature-flag artifacts):
the same bytes a single ``app.synth()`` of the whole app writes, because CDK writes each stack's entries and
subtree independently of the others and in construction order (the layout's). Cut and joined as text, never
parsed and dumped again, so no number or string is re-encoded differently from CDK's JSON.stringify.

Pure file work: no CDK import.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from meshspec.infra.aws.assembly import stack_warnings

from .limits import size

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
MANIFEST, TREE, MARKER = "manifest.json", "tree.json", "cdk.out"


@dataclass(frozen=True)
class Fragment:
    """One stack's part of a cloud assembly."""

    stack: str
    files: dict[str, bytes]  # path relative to the assembly (POSIX) → content
    artifacts: str  # its manifest.json entries, exactly as written: '"X.assets": {…},\n    "X": {…}'
    tree: str  # its tree.json child, exactly as written: '"X":{…}'
    resources: int = 0  # resources in its template
    warnings: tuple[str, ...] = ()  # its warning annotations, "path: message"
    problems: tuple[str, ...] = ()  # CloudFormation limits it exceeds


@dataclass(frozen=True)
class AppFragment:
    """The app's own part of an assembly: what surrounds the stacks' parts."""

    files: dict[str, bytes] = field(default_factory=dict)  # the cdk.out marker
    manifest_head: str = ""  # manifest.json up to the first artifact entry
    manifest_sep: str = ",\n    "  # what CDK writes between two artifact entries
    manifest_app: str = ""  # the app's artifact entries (tree, feature flags), after the stacks'
    manifest_tail: str = ""
    tree_head: str = ""  # tree.json up to the App's first child
    tree_sep: str = ","
    tree_app: str = ""  # the App's own children (Tree) after the stacks
    tree_tail: str = ""


def _members(text: str, start: int) -> tuple[list[tuple[str, int, int]], int]:
    """The members of the JSON object opening at ``text[start]``: (key, start of the key, end of the value),
    and the index of its closing brace."""
    assert text[start] == "{", text[start:start + 20]
    out, i = [], _WS.match(text, start + 1).end()
    if text[i] == "}":
        return out, i
    while True:
        key, after_key = _DECODER.raw_decode(text, i)
        j = _WS.match(text, after_key).end()
        assert text[j] == ":", text[j:j + 20]
        _, end = _DECODER.raw_decode(text, _WS.match(text, j + 1).end())
        out.append((key, i, end))
        i = _WS.match(text, end).end()
        if text[i] == "}":
            return out, i
        assert text[i] == ",", text[i:i + 20]
        i = _WS.match(text, i + 1).end()


def _object_after(text: str, key: str, start: int = 0) -> int:
    """Where the object value of the first ``"key":`` after ``start`` opens."""
    at = text.index(json.dumps(key) + ":", start) + len(json.dumps(key)) + 1
    return _WS.match(text, at).end()


def _sep(text: str, members: list[tuple[str, int, int]]) -> str:
    """The separator CDK wrote between two members of this object (``,\\n    `` or ``,``)."""
    return text[members[0][2]:members[1][1]] if len(members) > 1 else ","


def split(directory: str | Path, stacks: list[str]) -> tuple[dict[str, Fragment], AppFragment]:
    """The fragments of ``stacks`` in the assembly at ``directory``, and the app's part. Artifacts of other stacks
    (a worker's stand-ins and the stacks it was built against) are left out."""
    root = Path(directory)
    manifest_text = (root / MANIFEST).read_text(encoding="utf-8")
    manifest = json.loads(manifest_text)
    tree_text = (root / TREE).read_text(encoding="utf-8")
    arts, arts_end = _members(manifest_text, _object_after(manifest_text, "artifacts"))
    children_at = _object_after(tree_text, "children")
    kids, kids_end = _members(tree_text, children_at)
    owner: dict[str, str] = {}  # artifact id → stack it belongs to
    every_stack = {a for a, v in manifest["artifacts"].items() if v.get("type") == "aws:cloudformation:stack"}
    for a in every_stack:
        owner[a] = a
        for dep in manifest["artifacts"][a].get("dependencies", []):
            if manifest["artifacts"].get(dep, {}).get("type") == "cdk:asset-manifest" and dep == f"{a}.assets":
                owner[dep] = a
    wanted = set(stacks)
    missing = wanted - every_stack
    if missing:
        raise RuntimeError(f"the assembly in {root} has no stack {', '.join(sorted(missing))}")
    arts_sep, kids_sep = _sep(manifest_text, arts), _sep(tree_text, kids)
    by_stack: dict[str, list[str]] = {s: [] for s in stacks}
    app_arts = []
    for key, a, b in arts:
        if key in owner:
            if owner[key] in wanted:
                by_stack[owner[key]].append(manifest_text[a:b])
        else:
            app_arts.append(manifest_text[a:b])
    tree_of = {key: tree_text[a:b] for key, a, b in kids}
    app_kids = [tree_text[a:b] for key, a, b in kids if key not in every_stack]
    out = {}
    for s in stacks:
        files, warnings = _files(root, manifest["artifacts"], s)
        template = json.loads(files[manifest["artifacts"][s]["properties"]["templateFile"]])
        problems = size(s, template, template_bytes=len(files[manifest["artifacts"][s]["properties"]["templateFile"]]))
        out[s] = Fragment(s, files, arts_sep.join(by_stack[s]), tree_of[s], len(template.get("Resources", {})),
                          tuple(warnings), tuple(problems.problems()))
    first_art = arts[0][1] if arts else arts_end
    last_art = arts[-1][2] if arts else arts_end
    first_kid = kids[0][1] if kids else kids_end
    last_kid = kids[-1][2] if kids else kids_end
    app = AppFragment(
        files={MARKER: (root / MARKER).read_bytes()} if (root / MARKER).exists() else {},
        manifest_head=manifest_text[:first_art], manifest_sep=arts_sep, manifest_app=arts_sep.join(app_arts),
        manifest_tail=manifest_text[last_art:],
        tree_head=tree_text[:first_kid], tree_sep=kids_sep, tree_app=kids_sep.join(app_kids),
        tree_tail=tree_text[last_kid:])
    return out, app


def _files(root: Path, artifacts: dict, stack: str) -> tuple[dict[str, bytes], list[str]]:
    """A stack's files (relative POSIX paths) and its warning annotations."""
    art = artifacts[stack]
    names = [art["properties"]["templateFile"]]
    assets = artifacts.get(f"{stack}.assets", {}).get("properties", {}).get("file")
    if assets:
        names.append(assets)
        doc = json.loads((root / assets).read_text(encoding="utf-8"))
        for kind, key in (("files", "path"), ("dockerImages", "directory")):
            for asset in doc.get(kind, {}).values():
                path = asset.get("source", {}).get(key)
                if path and path not in names:
                    names.append(path)
    if art.get("additionalMetadataFile"):
        names.append(art["additionalMetadataFile"])
    files: dict[str, bytes] = {}
    for name in names:
        p = root / name
        if p.is_dir():
            files.update({q.relative_to(root).as_posix(): q.read_bytes() for q in sorted(p.rglob("*")) if q.is_file()})
        else:
            files[name] = p.read_bytes()
    k8s = root / "k8s" / stack
    if k8s.is_dir():
        files.update({q.relative_to(root).as_posix(): q.read_bytes() for q in sorted(k8s.rglob("*")) if q.is_file()})
    extra = art.get("additionalMetadataFile")
    return files, stack_warnings(art, files[extra] if extra else None)


def safe_path(name: str) -> PurePosixPath:
    """A fragment's file path, refused when it would leave the assembly directory (a foreign cache entry)."""
    p = PurePosixPath(name)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts) or "\\" in name:
        raise ValueError(f"not a path inside a cloud assembly: {name!r}")
    return p


def write_files(directory: str | Path, fragments: list[Fragment]) -> list[str]:
    """Write the fragments' own files (before the rest of them is known); returns the Kubernetes manifests."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    manifests, made = [], set()
    for f in fragments:
        for name, body in f.files.items():
            path = root / safe_path(name)
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            path.write_bytes(body)
            if name.startswith("k8s/"):
                manifests.append(str(path))
    return manifests


def assemble(directory: str | Path, fragments: list[Fragment], app: AppFragment, *,
             written: frozenset[str] = frozenset()) -> list[str]:
    """Write one cloud assembly from ``fragments`` (in the layout's order) and the app's part; returns the
    Kubernetes manifest files written. ``written``: stacks whose files :func:`write_files` wrote already."""
    root = Path(directory)
    manifests = write_files(root, [f for f in fragments if f.stack not in written])
    manifests += [str(root / n) for f in fragments if f.stack in written for n in f.files if n.startswith("k8s/")]
    for name, body in app.files.items():
        (root / safe_path(name)).write_bytes(body)
    parts = [f.artifacts for f in fragments if f.artifacts] + ([app.manifest_app] if app.manifest_app else [])
    (root / MANIFEST).write_text(app.manifest_head + app.manifest_sep.join(parts) + app.manifest_tail,
                                 encoding="utf-8")
    parts = [f.tree for f in fragments] + ([app.tree_app] if app.tree_app else [])
    (root / TREE).write_text(app.tree_head + app.tree_sep.join(parts) + app.tree_tail, encoding="utf-8")
    return sorted(manifests)
