"""VPC Lattice's own per-target-group series, which the dashboards show and the canary reads on Lattice.

VPC Lattice user guide, "CloudWatch metrics for Amazon VPC Lattice": namespace AWS/VpcLattice, dimension
TargetGroup. A target group is one code version of a service and serves every API major of it, so on Lattice the
figures are per version, across majors.
"""
NAMESPACE = "AWS/VpcLattice"
DIM_TARGET_GROUP = "TargetGroup"
REQUESTS = "TotalRequestCount"   # Sum per period
ERRORS_5XX = "HTTPCode_5XX_Count"  # Sum per period
LATENCY_MS = "RequestTime"       # milliseconds; statistics p50 / p99
