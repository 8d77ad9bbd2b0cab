"""Amazon VPC Lattice's quotas and name rules, the one place the rules, the constructs and the traffic adapter
read them from (pure constants).

Sources: docs.aws.amazon.com/vpc-lattice/latest/ug/quotas.html (checked 2026-11; the older English page said 5
rules per listener, the current table says 10) and the VPC Lattice API reference (ForwardAction,
WeightedTargetGroup, PathMatchType, CreateService, CreateTargetGroup, CreateServiceNetwork).
"""
import re

RULES_PER_LISTENER = 10          # adjustable
TARGET_GROUPS_PER_ACTION = 10    # ForwardAction.targetGroups: 1 to 10 (fixed)
WEIGHT_MAX = 999                 # WeightedTargetGroup.weight: 0 to 999
TARGET_GROUPS_PER_REGION = 500   # adjustable
SERVICES_PER_NETWORK = 500       # service associations per service network, adjustable
AUTH_POLICY_BYTES = 10_240       # auth policy size, fixed
SERVICE_NAME_MAX = 40
TARGET_GROUP_NAME_MAX = 128
NETWORK_NAME_MAX = 63
NAME_MIN = 3
PATH_MAX = 200                   # PathMatchType.prefix: at most 200 characters
# Service, service network and target group names: a-z, 0-9 and hyphens, no leading, trailing or double hyphen.
NAME = re.compile(r"^(?![-])(?!.*[-]$)(?!.*[-]{2})[a-z0-9-]+$")
# Clients reach a Lattice service through link-local addresses the Nitro card intercepts, and targets see Lattice's
# traffic come from them (the managed prefix list com.amazonaws.<region>.vpc-lattice;
# docs.aws.amazon.com/vpc-lattice/latest/ug/security-groups.html). IPv6 clients use fd00:ec2:80::/64.
LINK_LOCAL_IPV4 = "169.254.171.0/24"
LINK_LOCAL_IPV6 = "fd00:ec2:80::/64"
# A/B cohort rules (CloudFormation AWS::VpcLattice::Rule): HeaderMatch.Name 1 to 40 characters, HeaderMatchType
# values 1 to 128, Rule.Name 3 to 63; HeaderMatchType is exact, prefix or contains: no "present", no pattern.
HEADER_NAME_MAX = 40
# HttpMatch.headerMatches takes up to 5 and Rule.priority is 1 to 100: a cohort rule carries at most 2 (a gRPC
# major's header and its own) and a listener at most RULES_PER_LISTENER rules, so neither is reached once the
# rules per listener are checked (tests/test_cohorts_props.py holds it).
MATCHES_PER_RULE = 5
PRIORITY_MAX = 100
HEADER_MATCH_MAX = 128
RULE_NAME_MAX = 63


def cookie_needle(name: str, value: str) -> str:
    """What a cohort rule looks for in the ``cookie`` header, and what HEADER_MATCH_MAX counts: Lattice matches a
    header by exact, prefix or contains, so a cookie among others is found by "contains NAME=VALUE"."""
    return f"{name}={value}"
