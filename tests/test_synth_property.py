"""Property (issue #16): any spec that validate accepts synthesizes, and its App Engine part plans, without an
internal error.

What it generates: specs on every mesh backend with one to three clusters (ECS with no capacity key, fargate, ec2 or
both in either order, on known and unknown instance types, with and without ENI trunking, any capacity bounds;
EKS with a Kubernetes version), one to four services placed on any cluster (with or without a capacity choice) or on
App Engine standard or flexible, CPU and memory from Fargate's sizes, EC2-only sizes and odd values, public, private
ECR and cross-account ECR images, one or two majors (active, deprecated with a sunset, retired), one to three
versions with shares that sum to 100 or not, uses between them, env, secrets, per-service log retention (valid or
not), defaults, saved queries, and the keys of one backend written under another. Specs validate refuses are
discarded; every accepted one is synthesized (all stacks, as ``meshspec synth`` does) and its App Engine part
planned against an empty application.

Examples per run: MESHSPEC_PROPERTY_EXAMPLES (default 20, about a second each, so the suite stays in budget; runs with
more are listed in the report of issue #16).
"""
from __future__ import annotations

import os
import tempfile

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meshspec.infra.spec import load_text
from tests.conftest import TODAY

EXAMPLES = int(os.environ.get("MESHSPEC_PROPERTY_EXAMPLES", "20"))
NAMES = ("alpha", "beta", "gamma", "delta")
INSTANCE_TYPES = ("m6i.large", "c6i.large", "r6g.xlarge", "t3.medium", "m7i.4xlarge", "x9z.huge")
CAPACITIES = (None, "fargate", "ec2", ["ec2", "fargate"], ["fargate", "ec2"])
SIZES = ((256, 512), (512, 1024), (1024, 2048), (2048, 8192), (4096, 30720), (300, 600), (256, 4096), (128, 256))
IMAGES = ("public.ecr.aws/prop/app:1", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/prop/app:2",
          "444455556666.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:" + "a" * 64, "docker.io/library/nginx:1.27")
RETENTIONS = (None, None, None, 1, 2, 14, 30, 365)


@st.composite
def clusters(draw) -> list[dict]:
    out = []
    for i in range(draw(st.integers(1, 3))):
        platform = draw(st.sampled_from(("ecs", "ecs", "eks")))
        c: dict = {"name": f"c{i}", "platform": platform}
        if platform == "ecs":
            capacity = draw(st.sampled_from(CAPACITIES))
            if capacity is not None:
                c["capacity"] = capacity
            if capacity not in (None, "fargate") and draw(st.booleans()):
                c["instanceType"] = draw(st.sampled_from(INSTANCE_TYPES))
                c["maxCapacity"] = draw(st.integers(1, 12))
                c["minCapacity"] = draw(st.integers(0, 2))
                c["eniTrunking"] = draw(st.booleans())
        elif draw(st.booleans()):
            c["kubernetesVersion"] = draw(st.sampled_from(("1.32", "1.33", "1.34")))
        if draw(st.booleans()):
            c["containerInsights"] = draw(st.sampled_from(("off", "on", "enhanced")))
        out.append(c)
    return out


def _shares(draw, n: int) -> list[int]:
    if n == 1:
        return [100]
    first = draw(st.sampled_from((0, 10, 50, 90, 100)))
    rest = [100 - first] + [0] * (n - 2)
    return [first, *rest] if draw(st.integers(0, 4)) else [first] * n  # the second: a sum that is mostly not 100


@st.composite
def services(draw, cluster_names: list[str], backend: str) -> dict:
    names = list(NAMES[:draw(st.integers(1, len(NAMES)))])
    out: dict = {}
    for name in names:
        on_app_engine = draw(st.integers(0, 4)) == 0
        svc: dict = {}
        if on_app_engine:
            svc["appengine"] = {"environment": draw(st.sampled_from(("standard", "flexible"))), "runtime": "python312"}
        else:
            svc["cluster"] = draw(st.sampled_from(cluster_names))
            if draw(st.integers(0, 3)) == 0:
                svc["capacity"] = draw(st.sampled_from(("fargate", "ec2")))
            cpu, memory = draw(st.sampled_from(SIZES))
            svc.update(cpu=cpu, memory=memory, desiredCount=draw(st.integers(0, 3)))
            svc["protocol"] = draw(st.sampled_from(("http", "http2", "grpc")))
            if draw(st.booleans()):
                svc["secrets"] = {"DB_PASSWORD": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prop/db-AbCdEf"}
            if (retention := draw(st.sampled_from(RETENTIONS))) is not None:
                svc["logRetentionDays"] = retention
        if draw(st.booleans()):
            svc["env"] = {"LOG_LEVEL": draw(st.sampled_from(("debug", "info"))), "FEATURE": draw(st.booleans())}
        majors = {"v1": {"contract": "c.json"}}
        if draw(st.booleans()):
            majors["v2"] = {"contract": "c2.json"}
            status = draw(st.sampled_from(("active", "deprecated", "retired")))
            majors["v1"]["status"] = status
            if status == "deprecated" and draw(st.booleans()):
                majors["v1"]["sunset"] = "2027-06-30"
        if on_app_engine and not any("appengine" in o for o in out.values()):  # App Engine's first: its default
            svc["appengine"]["defaultService"] = True
            majors = {"v1": {"contract": "c.json", "path": "/"}}
        svc["majors"] = majors
        count = 1 if backend == "service-connect" else draw(st.integers(1, 3))
        standard = on_app_engine and svc["appengine"]["environment"] == "standard"
        svc["versions"] = [
            {"name": f"r{j}", **({"source": f"gs://prop/{name}-{j}.zip"} if standard
                                 else {"image": draw(st.sampled_from(IMAGES))}), "traffic": share}
            for j, share in enumerate(_shares(draw, count))]
        out[name] = svc
    for name in names:
        others = [n for n in names if n != name]
        if others and draw(st.booleans()):
            out[name]["uses"] = [f"{draw(st.sampled_from(others))}/v1"]
    return out


@st.composite
def specs(draw) -> str:
    backend = draw(st.sampled_from(("appmesh", "service-connect", "lattice")))
    cs = draw(clusters())
    mesh: dict = {"backend": backend}
    if draw(st.integers(0, 3)) == 0:  # sometimes a key of another backend
        key = draw(st.sampled_from(("egressFilter", "certificateArn", "deployment")))
        mesh[key] = {"egressFilter": "ALLOW_ALL", "deployment": {"strategy": "linear", "percent": 20},
                     "certificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d"}[key]
    doc: dict = {"apiVersion": "meshspec/v1", "project": "prop",
                 "aws": {"region": "eu-west-1", "clusters": cs, "mesh": mesh},
                 "gcp": {"project": "prop-prod-1234", "location": "europe-west"},
                 "services": draw(services([c["name"] for c in cs], backend))}
    if draw(st.booleans()):
        doc["aws"]["account"] = "111122223333"
    if draw(st.booleans()):
        doc["defaults"] = {"logRetentionDays": draw(st.sampled_from((7, 30, 90))),
                           "logRemovalPolicy": draw(st.sampled_from(("retain", "destroy"))),
                           "tracing": draw(st.booleans())}
    if draw(st.booleans()):
        members = sorted(draw(st.sets(st.sampled_from(list(doc["services"])), min_size=1)))
        doc["queries"] = {"builtin": ["errors-by-service"],
                          "custom": [{"name": "slow", "query": "fields @message", "services": members}]}
    return yaml.safe_dump(doc, sort_keys=False)


def synthesizes(text: str) -> None:
    from meshspec.infra.appengine.desired import desired_state
    from meshspec.infra.appengine.plan import PlanRefused, plan
    from meshspec.infra.appengine.state import Observed
    from meshspec.stacks.app import build, new_app, synthesize

    result = load_text(text, file="prop.yaml", today=TODAY)
    assume(result.ok)
    spec = result.spec
    if spec.aws_services():
        with tempfile.TemporaryDirectory() as out:
            synthesized = synthesize(build(spec, new_app(out, validation=False)))
        assert synthesized.stacks
    if spec.appengine_services():
        desired = desired_state(spec)
        try:
            plan(desired, Observed(desired.app_id))
        except PlanRefused:
            pass  # Google's own refusals, said before anything is sent (meshspec appengine plan)


@settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(specs())
def test_every_spec_validate_accepts_synthesizes(text):
    synthesizes(text)
