"""Compose a whole CDK app from a loaded spec: shared stack, a stack per cluster, a stack per service."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable

import aws_cdk as cdk
from constructs import Construct

from meshspec.constructs_lib.logs import saved_query
from meshspec.infra import naming, sharding
from meshspec.infra.aws.assembly import read_assembly
from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Spec

from .cluster import ClusterStack
from .context import APP_CONTEXT, CLI_CONTEXT  # noqa: F401: CDK-free, for the synth engine too
from .limits import OVERFLOW_HINT, size
from .services import ServicesStack
from .shared import SharedStack

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
    pipeline: cdk.Stack | None = None  # aws.pipeline's stack


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


def build(spec: Spec | sharding.Part, app: cdk.App | None = None, *, only: Iterable[str] | None = None,
          pruned: bool = True, progress: Callable[[str], None] | None = None, lean: bool = False) -> BuiltApp:
    """Add meshspec's stacks for ``spec`` to ``app`` (a new App when None). Synthesis is the caller's.

    The stacks follow ``meshspec.infra.sharding.layout``, and each is built from its own view of the spec
    (``sharding.views``): what it reads is what its inputs hold, so a stack whose inputs did not change comes
    out the same. ``only``: build just these stacks (partial synth: ``sharding.closure``; a synth worker: its
    share); the shared and cluster stacks are always built (the others are built against them; ``lean``: only the
    clusters the wanted stacks need, every one with the shared stack, a synth worker's way), and a dependency by name outside ``only`` (the queries stack's) gets an empty stand-in stack of that name, whose
    artifact the caller leaves out. The pipeline stack (``aws.pipeline``) reads its own view only. ``pruned=False``:
    every stack from the whole spec (the reference the tests compare the views with). ``progress``: called with
    each stack's name once it is built. ``spec`` may be a :class:`sharding.Part` instead (a synth worker's: the
    views of ``only`` and what they are built against)."""
    if isinstance(spec, sharding.Part):
        views, layout = spec.views, list(spec.layout)
    elif spec.aws is None:
        raise UserError("the spec has no aws section: nothing to synthesize for AWS",
                        hint="add aws: {region, clusters} or use the App Engine commands")
    else:
        views = sharding.views(spec, pruned=pruned)
        layout = sharding.layout(spec)
    app = app or new_app()
    wanted = set(views) if only is None else set(only)
    placement = next(s for s in layout if s.kind == "shared")
    v = views[placement.name]
    shared = SharedStack(app, placement.name, spec=v.spec, meshed=v.facts["meshed"], env=environment(v.spec),
                         description=f"meshspec {v.spec.project}: network, Cloud Map namespace, mesh")
    built = BuiltApp(app, shared)
    done = progress or (lambda _name: None)
    done(placement.name)
    for finding, reason in shared.acknowledgements:  # a mesh backend's findings it reports in its own way
        cdk.Validations.of(app).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
    cdk.Validations.of(app).acknowledge(cdk.Acknowledgment(id=W3010, reason=W3010_REASON))
    # lean: only the clusters the wanted stacks are built against (sharding.needed, the rule a worker's part
    # follows); else every cluster, as partial synth and the tests expect
    needed = set(sharding.needed(layout, wanted)) if lean else None
    for s in layout:
        if s.kind != "cluster" or (needed is not None and s.name not in needed):
            continue
        v = views[s.name]
        c = v.spec.cluster(s.cluster)
        built.clusters[c.name] = ClusterStack(
            app, s.name, spec=v.spec, cluster=c, vpc=shared.vpc, namespace=shared.namespace,
            facts=v.facts, log_key_arn=shared.log_key_arn, env=environment(v.spec),
            description=f"meshspec {v.spec.project}: {c.platform} cluster {c.name}")
        done(s.name)
    for s in layout:
        if s.kind != "service" or s.name not in wanted:
            continue
        v = views[s.name]
        stack = ServicesStack(app, s.name, spec=v.spec, cluster=built.clusters[s.cluster], services=list(s.services),
                              namespace=shared.namespace, shared=shared, beneath=v.facts.get("beneath", ()),
                              env=environment(v.spec),
                              description=f"meshspec {v.spec.project}: service {s.services[0]} on {s.cluster}")
        stack.add_stack_dependency(shared)  # the mesh backend's shared parts may be referenced by name
        built.services[s.name] = stack
        built.placement.update({m: s.name for m in s.services})
        done(s.name)
    for s in layout:
        if s.kind == "queries" and s.name in wanted:
            _queries_stack(app, views[s.name].spec, built, s)
            done(s.name)
        if s.kind == "pipeline" and s.name in wanted:
            built.pipeline = pipeline_stack(app, views[s.name].spec)
            done(s.name)
    return built


def pipeline_stack(app: Construct, spec: Spec) -> cdk.Stack:
    """The stack of ``aws.pipeline`` (stacks/pipeline.py), from its view: the layout's names, never the other
    stacks, so it can be built alone."""
    from .pipeline import PipelineStack

    return PipelineStack(app, naming.stack_pipeline(spec.project), spec=spec, env=environment(spec),
                         description=f"meshspec {spec.project}: the pipeline that deploys the other stacks")


def _queries_stack(app: Construct, spec: Spec, built: BuiltApp, placement: sharding.StackPlacement) -> None:
    """Saved queries over several services' log groups, after the stacks that create those log groups."""
    env = environment(spec)
    stack = cdk.Stack(app, placement.name, env=env,
                      description=f"meshspec {spec.project}: saved queries across services")
    stand_ins: dict[str, cdk.Stack] = {}
    for q in sharding.shared_queries(spec):
        members = sharding.query_members(spec, q)
        saved_query(stack, f"Query-{q.name}", f"{spec.project}/{q.name}", q.query,
                    [naming.log_group(spec.project, s) for s in members])
        for s in members:
            name = sharding.stack_of(spec.project, s)
            if name not in built.services and name not in stand_ins:  # a synth worker's share without it
                stand_ins[name] = cdk.Stack(app, name, env=env)
            stack.add_stack_dependency(built.services.get(name) or stand_ins[name])


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
    directory = _synth(built)
    files = _write_manifests(built, directory, None)
    assembly = read_assembly(directory, warnings=True)
    problems = [p for name, t in assembly.stacks.items()
                for p in size(name, t, template_bytes=assembly.template_bytes[name]).problems()]
    if problems:
        raise UserError("; ".join(problems), hint=OVERFLOW_HINT)
    return Synthesized(directory, assembly.stacks, files, assembly.warnings)


def synth_part(spec: Spec | sharding.Part, stacks: list[str], outdir: str, *, validation: bool = False,
               progress: Callable[[str], None] | None = None, release: Callable[[], None] | None = None):
    """Build and synthesize ``stacks`` (and what they are built against) into ``outdir``, and cut the assembly
    into their fragments (``meshspec.stacks.assembly``): a synth worker's share, or the missing stacks of a
    cached synth. ``spec``: the spec, or the part of it these stacks read (``sharding.part``). ``release``:
    called once the assembly is on disk, before it is read back (a worker stops its jsii runtime there). Returns
    (fragments by stack, the app's fragment)."""
    from .assembly import split

    built = build(spec, new_app(outdir, validation=validation), only=stacks, progress=progress, lean=True)
    directory = _synth(built)
    _write_manifests(built, directory, set(stacks))
    if release is not None:
        del built
        release()
    return split(directory, stacks)


def _synth(built: BuiltApp) -> str:
    try:
        return built.app.synth().directory
    except RuntimeError as exc:  # CDK checks the 500-resource limit itself, before templates are written
        if "TooManyResourcesInStack" not in str(exc):
            raise
        raise UserError(str(exc).split("TooManyResourcesInStack: ", 1)[-1].split("\n", 1)[0], hint=OVERFLOW_HINT) from None


def _write_manifests(built: BuiltApp, directory: str, stacks: set[str] | None) -> list[str]:
    """The Kubernetes manifests of the workloads in ``stacks`` (every stack when None)."""
    from meshspec.constructs_lib.eks import write_manifests
    from meshspec.constructs_lib.errors import PropsError

    workloads = [w for n, s in built.services.items() if stacks is None or n in stacks for w in s.workloads]
    workloads += [c.log_router for c in built.clusters.values() if c.log_router is not None
                  and (stacks is None or c.stack_name in stacks)]
    try:
        return [str(p) for p in write_manifests(None, directory, workloads=workloads)]
    except PropsError as exc:
        raise UserError(str(exc), hint="set aws.account in the spec: the pods' Envoy needs its virtual node's "
                        "ARN, which an environment-agnostic stack only knows at deploy time") from None
