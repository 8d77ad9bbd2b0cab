"""How a service finds its traffic backend (the interface and shared parts: :mod:`.base`, re-exported here).

App Engine services move their split (:mod:`.appengine`); AWS services, whatever their mesh backend keeps weights
in (``meshspec.infra.mesh.Backend.traffic``).
"""
from __future__ import annotations

from typing import Callable

from meshspec.infra.spec.model import Service, Spec

from .base import (APPENGINE, Conflict, Context, Live, NotDeployed, TrafficBackend,  # noqa: F401 (re-exported)
                   cloud_of, state_dir, write_lock)

BackendFactory = Callable[[Spec, str, Context], TrafficBackend]


def platform_of(spec: Spec, service: Service) -> str:
    """``appengine`` for App Engine services; for AWS services, the spec's mesh backend."""
    if service.appengine is not None:
        return APPENGINE
    return spec.backend


def backend_for(spec: Spec, name: str, ctx: Context,
                overrides: dict[str, BackendFactory] | None = None) -> TrafficBackend:
    """The backend that controls ``name``'s traffic: App Engine's split, or the spec's mesh backend's
    (``meshspec.infra.mesh.Backend.traffic``). ``overrides`` (platform → factory) lets tests inject factories."""
    service = spec.services[name]
    key = platform_of(spec, service)
    factory = (overrides or {}).get(key)
    if factory is not None:
        return factory(spec, name, ctx)
    if key == APPENGINE:
        from .appengine import AppEngineBackend

        return AppEngineBackend(spec, name, ctx)
    from meshspec.infra.mesh import registry

    return registry.primary(spec).traffic(spec, name, ctx)
