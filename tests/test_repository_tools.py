"""The pieces behind `meshspec init`, `meshspec cdk`, `traffic grown`, `synth --nag` and the pytest plugin,
in-process; end to end from an installed wheel: tests/test_installed.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshspec.infra.cdkcli import choose_cli
from meshspec.infra.cli.main import main
from meshspec.infra.errors import UserError
from meshspec.infra.init import FILES, SNAPSHOTS, project_name, render
from meshspec.infra.testing import scrub
from meshspec.infra.traffic.grown import grown_versions
from tests.cdk_support import load

# (CLI release, aws-cdk-lib it was built against), as the npm registry lists them (2026-11)
RELEASES = [("2.1145.0", "2.272.0"), ("2.1146.1", "2.273.0"), ("2.1147.0", "2.275.0"), ("2.1146.0", "2.273.0"),
            ("2.1148.1", "2.275.0"), ("2.1148.0", "2.275.0"), ("2.1149.0", "2.277.0"), ("3.0.0", "^2.187.0")]


def test_the_cli_is_the_newest_release_built_against_the_library():
    assert choose_cli("2.275.0", RELEASES) == "2.1148.1"
    assert choose_cli("2.273.0", RELEASES) == "2.1146.1"


def test_a_library_no_release_is_built_against_gets_the_nearest_newer_one():
    assert choose_cli("2.274.0", RELEASES) == "2.1148.1"
    assert choose_cli("2.276.1", RELEASES) == "2.1149.0"


def test_fails_when_the_library_is_newer_than_every_cli():
    with pytest.raises(UserError) as err:
        choose_cli("2.280.0", RELEASES)
    assert err.value.message == "no CDK CLI release is built for aws-cdk-lib 2.280.0 yet (the newest is built for 2.277.0)"
    assert "pip install 'aws-cdk-lib==2.277.0'" in err.value.hint


@pytest.mark.parametrize(("folder", "project"), [("my-platform", "my-platform"), ("Team_Infra 2", "team-infra-2"),
                                                 ("42", "services"), ("a" * 30, "a" * 20), ("x", "services")])
def test_the_project_name_comes_from_the_folder(tmp_path, folder, project):
    assert project_name(tmp_path / folder) == project


def test_init_refuses_a_folder_with_any_of_its_files_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "tests" / "__snapshots__" / "test_meshspec").mkdir(parents=True)
    (tmp_path / "stacks").mkdir()
    assert main(["init", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"exists: {tmp_path}/README.md\nexists: {tmp_path}/{SNAPSHOTS}\n" in err
    assert f"error: 2 file(s) already exist in {tmp_path}: nothing was written" in err
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "stacks", "tests"]


def test_init_refuses_a_file_and_a_bad_project_name(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert main(["init", str(tmp_path / "f")]) == 1
    assert main(["init", str(tmp_path / "d"), "--project", "Bad_Name"]) == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path}/f is not a folder" in err
    assert "error: --project 'Bad_Name' is not a usable project name" in err
    assert not (tmp_path / "d").exists()


def test_the_rendered_spec_is_valid_and_uses_no_app_mesh(tmp_path):
    files = render("team", "9.9.9")
    assert set(files) == set(FILES)
    assert not [p for p, text in files.items() if "__PROJECT__" in text or "__MESHSPEC_VERSION__" in text]
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    from meshspec.infra.spec import load_spec

    result = load_spec(tmp_path / "meshspec.yaml")
    assert result.ok and result.warnings == [], [e.render() for e in result.problems]
    assert result.spec.aws.mesh.backend == "service-connect"
    assert "meshspec[testing]==9.9.9" in files["requirements.txt"]
    assert json.loads(files["cdk.json"])["context"]["spec"] == "meshspec.yaml"


BASE = """apiVersion: meshspec/v1
project: grow
gcp: {project: grow-12345, location: europe-west}
services:
  a:
    appengine: {environment: standard, runtime: python312, defaultService: true}
    majors: {v1: {contract: c.json}}
    versions:
      - {name: x, source: gs://bkt/x.zip, traffic: 100}
"""


def test_grown_lists_each_version_whose_share_grew_with_its_canary_steps():
    old = load(BASE)
    new = load(BASE.replace("traffic: 100}", "traffic: 90}\n      - {name: y, source: gs://bkt/y.zip, traffic: 10}"))
    assert grown_versions(old, new) == [
        {"service": "a", "major": "v1", "version": "y", "from": 0.0, "to": 10.0, "steps": "10"}]
    assert grown_versions(old, old) == []
    assert grown_versions(None, new) == []  # nothing took traffic before: no baseline for a canary


def test_synth_with_nag_lists_every_unacknowledged_finding(tmp_path, capsys, monkeypatch):
    # GIVEN a finding cdk-nag reports (a stack's role with Resource '*' and no acknowledgement)
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    from meshspec.stacks import app as app_module

    real_build = app_module.build

    def build_with_a_wildcard(spec, app=None, **kw):
        built = real_build(spec, app, **kw)
        role = iam.Role(built.shared, "Loose", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
        return built

    monkeypatch.setattr(app_module, "build", build_with_a_wildcard)
    spec = tmp_path / "meshspec.yaml"
    for rel, text in render("nagged", "1").items():
        if rel.startswith(("meshspec.yaml", "contracts/")):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
    # WHEN synthesized with --nag / THEN exit 1, the finding named with its construct
    assert main(["synth", str(spec), "--out", str(tmp_path / "o"), "--nag"]) == 1
    err = capsys.readouterr().err
    assert "cdk-nag AwsSolutions-IAM5[Resource::*]: nagged-shared/Loose/DefaultPolicy/Resource" in err
    assert "error: cdk-nag: 1 finding(s) not acknowledged" in err
    assert cdk  # imported for the role's stack


def test_scrub_replaces_machine_paths_hashes_and_cdk_metadata():
    template = {"Resources": {"CDKMetadata": {"Type": "AWS::CDK::Metadata"},
                              "F": {"Type": "X", "Metadata": {"aws:cdk:path": "s/F"},
                                    "Properties": {"Code": "a" * 64 + ".zip", "Dir": "/work/x/asset.1", "Url": "https://x/y"}}}}
    assert scrub(template, roots=["/work"]) == {"Resources": {"F": {"Type": "X", "Properties": {
        "Code": "<asset-hash>.zip", "Dir": "<path>", "Url": "https://x/y"}}}}


def test_help_topics_the_hints_name_ship_in_the_package():
    from meshspec.infra.cli.commands.help import docs_dir

    assert (docs_dir() / "repository.md").is_file() and Path(docs_dir(), "testing.md").is_file()
