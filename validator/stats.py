"""Statistics for the sampling checks: goodness-of-fit, exact tests, Holm, power.

Rules:
- Goodness of fit is the G-test (log-likelihood ratio) of observed counts against predicted
  probabilities. Bins whose expected count is below :data:`MIN_EXPECTED` are pooled into one bin
  (so the chi-square approximation holds at small alphas); a bin with predicted probability 0 and a
  positive count is impossible under the prediction and gives p = 0.
- Several tests in one family are corrected with Holm's step-down method (family-wise error <= alpha).
- Without logprobs, samples under several settings are tested against one unknown base distribution
  (a nuisance parameter fitted in the same run): :func:`shared_base_test` is the likelihood-ratio test
  of that constrained joint multinomial fit, and :func:`detectable_range` its power in the units of
  the parameter under test.
- Power is reported as the minimum detectable effect: the smallest Cohen's w
  (``w = sqrt(sum (p1 - p0)^2 / p0)``) that the test detects with probability ``power`` at ``alpha``,
  from the noncentral chi-square with noncentrality ``N * w^2``. That is the local-alternative
  approximation: the G statistic's own noncentrality is ``2 N KL(p1 || p0)``, equal to ``N w^2`` to first
  order but smaller when the excess goes to a rare category, so an effect of the reported ``w``
  concentrated there is detected with less than the stated power (see :func:`min_detectable_w`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def binom_lower_detectable(n: int, p0: float, alpha: float, power: float = 0.99) -> float | None:
    """The largest success probability that a one-sided (lower) exact binomial test of ``p0`` at ``alpha``
    rejects with ``power`` in ``n`` draws; ``None`` when even probability 0 is not rejected."""
    if n <= 0 or p0 <= 0:
        return None
    k_crit = int(sps.binom.ppf(alpha, n, p0))  # the largest k with P(X <= k) <= alpha is k_crit or k_crit - 1
    while k_crit >= 0 and sps.binom.cdf(k_crit, n, p0) > alpha:
        k_crit -= 1
    if k_crit < 0:
        return None
    lo, hi = 0.0, p0  # cdf(k_crit; p) falls as p rises: find where it crosses ``power``
    for _ in range(60):
        mid = (lo + hi) / 2
        if sps.binom.cdf(k_crit, n, mid) >= power:
            lo = mid
        else:
            hi = mid
    return lo


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
    """Smallest Cohen's w a chi-square/G test with ``df`` and ``n`` observations detects with ``power``.

    Noncentrality ``n w^2`` (local alternatives). Simulated with :func:`g_test` at alpha 1e-4: an effect
    of this w spread like a temperature change is detected with power 0.97 to 0.998 (k = 4 and 10,
    n = 600 and 4000); the same w put on the rarest category (its excess taken from the others in
    proportion, the G-test's least favourable direction) only with 0.82 (k = 10, n = 600), 0.94
    (k = 10, n = 4000), and about 0.55 for 20 bins at n = 4000 whose rarest has an expected count of 4."""
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


# ------------------------------------------------------------------------ one base, several arms
@dataclass(frozen=True)
class Arm:
    """Samples drawn under one setting, counted over categories shared by every arm.

    The setting maps the unknown base distribution ``p`` (the nuisance parameter) to
    ``q ∝ exp((log p + shift) / temperature)`` over the categories: temperature alone gives
    ``q ∝ p^(1/T)``; a logit_bias or penalty on a category is a ``shift`` there. Conditioning on the
    sample being one of the categories is exact (the normaliser cancels), so the categories need not
    cover the distribution. A pooled category (e.g. "everything else") is valid only at temperature 1
    with no shift on its members."""

    counts: tuple[float, ...]
    temperature: float = 1.0
    shift: tuple[float, ...] | None = None

    def logits(self, theta: np.ndarray) -> np.ndarray:
        s = np.zeros_like(theta) if self.shift is None else np.asarray(self.shift, dtype=float)
        return (theta + s) / self.temperature


@dataclass(frozen=True)
class SharedBaseResult:
    """Outcome of :func:`shared_base_test`: the likelihood-ratio statistic of "one base ``p`` explains
    every arm" against "each arm has its own distribution", its df and p-value, and the fitted base."""

    statistic: float
    df: int
    p_value: float
    n: int
    base: np.ndarray  # fitted p over the kept categories (sums to 1)
    kept: tuple[int, ...]  # indices of the categories with at least one sample


def _softmax(z: np.ndarray) -> np.ndarray:
    w = np.exp(z - z.max())
    return w / w.sum()


def _loglik(theta: np.ndarray, arms: Sequence[Arm]) -> float:
    total = 0.0
    for a in arms:
        z = a.logits(theta)
        lse = z.max() + np.log(np.exp(z - z.max()).sum())
        c = np.asarray(a.counts, dtype=float)
        total += float((c * (z - lse)).sum())
    return total


def fit_shared_base(arms: Sequence[Arm], max_iter: int = 200) -> np.ndarray:
    """Maximum-likelihood ``log p`` (first category fixed at 0) shared by ``arms``: Newton's method with
    step halving on a concave log-likelihood (each arm's is concave in ``log p``)."""
    k = len(arms[0].counts)
    pooled = sum(np.asarray(a.counts, dtype=float) for a in arms) + 0.5
    theta = np.log(pooled / pooled.sum())
    theta -= theta[0]
    current = _loglik(theta, arms)
    for _ in range(max_iter):
        grad = np.zeros(k)
        hess = np.zeros((k, k))
        for a in arms:
            c = np.asarray(a.counts, dtype=float)
            n = c.sum()
            if n <= 0:
                continue
            q = _softmax(a.logits(theta))
            grad += (c - n * q) / a.temperature
            hess -= (n / a.temperature**2) * (np.diag(q) - np.outer(q, q))
        g = grad[1:]
        if np.abs(g).max(initial=0.0) < 1e-10 * (1.0 + sum(sum(a.counts) for a in arms)):
            break
        step = np.linalg.lstsq(-hess[1:, 1:], g, rcond=None)[0]
        t = 1.0
        while t > 1e-12:
            cand = theta.copy()
            cand[1:] += t * step
            value = _loglik(cand, arms)
            if value >= current - 1e-12:
                break
            t /= 2
        if t <= 1e-12:
            break
        improved = value - current
        theta, current = cand, value
        if abs(improved) < 1e-12:
            break
    return theta


def shared_base_test(arms: Sequence[Arm]) -> SharedBaseResult:
    """Likelihood-ratio test of the constrained joint multinomial fit (one base ``p`` for every arm,
    each arm's distribution its known transform of ``p``) against the unconstrained one (a free
    distribution per arm). ``G = 2 (L_free - L_shared)`` is chi-square with ``(A - 1)(K - 1)`` degrees
    of freedom for ``A`` arms over ``K`` categories. Categories without any sample are dropped first.
    Counts may be fractional (expected counts, for power)."""
    if len(arms) < 2:
        raise ValueError("a shared-base test needs at least two arms")
    k = len(arms[0].counts)
    if any(len(a.counts) != k or (a.shift is not None and len(a.shift) != k) for a in arms):
        raise ValueError("every arm must count (and shift) the same categories")
    if any(a.temperature <= 0 for a in arms):
        raise ValueError("arm temperatures must be positive")
    total = sum(np.asarray(a.counts, dtype=float) for a in arms)
    kept = tuple(int(i) for i in np.flatnonzero(total > 0))
    n = int(round(float(total.sum())))
    if len(kept) < 2:
        base = np.ones(len(kept)) / max(len(kept), 1)
        return SharedBaseResult(0.0, 0, 1.0, n, base, kept)
    sub = [Arm(tuple(np.asarray(a.counts, dtype=float)[list(kept)]), a.temperature,
               None if a.shift is None else tuple(np.asarray(a.shift, dtype=float)[list(kept)])) for a in arms]
    theta = fit_shared_base(sub)
    free = 0.0
    for a in sub:
        c = np.asarray(a.counts, dtype=float)
        if c.sum() > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                free += float(np.where(c > 0, c * np.log(c / c.sum()), 0.0).sum())
    g = max(0.0, 2.0 * (free - _loglik(theta, sub)))
    used = sum(1 for a in sub if sum(a.counts) > 0)
    df = (used - 1) * (len(kept) - 1)
    p = float(sps.chi2.sf(g, df)) if df > 0 else 1.0
    return SharedBaseResult(g, df, p, n, _softmax(theta), kept)


def transformed(base: Sequence[float] | np.ndarray, temperature: float = 1.0,
                shift: Sequence[float] | None = None) -> np.ndarray:
    """``q ∝ exp((log p + shift) / T)`` over the categories of ``base``."""
    p = np.asarray(base, dtype=float)
    with np.errstate(divide="ignore"):
        z = np.log(p)
    if shift is not None:
        z = z + np.asarray(shift, dtype=float)
    return _softmax(z / temperature)


def detectable_range(expected_arms: Callable[[float], Sequence[Arm]], nominal: float, low: float, high: float,
                     alpha: float, power: float = 0.99) -> tuple[float | None, float | None]:
    """The values of a parameter, below and above ``nominal``, that a shared-base test detects with
    ``power`` at ``alpha``: ``expected_arms(v)`` gives the arms' expected counts when the provider
    applies ``v`` (the arms' transforms stay the nominal ones); their LR statistic is the noncentrality
    of the test's chi-square. ``None`` on a side where even ``low`` / ``high`` is not detected."""

    def excess(v: float) -> float:
        res = shared_base_test(expected_arms(v))
        if res.df <= 0:
            return -power
        crit = sps.chi2.isf(alpha, res.df)
        return float(sps.ncx2.sf(crit, res.df, max(res.statistic, 1e-12))) - power

    out: list[float | None] = []
    for edge in (low, high):
        if excess(edge) < 0:
            out.append(None)
            continue
        out.append(float(optimize.brentq(excess, min(edge, nominal), max(edge, nominal), xtol=1e-4)))
    return out[0], out[1]


def clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval for a binomial proportion ``k / n`` at ``confidence``."""
    if n <= 0:
        return 0.0, 1.0
    a = 1.0 - confidence
    lo = 0.0 if k == 0 else float(sps.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi
