"""CloudFormation quotas estimated from the spec (infra/spec/stack_quotas.py): the estimates against real
synthesized templates, and every violation reported by validate at the part of the spec to change."""
from __future__ import annotations

import sys
import textwrap

import pytest

from meshspec.infra.spec import load_spec, load_text
from meshspec.infra.spec import quotas as q
from meshspec.infra.spec.errors import Problems
from meshspec.infra.spec.stack_quotas import check_cloudformation, estimate

from .conftest import ROOT, TODAY

sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_spec import generate  # noqa: E402

HEAD = """\
apiVersion: meshspec/v1
project: PROJECT
aws:
  region: eu-west-1
  clusters:
    - {name: core, platform: ecs}
services:
"""


def service(name, versions=1, env="", extra=""):
    vs = "".join(f"      - {{name: v{i}, image: img/{name}:{i}, traffic: {100 if i == 0 else 0}}}\n"
                 for i in range(versions))
    return f"  {name}:\n    cluster: core\n{env}{extra}    majors: {{v1: {{contract: c.json}}}}\n    versions:\n{vs}"


def load(text):
    return load_text(text, file="spec.yaml", today=TODAY)


def cfn_errors(result):
    return [e for e in result.errors if e.code == "quota-cloudformation"]


def synthesized(spec, tmp_path):
    from meshspec.stacks.app import build, new_app, synthesize

    return synthesize(build(spec, new_app(str(tmp_path / "out"), validation=False))).stacks


def one_version_each(text: str) -> str:
    """Service Connect keeps no lasting split: the generated spec with blue at 100 % and green at 0 %."""
    return text.replace("traffic: 10\n", "traffic: 0\n").replace("traffic: 90\n", "traffic: 100\n")


OBJECTIVES = HEAD.replace("PROJECT", "cal") + """\
  svc:
    cluster: core
    slo: {availability: 99.9, latency: {thresholdMs: 300}}
    majors:
      v1: {contract: c.json, slo: {availability: 99.9, latency: {thresholdMs: 250}}}
      v2: {contract: c.json}
    versions: [{name: a, image: img, traffic: 100}, {name: b, image: img, traffic: 0}]
    uses: [dep/v1]
  dep:
    cluster: core
    slo: {availability: 99}
    majors: {v1: {contract: c.json}}
    versions: [{name: d, image: img, traffic: 100}]
"""


@pytest.mark.parametrize("which", ["example", "example-ec2", "example-lattice", "appmesh", "lattice",
                                   "service-connect", "objectives"])
def test_estimates_match_the_synthesized_templates(which, shop_spec, tmp_path):
    from meshspec.stacks.limits import size
    from tests.cdk_support import shop_variant_ec2

    if which == "example":
        spec = shop_spec
    elif which == "objectives":  # service and major objectives (a slow-request filter), a dependency row
        spec = load(OBJECTIVES).spec
    elif which == "example-ec2":
        spec = load(shop_variant_ec2()).spec
    elif which == "example-lattice":  # defaults.logKmsKey: create
        spec = load_spec(ROOT / "examples" / "shop-lattice.yaml", today=TODAY).spec
    elif which == "service-connect":  # ECS only: every service on the ECS cluster
        spec = load(one_version_each(generate(20, "service-connect")).replace("cluster: ml", "cluster: core")).spec
    else:
        spec = load(generate(20, which)).spec
    assert spec is not None
    est = {e.stack: e for e in estimate(spec)}
    templates = synthesized(spec, tmp_path)
    assert set(est) == set(templates)
    for name, t in templates.items():
        real, e = size(name, t), est[name]
        assert (e.resources, e.outputs, e.parameters) == (real.resources, real.outputs, real.parameters), name
        assert 0.85 <= e.template_bytes / real.template_bytes <= 1.15, (name, e.template_bytes, real.template_bytes)


def test_the_example_is_far_under_every_quota(shop_spec):
    p = Problems("shop.yaml")
    check_cloudformation(shop_spec, p)
    assert p.items == []
    assert max(e.resources for e in estimate(shop_spec)) < q.CFN_RESOURCES_PER_STACK // 10


def test_fails_when_one_service_has_too_many_saved_queries():
    queries = "".join(f"    - {{name: q{i}, query: 'fields @message', services: [big]}}\n" for i in range(500))
    r = load(HEAD.replace("PROJECT", "shop") + service("big") + "queries:\n  custom:\n" + queries)
    [err] = cfn_errors(r)
    assert err.key_path == "queries.custom"
    assert "stack shop-svc-big would hold about 523 resources, 500 of them from here" in err.message
    assert err.allowed == "at most 500" and "merge them into fewer queries" in err.hint


def test_fails_when_the_environment_overflows_the_template():
    env = "    env:\n" + "".join(f"      VAR_{i}: '{'x' * 600}'\n" for i in range(200))
    r = load(HEAD.replace("PROJECT", "shop") + service("big", versions=10, env=env))
    [err] = cfn_errors(r)
    assert err.key_path == "services.big.env"
    assert "bytes of template" in err.message and "CloudFormation allows 1000000 per stack" in err.message
    assert err.line is not None  # positioned in the file
    assert "move large values out of env" in err.hint


def test_fails_when_the_shared_queries_overflow_the_queries_stack():
    queries = "".join(f"    - {{name: q{i}, query: '{'x' * 9000}'}}\n" for i in range(120))
    r = load(HEAD.replace("PROJECT", "shop") + service("a") + service("b") + "queries:\n  custom:\n" + queries)
    [err] = cfn_errors(r)
    assert err.key_path.startswith("queries.custom[")
    assert "stack shop-queries would hold about" in err.message and "bytes of template" in err.message
    assert "give each one the services it reads" in err.hint


def test_fails_when_a_stack_name_is_too_long():
    project, name = "p" * 63, "s" * 63
    r = load(HEAD.replace("PROJECT", project) + service(name))
    [err] = cfn_errors(r)
    assert err.key_path == f"services.{name}"
    assert f"the stack name {project}-svc-{name} is 131 characters; CloudFormation allows 128" in err.message


def test_fails_when_the_app_needs_more_stacks_than_a_region_allows(shop_spec):
    one = shop_spec.services["catalog"]
    many = shop_spec.model_copy(update={"services": {f"s{i}": one for i in range(q.CFN_STACKS_PER_REGION)}})
    p = Problems("spec.yaml")
    check_cloudformation(many, p)
    [err] = p.errors
    assert err.path == ("services",)
    # plus the shared stack, two cluster stacks and the queries stack
    assert err.message.startswith(f"the app would have {q.CFN_STACKS_PER_REGION + 4} stacks")
    assert "raise the stack quota" in err.hint


def test_validate_reports_the_quota_through_the_cli(tmp_path, capsys):
    from meshspec.infra.cli.main import main

    env = "    env:\n" + "".join(f"      VAR_{i}: '{'x' * 600}'\n" for i in range(200))
    (tmp_path / "c.json").write_text("{}")
    (tmp_path / "spec.yaml").write_text(HEAD.replace("PROJECT", "shop") + service("big", versions=10, env=env))
    assert main(["validate", str(tmp_path / "spec.yaml")]) == 1
    err = capsys.readouterr().err
    assert "services.big.env: stack shop-svc-big would hold about" in err
    assert textwrap.dedent("hint: move large values out of env") in err
