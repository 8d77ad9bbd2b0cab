"""The spec reference names every key the model accepts, so it cannot silently fall behind."""
from __future__ import annotations

from pydantic import BaseModel

from meshspec.infra.spec import model

from .conftest import ROOT


def _models():
    return [m for m in vars(model).values()
            if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == model.__name__
            and not m.__name__.startswith("_")]


def test_every_spec_key_is_documented():
    doc = (ROOT / "docs" / "spec.md").read_text()
    missing = sorted({f"{m.__name__}.{f.alias}" for m in _models() for f in m.model_fields.values()
                      if f"`{f.alias}`" not in doc})
    assert not missing, f"document these keys in docs/spec.md: {missing}"


def instance_tables() -> str:
    """docs/aws.md's tables of the instance types validate knows, rendered from meshspec's own table."""
    from meshspec.infra.spec.instance_types import INSTANCE_TYPES, OS_SHARE, RESERVED_MEMORY_MIB

    types = list(INSTANCE_TYPES.values())
    sizes = {f.name.split(".")[1]: f for f in types if f.trunk_tasks is not None}
    lines = ["| size | vCPU (CPU units) | network interfaces | awsvpc tasks without ENI trunking | with it |",
             "|---|---|---|---|---|"]
    lines += [f"| {s} | {f.vcpus} ({f.cpu_units}) | {f.network_interfaces} | {f.tasks(False)} | {f.trunk_tasks} |"
              for s, f in sizes.items()]
    families: dict[tuple, list[str]] = {}
    for f in types:
        if f.trunk_tasks is not None:
            key = (f.memory_mib // f.vcpus, f.architecture)
            families.setdefault(key, [])
            if (fam := f.name.split(".")[0]) not in families[key]:
                families[key].append(fam)
    lines += ["", "| families | memory per vCPU (MiB) | architecture (AMI) |", "|---|---|---|"]
    lines += [f"| {', '.join(fams)} | {per} | {arch} |" for (per, arch), fams in families.items()]
    lines += ["", "| burstable (no ENI trunking) | vCPU | memory (MiB) | awsvpc tasks |", "|---|---|---|---|"]
    lines += [f"| {f.name} | {f.vcpus} | {f.memory_mib} | {f.tasks(False)} |" for f in types if f.trunk_tasks is None]
    lines += ["", f"Memory for tasks: about {int(OS_SHARE * 100)} % of the installed memory, less "
                  f"`ECS_RESERVED_MEMORY` ({RESERVED_MEMORY_MIB} MiB)."]
    return "\n".join(lines)


def test_the_instance_types_in_the_docs_are_the_ones_validate_knows():
    doc = (ROOT / "docs" / "aws.md").read_text()
    assert instance_tables() in doc, "paste tests/test_docs.py:instance_tables() into docs/aws.md:\n" + instance_tables()
