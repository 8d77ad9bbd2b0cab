"""The docs follow the code: the spec reference names every key the model accepts, and the backends' page holds
the capability table the backends' own rows make, so neither can silently fall behind."""
from __future__ import annotations

import typing

from pydantic import BaseModel

from meshspec.infra.mesh.docs import capability_table
from meshspec.infra.spec import model

from .conftest import ROOT


def _models(root: type[BaseModel] = model.Spec) -> list[type[BaseModel]]:
    """Every model reachable from the spec's root, a backend's settings included."""
    seen: list[type[BaseModel]] = []

    def walk(tp: object) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in seen:
                seen.append(tp)
                for f in tp.model_fields.values():
                    walk(f.annotation)
        for arg in typing.get_args(tp):
            walk(arg)

    walk(root)
    return seen


def test_every_spec_key_is_documented():
    doc = (ROOT / "docs" / "spec.md").read_text()
    models = _models()
    assert {"Mesh", "Migration", "Deployment", "Service", "Version"} <= {m.__name__ for m in models}
    missing = sorted({f"{m.__name__}.{f.alias}" for m in models for f in m.model_fields.values()
                      if f"`{f.alias}`" not in doc})
    assert not missing, f"document these keys in docs/spec.md: {missing}"


def test_the_capability_table_is_the_backends_rows():
    table = capability_table()
    assert table.startswith("| | App Mesh | ECS Service Connect | VPC Lattice |\n")
    assert table in (ROOT / "docs" / "backends.md").read_text(), \
        "docs/backends.md: paste meshspec.infra.mesh.docs.capability_table() over the table"


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
