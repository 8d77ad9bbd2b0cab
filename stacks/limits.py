"""CloudFormation's per-stack limits, checked on synthesized templates (pure: template dicts in, problems out)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from meshspec.infra.spec import quotas as q

OVERFLOW_HINT = ("remove code versions that take no traffic, or merge a service's saved queries "
                 "(meshspec validate estimates every stack's size before synth; see `meshspec help scale`)")


@dataclass(frozen=True)
class StackSize:
    stack: str
    resources: int
    outputs: int
    parameters: int
    template_bytes: int

    def problems(self) -> list[str]:
        out = []
        for what, value, limit in (("resources", self.resources, q.CFN_RESOURCES_PER_STACK),
                                   ("outputs", self.outputs, q.CFN_OUTPUTS_PER_STACK),
                                   ("parameters", self.parameters, q.CFN_PARAMETERS_PER_STACK),
                                   ("template bytes", self.template_bytes, q.CFN_TEMPLATE_BYTES)):
            if value > limit:
                out.append(f"{self.stack} has {value} {what}; CloudFormation allows {limit}")
        return out


def size(stack: str, template: Mapping[str, Any], *, template_bytes: int | None = None) -> StackSize:
    """``template_bytes``: the template file's size when known. Default: measured as CDK writes the file."""
    if template_bytes is None:
        template_bytes = len(json.dumps(template, indent=1, ensure_ascii=False).encode("utf-8"))
    return StackSize(stack, len(template.get("Resources", {})), len(template.get("Outputs", {})),
                     len(template.get("Parameters", {})), template_bytes)
