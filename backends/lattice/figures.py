"""Per-version figures on VPC Lattice: each version's target group series (``AWS/VpcLattice``,
TotalRequestCount, HTTPCode_5XX_Count, RequestTime), read with CloudWatch ListMetrics and GetMetricData."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from meshspec.infra.errors import UserError
from meshspec.infra.traffic.figures import (Figures, combine, combine_series, metric_data, metric_series,
                                           period_for, version_queries)

from . import metrics as M


def lattice_queries(versions: list[str], dims: Mapping[str, list[dict[str, str]]], period: int,
                    ) -> list[dict[str, Any]]:
    """Pure: the queries of the versions whose target group has published series (``dims``: version → the
    dimension set CloudWatch lists for it); a version without one gets no query, i.e. zero requests."""
    out = []
    for i, version in enumerate(versions):
        if version in dims:
            out += version_queries(i, M.NAMESPACE, dims[version],
                                   (M.REQUESTS, M.ERRORS_5XX, M.LATENCY_MS), period)
    return out


def target_group_dimensions(metrics: list[dict[str, Any]], groups: Mapping[str, str],
                            ) -> dict[str, list[dict[str, str]]]:
    """Pure: version → the dimension set of its target group's series among ListMetrics' ``metrics``.

    ``groups`` maps version → target group id. The TargetGroup value is matched as the id or an ARN ending in
    it, and the set with the fewest dimensions wins (the per-target-group total, not a per-zone slice)."""
    out: dict[str, list[dict[str, str]]] = {}
    for version, group in groups.items():
        best: list[dict[str, str]] | None = None
        for metric in metrics:
            dims = metric.get("Dimensions", [])
            value = next((d["Value"] for d in dims if d["Name"] == M.DIM_TARGET_GROUP), None)
            if value is not None and (value == group or value.endswith("/" + group)):
                if best is None or len(dims) < len(best):
                    best = [{"Name": d["Name"], "Value": d["Value"]} for d in dims]
        if best is not None:
            out[version] = best
    return out


class LatticeFigures:
    """VPC Lattice: each version's target group series. ``target_groups(service)`` gives version → target
    group id (the traffic backend finds them by name). The major is not a dimension: a target group serves
    every major of its version, so the figures are the version's across majors."""

    def __init__(self, client: Any, target_groups: Callable[[str], Mapping[str, str]]):
        self.client = client
        self.target_groups = target_groups

    def _listed(self) -> list[dict[str, Any]]:
        """ListMetrics: the target-group series CloudWatch has (their exact dimension sets)."""
        kwargs: dict[str, Any] = {"Namespace": M.NAMESPACE, "MetricName": M.REQUESTS,
                                  "Dimensions": [{"Name": M.DIM_TARGET_GROUP}]}
        out: list[dict[str, Any]] = []
        try:
            while True:
                page = self.client.list_metrics(**kwargs)
                out += page.get("Metrics", [])
                if not page.get("NextToken"):
                    return out
                kwargs["NextToken"] = page["NextToken"]
        except (ClientError, BotoCoreError) as exc:
            raise UserError(f"CloudWatch ListMetrics failed: {exc}",
                            hint="the canary needs cloudwatch:ListMetrics on the account") from None

    def figures(self, service: str, major: str, versions: list[str], start: dt.datetime,
                end: dt.datetime) -> dict[str, Figures]:
        period = period_for(start, end)
        return combine(versions, metric_data(self.client, self._queries(service, versions, period), start, end))

    def series(self, service: str, major: str, versions: list[str], start: dt.datetime, end: dt.datetime,
               period: int) -> dict[str, dict[dt.datetime, Figures]]:
        return combine_series(versions, metric_series(self.client, self._queries(service, versions, period),
                                                      start, end))

    def _queries(self, service: str, versions: list[str], period: int) -> list[dict[str, Any]]:
        groups = {v: g for v, g in self.target_groups(service).items() if v in versions}
        return lattice_queries(versions, target_group_dimensions(self._listed(), groups), period)
