"""``meshspec plan SPEC``: per stack the resources to create (update, delete against ``--against DIR``), and
per service and major the mesh backend's routes with their weights."""
from __future__ import annotations

import argparse
import tempfile

from meshspec.infra import naming, sharding
from meshspec.infra.aws.assembly import read_assembly
from meshspec.infra.aws.plan import SHOWN, plan, to_json, to_text
from meshspec.infra.mesh import registry
from meshspec.infra.node import use_project_node
from meshspec.infra.spec import cohorts, live_majors, load_spec_or_raise

from .. import output
from ..progress import Progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="what synthesizing a spec would create or change in AWS")
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--against", metavar="DIR", help="a previous cloud assembly (cdk.out) to compare with. "
                   "Default: none, everything is to be created")
    output.add_format(p)
    output.add_detailed_exitcode(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    use_project_node()  # jsii (here, or in the synth workers) runs the project's Node, not the host's
    from meshspec.stacks import engine
    from meshspec.stacks.cache import Cache, default_dir

    cache = Cache(default_dir())
    early = engine.prestart(engine.default_jobs(), args.spec, cache)
    try:
        spec = load_spec_or_raise(args.spec)
        old = read_assembly(args.against).stacks if args.against else None  # refuse a bad --against before synthesizing
        with tempfile.TemporaryDirectory(prefix="meshspec-plan-") as out:
            # the synth's engine: parallel, and the synth cache (its templates are the ones synth writes)
            with Progress("plan", enabled=None if args.format == "text" else False) as bar:
                engine.synth(spec, out, cache=cache, workers=early, progress=bar)
            new = read_assembly(out).stacks
    finally:
        for w in early:
            w.dismiss()
    backend = registry.primary(spec)
    labels = {route: (s, m) for s, svc in spec.aws_services().items() for m in live_majors(svc)
              if (route := backend.route_name(s, m)) is not None}
    # A/B cohorts' routes are labelled with their major too (the bracket shows which route)
    labels.update({naming.cohort_route(s, m, r.name): (s, m) for s, svc in spec.aws_services().items()
                   for m in live_majors(svc) if backend.route_name(s, m) is not None for r in cohorts.routes(svc, m)})
    # the spec's backend reads last, so its route wins a name another backend's resource also has (a migration)
    readers = [b.plan_routes for b in registry.all_backends() if b is not backend] + [backend.plan_routes]
    p = plan(new, old, against=args.against, readers=readers)
    stacks = sharding.layout(spec)
    if args.format == "json":
        output.emit_json({**to_json(p, labels), "layout": layout_json(stacks)})
    else:
        print("\n".join(layout_text(stacks) + to_text(p, labels)))
    return output.plan_exit(p.has_changes, args.detailed_exitcode)


def layout_json(stacks: list[sharding.StackPlacement]) -> list[dict]:
    """Which stack holds what (infra/sharding.py), in deployment order."""
    return [{"stack": s.name, "kind": s.kind, "services": list(s.services), "cluster": s.cluster,
             "dependsOn": list(s.depends_on)} for s in stacks]


def layout_text(stacks: list[sharding.StackPlacement]) -> list[str]:
    """Every stack when there are few; past ``SHOWN`` the service stacks in one line."""
    lines = ["stacks (deployment order; a stack per service, see `meshspec help scale`):"]
    many = len(stacks) > SHOWN
    if many:
        services = [s for s in stacks if s.kind == "service"]
        lines.append(f"  {len(services)} service stacks, one per service ({services[0].name}, …): "
                     "--format json lists them")
    for s in stacks:
        if many and s.kind == "service":
            continue
        what = {"shared": "VPC, Cloud Map namespace, mesh", "cluster": f"cluster {s.cluster}",
                "service": f"service {', '.join(s.services)} on {s.cluster}",
                "queries": f"saved queries over {len(s.services)} service(s)",
                "pipeline": "the CodePipeline that deploys the others (cdk deploy it once; then it updates itself)"}[s.kind]
        lines.append(f"  {s.name}: {what}")
    return lines
