"""Helpers shared by the CDK tests: synthesize once, scrub unstable values, generate large specs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from meshspec.infra.spec import load_text
from meshspec.infra.testing import scrub  # noqa: F401  (re-exported: the one scrub is the package's, users' too)
from tests.conftest import TODAY

def stack(app: cdk.App | None = None, *, account: str = "111122223333", region: str = "eu-west-1") -> cdk.Stack:
    """A stack for construct tests: explicit environment, no built-in validation (unit tests)."""
    app = app or cdk.App(builtin_cloud_formation_validation=False)
    return cdk.Stack(app, "Test", env=cdk.Environment(account=account, region=region))


def template(s: cdk.Stack) -> Template:
    return Template.from_stack(s)


def resources(t: Template, type_: str) -> dict[str, Any]:
    return t.find_resources(type_)


def big_spec_text(n: int, *, versions: int = 2, cluster: str = "core") -> str:
    """A valid spec with ``n`` meshed ECS services of ``versions`` code versions each; each uses the next one."""
    lines = ["apiVersion: meshspec/v1", "project: big", "aws:", "  region: eu-west-1", "  account: '111122223333'",
             "  availabilityZones: [eu-west-1a, eu-west-1b, eu-west-1c]", "  clusters:",
             f"    - name: {cluster}", "      platform: ecs", "services:"]
    share = 100 // versions
    for i in range(n):
        lines += [f"  svc-{i:03d}:", f"    cluster: {cluster}", "    majors:", "      v1:",
                  "        contract: contracts/x.json", "    versions:"]
        for j in range(versions):
            weight = share + (100 - share * versions if j == 0 else 0)
            lines += [f"      - name: b-{j}", f"        image: public.ecr.aws/big/svc-{i}:{j}",
                      f"        traffic: {weight}"]
        if i + 1 < n:
            lines += [f"    uses: [svc-{i + 1:03d}/v1]"]
    return "\n".join(lines) + "\n"


def load(text: str):
    result = load_text(text, today=TODAY)
    assert result.ok, [e.render() for e in result.errors]
    return result.spec


def assembly_files(directory: str | Path) -> list[Path]:
    return [p for p in Path(directory).rglob("*") if p.is_file()]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)


PRIVATE_IMAGE = "444455556666.dkr.ecr.eu-west-1.amazonaws.com/shop/pricing:41"


def shop_variant_ec2() -> str:
    """The shop with its ECS cluster offering EC2 capacity (c6i.large, the default for its services) and Fargate:
    catalog and pricing on EC2, erp-connector on Fargate; pricing's p-41 from a private ECR repository in
    another account."""
    from tests.conftest import SHOP

    text = SHOP.read_text(encoding="utf-8")
    for old, new in (("      capacity: [fargate, ec2]\n", "      capacity: [ec2, fargate]\n      instanceType: c6i.large\n"),
                     ("    capacity: ec2\n", "    capacity: fargate\n"),
                     ("image: public.ecr.aws/shop/pricing:41", f"image: {PRIVATE_IMAGE}")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text
