"""Dispatch rules: each live major's path prefix reaches its App Engine service (pure).

Google's rules (Application.dispatchRules, UrlDispatchRule in the Admin API discovery document): at most 20
rules, order-dependent (the first match wins); a path starts with ``/`` and may end with a single ``*``; domain
plus path at most 100 characters; the target service must already exist.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from meshspec.infra.spec.quotas import APPENGINE_DISPATCH_RULES

from .state import DispatchRule

DOMAIN = "*"
MAX_DOMAIN_PATH = 100


def rule_path(prefix: str) -> str:
    """``/user-service/v1/`` → ``/user-service/v1/*``; ``/`` → ``/*``."""
    return prefix.rstrip("*") + "*"


def rules_for(targets: Iterable[tuple[str, str]]) -> tuple[DispatchRule, ...]:
    """One rule per (path prefix, service); longer prefixes first so the most specific rule matches first."""
    rules = {rule_path(p): DispatchRule(DOMAIN, rule_path(p), sid) for p, sid in targets}
    return tuple(sorted(rules.values(), key=lambda r: (-len(r.path), r.path)))


def merge(desired: Sequence[DispatchRule], observed: Sequence[DispatchRule],
          managed: set[str]) -> tuple[tuple[DispatchRule, ...], list[str]]:
    """Desired rules first, then observed rules for services the spec does not manage (kept as they are).

    Returns the rules and notes about observed rules that are dropped.
    """
    notes = []
    paths = {(r.domain, r.path) for r in desired}
    kept = []
    for r in observed:
        if r.service in managed:
            continue
        if (r.domain, r.path) in paths:
            notes.append(f"dispatch rule {r.render()} is replaced: the spec routes {r.path} elsewhere")
            continue
        kept.append(r)
    return tuple(desired) + tuple(kept), notes


def problems(rules: Sequence[DispatchRule], unmanaged_kept: int = 0) -> list[tuple[str, str]]:
    """Each problem as (message, what to do); empty when Google would accept the rules."""
    out = []
    if len(rules) > APPENGINE_DISPATCH_RULES:
        extra = f" (of which {unmanaged_kept} belong to services outside the spec)" if unmanaged_kept else ""
        out.append((
            f"the spec needs {len(rules)} dispatch rules{extra}; App Engine allows at most {APPENGINE_DISPATCH_RULES}"
            " per application",
            "serve several majors under one service (majorsAsServices: false) so they share a split, give related "
            "majors one common path prefix, retire majors nobody uses, or route by domain to a "
            "VERSION-dot-SERVICE address instead of by path"))
    for r in rules:
        if not r.path.startswith("/"):
            out.append((f"dispatch path {r.path!r} does not start with '/'", "give the major a path starting with '/'"))
        if "*" in r.path[:-1]:
            out.append((f"dispatch path {r.path!r} has a '*' before its end",
                        "App Engine takes a single '*', at the end of the path"))
        if len(r.domain) + len(r.path) > MAX_DOMAIN_PATH:
            out.append((f"dispatch rule {r.render()} is {len(r.domain) + len(r.path)} characters long (domain plus "
                        f"path); App Engine allows {MAX_DOMAIN_PATH}",
                        f"give the major serving {r.path} a shorter path (majors.<major>.path)"))
    return out
