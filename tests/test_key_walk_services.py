"""The key walk over every service-level key (tests/key_walk.py): on an ECS Fargate, an ECS EC2, an EKS, an App
Engine standard and an App Engine flexible service, each key takes effect or validate refuses it there, and takes
effect on at least one of them."""
from __future__ import annotations

import copy
import functools

import pytest

from tests.key_walk import (EXEMPT, SOLO, Outputs, Spot, concrete, load, prepare, refusal, schema_keys, stack_of,
                            synth, text, warnings, write)

PLACEMENTS = {  # placement → (slot prefix, the service's placement keys)
    "ecs-fargate": ("fg", {"cluster": "fg"}),
    "ecs-ec2": ("ec", {"cluster": "ec"}),
    "ecs-ec2+fargate": ("mx", {"cluster": "mx"}),
    "eks": ("k8", {"cluster": "k8"}),
    "appengine-standard": ("std", {"appengine": {"environment": "standard", "runtime": "python312"}}),
    "appengine-flexible": ("flex", {"appengine": {"environment": "flexible", "runtime": "python312"}}),
}
PER_BATCH = 4  # keys per synth: one slot service per key and placement
SERVICE_KEYS = [k for k in schema_keys() if k.path[:2] == ("services", "*") and k.path not in EXEMPT]
BATCHES = [SERVICE_KEYS[i:i + PER_BATCH] for i in range(0, len(SERVICE_KEYS), PER_BATCH)]


def slot(placement: str, i: int) -> str:
    return f"{PLACEMENTS[placement][0]}-{i}"


def _version(name: str, share: int, appengine_standard: bool) -> dict:
    artifact = ({"source": f"gs://walk-builds/{name}.zip"} if appengine_standard
                else {"image": f"public.ecr.aws/walk/app:{name}"})
    return {"name": name, **artifact, "traffic": share}


def base_doc() -> dict:
    """Three clusters, a target every slot may use, App Engine's default service, and PER_BATCH slot services per
    placement, each with one major and two versions (60/40)."""
    services: dict = {
        "target": {"cluster": "fg", "majors": {"v1": {"contract": "c.json"}},
                   "versions": [_version("t1", 100, False)]},
        "front": {"appengine": {"environment": "standard", "runtime": "python312", "defaultService": True},
                  "majors": {"v1": {"contract": "c.json", "path": "/"}},
                  "versions": [_version("f1", 100, True)]},
    }
    for placement, (_, keys) in PLACEMENTS.items():
        for i in range(PER_BATCH):
            std = placement == "appengine-standard"
            services[slot(placement, i)] = {**copy.deepcopy(keys), "majors": {"v1": {"contract": "c.json"}},
                                            "versions": [_version("a", 60, std), _version("b", 40, std)]}
    return {"apiVersion": "meshspec/v1", "project": "walk",
            "aws": {"region": "eu-west-1", "account": "111122223333",
                    "clusters": [{"name": "fg", "platform": "ecs"},
                                 {"name": "ec", "platform": "ecs", "capacity": "ec2", "maxCapacity": 20},
                                 {"name": "mx", "platform": "ecs", "capacity": ["ec2", "fargate"], "maxCapacity": 20},
                                 {"name": "k8", "platform": "eks"}]},
            "gcp": {"project": "walk-prod-1234", "location": "europe-west"},
            "services": services}


@functools.cache
def outputs(text: str, stacks: tuple[str, ...]) -> Outputs:
    import yaml

    result = load(yaml.safe_load(text))
    assert result.ok, [e.render() for e in result.errors]
    return synth(result.spec, list(stacks))


def observed(out: Outputs, result, service: str) -> tuple:
    """What meshspec makes of one service: its stack, its manifests, its App Engine part, its graph, its warnings."""
    spec = out.spec
    on_aws = spec.services[service].cluster is not None
    stack = stack_of(spec, service) if on_aws else None
    return (out.templates.get(stack), {k: v for k, v in out.manifests.items() if stack and f"/{stack}/" in f"/{k}"},
            out.appengine(service), out.graph(service), warnings(result, ("services", service)))


def test_every_schema_key_is_walked():
    from tests.test_key_walk_aws import CLUSTER_KEYS, MESH_KEYS, TOP_KEYS

    walked = [k.path for k in SERVICE_KEYS + CLUSTER_KEYS + MESH_KEYS + TOP_KEYS]
    assert sorted(walked + list(EXEMPT)) == sorted(k.path for k in schema_keys())
    assert len(set(walked)) == len(walked)
    assert {("services", "*", "capacity"), ("services", "*", "logRetentionDays")} <= set(walked)


@pytest.mark.parametrize("batch", range(len(BATCHES)), ids=lambda b: "+".join(k.path[-1] for k in BATCHES[b]))
def test_service_keys_take_effect_or_are_refused(batch):
    import yaml

    base = base_doc()
    outcomes: dict[str, dict[str, str]] = {}
    accepted: list[Spot] = []
    for i, key in enumerate(BATCHES[batch]):
        outcomes[key.name] = {}
        for placement in PLACEMENTS:
            path, owner = concrete(key, (slot(placement, i), "v1"))
            spot = Spot(key, path, owner, placement)
            mutated = prepare(base, spot)
            write(mutated, spot)
            why = refusal(load(mutated), spot)
            if why is not None:
                outcomes[key.name][placement] = f"refused: {why}"
            else:
                accepted.append(spot)
    # GIVEN the accepted keys written together, each on its own slot service (SOLO keys one at a time)
    groups = [[s for s in accepted if s.key.path not in SOLO]] + [[s] for s in accepted if s.key.path in SOLO]
    for group in [g for g in groups if g]:
        before = base
        for spot in group:
            before = prepare(before, spot)
        after = copy.deepcopy(before)
        for spot in group:
            write(after, spot)
        r_before, r_after = load(before), load(after)
        assert r_before.ok and r_after.ok, [e.render() for e in r_before.errors + r_after.errors]
        stacks = tuple(sorted({stack_of(r_after.spec, s.path[1]) for s in group
                               if r_after.spec.services[s.path[1]].cluster is not None}))
        # WHEN both specs are synthesized (only the stacks of those slots) / THEN each slot's outputs changed
        out_before, out_after = outputs(text(before), stacks), outputs(text(after), stacks)
        for spot in group:
            service = spot.path[1]
            changed = observed(out_before, r_before, service) != observed(out_after, r_after, service)
            outcomes[spot.key.name][spot.context] = "takes effect" if changed else "NO EFFECT"
    silent = {k: {p: o for p, o in v.items() if o == "NO EFFECT"} for k, v in outcomes.items()}
    assert not any(silent.values()), f"accepted and doing nothing: {yaml.safe_dump(silent)}"
    never = [k for k, v in outcomes.items() if "takes effect" not in v.values()]
    assert not never, f"refused everywhere (the walk needs a context or an edit where they apply): {never}"
