"""Snapshot and assertion helpers for a spec's templates, for meshspec's users and for meshspec's own tests.

The pytest plugin (``meshspec.infra.testing.plugin``, registered through the ``pytest11`` entry point by
``pip install "meshspec[testing]"``) builds on these. What changes between runs and machines is scrubbed here,
in one place: asset hashes, CDK's version metadata and construct paths, absolute paths of this machine.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # aws-cdk-lib loads slowly: only when a Template is asked for
    from aws_cdk.assertions import Template

HASH = re.compile(r"\b[0-9a-f]{64}\b")
#: keys whose values change with the aws-cdk-lib release or the construct tree, not with the spec
UNSTABLE_KEYS = ("aws:cdk:path", "aws:asset:path", "CDKMetadata", "CDKMetadataAvailable")


def machine_roots() -> list[str]:
    """Absolute folders that differ between machines: the temporary folder, the home folder, the working folder."""
    roots = {tempfile.gettempdir(), str(Path.home()), os.getcwd(), os.path.realpath(tempfile.gettempdir())}
    return sorted((r for r in roots if r not in ("", "/")), key=len, reverse=True)


def _path_pattern(roots: Iterable[str]) -> re.Pattern | None:
    alternatives = "|".join(re.escape(r.rstrip("/")) for r in roots if r.rstrip("/"))
    return re.compile(rf"(?:{alternatives})(?:/[^\s\"',]*)?") if alternatives else None


def scrub(value: Any, *, roots: Iterable[str] | None = None) -> Any:
    """``value`` (a template, or any JSON value) without what changes between runs and machines: 64-hex asset
    hashes become ``<asset-hash>``, CDK metadata keys (construct paths, asset paths, the version-reporting
    resource and its condition) are dropped, and an absolute path under ``roots`` becomes ``<path>``.
    ``roots``: Default: :func:`machine_roots`."""
    return _scrub(value, _path_pattern(machine_roots() if roots is None else roots))


def _scrub(value: Any, paths: re.Pattern | None) -> Any:
    if isinstance(value, dict):
        out = {k: _scrub(v, paths) for k, v in value.items() if k not in UNSTABLE_KEYS}
        return {k: v for k, v in out.items() if not (k == "Metadata" and v == {})}
    if isinstance(value, list):
        return [_scrub(v, paths) for v in value]
    if isinstance(value, str):
        value = HASH.sub("<asset-hash>", value)
        return paths.sub("<path>", value) if paths is not None else value
    return value


def template_assertions(template: dict) -> "Template":
    """aws-cdk's ``Template`` over a synthesized template, for ``has_resource_properties``, ``Match`` and the like."""
    from aws_cdk.assertions import Template

    return Template.from_json(template)


@dataclass
class Synthesized:
    """A spec synthesized once: each stack's template, and which stack holds each service."""
    spec_path: Path
    directory: Path
    templates: dict[str, dict]  # stack name → template, as written to the cloud assembly
    placement: dict[str, str] = field(default_factory=dict)  # service → stack name
    warnings: list[str] = field(default_factory=list)

    def template(self, stack: str) -> "Template":
        """The stack's template as aws-cdk's ``Template`` (assertions)."""
        if stack not in self.templates:
            raise KeyError(f"no stack {stack!r} in {self.spec_path}: stacks are {', '.join(sorted(self.templates))}")
        return template_assertions(self.templates[stack])

    def stack_of(self, service: str) -> str:
        if service not in self.placement:
            raise KeyError(f"no AWS service {service!r} in {self.spec_path}: services are "
                           f"{', '.join(sorted(self.placement))}")
        return self.placement[service]

    def service_template(self, service: str) -> "Template":
        """The template of the stack that holds ``service``."""
        return self.template(self.stack_of(service))


class SpecFailed(Exception):
    """The spec could not be synthesized; ``str()`` is the message a person reads (the spec's errors)."""


def synthesize_spec(spec_path: str | Path, outdir: str | Path) -> Synthesized:
    """Load, validate and synthesize ``spec_path`` into ``outdir`` as ``meshspec synth`` does (built-in
    validation off). Raises SpecFailed with every spec error, or the refusal and its hint."""
    from meshspec.infra.errors import UserError
    from meshspec.infra.spec import load_spec
    from meshspec.infra.startup import frozen_imports

    spec_path = Path(spec_path)
    result = load_spec(spec_path)
    if not result.ok:
        lines = [e.render() for e in result.errors]
        raise SpecFailed("\n".join([*lines, f"{len(result.errors)} error(s) in {spec_path}"]))
    with frozen_imports():
        from meshspec.stacks.app import build, new_app, synthesize
    try:
        built = build(result.spec, new_app(str(outdir), validation=False))
        out = synthesize(built)
    except UserError as exc:
        raise SpecFailed(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else "")) from None
    return Synthesized(spec_path, Path(out.directory), out.stacks, dict(built.placement), out.warnings)
