"""The canary's decision: a pure function of the figures, the thresholds and where the canary stands.

Rules, in order (docs/traffic.md, "How a step is judged"):

1. Too many 5xx already, whatever comes: canary 5xx > max5xxRate × minRequests → rollback.
2. Too few canary requests (< minRequests), or no latency datapoint while a p99 limit is set: wait one more
   interval ("extend"), at most ``max_extensions`` times, then rollback (no evidence is no success).
3. Absolute limits: canary 5xx rate > max5xxRate, canary p99 > maxP99Ms, canary burn rate (its 5xx rate over the
   error budget of the major's availability objective) > maxBurnRate → rollback.
4. Relative limits, only when the baseline has ≥ minRequests: 5xx rate above the baseline's by more than
   max5xxIncrease (percentage points), p99 above the baseline's by more than maxP99Increase (percent) → rollback.
5. Otherwise continue, or promote after the last step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .figures import Figures

Action = Literal["continue", "promote", "rollback", "extend"]


@dataclass(frozen=True)
class Thresholds:
    max_5xx_rate: float                   # fraction: 0.01 is 1 %
    max_p99_ms: float | None = None
    min_requests: int = 50
    max_extensions: int = 2
    max_5xx_increase: float | None = None  # fraction (percentage points / 100) above the baseline
    max_p99_increase: float | None = None  # fraction: 0.2 is 20 % above the baseline's p99
    max_burn_rate: float | None = None  # the error budget's burn rate the canary may reach (1: just meets it)
    availability: float | None = None  # the objective's good share, 0.999; required with max_burn_rate

    def __post_init__(self) -> None:
        if self.max_burn_rate is not None and not (self.availability is not None and 0 < self.availability < 1):
            raise ValueError("max_burn_rate needs an availability objective between 0 and 1")

    def to_json(self) -> dict[str, Any]:
        out = {"max5xxRate": self.max_5xx_rate, "maxP99Ms": self.max_p99_ms, "minRequests": self.min_requests,
               "maxExtensions": self.max_extensions, "max5xxIncrease": self.max_5xx_increase,
               "maxP99Increase": self.max_p99_increase}
        if self.max_burn_rate is not None:
            out.update(maxBurnRate=self.max_burn_rate, availabilityObjective=self.availability)
        return out

    def burn_rate(self, rate: float) -> float | None:
        """How fast a 5xx rate spends the objective's error budget (1: exactly as fast as the objective allows)."""
        return None if self.availability is None else rate / (1 - self.availability)


@dataclass(frozen=True)
class Decision:
    action: Action
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "reasons": self.reasons}


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def decide(canary: Figures, baseline: Figures | None, th: Thresholds, *, last_step: bool,
           extensions: int) -> Decision:
    # 1. the error budget of the minimum sample is spent already
    if canary.errors_5xx > th.max_5xx_rate * max(th.min_requests, canary.requests):
        rate = canary.error_rate
        return Decision("rollback", [f"canary 5xx {canary.errors_5xx:g} of {canary.requests:g} requests "
                                     f"({_pct(rate) if rate is not None else 'n/a'}) is above the limit "
                                     f"{_pct(th.max_5xx_rate)}"])
    # 2. not enough evidence yet
    missing = []
    if canary.requests < th.min_requests:
        missing.append(f"canary served {canary.requests:g} requests, fewer than minRequests {th.min_requests}")
    elif th.max_p99_ms is not None and canary.p99_ms is None:
        missing.append("no p99 latency datapoint for the canary")
    if missing:
        if extensions < th.max_extensions:
            wait = f"waiting one more interval ({extensions + 1} of {th.max_extensions})"
            return Decision("extend", missing + [wait])
        return Decision("rollback", missing + [f"still after {th.max_extensions} extra interval(s): no evidence "
                                               "that the canary is healthy"])
    # 3. absolute limits
    reasons = []
    rate = canary.error_rate or 0.0
    if rate > th.max_5xx_rate:
        reasons.append(f"canary 5xx rate {_pct(rate)} is above the limit {_pct(th.max_5xx_rate)}")
    if th.max_p99_ms is not None and canary.p99_ms is not None and canary.p99_ms > th.max_p99_ms:
        reasons.append(f"canary p99 {canary.p99_ms:g} ms is above the limit {th.max_p99_ms:g} ms")
    burn = th.burn_rate(rate) if th.max_burn_rate is not None else None
    if burn is not None and burn > th.max_burn_rate:
        reasons.append(f"canary burn rate {burn:.2f}x (5xx {_pct(rate)} against the {th.availability * 100:g} % "
                       f"objective) is above the limit {th.max_burn_rate:g}x")
    # 4. relative to the baseline
    if baseline is not None and baseline.requests >= th.min_requests:
        base_rate = baseline.error_rate or 0.0
        if th.max_5xx_increase is not None and rate - base_rate > th.max_5xx_increase:
            reasons.append(f"canary 5xx rate {_pct(rate)} is {_pct(rate - base_rate)} above the baseline's "
                           f"{_pct(base_rate)} (allowed +{_pct(th.max_5xx_increase)})")
        if (th.max_p99_increase is not None and canary.p99_ms is not None and baseline.p99_ms
                and canary.p99_ms > baseline.p99_ms * (1 + th.max_p99_increase)):
            reasons.append(f"canary p99 {canary.p99_ms:g} ms is more than {th.max_p99_increase * 100:g}% above "
                           f"the baseline's {baseline.p99_ms:g} ms")
    if reasons:
        return Decision("rollback", reasons)
    ok = [f"canary 5xx rate {_pct(rate)} within {_pct(th.max_5xx_rate)}"]
    if th.max_p99_ms is not None:
        ok.append(f"canary p99 {canary.p99_ms:g} ms within {th.max_p99_ms:g} ms")
    if burn is not None:
        ok.append(f"canary burn rate {burn:.2f}x within {th.max_burn_rate:g}x")
    return Decision("promote" if last_step else "continue", ok)
