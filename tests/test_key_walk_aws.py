"""The key walk over the cluster, mesh and top-level keys (tests/key_walk.py): each takes effect or validate
refuses it where it is written, on every kind of cluster and every mesh backend, and takes effect somewhere."""
from __future__ import annotations

import copy
import functools

import pytest
import yaml

from tests.key_walk import (EXEMPT, Outputs, Spot, cluster_stack, concrete, load, prepare, refusal, schema_keys,
                            synth, text, warnings, write)

KEYS = [k for k in schema_keys() if k.path not in EXEMPT]
CLUSTER_KEYS = [k for k in KEYS if k.path[:3] == ("aws", "clusters", "[]")]
MESH_KEYS = [k for k in KEYS if k.path[:2] == ("aws", "mesh")]
TOP_KEYS = [k for k in KEYS if k.path[0] != "services" and k not in CLUSTER_KEYS and k not in MESH_KEYS]
CLUSTER_KINDS = {
    "ecs-fargate": {"platform": "ecs"},
    "ecs-ec2": {"platform": "ecs", "capacity": "ec2"},
    "ecs-ec2+fargate": {"platform": "ecs", "capacity": ["ec2", "fargate"]},
    "eks": {"platform": "eks"},
}
BACKENDS = ("appmesh", "service-connect", "lattice")
APP_ENGINE = {"front": {"appengine": {"environment": "standard", "runtime": "python312", "defaultService": True},
                        "majors": {"v1": {"contract": "c.json", "path": "/"}},
                        "versions": [{"name": "f1", "source": "gs://walk-builds/f1.zip", "traffic": 100}]}}
HEAD = {"apiVersion": "meshspec/v1", "project": "walk"}
REGION = {"region": "eu-west-1", "account": "111122223333"}
GCP = {"gcp": {"project": "walk-prod-1234", "location": "europe-west"}}


def _service(cluster: str, version: str, uses: list[str] = ()) -> dict:
    return {"cluster": cluster, "majors": {"v1": {"contract": "c.json"}},
            "versions": [{"name": version, "image": f"public.ecr.aws/walk/app:{version}", "traffic": 100}],
            **({"uses": list(uses)} if uses else {})}


def mesh_doc(backend: str) -> dict:
    """One ECS cluster, a calls b (http2, so Lattice serves it on HTTPS), one version each (every backend can express
    it), App Engine beside."""
    return {**HEAD, "aws": {**REGION, "clusters": [{"name": "fg", "platform": "ecs"}], "mesh": {"backend": backend}},
            **GCP, "services": {"a": _service("fg", "a1", ["b/v1"]), "b": {**_service("fg", "b1"), "protocol": "http2"},
                                **APP_ENGINE},
            "queries": {"custom": [{"name": "both", "query": "fields @message", "services": ["a", "b"]}]}}


def cluster_doc() -> dict:
    return {**HEAD, "aws": {**REGION, "clusters": [{"name": f"c{i}", **copy.deepcopy(kind)}
                                                    for i, kind in enumerate(CLUSTER_KINDS.values())]},
            **GCP, "services": copy.deepcopy(APP_ENGINE)}


@functools.cache
def outputs(doc_text: str, only_clusters: bool) -> Outputs:
    result = load(yaml.safe_load(doc_text))
    assert result.ok, [e.render() for e in result.errors]
    return synth(result.spec, [] if only_clusters else None)


def everything(out: Outputs, result) -> tuple:
    return out.templates, out.manifests, out.appengine(), out.graph(), warnings(result)


def walk(key, spots: list[tuple[Spot, dict]], observe, only_clusters: bool = False) -> dict[str, str]:
    """Each spot alone: refused where written, or compared with its prepared base."""
    outcomes = {}
    for spot, base in spots:
        before = prepare(base, spot)
        after = copy.deepcopy(before)
        write(after, spot)
        r_after = load(after)
        why = refusal(r_after, spot)
        if why is not None:
            outcomes[spot.context] = f"refused: {why}"
            continue
        r_before = load(before)
        assert r_before.ok, (spot.context, [e.render() for e in r_before.errors])
        changed = (observe(outputs(text(before), only_clusters), r_before, spot)
                   != observe(outputs(text(after), only_clusters), r_after, spot))
        outcomes[spot.context] = "takes effect" if changed else "NO EFFECT"
    return outcomes


def check(key, outcomes: dict[str, str]) -> None:
    silent = [c for c, o in outcomes.items() if o == "NO EFFECT"]
    assert not silent, f"{key.name} is accepted and does nothing on: {silent}\n{yaml.safe_dump(outcomes)}"
    assert "takes effect" in outcomes.values(), f"{key.name} is refused everywhere:\n{yaml.safe_dump(outcomes)}"


@pytest.mark.parametrize("key", CLUSTER_KEYS, ids=lambda k: k.name)
def test_cluster_keys_take_effect_or_are_refused(key):
    # GIVEN one cluster of each kind / WHEN the key is written on each / THEN its cluster stack changes or it is refused
    def observe(out: Outputs, result, spot: Spot) -> tuple:
        index = spot.path[2]
        return out.templates.get(cluster_stack(out.spec, index)), warnings(result, spot.owner)

    spots = []
    for i, kind in enumerate(CLUSTER_KINDS):
        path, owner = concrete(key, index=i)
        spots.append((Spot(key, path, owner, kind), cluster_doc()))
    check(key, walk(key, spots, observe, only_clusters=True))


@pytest.mark.parametrize("key", MESH_KEYS, ids=lambda k: k.name)
def test_mesh_keys_take_effect_or_are_refused(key):
    spots = []
    for backend in BACKENDS:
        path, owner = concrete(key)
        spots.append((Spot(key, path, owner, f"{backend} backend"), mesh_doc(backend)))
    check(key, walk(key, spots, lambda out, result, spot: everything(out, result)))


@pytest.mark.parametrize("key", TOP_KEYS, ids=lambda k: k.name)
def test_top_level_keys_take_effect_or_are_refused(key):
    path, owner = concrete(key)
    spots = [(Spot(key, path, owner, "the example-like spec"), mesh_doc("appmesh"))]
    check(key, walk(key, spots, lambda out, result, spot: everything(out, result)))
