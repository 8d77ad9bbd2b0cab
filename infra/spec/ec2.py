"""Rules for ECS on EC2 capacity: a known instance type, a service's choice of capacity, tasks that fit an
instance, and enough instances (CPU, memory, network interfaces) for every task placed on the capacity.

Figures come from :mod:`.instance_types`; each message names the instance's figures, so the fix is visible.
"""
from __future__ import annotations

import math

from meshspec.infra.mesh import registry

from .errors import Described as D, Problems
from .instance_types import RESERVED_MEMORY_MIB, figures, families
from .model import Cluster, Service, Spec, capacity_of

# meshspec's floor for a task on EC2: the app plus its sidecars (Envoy reserves 128 MiB, the tracing agent 64).
EC2_MIN_CPU, EC2_MIN_MEMORY = 256, 512
DEPLOYMENT_PERCENT = 200  # the ECS services' maximumPercent: a deployment starts new tasks before old ones stop


def check_instance_type(cluster: Cluster, path: tuple, p: Problems) -> None:
    if figures(cluster.effective_instance_type) is not None:
        return
    key = ("instanceType",) if "instance_type" in cluster.model_fields_set else ("capacity",)
    p.add(path + key, f"meshspec does not know the instance type {cluster.effective_instance_type}: it cannot check "
          "that tasks fit its CPU, memory and network interfaces", "instance-type-unknown",
          given=cluster.effective_instance_type, allowed=families(),
          hint="choose one of these; the table, its sources and how to add a type: `meshspec help aws`")


def check_service_capacity(spec: Spec, name: str, svc: Service, cluster: Cluster | None, p: Problems) -> None:
    """``capacity`` on a service: only on ECS, only a capacity its cluster offers; an EC2 task fits the instance."""
    path = ("services", name)
    if svc.capacity is not None:
        if cluster is None or cluster.platform != "ecs":
            where = (f"its cluster {cluster.name!r} runs EKS (Auto Mode compute)" if cluster is not None
                     else "it runs on App Engine")
            p.add(path + ("capacity",), f"capacity applies to services on ECS clusters; {where}", "ecs-only",
                  given=svc.capacity, allowed="capacity on a service whose cluster has platform: ecs, or leave it out")
        elif svc.capacity not in cluster.capacities:
            p.add(path + ("capacity",), f"cluster {cluster.name} does not offer {svc.capacity} capacity",
                  "capacity-not-offered", given=svc.capacity, allowed=", ".join(cluster.capacities),
                  hint=f"add {svc.capacity} to aws.clusters[{spec.aws.clusters.index(cluster)}].capacity "
                       f"(e.g. capacity: [{', '.join(cluster.capacities)}, {svc.capacity}])")
            return
        elif len(cluster.capacities) == 1:
            p.add(path + ("capacity",), f"capacity chooses between a cluster's capacities; cluster {cluster.name} "
                  f"offers only {svc.capacity}, where the service runs anyway", "capacity-no-choice",
                  given=svc.capacity, allowed="capacity on a service whose cluster offers [ec2, fargate], or leave "
                  "it out")
    if cluster is None or capacity_of(spec, svc) != "ec2":
        return
    if svc.cpu < EC2_MIN_CPU:
        p.add(path + ("cpu",), f"a task on EC2 needs at least {EC2_MIN_CPU} CPU units (the app and its sidecars)",
              "ec2-cpu", given=svc.cpu, allowed=f"at least {EC2_MIN_CPU}")
    if svc.memory < EC2_MIN_MEMORY:
        p.add(path + ("memory",), f"a task on EC2 needs at least {EC2_MIN_MEMORY} MiB (the app and its sidecars)",
              "ec2-memory", given=svc.memory, allowed=f"at least {EC2_MIN_MEMORY}")
    f = figures(cluster.effective_instance_type)
    if f is None:
        return  # reported on the cluster
    if svc.cpu > f.cpu_units:
        p.add(path + ("cpu",), f"the task does not fit cluster {cluster.name}'s instances: {f.describe()}",
              "ec2-task-too-big", given=svc.cpu, allowed=f"at most {f.cpu_units} CPU units",
              hint="a larger instanceType, or fewer CPU units")
    if svc.memory > f.task_memory_mib:
        p.add(path + ("memory",), f"the task does not fit cluster {cluster.name}'s instances: {f.describe()} "
              f"(ECS_RESERVED_MEMORY {RESERVED_MEMORY_MIB} MiB and the kernel's share kept back)",
              "ec2-task-too-big", given=svc.memory, allowed=f"at most {f.task_memory_mib} MiB",
              hint="a larger instanceType, or less memory")


def deployed_versions(spec: Spec, svc: Service) -> int:
    """ECS services a meshspec service runs: one per code version, one in all on a backend that runs one revision
    per service (Service Connect)."""
    return 1 if registry.primary(spec).single_revision else len(svc.versions)


def check_ec2_capacity(spec: Spec, p: Problems, complete: bool = True) -> None:
    """Every EC2 capacity can hold the tasks placed on it at maxCapacity: network interfaces (one per awsvpc task),
    CPU units and memory. A rolling deployment that needs more only warns: ECS then waits for room."""
    if not spec.aws or not complete:
        return
    for i, c in enumerate(spec.aws.clusters):
        f = figures(c.effective_instance_type) if "ec2" in c.capacities else None
        if f is None:
            continue
        placed = {n: s for n, s in spec.aws_services().items() if s.cluster == c.name and capacity_of(spec, s) == "ec2"}
        if not placed:
            continue
        tasks = sum(s.desired_count * deployed_versions(spec, s) for s in placed.values())
        cpu = sum(s.cpu * s.desired_count * deployed_versions(spec, s) for s in placed.values())
        memory = sum(s.memory * s.desired_count * deployed_versions(spec, s) for s in placed.values())
        per_instance = f.tasks(c.eni_trunking)
        trunk = ("with ENI trunking" if c.eni_trunking and f.trunk_tasks is not None
                 else "without ENI trunking" + (" (t3 does not support it)" if f.trunk_tasks is None else ""))
        need = max(math.ceil(tasks / per_instance), math.ceil(cpu / f.cpu_units),
                   math.ceil(memory / f.task_memory_mib))
        path = ("aws", "clusters", i, "maxCapacity")
        running = (f"{tasks} tasks ({cpu} CPU units, {memory} MiB) of {', '.join(placed)}")
        if need > c.max_capacity:
            p.add(path, f"{c.max_capacity} × {f.name} cannot run the {running}: each instance holds "
                  f"{per_instance} awsvpc tasks {trunk}; {f.describe()}", "ec2-capacity-short",
                  given=c.max_capacity, allowed=f"at least {need}",
                  hint="raise maxCapacity, choose a larger instanceType, or run fewer tasks")
            continue
        peak = math.ceil(need * DEPLOYMENT_PERCENT / 100)
        if peak > c.max_capacity:
            p.warn(path, f"a deployment of all {running} at once starts up to {DEPLOYMENT_PERCENT} % of the tasks "
                   f"before old ones stop; {c.max_capacity} × {f.name} hold {c.max_capacity * per_instance} tasks, so "
                   "ECS waits for room (slower deployments)", "ec2-capacity-deployment", given=c.max_capacity,
                   allowed=D(f"{peak} for deployments without waiting"))
