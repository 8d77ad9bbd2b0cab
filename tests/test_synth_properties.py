"""Partial, parallel and cached synth against a cold single-process synth, over random edits of the examples.

For a random edit of an example spec (any key of the schema set to another valid value; services, majors,
versions and `uses` added and removed; on each backend: App Mesh, Service Connect, VPC Lattice):

- partial synth (the stacks whose inputs changed, ``meshspec.infra.changes``, and their closure) writes every
  template that differs between the full synths before and after the edit, each byte for byte; every stack it
  leaves out has the template it had before (the subset is checked for what it leaves out);
- a full synth through the engine, with 2 worker processes and a cache holding the unedited spec's stacks,
  writes the whole assembly (manifest.json, tree.json, templates, asset manifests, metadata, Kubernetes
  manifests) byte for byte like the reference;
- the reference is a cold single-process synth in which every stack is built from the whole spec
  (``build(pruned=False)``), so a view that leaves out something a stack reads shows up here too.

Synth takes seconds, so a run tries few edits (``MESHSPEC_SYNTH_EXAMPLES``, default 4; each is about four synths
of the example); raise it to explore more, and log what the cases generated with ``MESHSPEC_SYNTH_LOG``:
``MESHSPEC_SYNTH_EXAMPLES=200 MESHSPEC_SYNTH_LOG=/tmp/cases.jsonl ./dev test tests/test_synth_properties.py``.
Edits that validate refuses are discarded (hypothesis ``assume``), so each run checks valid specs only. No
shrinking (a synth per step would take many minutes): a failure prints the example and its edits as drawn.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st

from meshspec.infra import sharding
from meshspec.infra.changes import diff_specs
from meshspec.infra.errors import UserError
from meshspec.infra.spec import load_text
from meshspec.stacks import engine
from meshspec.stacks.app import build, new_app, synthesize
from meshspec.stacks.cache import Cache

from .conftest import EXAMPLES, ROOT, TODAY

EXAMPLES_N = int(os.environ.get("MESHSPEC_SYNTH_EXAMPLES", "4"))
BACKENDS = ("shop.yaml", "shop-service-connect.yaml", "shop-lattice.yaml")
ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:token-AbCdEf"
CONNECTION = "arn:aws:codeconnections:eu-west-1:111122223333:connection/abc-123"
PIPELINE = {"repository": "acme/infrastructure", "connectionArn": CONNECTION}

# Another valid value for every key of the schema's objects (None: leave the key out).
VALUES: dict[str, dict[str, list]] = {
    "Defaults": {"logRetentionDays": [1, 90], "logRemovalPolicy": ["retain", "destroy"], "tracing": [True, False],
                 "logKmsKey": [None, "create", "arn:aws:kms:eu-west-1:111122223333:key/abc-123"]},
    "Aws": {"region": ["eu-west-1", "eu-central-1"], "account": [None, "444455556666"],
            "availabilityZones": [None, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]], "pipeline": [None, PIPELINE],
            "observability": [None, {"agent": "xray-daemon"}, {"samplingPercent": 12.5}]},
    "Pipeline": {"repository": ["acme/other"], "connectionArn": [CONNECTION.replace("abc", "def")],
                 "branch": ["main", "release"], "specPath": ["meshspec.yaml", "infra/shop.yaml"],
                 "name": [None, "shop-delivery"], "stacksPerAction": [1, 10], "actionsPerWave": [1, 10],
                 "canary": [True, False], "approval": [True, False]},
    "Observability": {"agent": ["cloudwatch", "xray-daemon"], "samplingPercent": [0, 5, 12.5]},
    "Slo": {"availability": [None, 99.9, 99.5], "latency": [None, {"thresholdMs": 250}], "windowDays": [7, 28]},
    "LatencyObjective": {"thresholdMs": [100, 300], "percentile": [95, 99.9]},
    "Cluster": {"platform": ["ecs", "eks"], "capacity": [None, "fargate", "ec2", ["fargate", "ec2"]],
                "containerInsights": ["off", "on", "enhanced"], "instanceType": [None, "c6i.large"],
                "minCapacity": [0, 2], "maxCapacity": [2, 8], "kubernetesVersion": ["1.32", "1.33"],
                "secretsEncryption": [True, False], "eniTrunking": [True, False]},
    "Mesh": {"name": [None, "othermesh"], "backend": ["appmesh", "service-connect", "lattice"],
             "egressFilter": ["DROP_ALL", "ALLOW_ALL"], "deployment": [None, {}],
             "migration": [None, {"to": "lattice"}, {"to": "service-connect"}],
             "certificateArn": [None, "arn:aws:acm:eu-west-1:111122223333:certificate/abc-123"]},
    "Deployment": {"strategy": ["canary", "linear"], "percent": [None, 10, 25], "stepMinutes": [0, 5],
                   "bakeMinutes": [0, 30], "rollbackOnAlarm": [True, False]},
    "Migration": {"to": ["lattice", "service-connect"], "moved": [[], "<first aws service>"]},
    "Service": {"port": [8081, 9090], "protocol": ["http", "http2", "grpc"], "healthCheck": ["/ready"],
                "cpu": [512, 1024], "memory": [1024, 2048], "desiredCount": [0, 1, 3], "env": [{}, {"NEW": "1"}],
                "secrets": [{}, {"TOKEN": ARN}], "logRetentionDays": [None, 7, 90], "capacity": [None, "fargate", "ec2"],
                "notSecret": [[], ["LOG_LEVEL"]], "language": ["python", "java", "none"],
                "slo": [None, {"availability": 99.9}, {"latency": {"thresholdMs": 300}}]},
    "Version": {"image": ["public.ecr.aws/shop/other:99"], "source": [None]},
    "Major": {"path": [None, "/elsewhere/"], "status": ["active", "deprecated", "retired"],
              "sunset": [None, "2027-06-30"], "contract": ["<another contract>"],
              "cohorts": [[], [{"name": "testers", "priority": 1, "header": "x-cohort", "value": "b",
                                "version": "<first version>"}]],
              "sticky": [None, {"cookie": "shop-ab"}], "slo": [None, {"availability": 99.5}]},
    "Cohort": {"name": ["renamed"], "priority": [7], "header": ["x-other"], "value": ["c"],
               "cookie": [None, "beta"], "version": ["<first version>"]},
    "Sticky": {"cookie": ["other-cookie"]},
    "Queries": {"builtin": [[], ["trace-lookup"]], "custom": [[]]},
    "CustomQuery": {"name": ["renamed query"], "query": ["fields @message | limit 5"],
                    "services": [None, "<first aws service>"]},
    "AppEngine": {"environment": ["standard", "flexible"], "runtime": ["python312", "nodejs22"],
                  "splitBy": ["ip", "cookie", "random"], "migrateTraffic": [True, False],
                  "majorsAsServices": [True, False], "defaultService": [True, False]},
    "Gcp": {"project": ["other-project-1"], "location": ["us-central"]},
}
# Keys edited by the structural edits below instead (names, lists of objects, references)
STRUCTURAL = {"Aws": {"clusters", "mesh"}, "Cluster": {"name"}, "Service": {"cluster", "appengine", "majors",
              "versions", "uses"}, "Version": {"name", "traffic"}, "CustomQuery": set(), "Queries": set()}


def test_every_key_of_the_schema_gets_edited():
    """A new key must get values here (or a structural edit), else this property test would not cover it."""
    schema = json.loads((ROOT / "schema" / "meshspec.schema.json").read_text())
    for name, d in schema["$defs"].items():
        keys = set(d.get("properties", {})) - set(VALUES.get(name, {})) - STRUCTURAL.get(name, set())
        assert not keys, f"{name}: no edit for {sorted(keys)}"


def _ref(use) -> str:
    """A ``uses`` entry's major: ``svc/v1``, or ``{svc/v1: [operations]}``."""
    return use if isinstance(use, str) else next(iter(use))


def _aws(doc):
    return [n for n, s in doc["services"].items() if "cluster" in s]


def _place(doc, data, which: str):
    """Where an object of schema definition ``which`` sits in ``doc`` (one picked by ``data``)."""
    aws = doc.setdefault("aws", {}) if "aws" in doc else None
    if which == "Defaults":
        return doc.setdefault("defaults", {})
    if which == "Aws":
        return aws
    if which == "Cluster":
        return data.draw(st.sampled_from(aws["clusters"])) if aws and aws.get("clusters") else None
    if which == "Mesh":
        return aws.setdefault("mesh", {}) if aws is not None else None
    if which == "Pipeline":
        return aws.setdefault("pipeline", dict(PIPELINE)) if aws is not None else None
    if which == "Observability":
        return aws.setdefault("observability", {}) if aws is not None else None
    if which in ("Slo", "LatencyObjective"):  # a service's objectives (one at least, so the edit stays valid)
        svc = doc["services"][data.draw(st.sampled_from(sorted(_aws(doc))))]
        slo = svc.setdefault("slo", {"availability": 99})
        return slo.setdefault("latency", {"thresholdMs": 300}) if which == "LatencyObjective" else slo
    if which in ("Deployment", "Migration"):
        mesh = aws.setdefault("mesh", {}) if aws is not None else None
        key = which.lower()
        return mesh.setdefault(key, {"to": "lattice"} if key == "migration" else {}) if mesh is not None else None
    services = doc["services"]
    if which == "Service":
        return services[data.draw(st.sampled_from(sorted(_aws(doc))))]
    if which == "Version":
        return data.draw(st.sampled_from(services[data.draw(st.sampled_from(sorted(services)))]["versions"]))
    if which == "Major":
        svc = services[data.draw(st.sampled_from(sorted(services)))]
        return svc["majors"][data.draw(st.sampled_from(sorted(svc["majors"])))]
    if which in ("Cohort", "Sticky"):  # an A/B test of some major (the shop's pricing has one)
        majors = [m for svc in services.values() for m in svc["majors"].values()
                  if (m.get("cohorts") if which == "Cohort" else m.get("sticky"))]
        if not majors:
            return None
        major = data.draw(st.sampled_from(majors))
        return data.draw(st.sampled_from(major["cohorts"])) if which == "Cohort" else major["sticky"]
    if which == "Queries":
        return doc.setdefault("queries", {})
    if which == "CustomQuery":
        custom = doc.get("queries", {}).get("custom") or []
        return data.draw(st.sampled_from(custom)) if custom else None
    if which == "AppEngine":
        gae = [s for s in services.values() if "appengine" in s]
        return data.draw(st.sampled_from(gae))["appengine"] if gae else None
    if which == "Gcp":
        return doc.get("gcp")
    raise AssertionError(which)


def _set_key(doc, data) -> str:
    which = data.draw(st.sampled_from(sorted(VALUES)))
    target = _place(doc, data, which)
    assume(target is not None)
    key = data.draw(st.sampled_from(sorted(VALUES[which])))
    value = copy.deepcopy(data.draw(st.sampled_from(VALUES[which][key])))
    if value == "<first aws service>":
        value = sorted(_aws(doc))[:1]
    elif value == "<first version>":  # a version of the service the object is in
        svc = next(s for s in doc["services"].values() for m in s["majors"].values()
                   if m is target or target in (m.get("cohorts") or []) or target is m.get("sticky"))
        value = svc["versions"][0]["name"]
    elif isinstance(value, list) and value and isinstance(value[0], dict) and value[0].get("version") == "<first version>":
        svc = next(s for s in doc["services"].values() if target in s["majors"].values())
        value[0]["version"] = svc["versions"][0]["name"]
    elif value == "<another contract>":
        value = data.draw(st.sampled_from(sorted(f"contracts/{p.name}" for p in (EXAMPLES / "contracts").glob("*"))))
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
    return f"{which}.{key} = {value!r}"


def _structural(doc, data) -> str:
    services = doc["services"]
    aws = sorted(_aws(doc))
    kind = data.draw(st.sampled_from(["add service", "remove service", "add major", "remove major", "add version",
                                      "remove version", "add use", "remove use", "move service", "rename cluster",
                                      "shift traffic"]))
    if kind == "add service":
        src = data.draw(st.sampled_from(aws))
        name = data.draw(st.sampled_from(["zeta", "alpha-svc", "new-one"]))
        assume(name not in services)
        services[name] = copy.deepcopy(services[src])
        if data.draw(st.booleans()):
            services[name]["uses"] = [f"{src}/{sorted(services[src]['majors'])[0]}"]
        return f"add service {name} (copy of {src})"
    if kind == "remove service":
        name = data.draw(st.sampled_from(aws))
        del services[name]
        for s in services.values():
            s["uses"] = [u for u in s.get("uses", []) if _ref(u).split("/")[0] != name]
        for q in doc.get("queries", {}).get("custom", []):
            if q.get("services"):
                q["services"] = [s for s in q["services"] if s != name] or None
                if q["services"] is None:
                    del q["services"]
        return f"remove service {name}"
    name = data.draw(st.sampled_from(aws))
    svc = services[name]
    if kind == "add major":
        svc["majors"]["v9"] = {"contract": sorted(svc["majors"].values(), key=str)[0]["contract"]}
        for v in svc["versions"]:
            if isinstance(v.get("traffic"), dict):
                v["traffic"]["v9"] = v["traffic"].get(next(iter(v["traffic"])), 0)
        return f"add major {name}/v9"
    if kind == "remove major":
        assume(len(svc["majors"]) > 1)
        major = data.draw(st.sampled_from(sorted(svc["majors"])))
        del svc["majors"][major]
        for v in svc["versions"]:
            if isinstance(v.get("traffic"), dict):
                v["traffic"].pop(major, None)
        return f"remove major {name}/{major}"
    if kind == "add version":
        svc["versions"].append({"name": "n-99", "image": "public.ecr.aws/shop/new:99", "traffic": 0})
        return f"add version {name}/n-99"
    if kind == "remove version":
        zero = [v for v in svc["versions"] if v.get("traffic", 0) in (0, {})]
        assume(zero and len(svc["versions"]) > 1)
        svc["versions"].remove(zero[0])
        return f"remove version {name}/{zero[0]['name']}"
    if kind == "add use":
        target = data.draw(st.sampled_from(sorted(services)))
        ref = f"{target}/{sorted(services[target]['majors'])[0]}"
        assume(target != name and ref not in map(_ref, svc.get("uses", [])))
        svc.setdefault("uses", []).append(ref)
        return f"{name} uses {ref}"
    if kind == "remove use":
        assume(svc.get("uses"))
        use = data.draw(st.sampled_from(svc["uses"]))
        svc["uses"].remove(use)
        return f"{name} no longer uses {_ref(use)}"
    clusters = [c["name"] for c in doc["aws"]["clusters"]]
    if kind == "move service":
        svc["cluster"] = data.draw(st.sampled_from(clusters))
        return f"move {name} to {svc['cluster']}"
    if kind == "rename cluster":
        old = data.draw(st.sampled_from(clusters))
        for c in doc["aws"]["clusters"]:
            if c["name"] == old:
                c["name"] = "renamed"
        for s in services.values():
            if s.get("cluster") == old:
                s["cluster"] = "renamed"
        return f"rename cluster {old}"
    versions = svc["versions"]  # shift traffic between two versions of one service
    assume(len(versions) > 1 and all(isinstance(v.get("traffic", 0), (int, float)) for v in versions))
    a, b = versions[0], versions[1]
    moved = min(a.get("traffic", 0), 10)
    a["traffic"], b["traffic"] = a.get("traffic", 0) - moved, b.get("traffic", 0) + moved
    return f"shift {moved} % of {name} from {a['name']} to {b['name']}"


def load(doc):
    result = load_text(yaml.safe_dump(doc, sort_keys=False), file="edited.yaml", base_dir=EXAMPLES, today=TODAY)
    return result.spec if result.ok else None


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def templates(out: Path) -> dict[str, bytes]:
    return {p.name.removesuffix(".template.json"): p.read_bytes() for p in out.glob("*.template.json")}


def reference(spec, out: Path) -> Path:
    """A cold single-process synth, every stack built from the whole spec (a spec that synth refuses, e.g. EKS
    manifests without an account, is not this test's: the key walk and "every valid spec synthesizes" are)."""
    try:
        synthesize(build(spec, new_app(str(out), validation=False), pruned=False))
    except UserError:
        assume(False)
    return out


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """Per example: its document, spec, reference assembly, and a cache filled by the engine's synth of it."""
    out = {}
    for name in BACKENDS:
        d = tmp_path_factory.mktemp(name.removesuffix(".yaml"))
        doc = yaml.safe_load((EXAMPLES / name).read_text())
        spec = load(doc)
        ref = reference(spec, d / "ref")
        cache = Cache(d / "cache")
        run = engine.synth(spec, d / "engine", jobs=2, cache=cache, min_share=1)
        assert run.workers == 2 and not run.cached
        assert files(d / "engine") == files(ref)  # parallel, cold cache: byte for byte
        out[name] = (doc, spec, ref, d / "cache")
    return out


@settings(max_examples=EXAMPLES_N, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_partial_parallel_and_cached_synth_match_a_cold_full_synth(bases, tmp_path_factory, data):
    name = data.draw(st.sampled_from(BACKENDS), label="example")
    doc, base, base_ref, cache_dir = bases[name]
    doc = copy.deepcopy(doc)
    edits = [(_set_key if data.draw(st.booleans(), label="schema key") else _structural)(doc, data)
             for _ in range(data.draw(st.integers(1, 3), label="edits"))]
    spec = load(doc)
    assume(spec is not None and spec.aws is not None)
    note(f"{name}: {edits}")
    work = tmp_path_factory.mktemp("edit")
    ref = reference(spec, work / "ref")
    before, after = templates(base_ref), templates(ref)
    differ = {s for s in after if after[s] != before.get(s)}

    # partial synth: what --changed-since writes
    changes = diff_specs(base, spec)
    written = sharding.closure(spec, changes.stacks)
    part = engine.synth(spec, work / "part", stacks=written, jobs=1)
    got = templates(work / "part") if written else {}
    assert set(got) == set(written) >= differ, (edits, sorted(differ - set(got)))
    assert all(got[s] == after[s] for s in got), edits
    assert all(after[s] == before[s] for s in set(after) - set(got)), edits  # what it left out did not change
    assert part.built == written

    # a full synth with 2 workers and a cache holding the unedited example's stacks: the whole assembly
    run = engine.synth(spec, work / "full", jobs=2, cache=Cache(cache_dir), min_share=1)
    assert files(work / "full") == files(ref), edits
    unchanged = set(base_ref and before) - set(changes.stacks)  # same inputs as the cached example's stacks
    assert set(run.cached) >= unchanged & set(after) and not run.rejected, edits
    if os.environ.get("MESHSPEC_SYNTH_LOG"):  # what the cases generated, one JSON line each
        with open(os.environ["MESHSPEC_SYNTH_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"example": name, "edits": edits, "changedInputs": list(changes.stacks),
                                  "templatesDiffer": sorted(differ), "written": written,
                                  "cached": len(run.cached), "built": len(run.built)}) + "\n")
    shutil.rmtree(work)
