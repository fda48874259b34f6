"""The validator's statistics: G-test, exact tests, Holm, power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from validator.stats import (
    Arm,
    binom_p_value,
    clopper_pearson,
    cohens_w,
    detectable_range,
    g_test,
    holm,
    min_detectable_rate,
    min_detectable_w,
    shared_base_test,
    total_variation,
    transformed,
)


def test_g_test_perfect_fit_has_p_one() -> None:
    r = g_test([250, 250, 500], [0.25, 0.25, 0.5])
    assert r.statistic == pytest.approx(0.0, abs=1e-12)
    assert r.df == 2 and r.p_value == pytest.approx(1.0)


def test_g_test_matches_scipy_power_divergence() -> None:
    obs = np.array([30, 50, 120])
    p = np.array([0.2, 0.3, 0.5])
    r = g_test(obs, p)
    ref = sps.power_divergence(obs, obs.sum() * p, lambda_="log-likelihood")
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.p_value == pytest.approx(ref.pvalue)


def test_g_test_impossible_bin_is_p_zero() -> None:
    r = g_test([10, 0, 1], [0.5, 0.5, 0.0])
    assert r.p_value == 0.0 and r.impossible == 1


def test_g_test_pools_small_expected_bins() -> None:
    # expected counts 98, 1, 1 -> the two small bins are pooled: df = 1
    r = g_test([98, 1, 1], [0.98, 0.01, 0.01])
    assert r.df == 1 and r.p_value > 0.5


def test_g_test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        g_test([1, 2], [0.5])
    with pytest.raises(ValueError):
        g_test([1, 2], [-0.5, 1.5])


def test_g_test_has_nominal_size_under_the_null() -> None:
    """Under the null, P(p <= 0.05) is about 0.05 (fixed seed; a binomial check at alpha 1e-4)."""
    rng = np.random.default_rng(1234)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    rejections = sum(g_test(rng.multinomial(400, p), p).p_value <= 0.05 for _ in range(400))
    assert binom_p_value(rejections, 400, 0.05) > 1e-4


def test_holm_known_values() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 2 * 0.8 capped at 1; monotone
    assert holm([0.2, 0.001]) == pytest.approx([0.2, 0.002])


def test_min_detectable_w_achieves_the_power() -> None:
    n, df, alpha = 2000, 4, 1e-4
    w = min_detectable_w(n, df, alpha)
    crit = sps.chi2.isf(alpha, df)
    assert sps.ncx2.sf(crit, df, n * w * w) == pytest.approx(0.99, abs=1e-4)
    assert min_detectable_w(4 * n, df, alpha) == pytest.approx(w / 2, rel=1e-3)  # w ~ 1/sqrt(n)
    assert min_detectable_w(0, df, alpha) == float("inf")


def test_min_detectable_rate() -> None:
    q = min_detectable_rate(1000, 1e-4)
    assert (1 - q) ** 1000 == pytest.approx(0.01)


def test_effect_sizes() -> None:
    assert total_variation([0.5, 0.5], [1.0, 0.0]) == pytest.approx(0.5)
    assert cohens_w([50, 50], [0.5, 0.5]) == pytest.approx(0.0)
    assert cohens_w([100, 0], [0.5, 0.5]) == pytest.approx(1.0)
    assert binom_p_value(50, 100, 0.5) == pytest.approx(1.0)


# ------------------------------------------------------------------- one base, several arms
P = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])


def test_shared_base_fit_recovers_the_base_from_exact_expectations() -> None:
    arms = [Arm(tuple(3000 * P)), Arm(tuple(2000 * transformed(P, 0.5)), 0.5),
            Arm(tuple(1000 * transformed(P, 1.0, [0, 2.0, 0, 0, 0, 0])), 1.0, (0, 2.0, 0, 0, 0, 0))]
    res = shared_base_test(arms)
    assert res.statistic == pytest.approx(0.0, abs=1e-6)
    assert res.df == 2 * 5 and res.p_value == pytest.approx(1.0)
    assert res.base == pytest.approx(P, rel=1e-6)


def test_shared_base_test_has_nominal_size_under_the_null() -> None:
    """Under the null (q ∝ p^(1/T)), P(p <= 0.05) is about 0.05 (fixed seed; binomial check at alpha 1e-4)."""
    rng = np.random.default_rng(99)
    rejections = 0
    for _ in range(400):
        arms = [Arm(tuple(rng.multinomial(1500, P))), Arm(tuple(rng.multinomial(1500, transformed(P, 0.5))), 0.5)]
        rejections += shared_base_test(arms).p_value <= 0.05
    assert binom_p_value(rejections, 400, 0.05) > 1e-4


def test_shared_base_test_finds_an_ignored_temperature_and_a_wrong_bias() -> None:
    rng = np.random.default_rng(5)
    ignored = [Arm(tuple(rng.multinomial(3000, P))), Arm(tuple(rng.multinomial(3000, P)), 0.5)]
    assert shared_base_test(ignored).p_value < 1e-10
    shift = (0, 2.0, 0, 0, 0, 0)
    doubled = [Arm(tuple(rng.multinomial(3000, P))),
               Arm(tuple(rng.multinomial(3000, transformed(P, 1.0, [0, 4.0, 0, 0, 0, 0]))), 1.0, shift)]
    assert shared_base_test(doubled).p_value < 1e-10


def test_a_uniform_temperature_rescaling_is_invisible_to_temperature_arms_alone() -> None:
    """The identifiability limit the docs state: a provider applying 2T for every requested T is
    indistinguishable, from samples alone, from one whose base distribution is sharper."""
    arms = [Arm(tuple(3000 * transformed(P, 0.5))), Arm(tuple(3000 * transformed(P, 0.25)), 0.5)]
    assert shared_base_test(arms).statistic == pytest.approx(0.0, abs=1e-6)


def test_shared_base_test_drops_empty_categories_and_checks_input() -> None:
    res = shared_base_test([Arm((10, 0, 5)), Arm((8, 0, 7))])
    assert res.kept == (0, 2) and res.df == 1
    with pytest.raises(ValueError):
        shared_base_test([Arm((1, 2))])
    with pytest.raises(ValueError):
        shared_base_test([Arm((1, 2)), Arm((1, 2, 3))])


def test_detectable_range_achieves_the_power() -> None:
    sizes, alpha = (3000, 3000), 1e-4

    def arms(v: float) -> list[Arm]:
        return [Arm(tuple(sizes[0] * P)), Arm(tuple(sizes[1] * transformed(P, v)), 0.5)]

    lo, hi = detectable_range(arms, 0.5, 0.125, 2.0, alpha)
    assert lo is not None and hi is not None and lo < 0.5 < hi
    for v in (lo, hi):
        res = shared_base_test(arms(v))
        power = sps.ncx2.sf(sps.chi2.isf(alpha, res.df), res.df, res.statistic)
        assert power == pytest.approx(0.99, abs=1e-3)
    assert detectable_range(lambda v: [Arm((5.0, 5.0)), Arm((5.0, 5.0), 0.5)], 0.5, 0.4, 0.6, alpha) == (None, None)


def test_clopper_pearson_matches_scipy() -> None:
    for k, n in ((0, 50), (7, 50), (50, 50), (120, 4000)):
        ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.999, method="exact")
        assert clopper_pearson(k, n, 0.999) == pytest.approx((ci.low, ci.high))


def test_binom_lower_detectable_achieves_the_power_and_is_the_largest() -> None:
    from validator.stats import binom_lower_detectable

    n, p0, alpha = 300, 0.2, 1e-4
    p1 = binom_lower_detectable(n, p0, alpha)
    assert p1 is not None and 0 < p1 < p0
    k_crit = max(k for k in range(n + 1) if sps.binom.cdf(k, n, p0) <= alpha)
    assert sps.binom.cdf(k_crit, n, p1) == pytest.approx(0.99, abs=1e-6)
    assert binom_lower_detectable(5, 0.01, alpha) is None  # even never seeing it is not significant


def test_arms_test_predicts_each_arm_from_the_fitted_base_under_its_own_setting() -> None:
    from validator.sampled import arms_test

    base = np.array([0.5, 0.3, 0.2])
    arms = [Arm(tuple(1000 * base)), Arm(tuple(1000 * transformed(base, 0.5)), 0.5)]
    t = arms_test("T", ["T=1", "T=0.5"], arms, ["a", "b", "c"], 1e-4)
    assert t.expected is not None and t.observed is not None
    assert list(t.expected["T=0.5"].values()) == pytest.approx(list(transformed(base, 0.5)), abs=1e-4)
    assert list(t.expected["fitted base p"].values()) == pytest.approx(list(base), abs=1e-4)
    assert t.observed["T=0.5"]["a"] == int(1000 * transformed(base, 0.5)[0])


# --------------------------------------------------------- power claims, checked by simulation
#: Simulated power must not be significantly below this (one-sided exact binomial test at MC_ALPHA).
#: The claims below are 0.99; the margin is for the approximations stated in each test.
POWER_FLOOR = 0.97
MC_ALPHA = 1e-4
CLAIM_ALPHA, CLAIM_POWER = 1e-4, 0.99


def _holds_the_power(rejections: int, runs: int) -> bool:
    """The rejection rate is not significantly below :data:`POWER_FLOOR` (exact, one-sided, at MC_ALPHA)."""
    return binom_p_value(rejections, runs, POWER_FLOOR, alternative="less") > MC_ALPHA


def _clearly_below_half(rejections: int, runs: int) -> bool:
    """The upper Clopper-Pearson bound (confidence 1 - MC_ALPHA) of the rejection rate is below 0.5."""
    return clopper_pearson(rejections, runs, 1 - MC_ALPHA)[1] < 0.5


def _at_temperature_effect(p0: np.ndarray, w: float, sharpen: bool) -> np.ndarray:
    """``p0^(1/T)`` renormalised, with T (below 1 to sharpen, above to flatten) such that Cohen's
    ``w = sqrt(sum (p1 - p0)^2 / p0)`` is exactly ``w``."""
    from scipy import optimize

    def gap(t: float) -> float:
        return float(np.sqrt((((transformed(p0, t) - p0) ** 2) / p0).sum())) - w

    t = optimize.brentq(gap, 0.05, 1.0) if sharpen else optimize.brentq(gap, 1.0, 50.0)
    return transformed(p0, t)


G_NULLS = {4: np.array([0.4, 0.3, 0.2, 0.1]),
           10: np.array([0.2, 0.15, 0.13, 0.11, 0.1, 0.09, 0.08, 0.06, 0.05, 0.03])}


@pytest.mark.parametrize("k,n", [(4, 600), (4, 4000), (10, 600), (10, 4000)])
@pytest.mark.parametrize("sharpen", [True, False], ids=["sharpened", "flattened"])
def test_g_test_detects_the_min_detectable_w_with_the_claimed_power(k: int, n: int, sharpen: bool) -> None:
    """The claim: a G-test of ``n`` draws over ``k`` categories at alpha 1e-4 detects an effect of Cohen's
    w = ``min_detectable_w(n, k - 1, 1e-4)`` with power 0.99. Simulated with :func:`g_test` as the checks
    call it: 2,000 seeded multinomial samples from an alternative at exactly that w (the null's
    temperature changed, sharper or flatter: the effects the validator looks for), rejected at p <= 1e-4.
    Every expected count is >= 5 under the null, so no bins are pooled and df = k - 1.

    Tolerance: the noncentral chi-square (noncentrality N w^2) is asymptotic and exact only for local
    alternatives (the G statistic's own noncentrality is 2 N KL(p1 || p0), equal to first order), so the
    simulated power must only not be significantly below 0.97 (exact one-sided binomial test at 1e-4;
    with 2,000 runs it fails when fewer than ~95.6 % reject). Simulated: 0.994 to 0.998 sharpened,
    0.969 to 0.989 flattened (lowest at N = 600).

    Bracketing: a w too small by half would be detected with power ~0.1 to 0.2 (fails the first
    assertion); at half the claimed w the power must be clearly below 0.5 (Clopper-Pearson upper bound
    at 1 - 1e-4, 500 runs), which fails if the claimed w were about twice too large.

    Not covered, because the claim does not hold there: an effect of the same w concentrated on the
    rarest category (its excess taken from all others in proportion) is the G-test's least favourable
    direction; at k = 10 it is detected with power ~0.83 (N = 600) and ~0.94 (N = 4,000)."""
    p0 = G_NULLS[k]
    w = min_detectable_w(n, k - 1, CLAIM_ALPHA, CLAIM_POWER)
    rng = np.random.default_rng(20240 + 10 * k + n + sharpen)
    assert g_test(rng.multinomial(n, p0), p0).df == k - 1  # nothing pooled: w is measured in these k bins

    at_w = rng.multinomial(n, _at_temperature_effect(p0, w, sharpen), size=2000)
    rejected = sum(g_test(x, p0).p_value <= CLAIM_ALPHA for x in at_w)
    assert _holds_the_power(rejected, len(at_w)), f"power {rejected / len(at_w):.4f} at w = {w:.4f}"

    at_half = rng.multinomial(n, _at_temperature_effect(p0, w / 2, sharpen), size=500)
    rejected_half = sum(g_test(x, p0).p_value <= CLAIM_ALPHA for x in at_half)
    assert _clearly_below_half(rejected_half, len(at_half)), f"power {rejected_half / len(at_half):.4f} at w / 2"


@pytest.mark.parametrize("n", [50, 1000, 4000])
def test_a_forbidden_event_at_the_min_detectable_rate_is_seen_with_the_claimed_power(n: int) -> None:
    """The claim: an event of per-draw probability ``min_detectable_rate(n, 1e-4)`` fails a forbidden-event
    test (:func:`forbidden_test`, as the checks call it) in ``n`` draws with probability 0.99. Simulated:
    20,000 seeded binomial counts at that rate, each judged by forbidden_test at alpha 1e-4. The claim is
    exact (no approximation), so the detection rate must be consistent with 0.99 (two-sided exact
    binomial test, p > 1e-4); at half the rate (power 1 - 0.01^(1/2) = 0.9) it must be significantly
    below 0.99, at twice the rate (power 0.9999) significantly above (one-sided, p < 1e-4)."""
    from validator.checks.sampling_stats import forbidden_test

    q = min_detectable_rate(n, CLAIM_ALPHA, CLAIM_POWER)
    rng = np.random.default_rng(777 + n)
    runs = 20_000

    def detected(rate: float) -> int:
        counts = rng.binomial(n, rate, size=runs)
        values, times = np.unique(counts, return_counts=True)
        fails = {int(v): forbidden_test("t", int(v), n, CLAIM_ALPHA, "x").p_value <= CLAIM_ALPHA for v in values}
        return int(sum(t for v, t in zip(values, times, strict=True) if fails[int(v)]))

    seen = detected(q)
    assert binom_p_value(seen, runs, CLAIM_POWER) > MC_ALPHA, f"seen in {seen / runs:.4f} of runs at q = {q:.3g}"
    assert binom_p_value(detected(q / 2), runs, CLAIM_POWER, alternative="less") < MC_ALPHA
    assert binom_p_value(detected(2 * q), runs, CLAIM_POWER, alternative="greater") < MC_ALPHA


def test_shared_base_test_detects_the_edges_of_the_detectable_range_with_the_claimed_power() -> None:
    """The claim (sampling.temperature without logprobs): arms at T = 1, 0.5 and 1.5 (3,000 samples each)
    tested by :func:`shared_base_test` at alpha 1e-4 detect an applied temperature outside
    ``detectable_range(...)`` with power 0.99. Simulated: at each edge (one arm's applied temperature set
    to it, the arms' nominal transforms unchanged), 1,000 seeded multinomial runs, rejected at p <= 1e-4.

    Tolerance: the range comes from the noncentral chi-square with the LR statistic of the expected
    counts as noncentrality (asymptotic), so the power must only not be significantly below 0.97
    (exact one-sided binomial test at 1e-4; with 1,000 runs it fails below ~95 %). Simulated: 0.984 to
    0.993. Half-way between nominal and edge the power must be clearly below 0.5 (Clopper-Pearson upper
    bound at 1 - 1e-4, 300 runs; simulated 0.06 to 0.27): a range twice too wide or too narrow fails."""
    sizes, temps = (3000, 3000, 3000), (1.0, 0.5, 1.5)

    def arms(applied: float, j: int, draw: np.random.Generator | None = None) -> list[Arm]:
        out = []
        for i, (n, t) in enumerate(zip(sizes, temps, strict=True)):
            q = transformed(P, applied if i == j else t)
            out.append(Arm(tuple(n * q if draw is None else draw.multinomial(n, q)), t))
        return out

    def rejections(applied: float, j: int, runs: int, seed: int) -> int:
        draw = np.random.default_rng(seed)
        return sum(shared_base_test(arms(applied, j, draw)).p_value <= CLAIM_ALPHA for _ in range(runs))

    for j in (1, 2):
        t = temps[j]
        lo, hi = detectable_range(lambda v, j=j: arms(v, j), t, t / 4, min(4 * t, 8.0), CLAIM_ALPHA, CLAIM_POWER)
        assert lo is not None and hi is not None and lo < t < hi
        for k, edge in enumerate((lo, hi)):
            r = rejections(edge, j, 1000, 31 + 10 * j + k)
            assert _holds_the_power(r, 1000), f"T={t}: power {r / 1000:.3f} at applied {edge:.4f}"
            r_half = rejections((t + edge) / 2, j, 300, 61 + 10 * j + k)
            assert _clearly_below_half(r_half, 300), f"T={t}: power {r_half / 300:.3f} half-way to {edge:.4f}"
