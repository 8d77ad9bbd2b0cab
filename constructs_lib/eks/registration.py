"""The registrar sidecar: each pod registers its own IP where the mesh backend discovers it, with no controller
installed in the cluster (ECS does this for tasks; for pods it is a mesh controller's job otherwise).

The sidecar runs the public AWS CLI image with a short POSIX shell script. The script is made of parts
(:class:`RegistrarPart`), one per discovery API a backend registers pods in (a Cloud Map service, a target
group, …), each a few shell functions' bodies: look the target up by name (the pod's parameters are literals,
since manifests are written as files, while AWS generates the IDs), register, check and heal, deregister.
Every installed backend's part is in the script and the pod's variables, from the backend's
:class:`~meshspec.constructs_lib.mesh.base.PodRegistration`, select which act; the pod name and IP come from the
downward API.

On SIGTERM it deregisters and exits; the other containers wait ``drain_seconds`` in a preStop sleep (Kubernetes'
built-in sleep action, no binary needed in the image), so callers stop choosing the pod before the app stops. Every
``interval_seconds`` it checks its registration with one list call and registers again when it is gone (a lost
or deleted registration heals).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import PropsError
from ..mesh.base import PodRegistration

REGISTRAR_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.22.0"
REGISTRAR_CONTAINER = "mesh-registrar"
DEFAULT_INTERVAL_SECONDS = 30
DEFAULT_DRAIN_SECONDS = 15

@dataclass(frozen=True)
class RegistrarPart:
    """How the registrar registers a pod in one discovery API (a backend's), as shell fragments.

    - ``trigger``: the variable that selects this part (the pod's registration sets it).
    - ``variables``: every variable it reads, ``trigger`` included.
    - ``requires``: (variable, needed variable, why) for variables that need another.
    - ``state``: the shell variable holding the looked-up ID, empty until ``lookup`` finds it.
    - ``lookup``, ``register``, ``heal``, ``deregister``: the part's lines in the script's functions of those
      names, each acting only when its ``trigger`` (or ``state``) is set. Indented by two spaces.
    - ``found``: what the lookup finds by name, for the IAM wildcard's reason (``Cloud Map service``).
    - ``lookup_actions``: the list actions it calls that have no resource-level permission.
    - ``wildcards``: the cdk-nag ``applies_to`` entries of the pod role's wildcard statements.
    - ``condition``: how a wildcard is narrowed, if it is. Default: not at all.
    """

    trigger: str
    variables: tuple[str, ...]
    requires: tuple[tuple[str, str, str], ...]
    state: str
    lookup: str
    register: str
    heal: str
    deregister: str
    found: str
    lookup_actions: str
    wildcards: tuple[str, ...]
    condition: str | None = None


@dataclass(frozen=True)
class Registrar:
    """The registrar for a set of parts (every installed backend's, in the registry's order)."""

    parts: tuple[RegistrarPart, ...]

    @property
    def known(self) -> frozenset[str]:
        return frozenset({"AWS_REGION", *(v for p in self.parts for v in p.variables)})

    def script(self) -> str:
        return _SCRIPT.format(
            states="; ".join(f'{p.state}=""' for p in self.parts),
            lookup="".join(p.lookup for p in self.parts), register="".join(p.register for p in self.parts),
            heal="".join(p.heal for p in self.parts), deregister="".join(p.deregister for p in self.parts))

    def check(self, registration: PodRegistration) -> None:
        """Refuse a registration this registrar cannot carry out."""
        env = set(registration.environment)
        unknown = sorted(env - self.known)
        if unknown:
            raise PropsError(f"the registrar does not read {unknown}; it reads {sorted(self.known)}")
        if not {p.trigger for p in self.parts} & env:
            raise PropsError(f"a pod registration names neither {' nor '.join(p.trigger for p in self.parts)}: "
                             "nothing to register in")
        for p in self.parts:
            for variable, needed, why in p.requires:
                if variable in env and needed not in env:
                    raise PropsError(f"{variable} needs {needed} ({why})")

    def lookup_reason(self) -> str:
        """Why the pod role has wildcard statements: the cdk-nag acknowledgement's reason."""
        reason = (f"the pod registrar finds its {' or '.join(p.found for p in self.parts)} by name at runtime (AWS "
                  "generates their IDs; manifests hold literals only): "
                  f"{' and '.join(p.lookup_actions for p in self.parts)} have no resource-level permissions")
        return reason + "".join(f"; {p.condition}" for p in self.parts if p.condition)

    def wildcards(self) -> list[str]:
        return list(dict.fromkeys(w for p in self.parts for w in p.wildcards))


_SCRIPT = r"""set -u
log() {{ echo "mesh-registrar: $*"; }}
{states}
lookup() {{
{lookup}  return 0
}}
register() {{
  lookup || return 1
{register}}}
heal() {{
  lookup || return 1
{heal}}}
deregister() {{
{deregister}  exit 0
}}
trap deregister TERM INT
register || log "registration failed; retrying every ${{MESHSPEC_INTERVAL_SECONDS}}s"
while :; do
  sleep "$MESHSPEC_INTERVAL_SECONDS" & wait $!
  heal || log "check failed; retrying"
done
"""


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def registrar_for(registration: PodRegistration, parts: tuple[RegistrarPart, ...] = ()) -> Registrar:
    """The registrar that speaks ``parts``. Default: the registration's own parts."""
    chosen = parts or registration.parts
    if not chosen:
        raise PropsError("a pod registration carries no registrar part and none were given: the registrar would "
                         "not know how to register")
    return Registrar(tuple(chosen))


def render_registrar(registration: PodRegistration, *, interval_seconds: int = DEFAULT_INTERVAL_SECONDS,
                     image: str = REGISTRAR_IMAGE, parts: tuple[RegistrarPart, ...] = ()) -> dict[str, Any]:
    """The sidecar container (pure: unit-tested without a stack).

    ``interval_seconds``: how often a lost registration heals. Default: 30.
    ``image``: an AWS CLI image (v2 ≥ 2.15 reads EKS Pod Identity credentials). Default: ``REGISTRAR_IMAGE``.
    ``parts``: the discovery APIs the script speaks. Default: the registration's own parts.
    """
    registrar = registrar_for(registration, parts)
    registrar.check(registration)
    if interval_seconds < 5:
        raise PropsError(f"interval_seconds is {interval_seconds}: at least 5 (each check is an API call)")
    env = [{"name": k, "value": str(v)} for k, v in sorted(
        {**registration.environment, "MESHSPEC_INTERVAL_SECONDS": str(interval_seconds)}.items())]
    env += [_field("POD_NAME", "metadata.name"), _field("POD_IP", "status.podIP")]
    return {"name": REGISTRAR_CONTAINER, "image": image, "command": ["/bin/sh", "-c", registrar.script()], "env": env,
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}


def add_registrar(pod: dict[str, Any], registration: PodRegistration | None, *, run_as_user: int | None = None,
                  interval_seconds: int = DEFAULT_INTERVAL_SECONDS, drain_seconds: int = DEFAULT_DRAIN_SECONDS,
                  image: str = REGISTRAR_IMAGE, parts: tuple[RegistrarPart, ...] = ()) -> dict[str, Any]:
    """Add the registrar to a pod spec (in place, and returned): the other containers get a preStop sleep of
    ``drain_seconds`` so they keep serving while the registrar deregisters, and the grace period grows to match.
    Does nothing without a registration.

    ``run_as_user``: give the UID the proxy's traffic redirection ignores (Envoy's: 1337), so the registrar's
    AWS API calls do not go through the proxy, whose egress filter would drop them and which may not be up yet or
    any more. Default: the image's user.
    ``parts``: the discovery APIs the script speaks. Default: the registration's own parts.
    ``drain_seconds``: Default: 15. The preStop ``sleep`` action needs Kubernetes ≥ 1.30 (kubernetes.io/docs/
    concepts/containers/container-lifecycle-hooks/)."""
    if registration is None:
        return pod
    if drain_seconds < 0:
        raise PropsError(f"drain_seconds is {drain_seconds}: at least 0")
    for c in pod["containers"]:
        if drain_seconds:
            c.setdefault("lifecycle", {})["preStop"] = {"sleep": {"seconds": drain_seconds}}
    registrar = render_registrar(registration, interval_seconds=interval_seconds, image=image, parts=parts)
    if run_as_user is not None:  # that user has no home: the CLI gets a writable one
        registrar["securityContext"] = {"runAsUser": run_as_user}
        registrar["env"].append({"name": "HOME", "value": "/tmp"})
    pod["containers"].append(registrar)
    pod["terminationGracePeriodSeconds"] = max(pod.get("terminationGracePeriodSeconds", 30), drain_seconds + 30)
    return pod


__all__ = ["REGISTRAR_CONTAINER", "REGISTRAR_IMAGE", "Registrar", "RegistrarPart", "add_registrar", "registrar_for",
           "render_registrar"]
