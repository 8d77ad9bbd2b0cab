"""Generate a large, realistic spec: N services over an ECS and an EKS cluster, two code versions each,
one or two majors, environment, a secret reference and a few consumers each.

Usage: python benchmarks/gen_spec.py N OUT.yaml [--backend appmesh]
Contracts are written beside OUT (one shared file) so the spec is valid apart from quotas, and services.json:
the same services as a plain config for the hand-written CDK app (benchmarks/handwritten/app.py).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def generate(n: int, backend: str = "appmesh") -> str:
    lines = [
        "# yaml-language-server: $schema=../schema/meshspec.schema.json",
        "apiVersion: meshspec/v1", f"project: bench{n}",
        "aws:", "  region: eu-west-1", '  account: "111122223333"', "  availabilityZones: [eu-west-1a, eu-west-1b]",
        "  clusters:", "    - {name: core, platform: ecs, capacity: fargate}", "    - {name: ml, platform: eks}",
        f"  mesh: {{name: bench{n}, backend: {backend}}}",
        "services:",
    ]
    for i in range(n):
        name = f"svc-{i:04d}"
        two_majors = i % 5 == 0
        on_eks = i % 10 == 9
        lines += [
            f"  {name}:",
            f"    cluster: {'ml' if on_eks else 'core'}",
            "    port: 8080",
            "    cpu: 256", "    memory: 512",
            "    env:", "      LOG_LEVEL: info", f"      SERVICE_INDEX: {i}",
        ]
        if not on_eks:  # meshspec injects secrets on ECS only
            lines += ["    secrets:",
                      f"      DB_PASSWORD: arn:aws:secretsmanager:eu-west-1:111122223333:secret:bench/{name}-AbCdEf"]
        lines += [
            "    majors:",
            "      v1:", "        contract: contract.json",
        ]
        if two_majors:
            lines += ["      v2:", "        contract: contract.json"]
        lines += [
            "    versions:",
            "      - name: blue", f"        image: public.ecr.aws/bench/{name}:1", "        traffic: 90",
            "      - name: green", f"        image: public.ecr.aws/bench/{name}:2", "        traffic: 10",
        ]
        uses = [f"svc-{(i + k) % n:04d}/v1" for k in (1, 2, 3) if (i + k) % n != i]
        lines.append(f"    uses: [{', '.join(uses)}]")
    return "\n".join(lines) + "\n"


def config(n: int) -> dict:
    """The same services as a plain config, for the hand-written CDK app (benchmarks/handwritten/app.py)."""
    services = []
    for i in range(n):
        name, on_eks = f"svc-{i:04d}", i % 10 == 9
        services.append({
            "name": name, "cluster": "ml" if on_eks else "core", "platform": "eks" if on_eks else "ecs",
            "port": 8080, "cpu": 256, "memory": 512,
            "env": {"LOG_LEVEL": "info", "SERVICE_INDEX": str(i), "APP_NAME": name},
            "secrets": {} if on_eks else {
                "DB_PASSWORD": f"arn:aws:secretsmanager:eu-west-1:111122223333:secret:bench/{name}-AbCdEf"},
            "majors": [{"name": m, "path": f"/{name}/{m}/"} for m in (("v1", "v2") if i % 5 == 0 else ("v1",))],
            "versions": [{"name": "blue", "image": f"public.ecr.aws/bench/{name}:1", "traffic": 90},
                         {"name": "green", "image": f"public.ecr.aws/bench/{name}:2", "traffic": 10}],
            "uses": [f"svc-{(i + k) % n:04d}" for k in (1, 2, 3) if (i + k) % n != i],
        })
    return {"project": f"bench{n}", "region": "eu-west-1", "account": "111122223333",
            "availabilityZones": ["eu-west-1a", "eu-west-1b"],
            "clusters": [{"name": "core", "platform": "ecs"}, {"name": "ml", "platform": "eks"}], "services": services}


def write(n: int, out: Path, backend: str = "appmesh") -> Path:
    """OUT (the spec), contract.json beside it, and services.json (the same services for the hand-written app)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(generate(n, backend))
    (out.parent / "contract.json").write_text(json.dumps({"type": "object", "properties": {}}))
    (out.parent / "services.json").write_text(json.dumps(config(n), indent=1))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--backend", default="appmesh")
    a = ap.parse_args()
    print(write(a.n, a.out, a.backend))
