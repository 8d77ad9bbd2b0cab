"""aws.pipeline: the CDK Pipelines stack, its waves for 500 services (order, sizes, CodePipeline's quotas),
cfn-lint, and the application's stacks unchanged beside it.

Only the pipeline stack is synthesized for 500 services (about 3 s: it reads the spec, never the other
stacks); the whole app with a pipeline is synthesized for a small spec."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template

from meshspec.infra import sharding
from meshspec.infra.spec import load_text, quotas
from meshspec.infra.traffic.grown import CANARY_COMMAND
from meshspec.stacks.pipeline import meshspec_version
from tests.conftest import TODAY
from tests.pipeline_support import CONNECTION, buildspec, deployed, pipeline_resource, pipeline_spec_text, \
    synth_pipeline


def _spec(text: str):
    result = load_text(text, today=TODAY)
    assert result.ok, [e.render() for e in result.errors]
    return result.spec


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """500 services on Lattice (one version each: Lattice's 500 target groups per Region), a queries stack."""
    spec = _spec(pipeline_spec_text(500, backend="lattice", versions=1, queries=True))
    out = tmp_path_factory.mktemp("pipeline500")
    return spec, synth_pipeline(spec, out), out


def test_500_services_deploy_in_waves_shared_then_clusters_then_services_then_queries(big):
    # GIVEN 500 services and the default wave sizes (10 stacks per action, 10 actions per wave)
    spec, template, _ = big
    stages = [s["Name"] for s in pipeline_resource(template)["Properties"]["Stages"]]
    # THEN the stages come in the layout's dependency order, services in 5 waves of 100
    assert stages == ["Source", "Build", "UpdatePipeline", "Shared", "Clusters",
                      "Services-1", "Services-2", "Services-3", "Services-4", "Services-5", "Queries"]
    waves = deployed(template)
    assert [(name, len(actions)) for name, actions in waves] == [
        ("Shared", 1), ("Clusters", 1), *[(f"Services-{i}", 10) for i in range(1, 6)], ("Queries", 1)]
    # every action deploys at most 10 stacks, all of them at once
    assert all(len(stacks) <= 10 and concurrency == len(stacks) for _, actions in waves
               for _, concurrency, stacks in actions)
    # every stack of the layout exactly once, in the layout's order; no wave deploys the pipeline itself
    layout = [s.name for s in sharding.layout(spec) if s.kind != "pipeline"]
    order = [s for _, actions in waves for _, _, stacks in actions for s in stacks]
    assert order == layout and len(order) == 503  # shared, cluster, 500 services, queries


def test_each_wave_deploys_after_what_it_depends_on(big):
    spec, template, _ = big
    wave_of = {s: i for i, (_, actions) in enumerate(deployed(template)) for _, _, stacks in actions for s in stacks}
    for placement in sharding.layout(spec):
        for dep in placement.depends_on:
            assert wave_of[dep] < wave_of[placement.name], (placement.name, dep)


def test_the_actions_of_a_wave_run_in_parallel(big):
    _, template, _ = big
    for stage in pipeline_resource(template)["Properties"]["Stages"]:
        assert {a["RunOrder"] for a in stage["Actions"]} == {1}, stage["Name"]


def test_500_services_stay_within_codepipelines_fixed_quotas(big):
    _, template, _ = big
    stages = pipeline_resource(template)["Properties"]["Stages"]
    actions = sum(len(s["Actions"]) for s in stages)
    assert len(stages) <= quotas.CODEPIPELINE_STAGES_PER_PIPELINE
    assert actions <= quotas.CODEPIPELINE_ACTIONS_PER_PIPELINE and actions == 3 + 1 + 1 + 50 + 1
    assert max(len(s["Actions"]) for s in stages) <= quotas.CODEPIPELINE_ACTIONS_PER_STAGE
    # the pipeline stack itself within CloudFormation's: 17 resources and one per action (its CodeBuild project)
    assert len(template["Resources"]) == 17 + actions == 73 < quotas.CFN_RESOURCES_PER_STACK
    assert len(json.dumps(template, indent=1)) < quotas.CFN_TEMPLATE_BYTES


def test_the_synth_step_runs_meshspec_as_a_pip_user_would(big):
    spec, template, _ = big
    t = Template.from_json(template)
    t.has_resource_properties("AWS::CodePipeline::Pipeline", {
        "Name": "big-pipeline", "PipelineType": "V2",
        "Stages": Match.array_with([Match.object_like({"Name": "Source", "Actions": [Match.object_like({
            "ActionTypeId": Match.object_like({"Provider": "CodeStarSourceConnection"}),
            "Configuration": {"ConnectionArn": CONNECTION, "FullRepositoryId": "acme/infrastructure",
                              "BranchName": "main", "OutputArtifactFormat": "CODEBUILD_CLONE_REF"}})]})])})
    stages = {s["Name"]: s for s in pipeline_resource(template)["Properties"]["Stages"]}
    synth = buildspec(template, stages["Build"]["Actions"][0])
    assert synth["phases"]["install"]["commands"] == [f"pip install meshspec=={meshspec_version()}"]
    commands = synth["phases"]["build"]["commands"]
    assert commands[0] == 'meshspec synth "$MESHSPEC_SPEC" --out cdk.out'
    assert "list-pipeline-executions --pipeline-name big-pipeline" in commands[1]
    assert commands[-1].startswith('if [ -n "$BASE" ]; then meshspec traffic grown "$MESHSPEC_SPEC" --since "$BASE"')
    assert synth["artifacts"]["base-directory"] == "cdk.out"
    t.has_resource_properties("AWS::CodeBuild::Project", {"Environment": Match.object_like({
        "EnvironmentVariables": [{"Name": "MESHSPEC_SPEC", "Type": "PLAINTEXT", "Value": "meshspec.yaml"}]})})
    # the pipeline updates itself from the same assembly (CDK Pipelines' self-mutation), before any wave
    mutate = buildspec(template, stages["UpdatePipeline"]["Actions"][0])
    assert mutate["phases"]["build"]["commands"] == ["cdk -a . deploy big-pipeline --require-approval=never --verbose"]


def test_each_service_batch_is_followed_by_its_canaries(big):
    _, template, _ = big
    stages = {s["Name"]: s for s in pipeline_resource(template)["Properties"]["Stages"]}
    spec = buildspec(template, stages["Services-1"]["Actions"][0])
    first = spec["phases"]["build"]["commands"]
    assert first[0].startswith("meshspec cdk deploy --app cdk.out ")  # the CLI built for meshspec's aws-cdk-lib
    assert spec["phases"]["install"]["commands"][-1] == f"pip install meshspec=={meshspec_version()}"
    assert len(first) == 3 and CANARY_COMMAND in first[2] and "meshspec-canaries.json" in first[1]
    assert '"svc-000","svc-001"' in first[1] and "svc-010" not in first[1]
    shared = buildspec(template, stages["Shared"]["Actions"][0])["phases"]["build"]["commands"]
    assert len(shared) == 1 and "canary" not in shared[0]  # no service in the shared stack


def test_deploy_actions_share_one_role_that_assumes_only_the_bootstrap_roles(big):
    _, template, _ = big
    t = Template.from_json(template)
    roles = {p["Properties"]["ServiceRole"]["Fn::GetAtt"][0] for k, p in template["Resources"].items()
             if p["Type"] == "AWS::CodeBuild::Project" and "Deploy" in k}
    assert len(roles) == 1
    (role,) = roles
    t.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": role}], "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "sts:AssumeRole", "Condition": {"ForAnyValue:StringEquals": {
                "iam:ResourceTag/aws-cdk:bootstrap-role": ["deploy", "file-publishing", "image-publishing", "lookup"]}},
        }), Match.object_like({"Action": Match.array_with(["vpc-lattice:UpdateRule"])})])}})
    # no overflow into managed policies, however many actions (one statement set for all)
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]


def test_the_assembly_holds_only_what_its_manifest_names(big):
    # CDK Pipelines' own picture of its graph (a .dot file) is not left beside the assembly: the parallel synth
    # joins artifacts, and an assembly must be the same however it is synthesized
    _, _, out = big
    assert not list(out.glob("*.dot"))


def test_cfn_lint_passes_on_the_pipeline_template_for_500_services_and_its_variants(big, tmp_path):
    # GIVEN the 500 services' pipeline (Lattice, canaries) and two small ones: App Mesh's canary permissions, and
    # Service Connect's (no canary, no clone) with a manual approval and a name of its own
    spec, _, out = big
    templates = [out / "big-pipeline.template.json"]
    for name, text in (("appmesh", pipeline_spec_text(3)), ("approval", pipeline_spec_text(
            3, backend="service-connect", versions=1, pipeline="    approval: true\n    name: shop-delivery\n"))):
        synth_pipeline(_spec(text), tmp_path / name)
        templates.append(tmp_path / name / "big-pipeline.template.json")
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    proc = subprocess.run([str(cfn_lint), "--format", "json", *map(str, templates)],
                          capture_output=True, text=True, timeout=600)
    findings = json.loads(proc.stdout or "[]")
    assert proc.returncode & ~4 == 0, proc.stderr  # bit flags: 2 error, 4 warning, 8 info
    # kept: aws-cdk-lib's Pipeline declares a DependsOn on its role that its RoleArn GetAtt already implies
    # (redundant, harmless, generated by the library; tests/test_cdk_lint.py keeps the same rule for the same reason)
    kept = sorted((Path(f["Filename"]).parent.name, f["Rule"]["Id"], f["Location"]["Path"][1]) for f in findings)
    pipelines = sorted((t.parent.name, "W3005", next(k for k, r in json.loads(t.read_text())["Resources"].items()
                                                     if r["Type"] == "AWS::CodePipeline::Pipeline"))
                       for t in templates)
    assert kept == pipelines, Counter(f["Rule"]["Id"] for f in findings)


@pytest.mark.parametrize("keys, stages, widest", [
    ("    stacksPerAction: 25\n    actionsPerWave: 4\n", 3 + 2 + 5, 4),   # 100 stacks a wave: 5 service waves
    ("    stacksPerAction: 5\n    actionsPerWave: 50\n", 3 + 2 + 2, 50),  # 250 a wave: 2 service waves
    ("    approval: true\n", 3 + 1 + 2 + 5, 10),
])
def test_wave_sizes_follow_the_keys(tmp_path, keys, stages, widest):
    spec = _spec(pipeline_spec_text(500, backend="service-connect", versions=1, pipeline=keys))
    template = synth_pipeline(spec, tmp_path)
    got = pipeline_resource(template)["Properties"]["Stages"]
    assert len(got) == stages and max(len(s["Actions"]) for s in got) == widest
    if "approval" in keys:
        assert got[3]["Name"] == "Approve"
        assert got[3]["Actions"][0]["ActionTypeId"]["Category"] == "Approval"


def test_without_canaries_the_deploy_actions_need_no_checkout(tmp_path):
    # service-connect: ECS shifts traffic itself, so no canary and no clone of the repository
    spec = _spec(pipeline_spec_text(3, backend="service-connect", versions=1))
    template = synth_pipeline(spec, tmp_path)
    source = pipeline_resource(template)["Properties"]["Stages"][0]["Actions"][0]
    assert "OutputArtifactFormat" not in source["Configuration"]
    for stage, actions in deployed(template):
        for _, _, stacks in actions:
            assert stacks
    services = [s for s in pipeline_resource(template)["Properties"]["Stages"] if s["Name"] == "Services"][0]
    commands = buildspec(template, services["Actions"][0])["phases"]["build"]["commands"]
    assert len(commands) == 1 and "--app . " in commands[0]


def test_the_application_stacks_are_byte_for_byte_those_of_a_spec_without_pipeline(tmp_path):
    """The pipeline stack sits beside the application's stacks at the app's root: adding aws.pipeline changes no
    other template (same construct paths, same stack names), and names them all."""
    from meshspec.stacks.app import build, new_app, synthesize

    with_pipeline = _spec(pipeline_spec_text(3, queries=True))
    without = _spec(pipeline_spec_text(3, queries=True).replace(
        f"  pipeline:\n    repository: acme/infrastructure\n    connectionArn: {CONNECTION}\n", ""))
    a = synthesize(build(with_pipeline, new_app(str(tmp_path / "a"), validation=False)))
    b = synthesize(build(without, new_app(str(tmp_path / "b"), validation=False)))
    assert set(a.stacks) - set(b.stacks) == {"big-pipeline"}
    for name in b.stacks:
        assert (tmp_path / "a" / f"{name}.template.json").read_bytes() == \
               (tmp_path / "b" / f"{name}.template.json").read_bytes(), name
    assert [s for _, actions in deployed(a.stacks["big-pipeline"]) for _, _, st in actions for s in st] == \
           [s.name for s in sharding.layout(with_pipeline) if s.kind != "pipeline"]


@pytest.mark.parametrize("n, backend, keys", [
    (2, None, ""), (60, "lattice", "    stacksPerAction: 3\n"), (120, "service-connect", "    approval: true\n"),
    (250, "lattice", "    stacksPerAction: 2\n    actionsPerWave: 50\n    name: a-much-longer-pipeline-name\n"),
])
def test_validates_estimate_of_the_pipeline_stack_matches_its_template(tmp_path, n, backend, keys):
    """The estimate validate checks against CloudFormation's quotas (infra/spec/stack_quotas.py): resources
    exactly, bytes within 15 %, as for every other stack (tests/test_stack_quotas.py)."""
    from meshspec.infra.spec.stack_quotas import pipeline_estimate

    spec = _spec(pipeline_spec_text(n, backend=backend, versions=1, pipeline=keys))
    template = synth_pipeline(spec, tmp_path)
    size = len((tmp_path / "big-pipeline.template.json").read_bytes())
    e = pipeline_estimate(spec, "big-pipeline")
    assert e.resources == len(template["Resources"])
    assert abs(e.template_bytes - size) / size < 0.15, (e.template_bytes, size)


@pytest.mark.parametrize("backend, agnostic", [(None, False), ("lattice", True), ("service-connect", False)])
def test_cdk_nag_finds_nothing_unexplained_on_the_pipeline_stack(tmp_path, backend, agnostic):
    from meshspec.stacks.app import new_app, pipeline_stack
    from tests.test_cdk_nag import nag

    text = pipeline_spec_text(12, backend=backend, versions=1, pipeline="    approval: true\n")
    if agnostic:
        text = text.replace("  account: '111122223333'\n", "")
    app = new_app(str(tmp_path), validation=False)
    pipeline_stack(app, _spec(text))
    assert nag(app) == []


def test_on_app_mesh_the_canaries_may_move_only_the_routes_of_the_specs_mesh(tmp_path):
    # the permissions come from the backend's traffic adapter (Backend.traffic_permissions), not from the core
    template = synth_pipeline(_spec(pipeline_spec_text(3)), tmp_path)
    Template.from_json(template).has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {
        "Statement": Match.array_with([{
            "Action": ["appmesh:DescribeRoute", "appmesh:DescribeVirtualNode", "appmesh:UpdateRoute"],
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":appmesh:eu-west-1:111122223333:mesh/big/*"]]},
        }])}})
    assert "vpc-lattice" not in json.dumps(template)


def test_the_pipeline_stacks_inputs_change_with_the_layout_not_with_a_services_entry():
    """Partial synth and the synth cache follow the pipeline stack's view (infra/sharding.py): a new image leaves
    it out, a new service (one more stack to deploy) or a pipeline key touches it."""
    from meshspec.infra.changes import diff_specs

    base = pipeline_spec_text(4)
    old = _spec(base)
    image = _spec(base.replace("public.ecr.aws/big/svc-1:0", "public.ecr.aws/big/svc-1:9"))
    assert diff_specs(old, image).stacks == ("big-svc-svc-001",)
    more = _spec(pipeline_spec_text(5))
    assert "big-pipeline" in diff_specs(old, more).stacks
    keyed = _spec(pipeline_spec_text(4, pipeline="    approval: true\n"))
    assert diff_specs(old, keyed).stacks == ("big-pipeline",)


def test_a_parallel_cached_synth_writes_the_pipeline_like_a_cold_one(tmp_path):
    from meshspec.stacks import engine
    from meshspec.stacks.cache import Cache

    def files(out):
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    spec = _spec(pipeline_spec_text(4, queries=True))
    engine.synth(spec, tmp_path / "cold", jobs=1)
    run = engine.synth(spec, tmp_path / "parallel", jobs=2, cache=Cache(tmp_path / "cache"), min_share=1)
    assert "big-pipeline" in run.stacks and run.workers == 2
    assert files(tmp_path / "parallel") == files(tmp_path / "cold")
    again = engine.synth(spec, tmp_path / "cached", jobs=2, cache=Cache(tmp_path / "cache"), min_share=1)
    assert "big-pipeline" in again.cached and files(tmp_path / "cached") == files(tmp_path / "cold")
