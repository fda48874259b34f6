"""Statistics for the sampling checks: goodness-of-fit, exact tests, Holm, power.

Rules:
- Goodness of fit is the G-test (log-likelihood ratio) of observed counts against predicted
  probabilities. Bins whose expected count is below :data:`MIN_EXPECTED` are pooled into one bin
  (so the chi-square approximation holds at small alphas); a bin with predicted probability 0 and a
  positive count is impossible under the prediction and gives p = 0.
- Several tests in one family are corrected with Holm's step-down method (family-wise error <= alpha).
- Power is reported as the minimum detectable effect: the smallest Cohen's w
  (``w = sqrt(sum (p1 - p0)^2 / p0)``) that the test detects with probability ``power`` at ``alpha``,
  from the noncentral chi-square with noncentrality ``N * w^2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

#: Expected counts below this are pooled into one bin before the G-test.
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class GTestResult:
    """Outcome of :func:`g_test`."""

    statistic: float
    df: int
    p_value: float
    n: int
    impossible: int  # observations in bins the prediction gives probability 0


def g_test(observed: Sequence[int] | np.ndarray, expected_p: Sequence[float] | np.ndarray) -> GTestResult:
    """G-test of ``observed`` counts against probabilities ``expected_p`` (renormalised to sum 1)."""
    obs = np.asarray(observed, dtype=float)
    p = np.asarray(expected_p, dtype=float)
    if obs.shape != p.shape or obs.ndim != 1:
        raise ValueError("observed and expected_p must be 1-D and the same length")
    if np.any(p < 0) or not np.isfinite(p).all() or p.sum() <= 0:
        raise ValueError("expected_p must be finite, non-negative and not all zero")
    p = p / p.sum()
    n = int(obs.sum())
    impossible = int(obs[p == 0].sum())
    if impossible:
        return GTestResult(float("inf"), 0, 0.0, n, impossible)
    keep = p > 0
    obs, p = obs[keep], p[keep]
    if n == 0 or len(p) < 2:
        return GTestResult(0.0, 0, 1.0, n, 0)
    exp = n * p
    small = exp < MIN_EXPECTED
    if small.any():
        obs = np.append(obs[~small], obs[small].sum())
        exp = np.append(exp[~small], exp[small].sum())
        if exp[-1] == 0:
            obs, exp = obs[:-1], exp[:-1]
    df = len(exp) - 1
    if df < 1:
        return GTestResult(0.0, 0, 1.0, n, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(obs > 0, obs * np.log(obs / exp), 0.0)
    g = float(2.0 * terms.sum())
    return GTestResult(g, df, float(sps.chi2.sf(g, df)), n, 0)


def binom_p_value(k: int, n: int, p: float, alternative: str = "two-sided") -> float:
    """Exact binomial test p-value for ``k`` successes in ``n`` trials with success probability ``p``."""
    if n == 0:
        return 1.0
    return float(sps.binomtest(k, n, p, alternative=alternative).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (same order as given); reject where adjusted <= alpha."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def min_detectable_w(n: int, df: int, alpha: float, power: float = 0.99) -> float:
    """Smallest Cohen's w a chi-square/G test with ``df`` and ``n`` observations detects with ``power``."""
    if n <= 0 or df <= 0:
        return float("inf")
    crit = sps.chi2.isf(alpha, df)

    def gap(w: float) -> float:
        return float(sps.ncx2.sf(crit, df, n * w * w)) - power

    hi = 1.0
    while gap(hi) < 0 and hi < 1e3:
        hi *= 2
    return float(optimize.brentq(gap, 1e-9, hi, xtol=1e-6))


def min_detectable_rate(n: int, alpha: float, power: float = 0.99) -> float:
    """Smallest per-draw probability of a forbidden event that ``n`` draws reveal with ``power``.

    A forbidden event (e.g. a token outside the nucleus) fails the check on its first occurrence,
    so it is missed with probability ``(1 - q)^n``; solve ``(1 - q)^n = 1 - power``.
    """
    if n <= 0:
        return 1.0
    return float(1.0 - (1.0 - power) ** (1.0 / n))


def total_variation(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Total-variation distance between two probability vectors."""
    a = np.asarray(p, dtype=float)
    b = np.asarray(q, dtype=float)
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def cohens_w(observed: Sequence[int] | np.ndarray, expected_p: Sequence[float] | np.ndarray) -> float:
    """Observed effect size ``sqrt(sum (f - p)^2 / p)`` over bins with ``p > 0``."""
    obs = np.asarray(observed, dtype=float)
    p = np.asarray(expected_p, dtype=float)
    p = p / p.sum()
    n = obs.sum()
    if n == 0:
        return 0.0
    f = obs / n
    keep = p > 0
    return float(np.sqrt((((f - p) ** 2)[keep] / p[keep]).sum()))
