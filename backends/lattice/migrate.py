"""VPC Lattice coming in beside a migration's host (``meshspec migrate --to lattice``): in the same tasks and pods
(Lattice needs no sidecar), every service answering on both backends, so callers move one at a time, in any
order."""
from __future__ import annotations

from meshspec.infra import naming
from meshspec.infra.migrate import Edit, Host, Step, Target, yaml_inline
from meshspec.infra.spec.model import Spec

from . import names
from .quotas import LINK_LOCAL_IPV4


class LatticeTarget(Target):
    title = "VPC Lattice"

    def beside_effect(self, spec: Spec) -> tuple[str, ...]:
        return (f"the shared stack adds the service network and the private zone {names.zone(spec.project)}",
                "every service gets a Lattice service with its custom name, target groups, rules and auth policy; "
                "its ECS tasks and EKS pods also register in the target groups (Envoy stays; App Mesh carries "
                "every call)")

    def ready_checks(self) -> tuple[str, ...]:
        return ("every target group shows its tasks healthy (aws vpc-lattice list-targets)",
                "a test call from a task in the VPC to http://<service>.<project>.lattice.internal answers 2xx under "
                "the auth policy (signed with SigV4; http2 and grpc services answer HTTPS on 443, see "
                "`meshspec help backends`)")

    def move_order(self, callers: list[str], callers_of: dict[str, set[str]]) -> list[list[str]]:
        """One caller at a time in spec order: every service answers on both backends."""
        return [[n] for n in callers]

    def move_step(self, spec: Spec, host: Host, group: list[str], before: list[str], moved: list[str],
                  validate: str, deploy: str, moved_now: list[str]) -> Step:
        aws = spec.aws_services()
        name = group[0]
        callees = sorted({u.split("/")[0] for u in aws[name].uses if u.split("/")[0] in aws} - {name}
                         or {u.split("/")[0] for u in aws[name].uses if u.split("/")[0] in aws})
        rollback = f"set aws.mesh.migration.moved back to {yaml_inline(before)} and deploy"
        urls = ", ".join(f"{naming.upstream_variable(c)}={names.endpoint(spec.project, c, aws[c].protocol)}"
                         for c in callees)
        effect = [f"ECS replaces {name}'s tasks: {urls} (Lattice's custom names; {host.title}'s virtual service "
                  f"names before), and its Envoy lets {LINK_LOCAL_IPV4} through, so those calls leave the "
                  f"task straight for Lattice; calls to {name} still arrive through {host.title}"]
        if spec.cluster(aws[name].cluster).platform == "eks":
            effect = [effect[0].replace("ECS replaces", "Kubernetes replaces").replace("tasks", "pods")
                      .replace("its Envoy", "its proxy init container")]
        return Step(
            id=f"move-{name}", title=f"Move {name}'s calls to {self.title}",
            why=f"{name} calls {', '.join(callees)}; they answer on both backends, so switching this one caller "
                "is invisible to the others",
            edits=(Edit("aws.mesh.migration.moved", "set", list(moved)),), run=(validate, deploy),
            effect=tuple(effect),
            verify=(f"{name}'s 5xx rate and p99 latency unchanged (meshspec traffic status, its dashboard)",
                    f"CloudWatch AWS/VpcLattice RequestCount of {', '.join(names.service(spec.project, c) for c in callees)} "
                    f"rises with {name}'s traffic",
                    f"{host.title} shows no more requests from {name} (Envoy RequestCount for its routes at 0)"),
            rollback=rollback + f": ECS rolls {name}'s tasks back to {host.title}'s names and an Envoy that "
                                "intercepts every call",
            done=set(moved) <= set(moved_now))

    def retire_effect(self) -> tuple[str, ...]:
        return ("every task loses its Envoy; callers keep the Lattice names they already have",)

    def notes(self, spec: Spec) -> list[str]:
        return ["EKS pods join Lattice through meshspec's registrar sidecar, which registers each pod in "
                "its version's target group (no controller needed; see `meshspec help aws`)",
                "a moved caller signs its requests with SigV4 (service vpc-lattice-svcs, its task role): "
                "Lattice's auth policies refuse unsigned calls; that is the one change in the app beyond "
                "reading MESHSPEC_UPSTREAM_<SERVICE>"]
