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
