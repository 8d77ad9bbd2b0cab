"""How EKS pods register in their version's VPC Lattice target group (the registrar sidecar's part; see
:mod:`meshspec.constructs_lib.eks.registration`): ``vpc-lattice RegisterTargets`` (the pod IP on the app port),
the target group found by its name (ListTargetGroups).
"""
from meshspec.constructs_lib.eks.registration import RegistrarPart

TARGET_GROUP = "MESHSPEC_LATTICE_TARGET_GROUP"
PORT = "MESHSPEC_LATTICE_PORT"

TARGET_GROUP_REGISTRAR = RegistrarPart(
    trigger=TARGET_GROUP, variables=(TARGET_GROUP, PORT),
    requires=((TARGET_GROUP, PORT, "a target is an IP and a port"),),
    state="TG",
    lookup=r"""  if [ -n "${MESHSPEC_LATTICE_TARGET_GROUP:-}" ] && [ -z "$TG" ]; then
    TG=$(aws vpc-lattice list-target-groups --output text \
      --query "items[?name=='$MESHSPEC_LATTICE_TARGET_GROUP'].id | [0]") || { TG=""; return 1; }
    case "$TG" in ""|None) log "no target group $MESHSPEC_LATTICE_TARGET_GROUP"; TG=""; return 1;; esac
  fi
""",
    register=r"""  if [ -n "$TG" ]; then
    aws vpc-lattice register-targets --target-group-identifier "$TG" \
      --targets "id=$POD_IP,port=$MESHSPEC_LATTICE_PORT" >/dev/null \
      && log "registered $POD_IP:$MESHSPEC_LATTICE_PORT in $MESHSPEC_LATTICE_TARGET_GROUP" || return 1
  fi
""",
    heal=r"""  if [ -n "$TG" ]; then
    n=$(aws vpc-lattice list-targets --target-group-identifier "$TG" --output text \
      --query "length(items[?id=='$POD_IP' && port==\`$MESHSPEC_LATTICE_PORT\` && status!='DRAINING'])") || return 1
    [ "$n" != 0 ] || { log "target $POD_IP lost"; register; }
  fi
""",
    deregister=r"""  [ -n "$TG" ] && aws vpc-lattice deregister-targets --target-group-identifier "$TG" \
    --targets "id=$POD_IP,port=$MESHSPEC_LATTICE_PORT" >/dev/null && log "deregistered $POD_IP"
""",
    found="Lattice target group", lookup_actions="vpc-lattice:ListTargetGroups", wildcards=("Resource::*",))
