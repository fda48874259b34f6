"""The contract's rules, one by one, on the readable reference."""

from __future__ import annotations

import numpy as np
import pytest

from sampler import InvalidLogits, InvalidParameter, SamplingParams, next_token_distribution
from sampler import reference as R


def test_penalty_formula_counts_generated_tokens_only() -> None:
    z = np.array([1.0, 2.0, 3.0, 4.0])
    out = R.apply_penalties(z, [2, 2, 2, 0], presence_penalty=0.5, frequency_penalty=0.25)
    # c = [1, 0, 3, 0]: z - (c * f + (c > 0) * p)
    assert out.tolist() == [1.0 - 0.25 - 0.5, 2.0, 3.0 - 0.75 - 0.5, 4.0]
    neg = R.apply_penalties(z, [3], presence_penalty=-2.0, frequency_penalty=-2.0)
    assert neg.tolist() == [1.0, 2.0, 3.0, 8.0]
    # the distribution uses the generated history passed in, nothing else
    p = SamplingParams(presence_penalty=2.0)
    assert np.argmax(next_token_distribution(np.array([0.0, 1.0]), p, [1])) == 0
    assert np.argmax(next_token_distribution(np.array([0.0, 1.0]), p, [])) == 1


def test_bias_bans_and_forces() -> None:
    z = np.array([5.0, 4.0, 3.0, -2.0])
    banned = next_token_distribution(z, SamplingParams(logit_bias={0: -100}), [])
    assert banned[0] < 1e-40 and banned.sum() == pytest.approx(1.0)
    forced = next_token_distribution(z, SamplingParams(logit_bias={3: 100}), [])
    assert forced[3] == 1.0 and forced[:3].max() < 1e-35
    with pytest.raises(InvalidParameter) as info:
        next_token_distribution(z, SamplingParams(logit_bias={4: 1}), [])
    assert info.value.param == "logit_bias"
    # -inf stays -inf whatever the bias
    assert next_token_distribution(np.array([0.0, -np.inf]), SamplingParams(logit_bias={1: 100}), [])[1] == 0.0


def test_steps_one_and_two_commute() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=50)
    a = R.apply_logit_bias(R.apply_penalties(z, [1, 1, 7], 0.7, -0.3), {1: 2.5, 9: -4})
    b = R.apply_penalties(R.apply_logit_bias(z, {1: 2.5, 9: -4}), [1, 1, 7], 0.7, -0.3)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_greedy_ties_go_to_the_lowest_id() -> None:
    z = np.array([1.0, 3.0, 2.0, 3.0, 3.0])
    q = next_token_distribution(z, SamplingParams(temperature=0.0), [])
    assert q.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    for u in (0.0, 0.5, 0.999999):
        assert R.sample_reference(z, SamplingParams(temperature=0.0, top_p=0.1), [], u) == 1


def test_top_p_keeps_the_crossing_token() -> None:
    z = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    q = next_token_distribution(z, SamplingParams(top_p=0.6), [])
    # 0.5 < 0.6, 0.5 + 0.3 >= 0.6: tokens 0 and 1 are kept and renormalised
    np.testing.assert_allclose(q, [0.625, 0.375, 0.0, 0.0], rtol=1e-12)
    q = next_token_distribution(z, SamplingParams(top_p=0.5), [])
    np.testing.assert_allclose(q, [1.0, 0.0, 0.0, 0.0])


def test_top_p_applies_after_temperature() -> None:
    z = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    # at T=0.5 p ~ [0.69, 0.25, 0.06, 0.006]: top_p 0.6 keeps token 0 alone
    q = next_token_distribution(z, SamplingParams(temperature=0.5, top_p=0.6), [])
    assert q.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_top_p_zero_is_greedy_and_one_keeps_every_positive() -> None:
    rng = np.random.default_rng(0)
    z = np.round(rng.normal(size=200) * 2)
    q0 = next_token_distribution(z, SamplingParams(top_p=0.0), [])
    assert q0[int(np.argmax(z))] == 1.0
    z[5] = -np.inf
    z[7] = -1e6  # p underflows to exactly 0
    q1 = next_token_distribution(z, SamplingParams(top_p=1.0), [])
    p = R.apply_temperature(z, 1.0)
    assert np.array_equal(q1 > 0, p > 0)
    assert q1[5] == 0.0 and q1[7] == 0.0


def test_top_p_ties_are_ordered_by_id() -> None:
    z = np.zeros(4)
    q = next_token_distribution(z, SamplingParams(top_p=0.4), [])
    assert q.tolist() == [0.5, 0.5, 0.0, 0.0]
    assert [R.sample_reference(z, SamplingParams(), [], u) for u in (0.1, 0.3, 0.6, 0.9)] == [0, 1, 2, 3]


def test_inverse_cdf_boundaries() -> None:
    q = np.array([0.25, 0.5, 0.25])
    # order: 1 (0.5), 0 (0.25), 2 (0.25); cumulative 0.5, 0.75, 1.0; "exceeds u"
    assert R.inverse_cdf_draw(q, 0.0) == 1
    assert R.inverse_cdf_draw(q, 0.5) == 0
    assert R.inverse_cdf_draw(q, 0.7499999) == 0
    assert R.inverse_cdf_draw(q, 0.75) == 2
    assert R.inverse_cdf_draw(q, np.nextafter(1.0, 0.0)) == 2
    with pytest.raises(ValueError):
        R.inverse_cdf_draw(q, 1.0)


def test_temperature_scales_and_sums_to_one() -> None:
    z = np.array([0.0, 1.0, 2.0])
    for t in (0.5, 1.0, 2.0):
        q = next_token_distribution(z, SamplingParams(temperature=t), [])
        e = np.exp(z / t)
        np.testing.assert_allclose(q, e / e.sum(), rtol=1e-12)
        assert q.dtype == np.float64 and q.sum() == pytest.approx(1.0, abs=1e-15)


def test_huge_and_tiny_values_are_stable() -> None:
    z = np.array([1e308, -1e308, 1e308, 3.0], dtype=np.float64)
    q = next_token_distribution(z, SamplingParams(), [])
    assert q.tolist() == [0.5, 0.0, 0.5, 0.0]
    q32 = next_token_distribution(np.array([3e38, 1e-45, -3e38], np.float32), SamplingParams(), [])
    assert q32.tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("logits", "needle"),
    [
        ([0.0, np.nan], "NaN"),
        ([-np.inf, -np.inf], "-inf"),
        ([0.0, np.inf], "+inf"),
        ([], "empty"),
    ],
)
def test_bad_logits_raise(logits: list[float], needle: str) -> None:
    with pytest.raises(InvalidLogits, match=needle.replace("+", r"\+")):
        next_token_distribution(np.array(logits), SamplingParams(), [])


def test_raw_and_processed_logprobs() -> None:
    z = np.array([2.0, 1.0, 0.0, -np.inf])
    raw = R.raw_logprobs(z)
    np.testing.assert_allclose(np.exp(raw[:3]), np.exp(z[:3]) / np.exp(z[:3]).sum())
    assert raw[3] == -np.inf
    proc = R.processed_logprobs(z, SamplingParams(top_p=0.5, logit_bias={2: 5.0}), [])
    assert proc[2] == 0.0 and np.all(np.isneginf(proc[[0, 1, 3]]))
    top = R.top_k_logprobs(np.log(np.array([0.2, 0.4, 0.2, 0.2])), 3)
    assert [t for t, _ in top] == [1, 0, 2]
    assert R.with_chosen(top, 3, -1.6)[-1] == (3, -1.6)
    assert R.with_chosen(top, 0, -1.6) == top
