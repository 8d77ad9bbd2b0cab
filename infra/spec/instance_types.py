"""The EC2 instance types ``meshspec validate`` knows for ECS capacity: what each offers a task.

Sources (read 2026-12):
- vCPUs, memory and network interfaces: the Amazon EC2 instance type specifications
  (docs.aws.amazon.com/ec2/latest/instancetypes/gp.html, co.html, mo.html; ``aws ec2 describe-instance-types``
  gives the same ``VCpuInfo``, ``MemoryInfo`` and ``NetworkInfo.MaximumNetworkInterfaces``).
- awsvpc tasks per instance with and without ENI trunking: the Amazon ECS Developer Guide, "Supported instances
  for increased Amazon ECS container network interfaces" (eni-trunking-supported-instance-types.html): without
  trunking one task per interface besides the primary one; with it 10 / 20 / 40 / 60 for large / xlarge / 2xlarge
  / 4xlarge in every family listed here except the burstable t3, which does not support trunking.
  Checked again 2026-12-07 against EC2's own figures as AWS's VPC resource controller for Kubernetes keeps them
  (github.com/aws/amazon-vpc-resource-controller-k8s, pkg/aws/vpc/limits.go at b0e1115): every type here has
  the network interfaces listed, and every family but t3 is trunking-compatible. That file counts branch
  interfaces for EKS pods (9 / 18 / 38 / 54), not ECS tasks; the ECS figures are the ECS guide's, whose table
  was not reachable from this machine for the 6th- and 7th-generation families (the same per size as c5/m5/r5).
- Memory the ECS agent registers: the OS's total, a little under the installed memory (the guide's example: an
  m4.large's 8192 MiB registers as 7985 MiB, "Reserving Amazon ECS Linux container instance memory"), minus
  ``ECS_RESERVED_MEMORY``, which meshspec sets (:data:`RESERVED_MEMORY_MIB`) so tasks cannot starve the agent.
  meshspec counts 96 % of the installed memory as the OS's total, so an estimate errs on the safe side.

Pure data: one source for validate's messages and docs/aws.md's table; add a row here to support a type.
"""
from __future__ import annotations

from dataclasses import dataclass

RESERVED_MEMORY_MIB = 256  # ECS_RESERVED_MEMORY on meshspec's container instances (stacks pass it on)
OS_SHARE = 0.96  # of installed memory, the total the OS reports (kernel and platform keep the rest)
CPU_UNITS_PER_VCPU = 1024


@dataclass(frozen=True)
class InstanceFigures:
    name: str
    vcpus: int
    memory_mib: int  # installed
    architecture: str  # x86_64 or arm64: the ECS-optimized AMI and the task's CPU architecture follow it
    network_interfaces: int
    trunk_tasks: int | None  # awsvpc tasks with ENI trunking; None: the type does not support trunking

    @property
    def cpu_units(self) -> int:
        return self.vcpus * CPU_UNITS_PER_VCPU

    @property
    def task_memory_mib(self) -> int:
        """About the memory the ECS agent offers tasks (see the module's sources)."""
        return int(self.memory_mib * OS_SHARE) - RESERVED_MEMORY_MIB

    def tasks(self, trunking: bool) -> int:
        """awsvpc tasks one instance can hold: one network interface each (the primary one is the instance's),
        or the trunk's branch interfaces when trunking is on and supported."""
        if trunking and self.trunk_tasks is not None:
            return self.trunk_tasks
        return self.network_interfaces - 1

    def describe(self) -> str:
        return (f"{self.name} offers {self.vcpus} vCPU ({self.cpu_units} CPU units) and {self.memory_mib} MiB, "
                f"about {self.task_memory_mib} MiB of it to tasks")


# size → (vCPUs, network interfaces, awsvpc tasks with trunking)
_SIZES = {"large": (2, 3, 10), "xlarge": (4, 4, 20), "2xlarge": (8, 4, 40), "4xlarge": (16, 8, 60)}
# family → (MiB per vCPU, architecture)
_FAMILIES = {
    **{f: (2048, "x86_64") for f in ("c5", "c6i", "c6a", "c7i")},
    **{f: (4096, "x86_64") for f in ("m5", "m6i", "m6a", "m7i")},
    **{f: (8192, "x86_64") for f in ("r5", "r6i", "r6a", "r7i")},
    **{f: (2048, "arm64") for f in ("c6g", "c7g")},
    **{f: (4096, "arm64") for f in ("m6g", "m7g")},
    **{f: (8192, "arm64") for f in ("r6g", "r7g")},
}
# The burstable t3: no ENI trunking. size → (vCPUs, MiB, network interfaces)
_T3 = {"medium": (2, 4096, 3), "large": (2, 8192, 3), "xlarge": (4, 16384, 4), "2xlarge": (8, 32768, 4)}


def _table() -> dict[str, InstanceFigures]:
    out = {}
    for family, (per_vcpu, arch) in _FAMILIES.items():
        for size, (vcpus, enis, trunk) in _SIZES.items():
            name = f"{family}.{size}"
            out[name] = InstanceFigures(name, vcpus, vcpus * per_vcpu, arch, enis, trunk)
    for size, (vcpus, memory, enis) in _T3.items():
        out[f"t3.{size}"] = InstanceFigures(f"t3.{size}", vcpus, memory, "x86_64", enis, None)
    return out


INSTANCE_TYPES: dict[str, InstanceFigures] = _table()


def figures(instance_type: str) -> InstanceFigures | None:
    return INSTANCE_TYPES.get(instance_type)


def families() -> str:
    """The known types in a few words, for messages."""
    sizes = "/".join(_SIZES)
    return (f"{', '.join(_FAMILIES)} in sizes {sizes}; t3.{'/'.join(_T3)}")
