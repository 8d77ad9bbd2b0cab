"""VPC Lattice backend: a major's weights are the weighted target groups of its listener rule.

Names come from :mod:`.names`, the same the CDK stacks give: Lattice service ``<project>-<service>``,
listener ``<service>-http``, rule ``<service>-<major>``, target group ``<project>-<service>-<version>``.
UpdateRule replaces the rule's action and, like App Mesh's UpdateRoute, takes no precondition
(docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_UpdateRule.html), so the rule is re-read under a local
lock right before the write and read again afterwards. Weights are integers 0-999; meshspec writes percentages,
and keeps versions at 0 in the action, so a later shift needs no new target group in the rule (10 at most).
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Spec
from meshspec.infra.traffic.base import Conflict, Context, Live, NotDeployed, write_lock
from meshspec.infra.traffic.weights import Weights

from . import names
from .quotas import TARGET_GROUPS_PER_ACTION as MAX_TARGET_GROUPS


def permissions(spec: Spec) -> list[tuple[tuple[str, ...], str | None]]:
    """The calls below: the List calls take no resource-level permissions, and the rules are found through them."""
    return [(("vpc-lattice:ListServices", "vpc-lattice:ListListeners", "vpc-lattice:ListRules",
              "vpc-lattice:ListTargetGroups", "vpc-lattice:GetRule", "vpc-lattice:UpdateRule"), None)]


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code", "") in ("ResourceNotFoundException", "NotFoundException")


def _pages(call: Any, key: str = "items", **kwargs: Any) -> list[dict[str, Any]]:
    out, token = [], None
    while True:
        page = call(**kwargs, **({"nextToken": token} if token else {}))
        out += page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return out


def forward_targets(action: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        return action["forward"]["targetGroups"]
    except (KeyError, TypeError):
        raise UserError("the listener rule does not forward to target groups (a fixed response?); meshspec "
                        "cannot read weights from it") from None


def with_weights(action: dict[str, Any], groups: dict[str, str], weights: Weights) -> dict[str, Any]:
    """The rule action with new weights. ``groups`` maps version → target group id. Target groups already in the
    rule keep their order; a version with weight above 0 that is not there yet is appended."""
    current = forward_targets(action)
    by_id = {t["targetGroupIdentifier"]: dict(t) for t in current}
    version_of = {tg: v for v, tg in groups.items()}
    out = []
    for t in current:
        tg = t["targetGroupIdentifier"]
        v = version_of.get(tg)
        out.append({"targetGroupIdentifier": tg, "weight": int(weights[v]) if v in weights else by_id[tg]["weight"]})
    for v, share in weights.items():
        tg = groups.get(v)
        if tg is not None and tg not in by_id and share > 0:
            out.append({"targetGroupIdentifier": tg, "weight": int(share)})
    if len(out) > MAX_TARGET_GROUPS:
        raise UserError(f"the rule would forward to {len(out)} target groups; VPC Lattice allows {MAX_TARGET_GROUPS}",
                        hint="remove versions that take no traffic from the spec and redeploy first")
    return {"forward": {"targetGroups": out}}


class LatticeBackend:
    """Implements :class:`meshspec.infra.traffic.backend.TrafficBackend` on listener rules."""

    name = "lattice"
    places = 0
    missing = "no such version"

    def __init__(self, spec: Spec, service: str, ctx: Context, client: Any = None):
        self.project = spec.project
        self.versions = [v.name for v in spec.services[service].versions]
        self.ctx = ctx
        self.client = client if client is not None else ctx.aws_client(spec, "vpc-lattice")
        self._ids: dict[str, Any] = {}

    # -- names and ids ----------------------------------------------------------------------------------
    def rule_name(self, service: str, major: str) -> str:
        """The listener rule that carries the weights: the major's own."""
        return names.rule(service, major)

    def for_cohort(self, cohort: str) -> "LatticeCohortRule":
        """The view of one A/B cohort's listener rule (``meshspec traffic ... --cohort NAME``)."""
        return LatticeCohortRule(self, cohort)

    def target(self, service: str, major: str) -> str:
        return (f"Lattice service {names.service(self.project, service)} rule "
                f"{names.listener(service)}/{self.rule_name(service, major)}")

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except ClientError as exc:
            if _not_found(exc):
                raise NotDeployed(f"VPC Lattice has no {what}", hint="deploy the service's stack first (meshspec cdk deploy)") \
                    from None
            raise UserError(f"VPC Lattice refused the request for {what}: {exc}") from None
        except BotoCoreError as exc:
            raise UserError(f"cannot reach VPC Lattice: {exc}") from None

    def _find(self, what: str, items: list[dict[str, Any]], name: str) -> dict[str, Any]:
        for item in items:
            if item.get("name") == name:
                return item
        raise NotDeployed(f"VPC Lattice has no {what} {name}", hint="deploy the service's stack first (meshspec cdk deploy)")

    def _service_listener(self, service: str) -> tuple[str, str]:
        key = f"svc/{service}"
        if key not in self._ids:
            name = names.service(self.project, service)
            svc = self._find("service", self._call("services", _pages, call=self.client.list_services), name)
            listeners = self._call(f"listeners of {name}", _pages, call=self.client.list_listeners,
                                   serviceIdentifier=svc["id"])
            listener = self._find(f"listener in {name}:", listeners, names.listener(service))
            self._ids[key] = (svc["id"], listener["id"])
        return self._ids[key]

    def _rule_id(self, service: str, major: str) -> str:
        name = self.rule_name(service, major)
        key = f"rule/{name}"
        if key not in self._ids:
            svc, listener = self._service_listener(service)
            rules = self._call("rules", _pages, call=self.client.list_rules, serviceIdentifier=svc,
                               listenerIdentifier=listener)
            self._ids[key] = self._find("listener rule", rules, name)["id"]
        return self._ids[key]

    def target_groups(self, service: str) -> dict[str, str]:
        """version → target group id, for the versions that have one (what the canary's figures read)."""
        return self._groups(service)

    def _groups(self, service: str) -> dict[str, str]:
        """version → target group id, for the versions that have a target group."""
        groups = self._call("target groups", _pages, call=self.client.list_target_groups)
        by_name = {g["name"]: g["id"] for g in groups}
        return {v: by_name[n] for v in self.versions
                if (n := names.target_group(self.project, service, v)) in by_name}

    # -- reads ------------------------------------------------------------------------------------------
    def _get_rule(self, service: str, major: str) -> dict[str, Any]:
        svc, listener = self._service_listener(service)
        return self._call(f"rule {self.rule_name(service, major)}", self.client.get_rule,
                          serviceIdentifier=svc, listenerIdentifier=listener,
                          ruleIdentifier=self._rule_id(service, major))

    def _live(self, rule: dict[str, Any], groups: dict[str, str]) -> Live:
        version_of = {tg: v for v, tg in groups.items()}
        weights: Weights = {}
        for t in forward_targets(rule["action"]):
            v = version_of.get(t["targetGroupIdentifier"], t["targetGroupIdentifier"])
            weights[v] = Decimal(t.get("weight", 1))
        total = sum(weights.values(), Decimal(0))
        if total and total != 100:
            # Lattice weights are relative; meshspec writes percentages, others may not have.
            weights = {v: (w * 100 / total).quantize(Decimal(1)) for v, w in weights.items()}
        digest = hashlib.sha256(json.dumps(forward_targets(rule["action"]), sort_keys=True).encode()).hexdigest()[:12]
        stamp = rule.get("lastUpdatedAt") or ""
        stamp = stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp)
        token = f"{rule['id']}@{stamp}#{digest}"
        return Live(weights=weights, token=token, resources=(rule["arn"],))

    def read_weights(self, service: str, major: str) -> Live:
        return self._live(self._get_rule(service, major), self._groups(service))

    def check_versions(self, service: str, major: str, versions: list[str]) -> list[str]:
        """Target groups are per service and version, shared by every major's rule."""
        groups = self._groups(service)
        return [v for v in versions if v not in groups]

    def version_address(self, service: str, major: str, version: str) -> None:
        """A version has no address of its own on Lattice: the canary has nothing to smoke-check."""
        return None

    # -- the write ------------------------------------------------------------------------------------
    def set_weights(self, service: str, major: str, weights: Weights, expected_token: str) -> Live:
        key = f"lattice/{names.service(self.project, service)}/{major}"
        with write_lock(self.ctx.state_dir, key):
            groups = self._groups(service)
            missing = [v for v, w in weights.items() if w > 0 and v not in groups]
            if missing:
                raise NotDeployed(f"{service}: no Lattice target group for {', '.join(missing)}",
                                  hint="deploy the version first (meshspec cdk deploy), then shift traffic to it")
            rule = self._get_rule(service, major)
            live = self._live(rule, groups)
            if live.token != expected_token:
                raise Conflict(self.target(service, major), expected_token, live)
            svc, listener = self._service_listener(service)
            action = with_weights(rule["action"], groups, weights)
            self._call(f"rule {rule['name']}", self.client.update_rule, serviceIdentifier=svc,
                       listenerIdentifier=listener, ruleIdentifier=rule["id"], action=action)
            after = self._get_rule(service, major)
            new = self._live(after, groups)
        if forward_targets(action) != forward_targets(after["action"]):
            raise UserError(f"{self.target(service, major)} was also changed by someone else while meshspec wrote "
                            f"it; live weights now: {new.weights}",
                            hint="tell the other operator; run `meshspec traffic status` to check")
        return new


class LatticeCohortRule(LatticeBackend):
    """One A/B cohort's listener rule of a major (``{service}-{major}-{cohort}``), read and written as the major's
    own rule is: its forward action's weights, its id, time and digest as the token, under the major's lock."""

    def __init__(self, parent: LatticeBackend, cohort: str):
        self.project, self.versions, self.ctx, self.client = parent.project, parent.versions, parent.ctx, parent.client
        self._ids = parent._ids  # the service, listener and rule ids found so far
        self.cohort = cohort

    def rule_name(self, service: str, major: str) -> str:
        return names.cohort_rule(service, major, self.cohort)
