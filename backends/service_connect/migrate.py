"""ECS Service Connect coming in beside a migration's host (``meshspec migrate --to service-connect``): its proxy
cannot share a task with the host's sidecar, so each ECS service runs a second workload on Service Connect, and a
service moves once every service that calls it has (its tasks on the host stop then)."""
from __future__ import annotations

from decimal import Decimal

from meshspec.infra import naming
from meshspec.infra.migrate import Edit, Host, Step, Target, yaml_inline
from meshspec.infra.spec.model import Spec, live_majors, shares

from . import names

NAME = "service-connect"  # this backend's name (BACKEND.name), for the registry


class ServiceConnectTarget(Target):
    title = "ECS Service Connect"

    def prepare_edits(self, spec: Spec) -> list[Edit]:
        """End the A/B tests it cannot match (Service Connect matches no header or cookie), and give each service's
        busiest version 100 % (ties: the later, newer one): Service Connect runs one revision per service."""
        from meshspec.infra.mesh import registry
        from meshspec.infra.spec import cohorts

        edits = [Edit(".".join(map(str, path)), "remove") for path in cohorts.unmatched(spec, registry.get(NAME))]
        for name, svc in spec.aws_services().items():
            majors = list(live_majors(svc))
            taking = {m: [v for v, s in shares(svc, m).items() if s > 0] for m in majors}
            winners = {vs[0] for vs in taking.values() if len(vs) == 1}
            if all(len(vs) <= 1 for vs in taking.values()) and len(winners) <= 1:
                continue
            total = {v.name: sum((shares(svc, m)[v.name] for m in majors), Decimal(0)) for v in svc.versions}
            best = max(enumerate(svc.versions), key=lambda iv: (total[iv[1].name], iv[0]))[1].name
            for i, v in enumerate(svc.versions):
                want = 100 if v.name == best else 0
                if v.traffic != want:
                    edits.append(Edit(f"services.{name}.versions[{i}].traffic", "set", want))
        return edits

    def prepare_step(self, spec: Spec, edits: list[Edit], host: Host, spec_file: str, validate: str, deploy: str,
                     done: bool) -> Step:
        return Step(
            id="prepare", title="Settle every service on one code version",
            why=f"{self.title} runs one revision per service, keeps no lasting split and matches no header or "
                f"cookie; finish (or roll back) running splits and A/B tests while {host.title} still carries the "
                "traffic",
            edits=tuple(edits),
            run=(f"meshspec traffic shift {spec_file} (per service, as the edits say)", validate, deploy),
            verify=("each service's old version takes no traffic (meshspec traffic status)",),
            rollback=f"restore the previous shares; {host.title} routes still carry all traffic",
            done=done)

    def beside_edits(self, spec: Spec) -> list[Edit]:
        if spec.aws.mesh.deployment is not None:
            return []
        return [Edit("aws.mesh.deployment", "set", {
            "strategy": "canary", "percent": 5, "stepMinutes": 10, "bakeMinutes": 10, "rollbackOnAlarm": True})]

    def retire_edits(self, spec: Spec) -> list[Edit]:
        """What the host used and Service Connect refuses: the mesh's name (its namespace is the project's) and the
        health paths Envoy probed (Service Connect probes none)."""
        edits = [Edit("aws.mesh.name", "remove")] if spec.aws.mesh.name is not None else []
        return edits + [Edit(f"services.{name}.healthCheck", "remove") for name, svc in spec.aws_services().items()
                        if "health_check" in svc.model_fields_set]

    def beside_effect(self, spec: Spec) -> tuple[str, ...]:
        ecs = [n for n, s in spec.aws_services().items() if spec.cluster(s.cluster).platform == "ecs"]
        return (f"the shared stack adds the Cloud Map namespace {names.namespace(spec.project)}",
                f"each ECS service also runs as ECS service <service> ({', '.join(ecs)}) with Service Connect and no "
                "Envoy, running the version with 100 %, at the same task count: callers through Service Connect find "
                "it; App Mesh's callers still reach only the App Mesh tasks")

    def ready_checks(self) -> tuple[str, ...]:
        return ("each ECS service <service> (Service Connect) reports a steady state (aws ecs describe-services)",
                "a test call from a task of one of them to <service>.<project>.local through the Service Connect "
                "proxy answers 2xx")

    def move_order(self, callers: list[str], callers_of: dict[str, set[str]]) -> list[list[str]]:
        """A service stops its tasks on the host when it moves, so its callers go first; callers that call each
        other in a cycle move together."""
        order: list[list[str]] = []
        done: set[str] = set()
        left = list(callers)
        while left:
            ready = [n for n in left if not (callers_of[n] - done - {n})]
            groups = [[n] for n in ready] if ready else [left]
            for g in groups:
                order.append(g)
                done.update(g)
            left = [n for n in left if n not in done]
        return order

    def move_step(self, spec: Spec, host: Host, group: list[str], before: list[str], moved: list[str],
                  validate: str, deploy: str, moved_now: list[str]) -> Step:
        aws = spec.aws_services()
        who = " and ".join(group)
        many = len(group) > 1
        callees = sorted({u.split("/")[0] for n in group for u in aws[n].uses if u.split("/")[0] in aws} - set(group)
                         or {u.split("/")[0] for n in group for u in aws[n].uses if u.split("/")[0] in aws})
        rollback = f"set aws.mesh.migration.moved back to {yaml_inline(before)} and deploy"
        return Step(
            id="move-" + "-".join(group), title=f"Move {who} to {self.title}",
            why=f"{who} already runs as ECS service{'s' if many else ''} {who} with Service Connect (the "
                f"beside step); every service that calls {'them' if many else 'it'} has moved, so "
                f"nothing reaches its {host.title} tasks any more",
            edits=(Edit("aws.mesh.migration.moved", "set", list(moved)),), run=(validate, deploy),
            effect=(f"the {host.title} ECS services of {who} scale to 0 tasks; ECS service{'s' if many else ''} "
                    f"{who} (Service Connect) serve{'' if many else 's'} all of {'their' if many else 'its'} "
                    f"traffic and call {', '.join(callees)} through Service Connect "
                    f"({', '.join(naming.mesh_endpoint(spec.project, c, aws[c].port) for c in callees)}, resolved by "
                    "its proxy)",),
            verify=(f"{who}: 5xx rate and p99 latency unchanged (CloudWatch AWS/ECS by DiscoveryName, the dashboard)",
                    f"{host.title} shows no more requests to or from {who} (Envoy RequestCount at 0)"),
            rollback=rollback + f": {who}'s {host.title} tasks start again ({host.title} still routes to them)",
            done=set(moved) <= set(moved_now))

    def retire_effect(self) -> tuple[str, ...]:
        return ("each ECS service <service> keeps running unchanged and gets its 5xx rollback alarm",)

    def notes(self, spec: Spec) -> list[str]:
        return ["traffic that enters a service from outside the mesh (a load balancer) is not moved by these "
                "steps: point it at the ECS service <service> before that service's App Mesh tasks stop"]
