"""The pipeline stack of ``aws.pipeline``: CDK Pipelines with meshspec's synth and its waves (infra/waves.py).

The application's stacks stay where ``meshspec synth`` puts them, at the root of the app, byte for byte; this
stack sits beside them and names them. Its commands are built here from the spec, as pure functions.
"""
from __future__ import annotations

import shlex
from importlib.metadata import PackageNotFoundError, version

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from meshspec.constructs_lib.nag import rendered_arn, suppress
from meshspec.constructs_lib.pipeline import DeployStep, DeployWave, WavePipeline, WavePipelineProps
from meshspec.infra import naming, sharding, waves as W
from meshspec.infra.mesh import registry
from meshspec.infra.spec.model import Spec
from meshspec.infra.traffic.grown import CANARY_COMMAND, CANARY_VARIABLES

#: where the versions whose share grew (`meshspec traffic grown`) land inside the assembly, for the canaries
CANARIES_FILE = "meshspec-canaries.json"
NO_CANARIES = '{"versions": []}'
SPEC_VARIABLE = CANARY_VARIABLES[0]  # the spec's path in the repository, as the GitHub workflow names it
#: the CDK CLI as the deploy actions run it: the release built for meshspec's aws-cdk-lib, on meshspec's Node
CDK = "meshspec cdk"


def meshspec_version() -> str:
    try:
        return version("meshspec")
    except PackageNotFoundError:  # pragma: no cover - a checkout without install
        return "0+unknown"


def pipeline_name(spec: Spec) -> str:
    return spec.aws.pipeline.name or naming.stack_pipeline(spec.project)


def install_commands() -> list[str]:
    """What a CodeBuild action installs: this meshspec, as a pip user would (its `meshspec cdk` brings the CDK CLI
    release built for its aws-cdk-lib, on its own Node)."""
    return [f"pip install meshspec=={meshspec_version()}"]


def synth_commands(spec: Spec, canary: bool) -> list[str]:
    """The assembly, as `meshspec synth` writes it. With canaries, beside it the versions whose traffic share grew
    since the commit of the pipeline's last successful run (`meshspec traffic grown`; none on the first run, or
    when git does not know that commit: no canary then)."""
    out = [f'meshspec synth "${SPEC_VARIABLE}" --out cdk.out']
    if not canary:
        return out
    query = "pipelineExecutionSummaries[?status=='Succeeded'] | [0].sourceRevisions[0].revisionId"
    return out + [
        f"BASE=$(aws codepipeline list-pipeline-executions --pipeline-name {shlex.quote(pipeline_name(spec))} "
        f"--query {shlex.quote(query)} --output text)",
        'if [ "$BASE" = None ] || ! git cat-file -e "$BASE^{commit}" 2>/dev/null; then BASE=; fi',
        f'if [ -n "$BASE" ]; then meshspec traffic grown "${SPEC_VARIABLE}" --since "$BASE" --format json '
        f"> cdk.out/{CANARIES_FILE}; else echo {shlex.quote(NO_CANARIES)} > cdk.out/{CANARIES_FILE}; fi",
    ]


def deploy_commands(batch: W.Batch, app: str, canary: bool) -> list[str]:
    """Deploy the batch's stacks at once; then, with canaries, for each version of the batch's services whose
    share grew (``CANARIES_FILE``), the canary CI runs (``CANARY_COMMAND``: judged at the spec's share, held there),
    all at once, failing when one rolls back."""
    out = [f"{CDK} deploy --app {app} --exclusively --require-approval never --concurrency {len(batch.stacks)} "
           + " ".join(batch.stacks)]
    if not (canary and batch.services):
        return out
    wanted = shlex.quote("[" + ",".join(f'"{s}"' for s in batch.services) + "]")
    fields = CANARY_VARIABLES[1:]  # each a field of `traffic grown`'s versions: SERVICE is .service
    select = shlex.quote(".versions[] | select(.service as $s | $mine | index($s)) "
                         f"| [{', '.join('.' + f.lower() for f in fields)}] | @tsv")
    names = " ".join(fields)
    return out + [
        f"jq -r --argjson mine {wanted} {select} {app}/{CANARIES_FILE} > canaries.tsv",
        f'pids=""; while IFS="$(printf \'\\t\')" read -r {names}; do '
        f'{CANARY_COMMAND} & pids="$pids $!"; '
        'done < canaries.tsv; failed=0; for p in $pids; do wait "$p" || failed=1; done; test "$failed" = 0',
    ]


def canary_statements(spec: Spec, stack: cdk.Stack) -> list[iam.PolicyStatement]:
    """What `meshspec canary` calls: each active backend's traffic adapter (its ``traffic_permissions``), and
    CloudWatch's figures (GetMetricData and ListMetrics take no resource-level permissions)."""
    out = [iam.PolicyStatement(actions=["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], resources=["*"])]
    for backend in registry.active(spec):
        for actions, resource in backend.traffic_permissions(spec):
            if resource is None:
                out.append(iam.PolicyStatement(actions=list(actions), resources=["*"]))
                continue
            service, rest = resource.split(":", 1)
            out.append(iam.PolicyStatement(actions=list(actions), resources=[
                f"arn:{stack.partition}:{service}:{stack.region}:{stack.account}:{rest}"]))
            if "*" in rest:
                suppress(stack, "AwsSolutions-IAM5", f"what `meshspec canary` reads and moves on {backend.title} "
                         f"({rest})", applies_to=[f"Resource::{rendered_arn(stack, service, rest)}"])
    return out


def moves_weights(spec: Spec) -> bool:
    """Whether meshspec keeps weights it can move on the spec's backend (what a canary shifts)."""
    return "lasting-weights" in registry.primary(spec).features


def pipeline_props(spec: Spec, stack: cdk.Stack) -> WavePipelineProps:
    p = spec.aws.pipeline
    canary = p.canary and moves_weights(spec)
    app = "cdk.out" if canary else "."
    name = pipeline_name(spec)
    pipeline_arn = f"arn:{stack.partition}:codepipeline:{stack.region}:{stack.account}:{name}"
    waves = [DeployWave(w.name, [DeployStep(b.name, deploy_commands(b, app, canary)) for b in w.batches])
             for w in W.pipeline_waves(sharding.layout(spec), p.stacks_per_action, p.actions_per_wave)]
    return WavePipelineProps(
        pipeline_name=name, repository=p.repository, branch=p.branch, connection_arn=p.connection_arn,
        synth_install=install_commands(), synth_commands=synth_commands(spec, canary), waves=waves,
        deploy_install=install_commands(), env={SPEC_VARIABLE: p.spec_path},
        synth_statements=[iam.PolicyStatement(actions=["codepipeline:ListPipelineExecutions"],
                                              resources=[pipeline_arn])] if canary else [],
        deploy_statements=canary_statements(spec, stack) if canary else [], checkout=canary, approval=p.approval)


class PipelineStack(cdk.Stack):
    """The pipeline stack: deployed once with `cdk deploy`, then it updates itself from the repository."""

    def __init__(self, scope: Construct, id: str, *, spec: Spec, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        # one statement per action and resource kind instead of one per project (the pipeline's role starts
        # every build): this stack's policies only, the application's stacks keep the app's flags
        self.node.set_context("@aws-cdk/aws-iam:minimizePolicies", True)
        self.pipeline = WavePipeline(self, "Pipeline", pipeline_props(spec, self))
