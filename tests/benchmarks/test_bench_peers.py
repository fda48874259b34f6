"""The benchmarked samplers do the same job: same tokens for the same inputs where the semantics agree."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.configs import CONFIGS, Config, StepInputs, make_inputs
from benchmarks.logits import make_logits
from benchmarks.peers import IMPL_NAMES, all_impls
from benchmarks.peers.numpy_textbook import textbook_row

IMPLS = {impl.name: impl for impl in all_impls(threads=1)}


def _step(name: str, inputs: StepInputs) -> np.ndarray:
    impl = IMPLS[name]
    why = impl.unavailable()
    assert why is None, f"{name} should be installed here: {why}"
    return impl.prepare(inputs)()


def test_every_named_impl_is_listed_in_table_order() -> None:
    assert tuple(IMPLS) == IMPL_NAMES


@pytest.mark.parametrize("config", ["greedy", "temperature", "top_p", "full"])
def test_textbook_and_fast_path_pick_the_reference_token(config: str) -> None:
    logits = make_logits("gaussian", 4, 3000, seed=7)
    inputs = make_inputs(CONFIGS[config], logits, seed=3)
    ref = _step("oairef-reference", inputs)
    assert np.array_equal(_step("numpy-textbook", inputs), ref)
    assert np.array_equal(_step("oairef-numba", inputs), ref)


def test_uniform_moves_the_textbook_draw_along_the_nucleus() -> None:
    # three tokens with p = (0.5, 0.3, 0.2) at T = 1: u picks by inverse CDF in probability order
    row = np.log(np.array([0.2, 0.5, 0.3], dtype=np.float32))
    none = np.zeros(0, dtype=np.int64)
    picks = [textbook_row(row, none, none, np.zeros(0), 1.0, 1.0, 0.0, 0.0, u) for u in (0.1, 0.6, 0.9)]
    assert picks == [1, 2, 0]
    # top_p = 0.6 keeps {1, 2} (0.5 < 0.6 <= 0.8): u = 0.9 of the renormalised mass is token 2
    assert textbook_row(row, none, none, np.zeros(0), 1.0, 0.6, 0.0, 0.0, 0.9) == 2


def test_penalties_and_bias_change_the_greedy_token_in_every_impl() -> None:
    """Token 5 leads token 7 by 0.5; 5 was generated 3 times (penalty 0.5 + 3 * 0.3 = 1.4), so 7 wins;
    token 9 would win by far but its bias is -100."""
    v = 64
    row = np.zeros(v, dtype=np.float32)
    row[5], row[7], row[9] = 4.0, 3.5, 50.0
    logits = np.stack([row, row])
    cfg = Config("greedy-penalised", temperature=0.0, presence_penalty=0.5, frequency_penalty=0.3,
                 n_bias=1, history_len=4)
    hist = np.array([[5, 5, 5, 11], [5, 5, 5, 11]], dtype=np.int64)
    inputs = StepInputs(cfg, logits, hist, {9: -100.0}, np.array([0.3, 0.7]))
    for name in IMPL_NAMES:
        assert _step(name, inputs).tolist() == [7, 7], name


def test_torch_top_p_draws_stay_inside_the_reference_nucleus() -> None:
    from sampler.params import SamplingParams
    from sampler.reference import next_token_distribution

    logits = make_logits("peaked", 2, 5000, seed=1)
    inputs = make_inputs(CONFIGS["full"], logits, seed=2)
    params = SamplingParams(temperature=0.8, top_p=0.9, presence_penalty=0.5, frequency_penalty=0.3,
                            logit_bias=inputs.bias)
    support = [next_token_distribution(logits[r], params, inputs.histories[r].tolist()) > 0 for r in range(2)]
    step = IMPLS["torch"].prepare(inputs)
    for _ in range(30):
        tokens = step()
        assert all(support[r][tokens[r]] for r in range(2))


def test_llama_cpp_chain_applies_top_p_before_temperature() -> None:
    """llama.cpp's order (documented in the peer): the nucleus is taken at T = 1, so every draw lies
    in the T = 1 nucleus of the biased, penalised logits."""
    from sampler.params import SamplingParams
    from sampler.reference import next_token_distribution

    logits = make_logits("peaked", 2, 5000, seed=4)
    inputs = make_inputs(CONFIGS["full"], logits, seed=5)
    params = SamplingParams(temperature=1.0, top_p=0.9, presence_penalty=0.5, frequency_penalty=0.3,
                            logit_bias=inputs.bias)
    support = [next_token_distribution(logits[r], params, inputs.histories[r].tolist()) > 0 for r in range(2)]
    step = IMPLS["llama.cpp"].prepare(inputs)
    for _ in range(30):
        tokens = step()
        assert all(support[r][tokens[r]] for r in range(2))
