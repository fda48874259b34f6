"""Logit shapes: gaussian statistics; peaked keeps SmolLM2's real head at every vocabulary size."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.logits import HEAD, fit_to_vocab, make_logits, real_logits


def test_gaussian_has_std_three_and_is_reproducible() -> None:
    a = make_logits("gaussian", 2, 50_257, seed=1)
    assert a.dtype == np.float32 and a.shape == (2, 50_257) and a.flags.c_contiguous
    assert abs(float(a.std()) - 3.0) < 0.05
    assert np.array_equal(a, make_logits("gaussian", 2, 50_257, seed=1))
    assert not np.array_equal(a, make_logits("gaussian", 2, 50_257, seed=2))


def test_real_logits_are_smollm2_next_token_rows() -> None:
    real = real_logits()
    assert real.shape[1] == 49_152 and np.isfinite(real).all()
    # real next-token distributions are peaked: the top token carries far more than 1/V
    p = np.exp(real[0] - real[0].max())
    assert p.max() / p.sum() > 0.05


@pytest.mark.parametrize("vocab", [32_000, 128_256, 262_144])
def test_peaked_keeps_the_real_head_and_draws_the_tail_from_the_real_tail(vocab: int) -> None:
    real = real_logits()[0]
    row = fit_to_vocab(real, vocab, np.random.default_rng(0))
    assert row.shape == (vocab,) and row.dtype == np.float32
    head_real = np.sort(real)[::-1][:HEAD]
    assert np.array_equal(np.sort(row)[::-1][:HEAD], head_real)
    assert np.isin(row, real).all()
    # the tail never exceeds the smallest head value (it comes from below the head)
    assert (np.sort(row)[::-1][HEAD:] <= head_real[-1]).all()


def test_peaked_rows_cycle_through_prompts_and_unknown_shape_is_rejected() -> None:
    m = make_logits("peaked", 3, 60_000, seed=0)
    assert m.shape == (3, 60_000)
    real = real_logits()
    for r in range(3):  # row r is fitted from prompt r's logits: same top values
        assert np.array_equal(np.sort(m[r])[-5:], np.sort(real[r])[-5:])
    with pytest.raises(ValueError, match="shape must be one of"):
        make_logits("uniform", 1, 10)
