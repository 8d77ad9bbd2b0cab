"""The registrar sidecar: each pod registers its own IP where the mesh backend discovers it, with no controller
installed in the cluster (ECS does this for tasks; for pods it is the App Mesh controller's or the AWS Gateway API
Controller's job otherwise).

The sidecar runs the public AWS CLI image with a short POSIX shell script (``SCRIPT``). Its parameters come from the
backend's :class:`~meshspec.constructs_lib.mesh.base.PodRegistration` (literals only: manifests are written as files) and
from the downward API (pod name and IP):

- App Mesh: ``servicediscovery RegisterInstance`` in the version's Cloud Map service (instance id = pod name, at
  most 63 characters, under Cloud Map's 64; ``AWS_INIT_HEALTH_STATUS=HEALTHY``, the default of a custom health
  check, said explicitly). Cloud Map generates service IDs, so the script finds the service by its namespace and
  service names (ListNamespaces, ListServices).
- VPC Lattice: ``vpc-lattice RegisterTargets`` (the pod IP on the app port) in the version's target group, found
  by its name (ListTargetGroups).

On SIGTERM it deregisters and exits; the other containers wait ``drain_seconds`` in a preStop sleep (Kubernetes'
built-in sleep action, no binary needed in the image), so callers stop choosing the pod before the app stops. Every
``interval_seconds`` it checks its registration with one list call and registers again when it is gone (a lost
or deleted registration heals), and drops an instance of its Cloud Map service that claims its IP under another pod's name
(left by a pod killed without SIGTERM whose IP this pod now holds).
"""
from __future__ import annotations

from typing import Any

from ..errors import PropsError
from ..mesh.base import PodRegistration

REGISTRAR_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.22.0"
REGISTRAR_CONTAINER = "mesh-registrar"
DEFAULT_INTERVAL_SECONDS = 30
DEFAULT_DRAIN_SECONDS = 15

# Variables the registrar reads. The backends set the first group; the pod gives the rest.
CLOUDMAP_NAMESPACE = "MESHSPEC_CLOUDMAP_NAMESPACE"
CLOUDMAP_SERVICE = "MESHSPEC_CLOUDMAP_SERVICE"
LATTICE_TARGET_GROUP = "MESHSPEC_LATTICE_TARGET_GROUP"
LATTICE_PORT = "MESHSPEC_LATTICE_PORT"
KNOWN = frozenset({"AWS_REGION", CLOUDMAP_NAMESPACE, CLOUDMAP_SERVICE, LATTICE_TARGET_GROUP, LATTICE_PORT})

SCRIPT = r"""set -u
log() { echo "mesh-registrar: $*"; }
SID=""; TG=""
lookup() {
  if [ -n "${MESHSPEC_CLOUDMAP_SERVICE:-}" ] && [ -z "$SID" ]; then
    ns=$(aws servicediscovery list-namespaces --output text \
      --query "Namespaces[?Name=='$MESHSPEC_CLOUDMAP_NAMESPACE'].Id | [0]") || return 1
    case "$ns" in ""|None) log "no Cloud Map namespace $MESHSPEC_CLOUDMAP_NAMESPACE"; return 1;; esac
    SID=$(aws servicediscovery list-services --output text \
      --filters "Name=NAMESPACE_ID,Values=$ns,Condition=EQ" \
      --query "Services[?Name=='$MESHSPEC_CLOUDMAP_SERVICE'].Id | [0]") || { SID=""; return 1; }
    case "$SID" in ""|None) log "no Cloud Map service $MESHSPEC_CLOUDMAP_SERVICE"; SID=""; return 1;; esac
  fi
  if [ -n "${MESHSPEC_LATTICE_TARGET_GROUP:-}" ] && [ -z "$TG" ]; then
    TG=$(aws vpc-lattice list-target-groups --output text \
      --query "items[?name=='$MESHSPEC_LATTICE_TARGET_GROUP'].id | [0]") || { TG=""; return 1; }
    case "$TG" in ""|None) log "no target group $MESHSPEC_LATTICE_TARGET_GROUP"; TG=""; return 1;; esac
  fi
  return 0
}
register() {
  lookup || return 1
  if [ -n "$SID" ]; then
    aws servicediscovery register-instance --service-id "$SID" --instance-id "$POD_NAME" \
      --attributes "AWS_INSTANCE_IPV4=$POD_IP,AWS_INIT_HEALTH_STATUS=HEALTHY" >/dev/null \
      && log "registered $POD_NAME ($POD_IP) in $MESHSPEC_CLOUDMAP_SERVICE" || return 1
  fi
  if [ -n "$TG" ]; then
    aws vpc-lattice register-targets --target-group-identifier "$TG" \
      --targets "id=$POD_IP,port=$MESHSPEC_LATTICE_PORT" >/dev/null \
      && log "registered $POD_IP:$MESHSPEC_LATTICE_PORT in $MESHSPEC_LATTICE_TARGET_GROUP" || return 1
  fi
}
heal() {
  lookup || return 1
  if [ -n "$SID" ]; then
    ids=$(aws servicediscovery list-instances --service-id "$SID" --output text \
      --query "Instances[?Attributes.AWS_INSTANCE_IPV4=='$POD_IP'].Id") || return 1
    found=""
    for id in $ids; do
      case "$id" in None) continue;; "$POD_NAME") found=1; continue;; esac
      aws servicediscovery deregister-instance --service-id "$SID" --instance-id "$id" >/dev/null \
        && log "dropped stale instance $id holding $POD_IP"
    done
    [ -n "$found" ] || { log "registration in $MESHSPEC_CLOUDMAP_SERVICE lost"; register; }
  fi
  if [ -n "$TG" ]; then
    n=$(aws vpc-lattice list-targets --target-group-identifier "$TG" --output text \
      --query "length(items[?id=='$POD_IP' && port==\`$MESHSPEC_LATTICE_PORT\` && status!='DRAINING'])") || return 1
    [ "$n" != 0 ] || { log "target $POD_IP lost"; register; }
  fi
}
deregister() {
  [ -n "$SID" ] && aws servicediscovery deregister-instance --service-id "$SID" --instance-id "$POD_NAME" \
    >/dev/null && log "deregistered $POD_NAME"
  [ -n "$TG" ] && aws vpc-lattice deregister-targets --target-group-identifier "$TG" \
    --targets "id=$POD_IP,port=$MESHSPEC_LATTICE_PORT" >/dev/null && log "deregistered $POD_IP"
  exit 0
}
trap deregister TERM INT
register || log "registration failed; retrying every ${MESHSPEC_INTERVAL_SECONDS}s"
while :; do
  sleep "$MESHSPEC_INTERVAL_SECONDS" & wait $!
  heal || log "check failed; retrying"
done
"""


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def render_registrar(registration: PodRegistration, *, interval_seconds: int = DEFAULT_INTERVAL_SECONDS,
                     image: str = REGISTRAR_IMAGE) -> dict[str, Any]:
    """The sidecar container (pure: unit-tested without a stack).

    ``interval_seconds``: how often a lost registration heals. Default: 30.
    ``image``: an AWS CLI image (v2 ≥ 2.15 reads EKS Pod Identity credentials). Default: ``REGISTRAR_IMAGE``.
    """
    unknown = sorted(set(registration.environment) - KNOWN)
    if unknown:
        raise PropsError(f"the registrar does not read {unknown}; it reads {sorted(KNOWN)}")
    if not ({CLOUDMAP_SERVICE, LATTICE_TARGET_GROUP} & set(registration.environment)):
        raise PropsError(f"a pod registration names neither {CLOUDMAP_SERVICE} nor {LATTICE_TARGET_GROUP}: "
                         "nothing to register in")
    if CLOUDMAP_SERVICE in registration.environment and CLOUDMAP_NAMESPACE not in registration.environment:
        raise PropsError(f"{CLOUDMAP_SERVICE} needs {CLOUDMAP_NAMESPACE} (Cloud Map service names are unique "
                         "per namespace only)")
    if LATTICE_TARGET_GROUP in registration.environment and LATTICE_PORT not in registration.environment:
        raise PropsError(f"{LATTICE_TARGET_GROUP} needs {LATTICE_PORT} (a target is an IP and a port)")
    if interval_seconds < 5:
        raise PropsError(f"interval_seconds is {interval_seconds}: at least 5 (each check is an API call)")
    env = [{"name": k, "value": str(v)} for k, v in sorted(
        {**registration.environment, "MESHSPEC_INTERVAL_SECONDS": str(interval_seconds)}.items())]
    env += [_field("POD_NAME", "metadata.name"), _field("POD_IP", "status.podIP")]
    return {"name": REGISTRAR_CONTAINER, "image": image, "command": ["/bin/sh", "-c", SCRIPT], "env": env,
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}


def add_registrar(pod: dict[str, Any], registration: PodRegistration | None, *, run_as_user: int | None = None,
                  interval_seconds: int = DEFAULT_INTERVAL_SECONDS, drain_seconds: int = DEFAULT_DRAIN_SECONDS,
                  image: str = REGISTRAR_IMAGE) -> dict[str, Any]:
    """Add the registrar to a pod spec (in place, and returned): the other containers get a preStop sleep of
    ``drain_seconds`` so they keep serving while the registrar deregisters, and the grace period grows to match.
    Does nothing without a registration.

    ``run_as_user``: give the UID the proxy's traffic redirection ignores (App Mesh: 1337), so the registrar's
    AWS API calls do not go through Envoy, whose egress filter would drop them and which may not be up yet or
    any more. Default: the image's user.
    ``drain_seconds``: Default: 15. The preStop ``sleep`` action needs Kubernetes ≥ 1.30 (kubernetes.io/docs/
    concepts/containers/container-lifecycle-hooks/)."""
    if registration is None:
        return pod
    if drain_seconds < 0:
        raise PropsError(f"drain_seconds is {drain_seconds}: at least 0")
    for c in pod["containers"]:
        if drain_seconds:
            c.setdefault("lifecycle", {})["preStop"] = {"sleep": {"seconds": drain_seconds}}
    registrar = render_registrar(registration, interval_seconds=interval_seconds, image=image)
    if run_as_user is not None:  # that user has no home: the CLI gets a writable one
        registrar["securityContext"] = {"runAsUser": run_as_user}
        registrar["env"].append({"name": "HOME", "value": "/tmp"})
    pod["containers"].append(registrar)
    pod["terminationGracePeriodSeconds"] = max(pod.get("terminationGracePeriodSeconds", 30), drain_seconds + 30)
    return pod


__all__ = ["REGISTRAR_CONTAINER", "REGISTRAR_IMAGE", "SCRIPT", "add_registrar", "render_registrar"]
