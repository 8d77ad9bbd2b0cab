"""The registry of mesh backends: where the core learns which backends exist.

Three ways in, as pytest finds its plug-ins:

- meshspec's own: every package under ``meshspec.backends`` (``backends/<name>/`` in the repository), each
  setting ``BACKEND``, found by listing the package, so adding one touches no core file;
- installed ones: the ``meshspec.backends`` entry-point group, each entry point naming a :class:`Backend`
  instance (``my_mesh = "my_package.mesh:BACKEND"``);
- in process: :func:`register` (tests, or an app that builds its own backend).

Built-ins and entry points are loaded once, on first use. The spec model reads the backends' settings when it
is built, so a backend registered in process after that may not add settings (it may add everything else).
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
from importlib.metadata import entry_points

from meshspec.infra.errors import UserError

from .interface import Backend

GROUP = "meshspec.backends"
BUILTIN_PACKAGE = "meshspec.backends"

_lock = threading.Lock()
_loaded = False
_backends: dict[str, Backend] = {}
_sealed_settings: set[str] | None = None  # names whose settings the spec model holds, once it is built


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        package = importlib.import_module(BUILTIN_PACKAGE)
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")
            _add(module.BACKEND, f"{BUILTIN_PACKAGE}.{info.name}")
        for ep in entry_points(group=GROUP):
            try:
                backend = ep.load()
            except Exception as exc:  # a broken plug-in must not break every command
                raise UserError(f"the mesh backend plug-in {ep.name!r} ({ep.value}) cannot be loaded: {exc}",
                                hint=f"reinstall or uninstall the package that declares it (entry point group "
                                     f"{GROUP})") from None
            _add(backend, f"entry point {ep.name} = {ep.value}")
        _loaded = True


def _add(backend: Backend, origin: str) -> None:
    if not isinstance(backend, Backend):
        raise TypeError(f"{origin}: BACKEND must be a meshspec.infra.mesh.Backend instance, not {backend!r}")
    existing = _backends.get(backend.name)
    if existing is not None and existing is not backend:
        raise ValueError(f"{origin}: a mesh backend named {backend.name!r} is registered already ({existing!r})")
    _backends[backend.name] = backend


def register(backend: Backend) -> Backend:
    """Add a backend in process (a test's, an app's). Its settings cannot join a spec model already built."""
    _load()
    if _sealed_settings is not None and backend.settings():
        raise ValueError(f"mesh backend {backend.name!r} adds spec settings, but the spec model is built already: "
                         f"install it through the {GROUP} entry-point group instead")
    with _lock:
        _add(backend, f"register({backend!r})")
    return backend


def unregister(name: str) -> None:
    """Remove a backend registered in process (tests clean up after themselves)."""
    with _lock:
        _backends.pop(name, None)


def seal_settings() -> list[Backend]:
    """The backends whose settings the spec model takes; called once by the model when it is built."""
    global _sealed_settings
    out = all_backends()
    _sealed_settings = {b.name for b in out}
    return out


def all_backends() -> list[Backend]:
    """Every backend, in listing order (``position``, then name)."""
    _load()
    return sorted(_backends.values(), key=lambda b: (b.position, b.name))


def names() -> list[str]:
    return [b.name for b in all_backends()]


def get(name: str) -> Backend:
    _load()
    try:
        return _backends[name]
    except KeyError:
        raise UserError(f"no mesh backend named {name!r}", hint=f"installed: {', '.join(names())}") from None


def default() -> Backend:
    """The backend a spec gets when it names none."""
    chosen = [b for b in all_backends() if b.default]
    if len(chosen) != 1:
        raise RuntimeError(f"exactly one mesh backend must be the default, found {[b.name for b in chosen]}")
    return chosen[0]


def hosts() -> list[Backend]:
    """Backends a spec can migrate off (``meshspec migrate``)."""
    return [b for b in all_backends() if b.hosts_migration]


def migration_targets() -> list[Backend]:
    """Backends that can come in beside a host."""
    return [b for b in all_backends() if b.joins is not None]


def supporting(*, feature: str | None = None, platform: str | None = None) -> list[Backend]:
    """The supported backends (no end of support announced) that express ``feature`` and run on ``platform``:
    the ones a refusal names instead."""
    return [b for b in all_backends() if b.end_of_support is None
            and (feature is None or feature in b.features) and (platform is None or platform in b.platforms)]


def alternatives(*, feature: str | None = None, platform: str | None = None) -> str:
    """The names of :func:`supporting` backends, as a refusal's hint gives them (``lattice``,
    ``lattice or istio``)."""
    return " or ".join(b.name for b in supporting(feature=feature, platform=platform))


def titles(backends: list[Backend]) -> str:
    """``App Mesh``, ``App Mesh or VPC Lattice``: how a message names one or several backends."""
    words = [b.title for b in backends]
    return " or ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " or " + words[-1]


# -- a spec's backends ----------------------------------------------------------------------------------
def primary(spec) -> Backend:
    """The backend the spec's AWS services use (``aws.mesh.backend``)."""
    return get(spec.backend)


def incoming(spec) -> Backend | None:
    """During a migration (``aws.mesh.migration``), the backend coming in beside the host."""
    migration = spec.aws.mesh.migration if spec.aws else None
    return get(migration.to) if migration is not None else None


def active(spec) -> list[Backend]:
    """The backends a spec runs on: its own, then the one coming in during a migration."""
    out = [primary(spec)]
    coming = incoming(spec)
    if coming is not None and coming is not out[0]:
        out.append(coming)
    return out
