"""What ECS Service Connect cannot express or would refuse, found by ``meshspec validate`` at the spec's position."""
from __future__ import annotations

import math
from decimal import Decimal

from meshspec.infra.mesh import registry
from meshspec.infra.spec import quotas as cloud
from meshspec.infra.spec.errors import Described as D, Problems
from meshspec.infra.spec.model import Spec, live_majors, shares

from . import names, quotas as q
from .settings import deployment_of


def check_unused(spec: Spec, p: Problems) -> None:
    mesh = spec.aws.mesh
    if mesh.deployment is not None:
        weighted = " and ".join(b.name for b in registry.all_backends() if "lasting-weights" in b.features)
        p.add(("aws", "mesh", "deployment"), f"deployment applies to backend: service-connect; {mesh.backend} does "
              "not use it", "backend-unsupported", given=mesh.backend,
              allowed="backend: service-connect, or leave deployment out",
              hint=f"on {weighted}, `meshspec traffic canary` shifts the route weights")


def check_primary(spec: Spec, p: Problems) -> None:
    """Settings of other backends it has no use for when the services run on it."""
    mesh = spec.aws.mesh
    if mesh.name is not None:
        p.add(("aws", "mesh", "name"), "name applies to backend: appmesh (the mesh) and lattice (the service "
              f"network); service-connect's namespace is named after the project ({names.namespace(spec.project)})",
              "backend-unsupported", given=mesh.name, allowed="backend: appmesh or lattice, or leave name out")
    for name, svc in spec.aws_services().items():
        if "health_check" in svc.model_fields_set:
            p.add(("services", name, "healthCheck"), "healthCheck is the path App Mesh and VPC Lattice probe; "
                  "Service Connect probes no path (its proxy ejects endpoints that fail, by outlier detection)",
                  "backend-unsupported", given=svc.health_check,
                  allowed=f"backend: {registry.alternatives(feature='health-path')}, or leave healthCheck out",
                  hint="readiness on ECS comes from the task's own state; an HTTP check needs a backend that "
                       "probes one")


def check(spec: Spec, p: Problems, complete: bool = True) -> None:
    d = deployment_of(spec)
    path = ("aws", "mesh", "deployment")
    pct = d.effective_percent
    if d.strategy == "canary" and pct != pct.quantize(Decimal("0.1")):
        p.add(path + ("percent",), f"an ECS canary step of {pct}% cannot be expressed", "deployment-percent",
              given=str(pct), allowed="0.1 to 100 in steps of 0.1")
    if d.strategy == "linear" and pct < q.LINEAR_STEP_MIN:
        p.add(path + ("percent",), f"an ECS linear step of {pct}% is below the minimum", "deployment-percent",
              given=str(pct), allowed=f"{q.LINEAR_STEP_MIN} to 100")
    steps = 1 if d.strategy == "canary" else max(1, math.ceil(Decimal(100) / max(pct, Decimal(1))) - 1)
    minutes = d.bake_minutes + d.step_minutes * steps
    if minutes > q.DEPLOYMENT_MAX_MINUTES:
        p.add(path, f"the deployment would take {minutes} minutes; CloudFormation refuses ECS deployments "
              f"longer than {q.DEPLOYMENT_MAX_MINUTES} minutes (33 hours)", "deployment-too-long",
              given=D(f"{d.strategy}, {pct}% steps, {d.step_minutes} min per step, bake {d.bake_minutes} min"),
              allowed=f"at most {q.DEPLOYMENT_MAX_MINUTES} minutes in all",
              hint="take bigger steps or shorter waits")
    instances = 0
    for name, svc in spec.aws_services().items():
        spath = ("services", name)
        cluster = spec.cluster(svc.cluster)
        if cluster is not None and cluster.platform == "eks":
            p.add(spath + ("cluster",), f"Service Connect connects ECS services only; {name} runs on the EKS "
                  f"cluster {cluster.name!r}", "backend-unsupported", given=D(f"cluster: {cluster.name} (eks)"),
                  allowed="a service on an ECS cluster",
                  hint=f"backend: {registry.alternatives(platform='eks')} takes ECS and EKS targets; or move the "
                       "service to an ECS cluster")
        majors = live_majors(svc)
        taking = {m: [v for v, share in shares(svc, m).items() if share > 0] for m in majors}
        for major, versions in taking.items():
            if len(versions) > 1:
                split = ", ".join(f"{v}={shares(svc, major)[v]}%" for v in versions)
                p.add(spath + ("versions",), f"service-connect cannot keep a lasting weighted split between code "
                      f"versions ({major}: {split}); ECS shifts traffic only while a new revision deploys "
                      "(canary or linear)", "backend-unsupported", given=D(split),
                      allowed="one version with 100% of every major",
                      hint="backend: lattice keeps weighted target groups (as appmesh's weighted routes); or give "
                           "the new version 100% and let aws.mesh.deployment shift traffic to it")
        winners = {vs[0] for vs in taking.values() if len(vs) == 1}
        if len(winners) > 1:
            p.add(spath + ("versions",), "service-connect runs one revision per service for all its majors, but "
                  f"the majors are served by different versions ({', '.join(sorted(winners))})",
                  "backend-unsupported", given=D(", ".join(f"{m}: {vs[0]}" for m, vs in taking.items() if vs)),
                  allowed="the same version for every major",
                  hint="backend: lattice routes each major's path prefix to its own weighted target groups")
        live = set().union(*taking.values()) if taking else set()
        for i, v in enumerate(svc.versions):
            if v.name not in live:
                p.warn(("services", name, "versions", i), f"{v.name} takes no traffic and is not deployed on "
                       "service-connect (ECS runs one revision per service)", "version-not-deployed", given=v.name)
        tasks = 2 * svc.desired_count  # old and new revision side by side during a deployment
        instances += tasks
        if tasks > cloud.CLOUDMAP_INSTANCES_PER_SERVICE:
            p.add(spath + ("desiredCount",), f"{tasks} tasks during a deployment (twice desiredCount) register in "
                  f"Cloud Map; a service allows {cloud.CLOUDMAP_INSTANCES_PER_SERVICE} instances",
                  "quota-service-connect", given=svc.desired_count,
                  allowed=f"desiredCount at most {cloud.CLOUDMAP_INSTANCES_PER_SERVICE // 2}",
                  hint="request a Cloud Map quota increase (instances per service)")
    if complete and instances > cloud.CLOUDMAP_INSTANCES_PER_NAMESPACE:
        p.add(("services",), f"{instances} tasks during deployments (twice each desiredCount) register in one "
              f"Cloud Map namespace; it allows {cloud.CLOUDMAP_INSTANCES_PER_NAMESPACE} instances",
              "quota-service-connect", given=instances, allowed=f"at most {cloud.CLOUDMAP_INSTANCES_PER_NAMESPACE}",
              hint="request a Cloud Map quota increase (instances per namespace) or split the spec")
