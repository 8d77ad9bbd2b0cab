"""A/B cohorts: the routes a major's cohorts become, and the rules they follow.

One derived view (:func:`routes`) is read by validate, by the stacks (App Mesh routes, VPC Lattice listener rules)
and by ``meshspec traffic``, so the three agree on names, order and matches. The rules here run on every spec;
what a platform cannot express is refused with the platform's own figure and the backend that can.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from meshspec.infra import naming
from meshspec.infra.mesh import Backend, registry

from . import quotas as q
from .errors import Described as D, Problems
from .model import COOKIE_VALUE, HEADER_VALUE, Major, Service, Spec, live_majors, shares

Kind = Literal["header", "header-present", "cookie"]
# The capability a mesh backend declares (``Backend.features``) to express each kind of cohort route.
FEATURES: dict[str, str] = {"header": "header-match", "header-present": "header-present-match",
                            "cookie": "cookie-match"}
WHAT = {"header": "a request header's value", "header-present": "whether a request header is present",
        "cookie": "a cookie"}


@dataclass(frozen=True)
class CohortRoute:
    """One cohort route of a major, in match order. ``field`` is the header's name (lower case) or the cookie's."""

    name: str
    kind: Kind
    field: str
    value: str | None
    version: str
    sticky: bool = False

    @property
    def header(self) -> str:
        """The HTTP header the route matches: the cohort's header, or ``cookie``."""
        return "cookie" if self.kind == "cookie" else self.field

    def describe(self) -> str:
        if self.kind == "cookie":
            return f"cookie {self.field} = {self.value}"
        return f"header {self.field} = {self.value}" if self.kind == "header" else f"header {self.field} present"


def routes(svc: Service, major: str) -> list[CohortRoute]:
    """The major's cohort routes in match order: its cohorts by priority, then, with ``sticky``, one route per
    version taking traffic that sends the cookie's holders back to it. Longer version names go first, so a
    cookie matched by "contains name=value" (VPC Lattice) never takes ``p-42``'s holders to ``p-4``. On App
    Engine the sticky cookie is the split itself (GOOGAPPUID), no route of its own."""
    m = svc.majors[major]
    out = [CohortRoute(c.name, c.kind, c.cookie if c.cookie is not None else (c.header or "").lower(), c.value,
                       c.version) for c in sorted(m.cohorts, key=lambda c: c.priority)]
    if m.sticky is not None and svc.appengine is None:
        split = shares(svc, major)
        taking = [v.name for v in svc.versions if split.get(v.name, 0) > 0]
        for version in sorted(taking, key=len, reverse=True):
            out.append(CohortRoute(naming.sticky_cohort(version), "cookie", m.sticky.cookie, version, version,
                                   sticky=True))
    return out


def checkable(svc: Service, major: str) -> list[CohortRoute]:
    """The routes a backend's limits can be checked on (the malformed ones are reported by the rules here)."""
    return [r for r in routes(svc, major) if r.field and r.header != "cookie" or r.kind == "cookie" and r.value]


def route_count(svc: Service) -> int:
    """Cohort routes over the service's live majors (each is one App Mesh route or one Lattice listener rule)."""
    return sum(len(routes(svc, major)) for major in live_majors(svc))


def has_cohorts(m: Major) -> bool:
    return bool(m.cohorts) or m.sticky is not None


def sticky_cookies(svc: Service) -> dict[str, str]:
    """Live major → its sticky cookie's name: what the application reads to set the cookie
    (``MESHSPEC_COHORT_COOKIE_<MAJOR>``)."""
    return {major: m.sticky.cookie for major, m in live_majors(svc).items() if m.sticky is not None}


def cookie_variable(major: str) -> str:
    """The environment variable that names a major's sticky cookie to the application."""
    return f"MESHSPEC_COHORT_COOKIE_{major.upper()}"


# -- rules on every platform -----------------------------------------------------------------------------------
def _did_you_mean(word: str, choices: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _paths(name: str, major: str, m: Major) -> dict[str, tuple]:
    """Route name → the key path that declares it (a cohort's entry, or ``sticky``)."""
    base = ("services", name, "majors", major)
    out = {c.name: base + ("cohorts", i) for i, c in enumerate(m.cohorts)}
    if m.sticky is not None:
        out["*sticky"] = base + ("sticky",)
    return out


def path_of(name: str, major: str, m: Major, r: CohortRoute) -> tuple:
    paths = _paths(name, major, m)
    return paths["*sticky"] if r.sticky else paths[r.name]


def check(spec: Spec, p: Problems) -> None:
    """Every cohort rule: those of any platform, App Engine's, and what the AWS mesh backend (and, during a
    migration, the incoming one) cannot match. Each backend checks its own limits in its ``check`` hook."""
    for name, svc in spec.services.items():
        for major, m in svc.majors.items():
            if has_cohorts(m):
                _check_major(name, svc, major, m, p)
    _check_appengine(spec, p)
    if spec.aws is not None:
        for backend in registry.active(spec):
            check_backend(spec, p, backend)


def _check_major(name: str, svc: Service, major: str, m: Major, p: Problems) -> None:
    base = ("services", name, "majors", major)
    if m.status == "retired":
        p.add(base + (("cohorts",) if m.cohorts else ("sticky",)), f"{major} is retired and takes no traffic: "
              "its cohorts would route nothing", "cohort-retired", given=D(f"status: retired"),
              allowed="cohorts and sticky on a live major only", hint="remove them with the major's traffic")
        return
    versions = [v.name for v in svc.versions]
    names: dict[str, int] = {}
    priorities: dict[int, int] = {}
    for i, c in enumerate(m.cohorts):
        path = base + ("cohorts", i)
        if c.name.startswith(naming.STICKY_PREFIX):
            p.add(path + ("name",), f"cohort names starting with {naming.STICKY_PREFIX!r} are meshspec's (the "
                  "routes of the sticky cookie)", "cohort-name", given=c.name,
                  allowed=f"a name not starting with {naming.STICKY_PREFIX!r}")
        if c.name in names:
            p.add(path + ("name",), f"cohort {c.name!r} is already defined at cohorts[{names[c.name]}]",
                  "cohort-name", given=c.name, allowed="a unique name per major")
        names.setdefault(c.name, i)
        if c.priority in priorities:
            p.add(path + ("priority",), f"priority {c.priority} is already taken by cohorts[{priorities[c.priority]}]:"
                  " the order of the two would be undefined", "cohort-priority", given=c.priority,
                  allowed="a unique priority per major")
        priorities.setdefault(c.priority, i)
        if c.version not in versions:
            p.add(path + ("version",), f"version {c.version!r} is not a version of {name}", "unknown-version",
                  given=c.version, allowed=", ".join(versions), hint=_did_you_mean(c.version, versions))
        if (c.header is None) == (c.cookie is None):
            p.add(path, "a cohort matches either a header or a cookie", "cohort-match",
                  given=D("both header and cookie" if c.header else "neither header nor cookie"),
                  allowed="header: NAME [value: VALUE], or cookie: NAME with value: VALUE")
            continue
        if c.cookie is not None and c.value is None:
            p.add(path + ("cookie",), f"a cookie cohort needs the cookie's value", "cohort-match",
                  given=D(f"cookie {c.cookie} without value"), allowed="value: the value that selects the cohort",
                  hint="a cookie's mere presence is no cohort: the sticky cookie is present for every user")
        if c.header is not None and c.header.lower() == "cookie":
            p.add(path + ("header",), "cookies are matched by name: use cookie: NAME with value: VALUE",
                  "cohort-match", given=c.header, allowed="a header other than cookie")
        if c.value is not None:
            pattern, what = (COOKIE_VALUE, "a cookie value (RFC 6265: no space, quote, comma, semicolon or "
                             "backslash)") if c.cookie is not None else (HEADER_VALUE, "visible ASCII characters "
                                                                        "and inner spaces")
            if not re.match(pattern, c.value):
                p.add(path + ("value",), f"{c.value!r} cannot be matched as {what}", "cohort-value",
                      given=c.value, allowed=f"{what}, 1 to 255 characters")
        if svc.protocol == "grpc" and c.cookie is not None:
            p.add(path + ("cookie",), f"{name} speaks gRPC, whose calls carry no cookies", "cohort-grpc",
                  given=c.cookie, allowed="header cohorts (gRPC metadata) on a gRPC service")
    if m.sticky is not None and svc.protocol == "grpc":
        p.add(base + ("sticky",), f"{name} speaks gRPC, whose calls carry no cookies: nothing would keep a "
              "caller in its version", "cohort-grpc", given=m.sticky.cookie,
              allowed="sticky on http and http2 services", hint="route gRPC callers with a header cohort")
    _check_shadowed(name, svc, major, m, p)


def _check_shadowed(name: str, svc: Service, major: str, m: Major, p: Problems) -> None:
    """A route that an earlier one always catches first never routes anything: refused, naming the earlier one."""
    ordered = routes(svc, major)
    for j, later in enumerate(ordered):
        for earlier in ordered[:j]:
            if earlier.header != later.header or (earlier.kind == "cookie") != (later.kind == "cookie"):
                continue
            caught = (earlier.kind == "header-present" and later.kind != "cookie") or (
                earlier.field == later.field and earlier.value == later.value and earlier.kind == later.kind)
            if not caught:
                continue
            where = "the sticky cookie's route" if later.sticky else f"cohort {later.name}"
            p.add(path_of(name, major, m, later if not later.sticky else earlier),
                  f"{where} ({later.describe()}) is never reached: cohort {earlier.name} ({earlier.describe()}) "
                  "comes first and catches its requests", "cohort-shadowed", given=D(later.describe()),
                  allowed="a match no earlier cohort catches",
                  hint="give the cohorts different matches, or remove the one that is never reached")
            break


# -- App Engine ----------------------------------------------------------------------------------------------
def _check_appengine(spec: Spec, p: Problems) -> None:
    """App Engine routes by host and path, and splits on its own GOOGAPPUID cookie only."""
    for name, svc in spec.appengine_services().items():
        for major, m in live_majors(svc).items():
            base = ("services", name, "majors", major)
            for i, c in enumerate(m.cohorts):
                p.add(base + ("cohorts", i), f"App Engine routes by host and path only: it cannot send the "
                      f"requests with {c.describe()} to one version", "cohort-unsupported",
                      given=D(c.describe()), allowed="no cohorts on App Engine; sticky with its GOOGAPPUID cookie "
                      "keeps each user in one version", hint=_who_can(c.kind, "the service on AWS"))
            if m.sticky is None:
                continue
            if m.sticky.cookie != q.APPENGINE_SPLIT_COOKIE:
                p.add(base + ("sticky", "cookie"), f"App Engine's cookie split reads its own cookie, "
                      f"{q.APPENGINE_SPLIT_COOKIE}, and no other: it cannot keep users by {m.sticky.cookie}",
                      "cohort-unsupported", given=m.sticky.cookie, allowed=q.APPENGINE_SPLIT_COOKIE,
                      hint=f"write cookie: {q.APPENGINE_SPLIT_COOKIE}; for a cookie of your own, "
                           + _who_can("cookie", "the service on AWS"))
            if svc.appengine.split_by != "cookie":
                p.add(base + ("sticky",), f"sticky keeps users with App Engine's cookie split, but {name} splits by "
                      f"{svc.appengine.split_by}", "cohort-split", given=D(f"appengine.splitBy: "
                      f"{svc.appengine.split_by}"), allowed="appengine.splitBy: cookie (its default)",
                      hint="remove splitBy, or remove sticky")


def _who_can(kind: Kind, what: str, platform: str = "ecs") -> str:
    """Where a cohort of this kind can run on ``platform`` (App Engine's services move to ECS): the supported
    backends that declare the feature; a backend past its end of support is named only as what once did."""
    feature = FEATURES[kind]
    able = registry.supporting(feature=feature, platform=platform)
    if able:
        return (f"run {what} with aws.mesh.backend: {' or '.join(b.name for b in able)} "
                f"({registry.titles(able)} matches {WHAT[kind]})")
    ended = [b for b in registry.all_backends() if feature in b.features]
    was = "; ".join(f"{b.title} did until {b.end_of_support}" for b in ended)
    header = FEATURES["header"]
    return (f"no supported backend matches {WHAT[kind]}{f' ({was})' if was else ''}: give the header's value, "
            f"then run {what} with aws.mesh.backend: {registry.alternatives(feature=header, platform=platform)}")


# -- what a mesh backend cannot match ---------------------------------------------------------------------------
def _needs(svc: Service, major: str, m: Major) -> list[tuple[tuple, str, str, Kind]]:
    """(key path, what is asked, given, kind) for each cohort and the sticky cookie of a live major."""
    out = []
    for i, c in enumerate(m.cohorts):
        if (c.header is None) != (c.cookie is None):
            out.append((("cohorts", i), c.describe(), c.describe(), c.kind))
    if m.sticky is not None:
        out.append((("sticky",), "the sticky cookie", m.sticky.cookie, "cookie"))
    return out


def unmatched(spec: Spec, backend: Backend) -> list[tuple]:
    """Key paths of the cohorts and sticky cookies ``backend`` cannot match (what a migration to it must end)."""
    out = []
    for name, svc in spec.aws_services().items():
        for major, m in live_majors(svc).items():
            paths = [("services", name, "majors", major) + rel for rel, _, _, kind in _needs(svc, major, m)
                     if FEATURES[kind] not in backend.features]
            out += list(dict.fromkeys(p[:5] if p[4] == "cohorts" else p for p in paths))
    return out


def check_backend(spec: Spec, p: Problems, backend: Backend) -> None:
    """Refuse each cohort the backend cannot match (it lacks the feature in ``Backend.features``), naming the
    backends that can."""
    for name, svc in spec.aws_services().items():
        cluster = spec.cluster(svc.cluster)
        platform = cluster.platform if cluster is not None else "ecs"
        for major, m in live_majors(svc).items():
            for rel, asked, given, kind in _needs(svc, major, m):
                if FEATURES[kind] in backend.features:
                    continue
                path = ("services", name, "majors", major) + rel
                if rel == ("sticky",):
                    message = (f"{backend.title} cannot match a cookie, so it cannot keep a user in one version by "
                               f"{m.sticky.cookie}")
                elif kind == "header-present" and FEATURES["header"] in backend.features:
                    path += ("value",)
                    message = (f"{backend.title} matches a header's value, not whether "
                               f"{m.cohorts[rel[1]].header} is present")
                else:
                    message = (f"{backend.title} cannot match {WHAT[kind]}: it cannot send the requests with "
                               f"{asked} to one version")
                p.add(path, message, "backend-unsupported", given=D(given) if rel != ("sticky",) else given,
                      allowed=("value: the value the header carries" if path[-1] == "value"
                               else f"no {'sticky' if rel == ('sticky',) else 'cohorts'} on {backend.name}"),
                      hint=_who_can(kind, "the spec", platform))


