"""Waves and levels (infra/waves.py), aws.pipeline's refusals at validate, and `meshspec deploy-plan`."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from meshspec.infra import sharding, waves
from meshspec.infra.cli.main import main
from meshspec.infra.spec import load_text
from meshspec.infra.spec.model import Spec
from tests.conftest import EXAMPLES, ROOT, TODAY
from tests.pipeline_support import CONNECTION, pipeline_spec_text


def _load(text: str):
    return load_text(text, file="spec.yaml", today=TODAY)


def _spec(text: str) -> Spec:
    result = _load(text)
    assert result.ok, [e.render() for e in result.errors]
    return result.spec


def _errors(text: str) -> list[str]:
    return [e.render() for e in _load(text).errors]


# -- waves, pure, at 500 services ------------------------------------------------------------------------------
def test_levels_follow_the_layouts_dependencies_at_500_services():
    spec = _spec(pipeline_spec_text(500, backend="service-connect", versions=1, queries=True))
    levels = waves.levels(sharding.layout(spec))
    assert [sorted({s.kind for s in level}) for level in levels] == [["shared"], ["cluster"], ["service"], ["queries"]]
    assert [len(level) for level in levels] == [1, 1, 500, 1]
    # the pipeline's own stack is in the layout but in no level: it deploys itself
    assert "big-pipeline" in {s.name for s in sharding.layout(spec)}
    assert "big-pipeline" not in {s.name for level in levels for s in level}


def test_a_selection_keeps_each_stacks_level():
    spec = _spec(pipeline_spec_text(30, queries=True))
    only = ["big-svc-svc-003", "big-queries"]
    levels = waves.levels(sharding.layout(spec), only)
    assert [[s.name for s in level] for level in levels] == [[], [], ["big-svc-svc-003"], ["big-queries"]]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 500), per_action=st.integers(1, 60), per_wave=st.integers(1, 50))
def test_pipeline_waves_deploy_every_stack_once_in_order_within_their_sizes(n, per_action, per_wave):
    layout = [sharding.StackPlacement("p-shared", "shared"), sharding.StackPlacement("p-c", "cluster",
                                                                                       depends_on=("p-shared",))]
    layout += [sharding.StackPlacement(f"p-svc-{i}", "service", (f"s{i}",), "c", ("p-shared", "p-c"))
               for i in range(n)]
    got = waves.pipeline_waves(layout, per_action, per_wave)
    assert [s for w in got for s in w.stacks] == [s.name for s in layout]
    assert all(1 <= len(w.batches) <= per_wave and all(1 <= len(b.stacks) <= per_action for b in w.batches)
               for w in got)
    assert [w.level for w in got] == sorted(w.level for w in got)
    names = [b.name for w in got for b in w.batches]
    assert all(sorted(names[i:i + 1]) for i in range(len(names)))
    for w in got:  # CodePipeline lists a stage's actions by name: the names sort in deployment order
        assert [b.name for b in w.batches] == sorted(b.name for b in w.batches)


def test_github_levels_grow_jobs_past_256_rather_than_exceed_the_matrix_limit():
    layout = [sharding.StackPlacement(f"p-svc-{i}", "service", (f"s{i}",)) for i in range(1000)]
    (jobs,) = waves.github_levels(layout, None, 1)
    assert len(jobs) == 250 <= waves.GITHUB_MATRIX_JOBS and {len(j.stacks) for j in jobs} == {4}
    (jobs,) = waves.github_levels(layout, None, 10)
    assert len(jobs) == 100


def test_the_pipeline_shape_counts_codepipelines_stages_and_actions():
    shape = waves.pipeline_shape(_spec(pipeline_spec_text(500, backend="service-connect", versions=1,
                                                          pipeline="    approval: true\n")))
    assert (shape.stages, shape.actions, shape.widest, shape.stacks_at_once) == (3 + 1 + 7, 3 + 1 + 52, 10, 100)


# -- refusals at validate --------------------------------------------------------------------------------------
WAVES_HINT = ("    hint: deploy more stacks per action (aws.pipeline.stacksPerAction) or run more actions per wave "
              "(aws.pipeline.actionsPerWave, up to 50); see `meshspec help pipelines`")


def test_fails_when_the_waves_need_more_stages_than_codepipeline_allows():
    errors = _errors(pipeline_spec_text(500, backend="service-connect", versions=1,
                                        pipeline="    actionsPerWave: 1\n"))
    assert errors == [
        "spec.yaml:10:21: error: aws.pipeline.actionsPerWave: the pipeline would have 55 stages (52 deploy waves); "
        "CodePipeline allows 50 per pipeline (a fixed quota) (given: 55; allowed: at most 50 stages)\n" + WAVES_HINT]


def test_fails_when_the_waves_need_more_actions_than_codepipeline_allows():
    errors = _errors(pipeline_spec_text(500, backend="service-connect", versions=1,
                                        pipeline="    stacksPerAction: 1\n    actionsPerWave: 50\n"))
    assert [e.split(" (given")[0] for e in errors] == [
        "spec.yaml:10:22: error: aws.pipeline.stacksPerAction: the pipeline would have 505 actions; CodePipeline "
        "allows 500 per pipeline (a fixed quota)",
        "spec.yaml:10:22: error: aws.pipeline.stacksPerAction: stack big-pipeline would hold about 522 resources, "
        "505 of them from here; CloudFormation allows 500 per stack"]
    assert errors[0].endswith("(given: 505; allowed: at most 500 actions)\n" + WAVES_HINT)


def test_fails_when_the_pipeline_stack_would_hold_more_resources_than_cloudformation_allows():
    # one CodeBuild project per action: at one stack per action, CloudFormation's 500 resources come first
    errors = _errors(pipeline_spec_text(485, backend="service-connect", versions=1,
                                        pipeline="    stacksPerAction: 1\n    actionsPerWave: 50\n"))
    assert errors == [
        "spec.yaml:10:22: error: aws.pipeline.stacksPerAction: stack big-pipeline would hold about 507 resources, 490 "
        "of them from here; CloudFormation allows 500 per stack (given: 507; allowed: at most 500)\n"
        "    hint: deploy more stacks per action (aws.pipeline.stacksPerAction): fewer actions, fewer projects"]


def test_fails_when_a_wave_has_more_actions_than_a_stage_takes():
    errors = _errors(pipeline_spec_text(3, pipeline="    actionsPerWave: 51\n"))
    assert errors == ["spec.yaml:10:21: error: aws.pipeline.actionsPerWave: a wave is one CodePipeline stage, which "
                      "runs at most 50 actions (a fixed quota); more stacks make more waves (given: 51; allowed: 1 to 50)"]
    assert _errors(pipeline_spec_text(3, pipeline="    actionsPerWave: 0\n"))[0].endswith("(given: 0; allowed: 1 to 50)")
    assert "actionsPerWave is a whole number" in _errors(pipeline_spec_text(3, pipeline="    actionsPerWave: many\n"))[0]


def test_fails_when_a_cluster_takes_the_pipelines_stack_name():
    text = pipeline_spec_text(2).replace("    - name: core\n", "    - name: pipeline\n").replace(
        "cluster: core", "cluster: pipeline")
    errors = _errors(text)
    assert errors == ["spec.yaml:11:13: error: aws.clusters[0].name: cluster 'pipeline' would get the stack name "
                      "big-pipeline, which aws.pipeline's stack takes (given: 'pipeline'; allowed: another cluster "
                      "name (renaming a cluster replaces it: rename it before adding the pipeline))"]


def test_fails_when_canary_is_written_on_service_connect():
    errors = _errors(pipeline_spec_text(2, backend="service-connect", versions=1, pipeline="    canary: false\n"))
    assert errors == ["spec.yaml:10:13: error: aws.pipeline.canary: canary applies to App Mesh or VPC Lattice, whose "
                      "weights meshspec moves; ECS Service Connect keeps none (meshspec canary refuses it) "
                      "(given: false; allowed: leave canary out with backend: service-connect)"]


@pytest.mark.parametrize("key, value, words", [
    ("connectionArn", "arn:aws:codestar:eu-west-1:111122223333:connection/x",
     "the ARN of a CodeConnections connection"),
    ("repository", "just-a-name", "owner/name"),
    ("specPath", "../outside.yaml", "a relative path to a .yaml or .yml file inside the repository"),
    ("specPath", "/abs/meshspec.yaml", "a relative path to a .yaml or .yml file inside the repository"),
    ("name", "has space", "at most 80 letters, digits, - and _"),
    ("name", "with.dot", "at most 80 letters, digits, - and _"),
    ("branch", "a b", "a git branch name"),
    ("stacksPerAction", "0", "greater than or equal to 1"),
])
def test_fails_on_a_malformed_pipeline_key(key, value, words):
    text = pipeline_spec_text(2)
    if key in ("connectionArn", "repository"):
        text = text.replace(CONNECTION if key == "connectionArn" else "acme/infrastructure", value)
    else:
        text = text.replace(f"    connectionArn: {CONNECTION}\n", f"    connectionArn: {CONNECTION}\n    {key}: '{value}'\n"
                            if key not in ("stacksPerAction",) else
                            f"    connectionArn: {CONNECTION}\n    {key}: {value}\n")
    errors = _errors(text)
    assert len(errors) == 1 and f"aws.pipeline.{key}" in errors[0] and words in errors[0], errors


def test_the_pipeline_needs_its_repository_and_connection():
    text = pipeline_spec_text(2).replace("    repository: acme/infrastructure\n", "")
    assert _errors(text) == ["spec.yaml:8:5: error: aws.pipeline.repository: required key 'repository' is missing "
                             "(allowed: add repository under aws.pipeline)"]


# -- meshspec deploy-plan ----------------------------------------------------------------------------------------
def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_deploy_plan_gives_every_stack_by_level_as_jobs(capsys):
    code, out, err = run(capsys, "deploy-plan", str(EXAMPLES / "shop.yaml"), "--format", "json", "--stacks-per-job", "2")
    doc = json.loads(out)
    assert code == 0 and doc["command"] == "deploy-plan"
    assert [(lv["level"], lv["kinds"]) for lv in doc["levels"]] == [
        (0, ["shared"]), (1, ["cluster"]), (2, ["service"]), (3, ["queries"])]
    assert doc["levels"][0]["jobs"] == [{"name": "level 0: 1/1", "stacks": ["shop-shared"], "services": []}]
    services = doc["levels"][2]["jobs"]
    assert [j["stacks"] for j in services] == [["shop-svc-catalog", "shop-svc-pricing"],
                                               ["shop-svc-erp-connector", "shop-svc-recommendations"]]
    assert services[0]["services"] == ["catalog", "pricing"]
    assert "level 2 (service): 4 stack(s) in 2 job(s)" in err


def test_deploy_plan_of_an_assembly_deploys_what_it_holds(capsys, tmp_path):
    manifest = {"version": "48.0.0", "artifacts": {
        "shop-core": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "x", "stackName": "shop-core"}},
        "shop-svc-catalog": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "y"}},
        "shop-svc-catalog.assets": {"type": "cdk:asset-manifest", "properties": {"file": "z"}}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = run(capsys, "deploy-plan", str(EXAMPLES / "shop.yaml"), "--assembly", str(tmp_path),
                       "--format", "json")
    assert code == 0
    assert [lv["stacks"] for lv in json.loads(out)["levels"]] == [[], ["shop-core"], ["shop-svc-catalog"], []]


def test_deploy_plan_refuses_an_assembly_of_another_spec(capsys, tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "other-shared": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "x"}}}}))
    code, out, err = run(capsys, "deploy-plan", str(EXAMPLES / "shop.yaml"), "--assembly", str(tmp_path))
    assert code == 1 and out == ""
    assert f"error: {tmp_path} holds stacks this spec does not make: other-shared" in err
    assert "hint: synthesize this spec into it: meshspec synth" in err


def test_deploy_plan_refuses_a_folder_without_assembly(capsys, tmp_path):
    code, out, err = run(capsys, "deploy-plan", str(EXAMPLES / "shop.yaml"), "--assembly", str(tmp_path / "none"),
                         "--format", "json")
    error = json.loads(out)["error"]
    assert code == 1 and error["message"] == f"{tmp_path / 'none'} holds no cloud assembly (no manifest.json)"
    assert error["hint"] == f"write one first: meshspec synth {EXAMPLES / 'shop.yaml'} --out {tmp_path / 'none'}"


def test_deploy_plan_refuses_zero_stacks_per_job(capsys):
    code, _, err = run(capsys, "deploy-plan", str(EXAMPLES / "shop.yaml"), "--stacks-per-job", "0")
    assert code == 1 and "error: --stacks-per-job must be at least 1 (given: 0)" in err


@pytest.fixture
def repo(tmp_path):
    shutil.copytree(EXAMPLES, tmp_path, dirs_exist_ok=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "base"], check=True)
    return tmp_path


def test_deploy_plan_since_a_ref_lists_only_what_the_change_touches(repo, capsys):
    spec = repo / "shop.yaml"
    spec.write_text(spec.read_text().replace("catalog:2026.11.2", "catalog:2026.12.1"))
    code, out, _ = run(capsys, "deploy-plan", str(spec), "--changed-since", "HEAD", "--format", "json")
    levels = json.loads(out)["levels"]
    # the partial synth's selection: the touched service, with the shared and cluster stacks it is built against
    assert code == 0 and levels[2]["stacks"] == ["shop-svc-catalog"]
    assert levels[0]["stacks"] == ["shop-shared"]


def test_deploy_plan_since_a_ref_without_change_deploys_nothing(repo, capsys):
    code, out, err = run(capsys, "deploy-plan", str(repo / "shop.yaml"), "--changed-since", "HEAD", "--format", "json")
    assert code == 0 and all(lv["stacks"] == [] for lv in json.loads(out)["levels"])
    assert "nothing to deploy" in err


# -- docs/pipelines.md: the arithmetic is the code's --------------------------------------------------------------
def _doc() -> str:
    """docs/pipelines.md with its lines joined: a figure may be wrapped anywhere."""
    return " ".join((ROOT / "docs" / "pipelines.md").read_text(encoding="utf-8").split())


def test_the_throughput_arithmetic_of_the_docs_is_what_the_code_plans():
    from meshspec.infra.spec import quotas
    from meshspec.infra.spec.model import Pipeline
    from meshspec.infra.spec.stack_quotas import CDK_METADATA, PIPELINE_BYTES_ACTION, PIPELINE_RESOURCES, estimate

    doc = _doc()
    # GIVEN 500 services on one cluster, saved queries across services; the defaults
    spec = _spec(pipeline_spec_text(500, backend="lattice", versions=1, queries=True))
    defaults = Pipeline.model_fields
    per_action, per_wave = defaults["stacks_per_action"].default, defaults["actions_per_wave"].default
    stacks = [s for s in sharding.layout(spec) if s.kind not in waves.NOT_IN_WAVES]
    shape = waves.pipeline_shape(spec)
    sizes = [(w.name, len(w.batches)) for w in shape.waves]
    services = [w for w in shape.waves if w.name.startswith("Services")]
    # THEN the docs give the code's figures
    assert f"500 services on one cluster, with saved queries across services, are {len(stacks)} stacks" in doc
    assert (f"**CodePipeline, defaults** (`stacksPerAction: {per_action}`, `actionsPerWave: {per_wave}`): "
            f"{len(stacks)} stacks make the waves") in doc
    assert sizes == [("Shared", 1), ("Clusters", 1), *[(f"Services-{i}", per_wave) for i in range(1, 6)],
                     ("Queries", 1)]
    assert (f"Shared (1 action), Clusters (1), Services-1 … Services-{len(services)} ({per_wave} actions of "
            f"{per_action} stacks each), Queries (1): {shape.stages} stages and {shape.actions} actions, well within "
            f"{quotas.CODEPIPELINE_STAGES_PER_PIPELINE} stages and {quotas.CODEPIPELINE_ACTIONS_PER_PIPELINE} actions; "
            f"the pipeline stack holds {PIPELINE_RESOURCES + CDK_METADATA + shape.actions} resources") in doc
    # in flight: builds, stacks, and resources by validate's estimate of a service stack on each backend
    def service_resources(backend, versions):
        small = _spec(pipeline_spec_text(3, backend=backend, versions=versions))
        return next(e.resources for e in estimate(small) if e.stack == "big-svc-svc-001")

    fewest, one, most = service_resources("service-connect", 1), service_resources("lattice", 1), \
        service_resources(None, 2)
    assert (f"In flight: {shape.widest} builds (within CodeBuild's {quotas.CODEBUILD_CONCURRENT_BUILDS_LOW}–"
            f"{quotas.CODEBUILD_CONCURRENT_BUILDS}), {shape.stacks_at_once} stacks, from about "
            f"{round(shape.stacks_at_once * fewest, -2):,} resources in concurrent stack operations (services on "
            f"Service Connect) to about {round(shape.stacks_at_once * most, -2):,} (two code versions each on "
            f"App Mesh)") in doc
    assert (f"{fewest} for a service on Service Connect, {one} with one code version on Lattice, {most} with two on "
            f"App Mesh") in doc
    assert f"stacks in flight ({per_action * per_wave} by default)" in doc
    assert f"A wave runs `actionsPerWave` builds at once ({per_wave} by default)" in doc
    assert f"A one-service change costs about {len(shape.waves)} waves" in doc
    assert f"A change to every service (say, a new sidecar image): {len(services)} service waves" in doc
    assert (f"the stack holds {PIPELINE_RESOURCES + CDK_METADATA} resources plus one CodeBuild project per action "
            f"(about {round(PIPELINE_BYTES_ACTION / 1000)} KB each)") in doc
    # wider waves: all the services in one wave
    wide = waves.pipeline_waves(sharding.layout(spec), per_action, quotas.CODEPIPELINE_ACTIONS_PER_STAGE)
    (wide_services,) = [w for w in wide if w.name.startswith("Services")]
    assert (f"`actionsPerWave: {quotas.CODEPIPELINE_ACTIONS_PER_STAGE}` deploys the 500 services in 1 wave of "
            f"{len(wide_services.batches)} actions") in doc
    # GitHub Actions: the services' level as a matrix of jobs
    jobs = waves.github_levels(sharding.layout(spec), None, 10)
    assert f"level 2 is a matrix of {len(jobs[2])} jobs of 10 stacks" in doc
    assert f"GitHub runs at most {waves.GITHUB_MATRIX_JOBS} jobs in a matrix" in doc


def test_one_stack_per_action_stops_where_the_docs_say():
    # GIVEN one stack per action in waves of 50: the pipeline stack grows by a CodeBuild project per stack
    doc = _doc()
    keys = "    stacksPerAction: 1\n    actionsPerWave: 50\n"
    limit = int(re.search(r"gives each stack its own action, up to (\d+) stacks", doc).group(1))
    # THEN validate takes that many stacks (the shared stack, the cluster, the services) and refuses one more
    assert _errors(pipeline_spec_text(limit - 2, backend="service-connect", versions=1, pipeline=keys)) == []
    errors = _errors(pipeline_spec_text(limit - 1, backend="service-connect", versions=1, pipeline=keys))
    assert len(errors) == 1 and "stack big-pipeline would hold about 501 resources" in errors[0]


def test_the_deploy_plan_of_the_docs_is_the_commands_output(capsys):
    doc = (ROOT / "docs" / "pipelines.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ meshspec deploy-plan shop.yaml (.*?)\n(.*?)```", doc, re.S)
    args, shown = block.group(1).split(), block.group(2)
    code, out, err = run(capsys, "deploy-plan", str(EXAMPLES / "shop.yaml"), *args)
    assert code == 0 and out == "" and err == shown  # the text report goes to stderr


def test_the_pipelines_hints_reach_the_pipelines_topic(capsys):
    # GIVEN a pipeline too long for CodePipeline: validate's hint names a help topic
    (error,) = _errors(pipeline_spec_text(500, backend="service-connect", versions=1,
                                          pipeline="    actionsPerWave: 1\n"))
    (topic,) = re.findall(r"`meshspec help (\w+)`", error)
    # THEN that topic prints this document, the one whose arithmetic the tests above check
    code, out, _ = run(capsys, "help", topic)
    assert code == 0 and out == (ROOT / "docs" / "pipelines.md").read_text(encoding="utf-8")
