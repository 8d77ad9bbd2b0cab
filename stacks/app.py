"""Compose a whole CDK app from a loaded spec: shared stack, a stack per cluster, a stack per service."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import aws_cdk as cdk
from constructs import Construct

from meshspec.constructs_lib.logs import saved_query
from meshspec.infra import naming, sharding
from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Spec

from .cluster import ClusterStack
from .limits import size
from .services import ServicesStack
from .shared import SharedStack

W3696 = "CloudFormation-Validate::W3696"
W3696_REASON = ("App Mesh's end of support (2026-09-30) is reported once by meshspec's own synth warning "
                "(meshspec:appmesh-end-of-support) instead of once per App Mesh resource.")
W3010 = "CloudFormation-Validate::W3010"
W3010_REASON = ("The subnets' availability zones come from the spec (aws.availabilityZones) on purpose, so synth "
                "needs no credentials and no lookups.")


@dataclass
class BuiltApp:
    app: cdk.App
    shared: SharedStack
    clusters: dict[str, ClusterStack] = field(default_factory=dict)
    services: dict[str, ServicesStack] = field(default_factory=dict)  # stack name → stack
    placement: dict[str, str] = field(default_factory=dict)  # service → stack name


# Context every meshspec app gets (also in cdk.json): lock in strong cross-stack references explicitly.
APP_CONTEXT = {"@aws-cdk/core:defaultCrossStackReferences": "strong"}


# What the CDK CLI passes to every app, so `meshspec synth` writes the same templates as `cdk synth`.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True,
               "aws:cdk:version-reporting": True}


def new_app(outdir: str | None = None, *, validation: bool | None = None, context: dict | None = None) -> cdk.App:
    """An App with meshspec's context; ``validation`` is CDK's built-in CloudFormation validation.
    Default: as the CDK CLI says (on unless ``cdk synth --no-validation`` or CDK_VALIDATION=false)."""
    return cdk.App(outdir=outdir, builtin_cloud_formation_validation=validation,
                   context={**CLI_CONTEXT, **APP_CONTEXT, **(context or {})})


def skip_jsii_type_checks() -> None:
    """Turn off jsii's runtime type checks of the values Python hands to CDK, for this process.

    jsii checks every argument of every call with typeguard (what ``python -O`` would skip, but that also
    recompiles aws-cdk-lib's huge modules on every start). meshspec's values come from a validated spec and
    code its test suite runs with the checks on, so the commands that synthesize turn them off: about 8 % of
    synth time at 100 services (benchmarks/README.md). MESHSPEC_JSII_TYPE_CHECKS=1 keeps them. Should jsii
    rename its hook, this does nothing and synth is only slower."""
    if os.environ.get("MESHSPEC_JSII_TYPE_CHECKS") == "1":
        return
    from jsii import _type_checking

    _type_checking._resolved_check = _no_check


def _no_check(**_kwargs) -> None:
    return None


def environment(spec: Spec) -> cdk.Environment:
    return cdk.Environment(account=spec.aws.account, region=spec.aws.region)


def build(spec: Spec, app: cdk.App | None = None, *, only: Iterable[str] | None = None) -> BuiltApp:
    """Add meshspec's stacks for ``spec`` to ``app`` (a new App when None). Synthesis is the caller's.

    The stacks follow ``meshspec.infra.sharding.layout``: a shared stack, a stack per cluster, a stack per service and a
    queries stack. ``only``: build just these service and queries stacks (partial synth, see
    ``sharding.for_services``); the shared and cluster stacks are always built. Each stack comes out the same as
    in a full build: a service stack depends only on the spec and on exports that the shared and cluster stacks
    make explicitly, and those two kinds are always complete (an EKS cluster tags the shared VPC's subnets)."""
    if spec.aws is None:
        raise UserError("the spec has no aws section: nothing to synthesize for AWS",
                        hint="add aws: {region, clusters} or use the App Engine commands")
    app = app or new_app()
    env = environment(spec)
    layout = sharding.layout(spec)
    wanted = {s.name for s in layout} if only is None else set(only)
    shared = SharedStack(app, naming.stack_shared(spec.project), spec=spec, env=env,
                         description=f"meshspec {spec.project}: network, Cloud Map namespace, mesh")
    built = BuiltApp(app, shared)
    if shared.mesh is not None:
        cdk.Validations.of(app).acknowledge(cdk.Acknowledgment(id=W3696, reason=W3696_REASON))
    cdk.Validations.of(app).acknowledge(cdk.Acknowledgment(id=W3010, reason=W3010_REASON))
    for c in spec.aws.clusters:
        built.clusters[c.name] = ClusterStack(
            app, naming.stack_cluster(spec.project, c.name), spec=spec, cluster=c, vpc=shared.vpc,
            namespace=shared.namespace, log_key_arn=shared.log_key_arn, env=env,
            description=f"meshspec {spec.project}: {c.platform} cluster {c.name}")
    for s in layout:
        if s.kind != "service" or s.name not in wanted:
            continue
        stack = ServicesStack(app, s.name, spec=spec, cluster=built.clusters[s.cluster], services=list(s.services),
                              namespace=shared.namespace, shared=shared, env=env,
                              description=f"meshspec {spec.project}: service {s.services[0]} on {s.cluster}")
        stack.add_stack_dependency(shared)  # the mesh is referenced by name
        built.services[s.name] = stack
        built.placement.update({m: s.name for m in s.services})
    queries = sharding.shared_queries(spec)
    if queries and naming.stack_queries(spec.project) in wanted:
        _queries_stack(app, spec, built, queries, env)
    return built


def _queries_stack(app: Construct, spec: Spec, built: BuiltApp, queries, env) -> None:
    """Saved queries over several services' log groups, after the stacks that create those log groups."""
    stack = cdk.Stack(app, naming.stack_queries(spec.project), env=env,
                      description=f"meshspec {spec.project}: saved queries across services")
    for q in queries:
        members = sharding.query_members(spec, q)
        saved_query(stack, f"Query-{q.name}", f"{spec.project}/{q.name}", q.query,
                    [naming.log_group(spec.project, s) for s in members])
        for s in members:
            stack.add_stack_dependency(built.services[built.placement[s]])


OVERFLOW_HINT = ("remove code versions that take no traffic, or merge a service's saved queries "
                 "(meshspec validate estimates every stack's size before synth: docs/scale.md)")


@dataclass
class Synthesized:
    directory: str
    stacks: dict[str, dict]  # stack name → template
    manifests: list[str]  # Kubernetes manifest files written beside the templates
    warnings: list[str]  # the synth's warning annotations, "path: message"


def synthesize(built: BuiltApp) -> Synthesized:
    """Synthesize, write the Kubernetes manifests CloudFormation does not apply, check CloudFormation's limits.

    After the one ``app.synth()`` call everything is read from the cloud assembly on disk (manifest, templates,
    metadata files) rather than through jsii: at 500 services that saves more than a thousand round trips."""
    from meshspec.constructs_lib.eks import write_manifests
    from meshspec.constructs_lib.errors import PropsError

    try:
        directory = built.app.synth().directory
    except RuntimeError as exc:  # CDK checks the 500-resource limit itself, before templates are written
        if "TooManyResourcesInStack" not in str(exc):
            raise
        raise UserError(str(exc).split("TooManyResourcesInStack: ", 1)[-1].split("\n", 1)[0], hint=OVERFLOW_HINT) from None
    workloads = [w for s in built.services.values() for w in s.workloads]
    workloads += [c.log_router for c in built.clusters.values() if c.log_router is not None]
    try:
        files = [str(p) for p in write_manifests(None, directory, workloads=workloads)]
    except PropsError as exc:
        raise UserError(str(exc), hint="set aws.account in the spec: the pods' Envoy needs its virtual node's "
                        "ARN, which an environment-agnostic stack only knows at deploy time") from None
    stacks, warnings, problems = read_assembly(directory)
    if problems:
        raise UserError("; ".join(problems), hint=OVERFLOW_HINT)
    return Synthesized(directory, stacks, files, warnings)


def read_assembly(directory: str) -> tuple[dict[str, dict], list[str], list[str]]:
    """Templates by stack name, warning annotations ("path: message") and CloudFormation limit problems."""
    root = Path(directory)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    stacks, warnings, problems = {}, [], []
    for art_id, art in manifest.get("artifacts", {}).items():
        if art.get("type") != "aws:cloudformation:stack":
            continue
        name = art.get("properties", {}).get("stackName") or art.get("displayName") or art_id
        body = (root / art["properties"]["templateFile"]).read_bytes()
        stacks[name] = template = json.loads(body)
        problems += size(name, template, template_bytes=len(body)).problems()
        metadata = dict(art.get("metadata", {}))
        if art.get("additionalMetadataFile"):
            metadata.update(json.loads((root / art["additionalMetadataFile"]).read_text(encoding="utf-8")))
        warnings += [f"{path}: {e['data']}" for path, entries in metadata.items() for e in entries
                     if e.get("type") == "aws:cdk:warning"]
    return stacks, warnings, problems
