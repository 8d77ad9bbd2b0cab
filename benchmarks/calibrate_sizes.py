"""Measure what one service adds to its stack's template, to set the constants in infra/spec/stack_quotas.py.

Usage: python benchmarks/calibrate_sizes.py [appmesh|service-connect|lattice]   (a handful of one-service specs)
Prints, per variation, the service stack's resources and template bytes (as CDK writes the file).
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from meshspec.infra.node import use_project_node

use_project_node()  # jsii on the project's Node, before aws-cdk-lib is imported
from meshspec.infra.spec import load_spec_or_raise
from meshspec.stacks.app import build, new_app

BASE = """apiVersion: meshspec/v1
project: cal
aws:
  region: eu-west-1
  clusters: [{name: core, platform: ecs}, {name: k8s, platform: eks}]
  mesh: {backend: BACKEND}
services:
  svc:
    cluster: CLUSTER
    majors: MAJORS
    versions: VERSIONS
    env: ENV
    secrets: SECRETS
    uses: USES
    SLO
DEPS
queries:
  custom: QUERIES
"""


def spec_text(cluster="core", versions=1, majors=1, env=0, env_len=0, secrets=0, queries=0, query_len=0,
              backend="appmesh", slo=False, uses=0) -> str:
    vs = [{"name": f"v{i}x", "image": f"public.ecr.aws/cal/svc:{i}", "traffic": 100 if i == 0 else 0}
          for i in range(versions)]
    ms = {f"v{i + 1}": {"contract": "c.json"} for i in range(majors)}
    return (BASE.replace("CLUSTER", cluster).replace("BACKEND", backend).replace("MAJORS", json.dumps(ms)).replace("VERSIONS", json.dumps(vs))
            .replace("ENV", json.dumps({f"VAR_{i}": "x" * env_len for i in range(env)}))
            .replace("SECRETS", json.dumps({f"S_{i}": f"arn:aws:secretsmanager:eu-west-1:111122223333:secret:cal/s{i}-AbCdEf"
                                            for i in range(secrets)}))
            .replace("USES", json.dumps([f"dep{i}/v1" for i in range(uses)]))
            .replace("SLO", "slo: {availability: 99.9, latency: {thresholdMs: 300}}" if slo else "")
            .replace("DEPS", "".join(f"  dep{i}:\n    cluster: core\n    majors: {{v1: {{contract: c.json}}}}\n"
                                     f"    versions: [{{name: d, image: img, traffic: 100}}]\n" for i in range(uses)))
            .replace("QUERIES", json.dumps([{"name": f"q{i}", "query": "x" * query_len, "services": ["svc"]}
                                           for i in range(queries)])))


def measure(**kw) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "c.json").write_text("{}")
        (Path(d) / "spec.yaml").write_text(spec_text(**kw))
        spec = load_spec_or_raise(Path(d) / "spec.yaml")
        out = Path(d) / "out"
        build(spec, new_app(str(out), validation=False)).app.synth()
        f, shared = out / "cal-svc-svc.template.json", out / "cal-shared.template.json"
        t = json.loads(shared.read_text())
        return (len(json.loads(f.read_text())["Resources"]), f.stat().st_size,
                f"(shared: {len(t['Resources'])} resources, {len(t.get('Outputs', {}))} outputs, {shared.stat().st_size} bytes)")


if __name__ == "__main__":
    cases = {
        "ecs base": {}, "ecs +1 version": {"versions": 2}, "ecs +1 major": {"majors": 2},
        "ecs +10 env x100": {"env": 10, "env_len": 100}, "ecs +10 env x100, 2 versions": {"env": 10, "env_len": 100, "versions": 2},
        "ecs +5 secrets": {"secrets": 5}, "ecs +2 queries x1000": {"queries": 2, "query_len": 1000},
        "ecs +slo (2 objectives)": {"slo": True}, "ecs +3 uses": {"uses": 3},
        "eks base": {"cluster": "k8s"}, "eks +1 version": {"cluster": "k8s", "versions": 2},
        "eks +1 major": {"cluster": "k8s", "majors": 2}, "eks +10 env x100": {"cluster": "k8s", "env": 10, "env_len": 100},
    }
    backend = sys.argv[1] if len(sys.argv) > 1 else "appmesh"
    for label, kw in cases.items():
        if backend == "service-connect" and "eks" in label:
            continue  # Service Connect is ECS's: EKS services are refused by validate
        print(backend, label, *measure(**kw, backend=backend), flush=True)
