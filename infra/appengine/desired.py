"""The spec's App Engine part as desired state: services, versions, splits and dispatch rules (pure)."""
from __future__ import annotations

from decimal import Decimal

from meshspec.infra import naming
from meshspec.infra.errors import UserError
from meshspec.infra.spec.model import Service, Spec, live_majors, major_path, shares

from . import dispatch
from .fractions import split_for
from .state import Desired, DesiredService, DesiredVersion


def source_url(source: str) -> str:
    """Admin API zip deployments take ``https://storage.googleapis.com/BUCKET/OBJECT`` (ZipInfo.sourceUrl)."""
    if source.startswith("gs://"):
        return "https://storage.googleapis.com/" + source[len("gs://"):]
    return source


def _env_value(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _version(svc: Service, name: str, image: str | None, source: str | None) -> DesiredVersion:
    ae = svc.appengine
    return DesiredVersion(
        id=name, env=ae.environment, runtime=ae.runtime,
        source_url=source_url(source) if source else None, image=image if not source else None,
        warmup=ae.migrate_traffic and ae.environment == "standard", health_path=svc.health_check,
        env_variables=tuple(sorted((k, _env_value(v)) for k, v in svc.env.items())))


def dispatch_targets(spec: Spec) -> list[tuple[str, str, str, str]]:
    """(path prefix, App Engine service id, spec service, major) for each live major: one dispatch rule each
    (validate counts them against App Engine's quota with this same function)."""
    out = []
    for name, svc in spec.appengine_services().items():
        ae = svc.appengine
        for major, m in live_majors(svc).items():
            sid = (naming.appengine_service(name, major) if ae.majors_as_services
                   else naming.appengine_service(name, default=ae.default_service))
            out.append((major_path(name, major, m), sid, name, major))
    return out


def desired_state(spec: Spec) -> Desired:
    """Every App Engine service the spec manages; with majorsAsServices one service per live major."""
    if spec.gcp is None:
        raise UserError("the spec has no gcp section, so it names no App Engine application",
                        hint="add gcp: {project: PROJECT, location: LOCATION}")
    services: list[DesiredService] = []
    unmanaged: list[str] = []
    for name, svc in spec.appengine_services().items():
        ae = svc.appengine
        versions = tuple(_version(svc, v.name, v.image, v.source) for v in svc.versions)
        live = live_majors(svc)
        if ae.majors_as_services:
            for major, m in svc.majors.items():
                sid = naming.appengine_service(name, major)
                if major not in live:
                    unmanaged.append(sid)
                    continue
                path = major_path(name, major, m)
                split = _split(shares(svc, major), ae.split_by, sid)
                services.append(DesiredService(sid, name, ae.environment, versions, split, ae.migrate_traffic,
                                               (path,), sticky=m.sticky is not None))
        else:
            sid = naming.appengine_service(name, default=ae.default_service)
            paths = tuple(major_path(name, major, m) for major, m in live.items())
            split = _split(shares(svc, next(iter(live))), ae.split_by, sid) if live else None
            # One split serves every major: a sticky major makes it the users' (validate keeps splitBy: cookie).
            sticky = any(m.sticky is not None for m in live.values())
            services.append(DesiredService(sid, name, ae.environment, versions, split, ae.migrate_traffic, paths,
                                           sticky=sticky))
    targets = [(path, sid) for path, sid, _, _ in dispatch_targets(spec)]
    return Desired(app_id=spec.gcp.project, services=tuple(services),
                   dispatch_rules=dispatch.rules_for(targets), unmanaged_services=tuple(unmanaged),
                   location=spec.gcp.location)


def _split(version_shares: dict[str, Decimal], split_by: str, sid: str):
    return split_for(version_shares, split_by, service=sid)
