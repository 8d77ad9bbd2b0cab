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

from . import quotas as q
from .errors import Described as D, Problems
from .model import COOKIE_VALUE, HEADER_VALUE, Major, Service, Spec, live_majors, shares

Kind = Literal["header", "header-present", "cookie"]


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
    cookie matched by "contains name=value" (VPC Lattice) never takes ``p-42``'s holders to ``p-4``."""
    m = svc.majors[major]
    out = [CohortRoute(c.name, c.kind, c.cookie if c.cookie is not None else (c.header or "").lower(), c.value,
                       c.version) for c in sorted(m.cohorts, key=lambda c: c.priority)]
    if m.sticky is not None:
        split = shares(svc, major)
        taking = [v.name for v in svc.versions if split.get(v.name, 0) > 0]
        for version in sorted(taking, key=len, reverse=True):
            out.append(CohortRoute(naming.sticky_cohort(version), "cookie", m.sticky.cookie, version, version,
                                   sticky=True))
    return out


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


_REGEX_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\])")


def cookie_regex(name: str, value: str) -> str:
    """A regular expression the whole ``cookie`` header matches when it holds ``name=value`` among its cookies
    (RFC 6265: pairs separated by ``; ``). App Mesh matches headers with RE2."""
    esc = lambda s: _REGEX_SPECIAL.sub(r"\\\1", s)  # noqa: E731
    return rf"^(.*;\s*)?{esc(name)}={esc(value)}(;.*)?$"


def cookie_needle(name: str, value: str) -> str:
    """What VPC Lattice looks for in the ``cookie`` header (a "contains" match: it has no pattern match)."""
    return f"{name}={value}"


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
    """Every cohort rule: those of any platform, App Engine's, and the AWS mesh backend's (and, during a
    migration, the incoming backend's)."""
    for name, svc in spec.services.items():
        for major, m in svc.majors.items():
            if has_cohorts(m):
                _check_major(name, svc, major, m, p)
    _check_appengine(spec, p)
    if spec.aws is not None:
        kinds = [spec.aws.mesh.backend] + ([spec.aws.mesh.migration.to] if spec.aws.mesh.migration else [])
        for kind in dict.fromkeys(kinds):
            BACKEND_RULES.get(kind, lambda spec, p: None)(spec, p)


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
                      hint=f"write cookie: {q.APPENGINE_SPLIT_COOKIE}; a cookie of your own needs the service on "
                           "AWS with aws.mesh.backend: lattice (VPC Lattice listener rules match it)")
            if svc.appengine.split_by != "cookie":
                p.add(base + ("sticky",), f"sticky keeps users with App Engine's cookie split, but {name} splits by "
                      f"{svc.appengine.split_by}", "cohort-split", given=D(f"appengine.splitBy: "
                      f"{svc.appengine.split_by}"), allowed="appengine.splitBy: cookie (its default)",
                      hint="remove splitBy, or remove sticky")


def _who_can(kind: Kind, what: str) -> str:
    """Where a cohort of this kind can run (App Mesh matched every kind, but AWS ended it: never proposed)."""
    if kind == "header-present":
        return ("no supported backend matches a header's mere presence (App Mesh did; its support ended on "
                "2026-09-30): give the header's value, then run " + what + " with aws.mesh.backend: lattice")
    return f"run {what} with aws.mesh.backend: lattice, whose listener rules match headers and cookies (VPC Lattice)"


# -- per mesh backend (each a small function its backend package can own) -------------------------------------
def _checkable(svc: Service, major: str) -> list[CohortRoute]:
    """The routes a backend can be asked about: the malformed ones are reported by :func:`_check_major`."""
    return [r for r in routes(svc, major) if r.field and r.header != "cookie" or r.kind == "cookie" and r.value]


def _check_service_connect(spec: Spec, p: Problems) -> None:
    """Service Connect forwards to one ECS service per name: it matches no header."""
    for name, svc in spec.aws_services().items():
        for major, m in live_majors(svc).items():
            base = ("services", name, "majors", major)
            for i, c in enumerate(m.cohorts):
                p.add(base + ("cohorts", i), f"service-connect cannot match headers: it cannot send the requests "
                      f"with {c.describe()} to one version", "backend-unsupported", given=D(c.describe()),
                      allowed="no cohorts on service-connect", hint=_who_can(c.kind, "the spec"))
            if m.sticky is not None:
                p.add(base + ("sticky",), "service-connect cannot match the cohort cookie, so it cannot keep a user "
                      "in one version (ECS runs one revision per service)", "backend-unsupported",
                      given=m.sticky.cookie, allowed="no sticky on service-connect", hint=_who_can("cookie", "the spec"))


def _check_lattice(spec: Spec, p: Problems) -> None:
    for name, svc in spec.aws_services().items():
        majors = live_majors(svc)
        extra = route_count(svc)
        if extra and len(majors) <= q.LATTICE_RULES_PER_LISTENER < len(majors) + extra:
            p.add(("services", name, "majors"), f"{len(majors)} major rule(s) and {extra} cohort rule(s) make "
                  f"{len(majors) + extra} listener rules; VPC Lattice allows {q.LATTICE_RULES_PER_LISTENER} per "
                  "listener", "quota-lattice", given=len(majors) + extra,
                  allowed=f"at most {q.LATTICE_RULES_PER_LISTENER} rules: fewer cohorts, or fewer versions taking "
                          "traffic under sticky (one rule each)",
                  hint="request a quota increase (rules per listener)")
        for major, m in majors.items():
            ordered = _checkable(svc, major)
            for j, r in enumerate(ordered):
                path = path_of(name, major, m, r)
                rule = naming.cohort_route(name, major, r.name)
                if len(rule) > q.LATTICE_RULE_NAME_MAX:
                    p.add(path, f"the listener rule name {rule!r} is {len(rule)} characters; VPC Lattice allows "
                          f"{q.LATTICE_RULE_NAME_MAX}", "quota-lattice", given=rule,
                          allowed=f"at most {q.LATTICE_RULE_NAME_MAX} characters", hint="shorten the cohort's name")
                if r.kind == "header-present":
                    p.add(path + ("value",), f"VPC Lattice matches a header's value (exact, prefix or contains), not "
                          f"whether {r.field} is present", "backend-unsupported", given=D(r.describe()),
                          allowed="value: the value the header carries",
                          hint="App Mesh matched presence, but its support ended on 2026-09-30")
                    continue
                if r.kind == "header" and len(r.field) > q.LATTICE_HEADER_NAME_MAX:
                    p.add(path + ("header",), f"the header name is {len(r.field)} characters; a VPC Lattice header "
                          f"match takes at most {q.LATTICE_HEADER_NAME_MAX}", "quota-lattice", given=r.field,
                          allowed=f"at most {q.LATTICE_HEADER_NAME_MAX} characters")
                matched = cookie_needle(r.field, r.value) if r.kind == "cookie" else r.value
                if len(matched) > q.LATTICE_HEADER_MATCH_MAX:
                    p.add(path, f"VPC Lattice would match {matched!r} ({len(matched)} characters); a header match "
                          f"value takes at most {q.LATTICE_HEADER_MATCH_MAX}", "quota-lattice", given=matched,
                          allowed=f"at most {q.LATTICE_HEADER_MATCH_MAX} characters")
                if r.kind != "cookie":
                    continue
                for earlier in ordered[:j]:
                    if (earlier.kind == "cookie" and earlier.field + "=" + earlier.value != matched
                            and cookie_needle(earlier.field, earlier.value) in matched):
                        p.add(path_of(name, major, m, r if not r.sticky else earlier),
                              f"VPC Lattice matches a cookie by \"the cookie header contains NAME=VALUE\": cohort "
                              f"{earlier.name}'s {cookie_needle(earlier.field, earlier.value)!r} is part of "
                              f"{matched!r}, so its rule, which comes first, catches {r.name}'s requests",
                              "cohort-shadowed", given=D(r.describe()),
                              allowed="cookie values that are not part of one another",
                              hint="give the earlier cohort a value that is not part of the later one's")
                        break


def _check_appmesh(spec: Spec, p: Problems) -> None:
    for name, svc in spec.aws_services().items():
        majors = live_majors(svc)
        extra = route_count(svc)
        if extra and len(majors) <= q.APPMESH_ROUTES_PER_ROUTER < len(majors) + extra:
            p.add(("services", name, "majors"), f"{len(majors)} major route(s) and {extra} cohort route(s) make "
                  f"{len(majors) + extra} routes; App Mesh allows {q.APPMESH_ROUTES_PER_ROUTER} per router",
                  "quota-appmesh", given=len(majors) + extra,
                  allowed=f"at most {q.APPMESH_ROUTES_PER_ROUTER} routes: fewer cohorts, or fewer versions taking "
                          "traffic under sticky (one route each)")
        for major, m in majors.items():
            for r in _checkable(svc, major):
                path = path_of(name, major, m, r)
                if r.kind != "cookie" and len(r.field) > q.APPMESH_HEADER_NAME_MAX:
                    p.add(path + ("header",), f"the header name is {len(r.field)} characters; an App Mesh header "
                          f"match takes at most {q.APPMESH_HEADER_NAME_MAX}", "quota-appmesh", given=r.field,
                          allowed=f"at most {q.APPMESH_HEADER_NAME_MAX} characters")
                matched = cookie_regex(r.field, r.value) if r.kind == "cookie" else r.value
                if matched is not None and len(matched) > q.APPMESH_HEADER_MATCH_MAX:
                    p.add(path, f"App Mesh would match the {r.header} header against {len(matched)} characters; a "
                          f"header match takes at most {q.APPMESH_HEADER_MATCH_MAX}", "quota-appmesh",
                          given=D(f"{len(matched)} characters"),
                          allowed=f"at most {q.APPMESH_HEADER_MATCH_MAX} characters",
                          hint="shorten the cookie's name or value" if r.kind == "cookie" else "shorten the value")


BACKEND_RULES = {"service-connect": _check_service_connect, "lattice": _check_lattice, "appmesh": _check_appmesh}
