"""The one reader of a cloud assembly (the directory ``cdk synth`` or ``meshspec synth --out`` writes): its stack
templates by stack name, each template's size as written, and the synth's warning annotations.

Pure file reading, no aws-cdk-lib: ``meshspec synth`` and ``meshspec plan`` read what they just wrote (rather than
asking jsii, which costs a round trip per value), ``meshspec plan --against`` reads a previous assembly, and the
synth engine's fragments (meshspec.stacks.assembly) take each stack's warnings with :func:`stack_warnings`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshspec.infra.errors import UserError


@dataclass
class Assembly:
    directory: str
    stacks: dict[str, dict[str, Any]]  # stack name → template
    template_bytes: dict[str, int]  # stack name → size of the template file
    warnings: list[str] = field(default_factory=list)  # "path: message", when read with warnings=True


def read_assembly(directory: str | Path, *, warnings: bool = False) -> Assembly:
    """Read the manifest and every stack's template; ``warnings``: also the ``aws:cdk:warning`` annotations of
    every stack (from the manifest and its additional metadata file). Default: not read."""
    root = Path(directory)
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{root} is not a cloud assembly: it has no manifest.json",
                        hint="give the directory `cdk synth` or `meshspec synth --out` wrote") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {root / 'manifest.json'}: {exc}") from None
    out = Assembly(str(directory), {}, {})
    for art_id, art in manifest.get("artifacts", {}).items():
        if art.get("type") != "aws:cloudformation:stack":
            continue
        props = art.get("properties", {})
        name = props.get("stackName") or art.get("displayName") or art_id
        body = (root / props["templateFile"]).read_bytes()
        out.stacks[name] = json.loads(body)
        out.template_bytes[name] = len(body)
        if warnings:
            extra = art.get("additionalMetadataFile")
            out.warnings += stack_warnings(art, (root / extra).read_bytes() if extra else None)
    return out


def stack_warnings(artifact: dict[str, Any], additional_metadata: bytes | None) -> list[str]:
    """A stack artifact's ``aws:cdk:warning`` annotations, "path: message": those in the manifest and those in
    its additional metadata file (``additional_metadata``: the file's bytes, None when it has none)."""
    metadata = dict(artifact.get("metadata", {}))
    if additional_metadata is not None:
        metadata.update(json.loads(additional_metadata))
    return [f"{path}: {e['data']}" for path, entries in metadata.items() for e in entries
            if e.get("type") == "aws:cdk:warning"]
