"""Draws through the engine follow the reference distribution: G-tests at alpha = 1e-4, fixed seeds.

Each test also requires zero draws outside the distribution's support (e.g. outside the nucleus), and
states its power: the probability that it fails a named wrong sampler — its temperature 20 % off, or
(for the logit_bias case, whose bias dwarfs any temperature effect) its biases halved —
(:func:`power_against`), asserted to be at least 0.99.
"""

from __future__ import annotations

import numpy as np
import pytest
from sampler_testing import g_test, power_against

from models import TinyModel
from sampler import SamplingParams, complete, next_token_distribution, sample_batch

ALPHA = 1e-4
#: Each test must catch its named wrong sampler with at least this probability.
POWER = 0.99


def wrong_sampler(kw: dict) -> tuple[str, dict]:
    """The wrong implementation a test must catch: biases halved where there are biases, else the
    temperature 20 % off."""
    if kw.get("logit_bias"):
        return "logit_bias halved", {**kw, "logit_bias": {t: b / 2 for t, b in kw["logit_bias"].items()}}
    return "temperature 1.2x", {**kw, "temperature": kw["temperature"] * 1.2}


def assert_powerful(logits: np.ndarray, kw: dict, hist: list[int], n: int) -> None:
    name, wrong_kw = wrong_sampler(kw)
    q = next_token_distribution(logits, SamplingParams(**kw), hist)
    wrong = next_token_distribution(logits, SamplingParams(**wrong_kw), hist)
    power = power_against(q, wrong, n, ALPHA)
    assert power >= POWER, f"{n} draws catch a sampler with {name} with probability {power:.3f} only"


@pytest.fixture(scope="module")
def tiny() -> TinyModel:
    return TinyModel()


def _first_tokens(tiny: TinyModel, prompt: str, params_kw: dict, requests: int, n: int, max_tokens: int = 1) -> list[list[int]]:
    out = []
    for seed in range(requests):
        res = complete(tiny, prompt, SamplingParams(n=n, seed=1000 + seed, max_tokens=max_tokens, **params_kw))
        out.extend(c.token_ids for c in res.choices)
    return out


@pytest.mark.parametrize(
    "params_kw",
    [
        {"temperature": 1.0, "top_p": 1.0},
        {"temperature": 1.6, "top_p": 0.95},
        {"temperature": 0.8, "top_p": 0.9, "logit_bias": "demote the favourite"},
    ],
)
def test_first_token_distribution(tiny: TinyModel, params_kw: dict) -> None:
    prompt = "The small"
    if params_kw.get("logit_bias") == "demote the favourite":
        favourite = int(np.argmax(tiny.logits(tiny.tokenize(prompt))))
        params_kw = {**params_kw, "logit_bias": {favourite: -3.0, 5: 8.0}}
    draws = _first_tokens(tiny, prompt, params_kw, requests=16, n=128)
    tokens = np.array([d[0] if d else tiny.eos_token_id for d in draws])
    q = next_token_distribution(tiny.logits(tiny.tokenize(prompt)), SamplingParams(**params_kw), [])
    p_value, df, outside = g_test(tokens, q)
    assert outside == 0
    assert df >= 2, "the test needs several categories to mean anything"
    assert p_value > ALPHA, f"G-test p = {p_value:.3g} (df = {df})"
    assert_powerful(tiny.logits(tiny.tokenize(prompt)), params_kw, [], tokens.size)


def test_second_token_with_penalties(tiny: TinyModel) -> None:
    """The second token, given the first, follows the penalised distribution (history = generated only)."""
    prompt = "The small"
    kw = {"temperature": 1.3, "top_p": 0.97, "presence_penalty": 1.5, "frequency_penalty": 0.5}
    draws = _first_tokens(tiny, prompt, kw, requests=24, n=128, max_tokens=2)
    pairs = [d for d in draws if len(d) == 2]
    firsts = np.bincount([d[0] for d in pairs])
    t0 = int(np.argmax(firsts))
    seconds = np.array([d[1] for d in pairs if d[0] == t0])
    assert seconds.size > 500
    ctx = [*tiny.tokenize(prompt), t0]
    q = next_token_distribution(tiny.logits(ctx), SamplingParams(**kw), [t0])
    p_value, df, outside = g_test(seconds, q)
    assert outside == 0 and df >= 2
    assert p_value > ALPHA, f"G-test p = {p_value:.3g} (df = {df})"
    assert_powerful(tiny.logits(ctx), kw, [t0], seconds.size)


def test_batched_kernel_draws_follow_reference() -> None:
    """sample_batch with independent uniforms: a synthetic 300-token distribution, top_p 0.8."""
    rng = np.random.default_rng(99)
    z = (rng.standard_normal(300) * 2.0).astype(np.float32)
    params = SamplingParams(temperature=0.9, top_p=0.8, logit_bias={5: 3.0})
    B = 20_000
    rows = np.broadcast_to(z, (B, z.size))
    tokens, _, _, _ = sample_batch(rows, [params] * B, [[]] * B, rng.random(B))
    q = next_token_distribution(z, params, [])
    p_value, df, outside = g_test(tokens, q)
    assert outside == 0 and df >= 5
    assert p_value > ALPHA, f"G-test p = {p_value:.3g} (df = {df})"
    assert_powerful(z, {"temperature": 0.9, "top_p": 0.8, "logit_bias": {5: 3.0}}, [], B)


def test_g_test_detects_a_wrong_distribution() -> None:
    """The statistic has power: draws at T=1 are rejected against the T=0.7 distribution."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal(50) * 2.0
    B = 5000
    rows = np.broadcast_to(z, (B, z.size))
    tokens, _, _, _ = sample_batch(rows, [SamplingParams(temperature=1.0)] * B, [[]] * B, rng.random(B))
    q_wrong = next_token_distribution(z, SamplingParams(temperature=0.7), [])
    assert g_test(tokens, q_wrong)[0] < ALPHA
