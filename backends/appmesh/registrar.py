"""How EKS pods register in App Mesh's per-version Cloud Map service (the registrar sidecar's part; see
:mod:`meshspec.constructs_lib.eks.registration`).

``servicediscovery RegisterInstance`` in the version's Cloud Map service (instance id = pod name, at most 63
characters, under Cloud Map's 64; ``AWS_INIT_HEALTH_STATUS=HEALTHY``, the default of a custom health check, said
explicitly). Cloud Map generates service IDs, so the script finds the service by its namespace and service names
(ListNamespaces, ListServices). The check also drops an instance of the service that claims the pod's IP under
another pod's name (left by a pod killed without SIGTERM whose IP this pod now holds).
"""
from meshspec.constructs_lib.eks.registration import RegistrarPart

CLOUDMAP_NAMESPACE = "MESHSPEC_CLOUDMAP_NAMESPACE"
CLOUDMAP_SERVICE = "MESHSPEC_CLOUDMAP_SERVICE"

CLOUD_MAP_REGISTRAR = RegistrarPart(
    trigger=CLOUDMAP_SERVICE, variables=(CLOUDMAP_NAMESPACE, CLOUDMAP_SERVICE),
    requires=((CLOUDMAP_SERVICE, CLOUDMAP_NAMESPACE, "Cloud Map service names are unique per namespace only"),),
    state="SID",
    lookup=r"""  if [ -n "${MESHSPEC_CLOUDMAP_SERVICE:-}" ] && [ -z "$SID" ]; then
    ns=$(aws servicediscovery list-namespaces --output text \
      --query "Namespaces[?Name=='$MESHSPEC_CLOUDMAP_NAMESPACE'].Id | [0]") || return 1
    case "$ns" in ""|None) log "no Cloud Map namespace $MESHSPEC_CLOUDMAP_NAMESPACE"; return 1;; esac
    SID=$(aws servicediscovery list-services --output text \
      --filters "Name=NAMESPACE_ID,Values=$ns,Condition=EQ" \
      --query "Services[?Name=='$MESHSPEC_CLOUDMAP_SERVICE'].Id | [0]") || { SID=""; return 1; }
    case "$SID" in ""|None) log "no Cloud Map service $MESHSPEC_CLOUDMAP_SERVICE"; SID=""; return 1;; esac
  fi
""",
    register=r"""  if [ -n "$SID" ]; then
    aws servicediscovery register-instance --service-id "$SID" --instance-id "$POD_NAME" \
      --attributes "AWS_INSTANCE_IPV4=$POD_IP,AWS_INIT_HEALTH_STATUS=HEALTHY" >/dev/null \
      && log "registered $POD_NAME ($POD_IP) in $MESHSPEC_CLOUDMAP_SERVICE" || return 1
  fi
""",
    heal=r"""  if [ -n "$SID" ]; then
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
""",
    deregister=r"""  [ -n "$SID" ] && aws servicediscovery deregister-instance --service-id "$SID" --instance-id "$POD_NAME" \
    >/dev/null && log "deregistered $POD_NAME"
""",
    found="Cloud Map service", lookup_actions="servicediscovery:ListNamespaces/ListServices",
    wildcards=("Resource::*", "Resource::arn:<AWS::Partition>:route53:::hostedzone/*"),
    condition="route53 record changes on the namespace's hosted zone are limited by condition to the version's "
              "own A record")
