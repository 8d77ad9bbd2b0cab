"""The two tests ``meshspec traffic compare`` judges cohorts with, and Holm's correction. Pure Python.

CloudWatch and Cloud Monitoring give aggregates, never the requests themselves: per period a count of requests,
a count of 5xx, and latency percentiles. So:

- **5xx rate: Fisher's exact test** on the 2×2 table (5xx, other answers) × (cohort, control), from the counts
  summed over the window. Exact at any sample size, which matters because 5xx are rare (a handful per cohort,
  where the normal approximation of a z- or chi-square test is poor). It treats requests as independent; one
  user's requests are not, so with few heavy users the p-value is optimistic.
- **Latency: Wilcoxon's signed-rank test** on the per-period percentiles, paired by period. Percentiles of
  several periods cannot be merged into one, but each period gives one p50 (or p99) per cohort; both cohorts
  run side by side, so pairing them by period cancels what moves both (load, time of day), and the signed-rank
  test assumes nothing of the shape of latency (skewed, heavy-tailed), only that a period's difference is as
  likely above as below its median under "no difference". With n paired periods no two-sided result can go
  below 2/2^n: at least 6 periods are needed to reach 0.05.

Both follow scipy.stats (``fisher_exact``; ``wilcoxon`` with ``zero_method="wilcox"``, exact up to 50 pairs
without ties, else the normal approximation with the tie correction); tests/test_traffic_compare.py checks them
against scipy, which is a test dependency only: it would add some 200 MB and seconds of import to a CLI that
needs these two functions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

EXACT_MAX_PAIRS = 50  # scipy.stats.wilcoxon's exact distribution limit
_RELATIVE = 1 + 1e-7  # scipy's tolerance when collecting tables "as or more extreme"


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact(a_hits: int, a_total: int, b_hits: int, b_total: int) -> float:
    """Two-sided p-value of Fisher's exact test that A's and B's hit rates (5xx / requests) are equal: the sum
    of the probabilities of every table with the same margins that is no more likely than the one observed."""
    if min(a_total, b_total) < 0 or not 0 <= a_hits <= a_total or not 0 <= b_hits <= b_total:
        raise ValueError("counts must satisfy 0 <= hits <= total")
    n, hits = a_total + b_total, a_hits + b_hits
    if hits in (0, n) or 0 in (a_total, b_total):
        return 1.0
    # Hits in row A follow the hypergeometric law; sum over its support with the pmf's ratio recurrence.
    lo, hi = max(0, a_total - (n - hits)), min(hits, a_total)
    log_norm = _log_comb(n, a_total)

    def log_pmf(x: int) -> float:
        return _log_comb(hits, x) + _log_comb(n - hits, a_total - x) - log_norm

    observed = log_pmf(a_hits)
    bound = observed + math.log(_RELATIVE)
    total, x, lp = 0.0, lo, log_pmf(lo)
    while True:
        if lp <= bound:
            total += math.exp(lp)
        if x == hi:
            break
        # pmf(x+1) / pmf(x) = (hits - x)(a_total - x) / ((x + 1)(n - hits - a_total + x + 1))
        lp += math.log((hits - x) * (a_total - x)) - math.log((x + 1) * (n - hits - a_total + x + 1))
        x += 1
    return min(1.0, total)


def _ranks(values: list[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) of ``values``, and the sizes of the groups of ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _exact_upper(n: int, w: float) -> float:
    """P(W+ >= w) for n pairs without ties: subsets of {1..n} whose sum is at least w, over 2^n."""
    counts = [1] + [0] * (n * (n + 1) // 2)
    for r in range(1, n + 1):
        for s in range(len(counts) - 1, r - 1, -1):
            counts[s] += counts[s - r]
    start = math.ceil(w - 1e-9)
    return sum(counts[max(0, start):]) / 2 ** n


@dataclass(frozen=True)
class SignedRank:
    statistic: float  # the smaller of W+ and W-, as scipy reports it
    p_value: float
    pairs: int        # pairs with a non-zero difference (the test's n)
    exact: bool


def wilcoxon_signed_rank(differences: list[float]) -> SignedRank:
    """Two-sided Wilcoxon signed-rank test that the differences are centred on 0 (zero differences dropped)."""
    d = [x for x in differences if x != 0]
    n = len(d)
    if n == 0:
        return SignedRank(0.0, 1.0, 0, True)
    ranks, ties = _ranks([abs(x) for x in d])
    w_plus = sum(r for r, x in zip(ranks, d) if x > 0)
    w_minus = n * (n + 1) / 2 - w_plus
    small = min(w_plus, w_minus)
    if n <= EXACT_MAX_PAIRS and all(t == 1 for t in ties):
        p = min(1.0, 2 * _exact_upper(n, max(w_plus, w_minus)))
        return SignedRank(small, p, n, True)
    mean = n * (n + 1) / 4
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(t ** 3 - t for t in ties) / 48
    z = (small - mean) / math.sqrt(var) if var > 0 else 0.0
    return SignedRank(small, min(1.0, math.erfc(abs(z) / math.sqrt(2))), n, False)


def min_pairs(alpha: float) -> int:
    """The fewest pairs whose most extreme outcome reaches ``alpha`` two-sided (2 / 2^n < alpha)."""
    n = 1
    while 2 / 2 ** n >= alpha:
        n += 1
    return n


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: the family-wise error stays within alpha over all the tests of one run."""
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__)
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def detectable_rate_difference(a_total: float, b_total: float, pooled_rate: float, alpha: float,
                               power: float = 0.8) -> float | None:
    """The difference of two rates that samples of these sizes would detect with ``power`` (normal
    approximation): what "no significant difference" can and cannot rule out. None without a rate to scale by."""
    if a_total <= 0 or b_total <= 0 or not 0 < pooled_rate < 1:
        return None
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return z * math.sqrt(pooled_rate * (1 - pooled_rate) * (1 / a_total + 1 / b_total))
