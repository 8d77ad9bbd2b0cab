"""What VPC Lattice would refuse (names, quotas, policy size), found by ``meshspec validate`` at the spec's
position."""
from __future__ import annotations

from meshspec.infra.spec.checks import consumers
from meshspec.infra.spec.errors import Described as D, Problems
from meshspec.infra.spec.model import Spec, live_majors, major_path

from . import names
from . import quotas as q

# Estimate of a Lattice auth policy's size (its quota is 10 KB): a statement per API major naming its callers by
# their roles' tag (constructs.service.render_auth_policy), each name quoted with a comma, and the major's path.
POLICY_OVERHEAD_BYTES, POLICY_STATEMENT_BYTES, POLICY_CALLER_EXTRA_BYTES = 200, 300, 3


def auth_policy_estimate(service: str, spec: Spec, callers_of: dict | None = None) -> int:
    """Bytes of the auth policy the lattice backend writes for ``service`` (an upper estimate). Pass
    ``callers_of`` (from :func:`meshspec.infra.spec.checks.consumers`) when estimating many services, so each is
    not a pass over the spec."""
    callers = (callers_of if callers_of is not None else consumers(spec)).get(service, {})
    svc = spec.services[service]
    return POLICY_OVERHEAD_BYTES + sum(
        POLICY_STATEMENT_BYTES + len(major_path(service, major, svc.majors[major]))
        + sum(len(name) + POLICY_CALLER_EXTRA_BYTES for name in who)
        for major, who in callers.items() if major in svc.majors)


def check_unused(spec: Spec, p: Problems) -> None:
    mesh = spec.aws.mesh
    if mesh.certificate_arn is not None:
        p.add(("aws", "mesh", "certificateArn"), f"certificateArn applies to backend: lattice; {mesh.backend} does "
              "not use it", "backend-unsupported", given=mesh.backend,
              allowed="backend: lattice, or leave certificateArn out")


def _name(p: Problems, path: tuple, what: str, name: str, limit: int, reserved: str | None) -> None:
    bad = []
    if not q.NAME_MIN <= len(name) <= limit:
        bad.append(f"{len(name)} characters")
    if not q.NAME.match(name):
        bad.append("a double hyphen" if "--" in name else "a leading or trailing hyphen")
    if reserved and name.startswith(reserved):
        bad.append(f"the reserved prefix {reserved!r}")
    if bad:
        p.add(path, f"the VPC Lattice {what} name {name!r} has {' and '.join(bad)}", "lattice-name", given=name,
              allowed=f"{q.NAME_MIN} to {limit} characters a-z, 0-9 and single inner hyphens"
                      + (f", not starting with {reserved!r}" if reserved else ""),
              hint="shorten the project, service or version name")


def check(spec: Spec, p: Problems, complete: bool = True) -> None:
    check_cohorts(spec, p)
    meshed = spec.aws_services()
    if spec.aws.mesh.certificate_arn is not None and complete and not any(s.protocol != "http"
                                                                          for s in meshed.values()):
        p.add(("aws", "mesh", "certificateArn"), "certificateArn is presented by the HTTPS listeners of http2 and "
              "grpc services; no service on AWS has one", "certificate-unused", given=D("a certificate ARN"),
              allowed="certificateArn with an http2 or grpc service on AWS, or leave it out")
    if spec.aws.mesh.certificate_arn is None:
        callers_of = consumers(spec)
        for name, svc in meshed.items():
            if svc.protocol != "http" and any(callers_of.get(name, {}).values()):
                p.warn(("services", name, "protocol"), f"callers reach {name} ({svc.protocol}) through Lattice at "
                       f"{names.endpoint(spec.project, name, svc.protocol)}, but Lattice's own certificate "
                       "covers only its generated name: TLS to the custom name fails", "lattice-https-name",
                       given=svc.protocol, allowed="aws.mesh.certificateArn set, or protocol: http",
                       hint=f"give aws.mesh.certificateArn an ACM certificate for *.{names.zone(spec.project)}"
                            " (a private certificate from AWS Private CA, imported or issued)")
    _name(p, ("aws", "mesh", "name") if spec.aws.mesh.name else ("project",), "service network",
          names.service_network(spec.mesh_name), q.NETWORK_NAME_MAX, "servicenetwork-")
    groups = 0
    callers_of = consumers(spec)
    for name, svc in meshed.items():
        spath = ("services", name)
        _name(p, spath, "service", names.service(spec.project, name), q.SERVICE_NAME_MAX, "svc-")
        for i, v in enumerate(svc.versions):
            _name(p, spath + ("versions", i, "name"), "target group",
                  names.target_group(spec.project, name, v.name), q.TARGET_GROUP_NAME_MAX, "tg-")
        groups += len(svc.versions)
        majors = live_majors(svc)
        if len(majors) > q.RULES_PER_LISTENER:
            p.add(spath + ("majors",), f"{len(majors)} listener rules (one per live major); VPC Lattice allows "
                  f"{q.RULES_PER_LISTENER} per listener", "quota-lattice", given=len(majors),
                  allowed=f"at most {q.RULES_PER_LISTENER}",
                  hint="retire majors nobody uses, or request a quota increase (rules per listener)")
        if len(svc.versions) > q.TARGET_GROUPS_PER_ACTION:
            p.add(spath + ("versions",), f"{len(svc.versions)} code versions are weighted target groups of each "
                  f"rule; VPC Lattice allows {q.TARGET_GROUPS_PER_ACTION} per forward action",
                  "quota-lattice", given=len(svc.versions), allowed=f"at most {q.TARGET_GROUPS_PER_ACTION}",
                  hint="remove versions that take no traffic (this limit cannot be raised)")
        for major, m in majors.items():
            prefix = major_path(name, major, m)
            if len(prefix) > q.PATH_MAX:
                p.add(spath + ("majors", major, "path"), f"the path prefix is {len(prefix)} characters; a VPC "
                      f"Lattice path match takes at most {q.PATH_MAX}", "quota-lattice", given=prefix,
                      allowed=f"at most {q.PATH_MAX} characters")
        size = auth_policy_estimate(name, spec, callers_of)
        if size > q.AUTH_POLICY_BYTES:
            p.add(spath, f"the auth policy naming every consumer would be about {size} bytes; VPC Lattice allows "
                  f"{q.AUTH_POLICY_BYTES} bytes per policy", "quota-lattice", given=size,
                  allowed=f"at most {q.AUTH_POLICY_BYTES} bytes (this limit cannot be raised)",
                  hint="fewer consumers per service: split it, or let consumers share one caller service")
    if not complete:
        return
    if groups > q.TARGET_GROUPS_PER_REGION:
        p.add(("services",), f"{groups} target groups (one per code version); VPC Lattice allows "
              f"{q.TARGET_GROUPS_PER_REGION} per region", "quota-lattice", given=groups,
              allowed=f"at most {q.TARGET_GROUPS_PER_REGION}",
              hint="remove versions that take no traffic, or request a quota increase (target groups per region)")
    if len(meshed) > q.SERVICES_PER_NETWORK:
        p.add(("services",), f"{len(meshed)} services in one service network; VPC Lattice allows "
              f"{q.SERVICES_PER_NETWORK} service associations per service network", "quota-lattice",
              given=len(meshed), allowed=f"at most {q.SERVICES_PER_NETWORK}",
              hint="split the services over several specs, or request a quota increase")


def check_cohorts(spec: Spec, p: Problems) -> None:
    """A/B cohort rules within VPC Lattice's limits (rules per listener, rule names, header names and match values),
    and cookies it can tell apart: it matches a cookie by "the cookie header contains NAME=VALUE", so a value that
    is part of a later one's would catch that one's requests."""
    from meshspec.infra.spec import cohorts

    for name, svc in spec.aws_services().items():
        majors = live_majors(svc)
        extra = cohorts.route_count(svc)
        if extra and len(majors) <= q.RULES_PER_LISTENER < len(majors) + extra:
            p.add(("services", name, "majors"), f"{len(majors)} major rule(s) and {extra} cohort rule(s) make "
                  f"{len(majors) + extra} listener rules; VPC Lattice allows {q.RULES_PER_LISTENER} per "
                  "listener", "quota-lattice", given=len(majors) + extra,
                  allowed=f"at most {q.RULES_PER_LISTENER} rules: fewer cohorts, or fewer versions taking "
                          "traffic under sticky (one rule each)",
                  hint="request a quota increase (rules per listener)")
        for major, mj in majors.items():
            ordered = [r for r in cohorts.checkable(svc, major) if r.kind != "header-present"]  # refused by the core
            for j, r in enumerate(ordered):
                path = cohorts.path_of(name, major, mj, r)
                rule = names.cohort_rule(name, major, r.name)
                if len(rule) > q.RULE_NAME_MAX:
                    p.add(path, f"the listener rule name {rule!r} is {len(rule)} characters; VPC Lattice allows "
                          f"{q.RULE_NAME_MAX}", "quota-lattice", given=rule,
                          allowed=f"at most {q.RULE_NAME_MAX} characters", hint="shorten the cohort's name")
                if r.kind == "header" and len(r.field) > q.HEADER_NAME_MAX:
                    p.add(path + ("header",), f"the header name is {len(r.field)} characters; a VPC Lattice header "
                          f"match takes at most {q.HEADER_NAME_MAX}", "quota-lattice", given=r.field,
                          allowed=f"at most {q.HEADER_NAME_MAX} characters")
                matched = q.cookie_needle(r.field, r.value) if r.kind == "cookie" else r.value
                if len(matched) > q.HEADER_MATCH_MAX:
                    p.add(path, f"VPC Lattice would match {matched!r} ({len(matched)} characters); a header match "
                          f"value takes at most {q.HEADER_MATCH_MAX}", "quota-lattice", given=matched,
                          allowed=f"at most {q.HEADER_MATCH_MAX} characters")
                if r.kind != "cookie":
                    continue
                for earlier in ordered[:j]:
                    needle = q.cookie_needle(earlier.field, earlier.value) if earlier.kind == "cookie" else None
                    if needle is not None and needle != matched and needle in matched:
                        p.add(cohorts.path_of(name, major, mj, r if not r.sticky else earlier),
                              f"VPC Lattice matches a cookie by \"the cookie header contains NAME=VALUE\": cohort "
                              f"{earlier.name}'s {needle!r} is part of {matched!r}, so its rule, which comes first, "
                              f"catches {r.name}'s requests", "cohort-shadowed", given=D(r.describe()),
                              allowed="cookie values that are not part of one another",
                              hint="give the earlier cohort a value that is not part of the later one's")
                        break
