"""Test support for the VPC Lattice traffic backend: moto in server mode (tests.traffic_support) plus a shim.

moto 5.2.5 gaps met here (docs/backends.md, "Testing"): its vpc-lattice backend creates rules (CreateRule) but
has no GetRule, ListRules, UpdateRule or BatchUpdateRule, and creates target groups but has no RegisterTargets,
DeregisterTargets or ListTargets (``install_targets_shim``: what the EKS pod registrar calls). ``install_rule_shim`` adds the three meshspec calls to the
in-process moto server: real boto3, botocore serialisation and HTTP to 127.0.0.1, but the server side of those three
calls is this shim's (it stores the action it is given and returns it, with a lastUpdatedAt that moves on each
update), not AWS's. Everything else (services, listeners, target groups, CreateRule) is moto's own.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import unquote

import boto3

from .traffic_support import REGION

RULE_PATH = "{0}/services/(?P<serviceIdentifier>[^/]+)/listeners/(?P<listenerIdentifier>[^/]+)/rules/(?P<ruleIdentifier>[^/]+)$"


def install_rule_shim() -> None:
    """Idempotent; call before the moto server answers its first vpc-lattice request."""
    from moto.vpclattice import models, responses, urls
    from moto.vpclattice.exceptions import ResourceNotFoundException

    if getattr(responses.VPCLatticeResponse, "_meshspec_shim", False):
        return
    # Most specific first: the catch-all services/(.+)$ would otherwise take /rules/<id>.
    urls.url_paths = {RULE_PATH: responses.VPCLatticeResponse.dispatch, **urls.url_paths}

    def _rule(self: Any, service: str, listener: str, rule: str) -> Any:
        svc = self.get_service(service)
        found = self.rules.get(rule)
        if found is None or found.listener_identifier not in (listener,) or found.service_identifier not in (svc.id, service):
            raise ResourceNotFoundException(f"Rule {rule} not found")
        return found

    def get_rule(self: Any) -> str:
        parts = unquote(self.path).split("/")
        rule = _rule(self.backend, parts[-5], parts[-3], parts[-1])
        return json.dumps(_rule_dict(rule))

    def update_rule(self: Any) -> str:
        parts = unquote(self.path).split("/")
        rule = _rule(self.backend, parts[-5], parts[-3], parts[-1])
        body = json.loads(self.body or "{}")
        if "action" in body:
            rule.action = body["action"]
        if "priority" in body:
            rule.priority = body["priority"]
        if "match" in body:
            rule.match = body["match"]
        rule.meshspec_updates = getattr(rule, "meshspec_updates", 0) + 1
        return json.dumps(_rule_dict(rule))

    def list_rules(self: Any) -> str:
        parts = unquote(self.path).split("/")
        svc = self.backend.get_service(parts[-4])
        items = [{"arn": r.arn, "id": r.id, "name": r.name, "priority": r.priority, "isDefault": False}
                 for r in self.backend.rules.values()
                 if r.listener_identifier == parts[-2] and r.service_identifier in (svc.id, parts[-4])]
        return json.dumps({"items": items})

    responses.VPCLatticeResponse.get_rule = get_rule
    responses.VPCLatticeResponse.update_rule = update_rule
    responses.VPCLatticeResponse.list_rules = list_rules
    responses.VPCLatticeResponse._meshspec_shim = True
    models.VPCLatticeBackend._meshspec_shim = True


def install_targets_shim() -> None:
    """RegisterTargets, DeregisterTargets and ListTargets on moto's target groups. Idempotent. A registered
    target is INITIAL (no health checks here); a deregistered one is gone at once (AWS drains it first)."""
    from moto.vpclattice import responses

    if getattr(responses.VPCLatticeResponse, "_meshspec_targets_shim", False):
        return

    def _group(self: Any) -> tuple[Any, dict[str, Any]]:
        group = self.backend.get_target_group(unquote(self.path).split("/")[-2])
        if not hasattr(group, "meshspec_targets"):
            group.meshspec_targets = {}
        return group, json.loads(self.body or "{}")

    def _key(t: dict[str, Any], group: Any) -> tuple[str, int]:
        return t["id"], int(t.get("port") or group.config.get("port", 0))

    def register_targets(self: Any) -> str:
        group, body = _group(self)
        for t in body.get("targets", []):
            group.meshspec_targets[_key(t, group)] = "INITIAL"
        return json.dumps({"successful": body.get("targets", []), "unsuccessful": []})

    def deregister_targets(self: Any) -> str:
        group, body = _group(self)
        for t in body.get("targets", []):
            group.meshspec_targets.pop(_key(t, group), None)
        return json.dumps({"successful": body.get("targets", []), "unsuccessful": []})

    def list_targets(self: Any) -> str:
        group, body = _group(self)
        wanted = {_key(t, group) for t in body.get("targets", [])}
        items = [{"id": i, "port": p, "status": status} for (i, p), status in sorted(group.meshspec_targets.items())
                 if not wanted or (i, p) in wanted]
        return json.dumps({"items": items})

    responses.VPCLatticeResponse.register_targets = register_targets
    responses.VPCLatticeResponse.deregister_targets = deregister_targets
    responses.VPCLatticeResponse.list_targets = list_targets
    responses.VPCLatticeResponse._meshspec_targets_shim = True


def _rule_dict(rule: Any) -> dict[str, Any]:
    updated = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc) + dt.timedelta(
        seconds=getattr(rule, "meshspec_updates", 0))
    return {"arn": rule.arn, "id": rule.id, "name": rule.name, "priority": rule.priority, "isDefault": False,
            "action": rule.action, "match": rule.match, "lastUpdatedAt": updated.isoformat()}


def lattice() -> Any:
    return boto3.client("vpc-lattice", region_name=REGION)


def build_lattice(weights: dict[str, dict[str, int]] | None = None, *, groups: tuple[str, ...] = ("apple", "banana"),
                  service: str = "checkout", project: str = "shop") -> dict[str, str]:
    """A Lattice service, its listener, a target group per deployed version and a rule per major, named as the
    CDK stacks name them. Returns the ids (service, listener, rule per major)."""
    weights = weights or {"v1": {"apple": 90, "banana": 10}, "v2": {"apple": 90, "banana": 10}}
    c = lattice()
    svc = c.create_service(name=f"{project}-{service}", authType="AWS_IAM")
    listener = c.create_listener(serviceIdentifier=svc["id"], name=f"{service}-http", protocol="HTTP", port=80,
                                 defaultAction={"fixedResponse": {"statusCode": 404}})
    tg = {v: c.create_target_group(name=f"{project}-{service}-{v}", type="IP", config={
        "port": 8080, "protocol": "HTTP", "vpcIdentifier": "vpc-0123456789abcdef0"})["id"] for v in groups}
    ids = {"service": svc["id"], "listener": listener["id"], "tg": tg}
    for i, (major, w) in enumerate(weights.items(), start=1):
        rule = c.create_rule(serviceIdentifier=svc["id"], listenerIdentifier=listener["id"], name=f"{service}-{major}",
                             priority=i, match={"httpMatch": {"pathMatch": {"match": {"prefix": f"/{service}/{major}/"}}}},
                             action={"forward": {"targetGroups": [
                                 {"targetGroupIdentifier": tg[v], "weight": n} for v, n in w.items()]}})
        ids[major] = rule["id"]
    return ids


def rule_weights(ids: dict[str, Any], major: str = "v1") -> dict[str, int]:
    r = lattice().get_rule(serviceIdentifier=ids["service"], listenerIdentifier=ids["listener"], ruleIdentifier=ids[major])
    names = {tg: v for v, tg in ids["tg"].items()}
    return {names[t["targetGroupIdentifier"]]: t["weight"] for t in r["action"]["forward"]["targetGroups"]}
