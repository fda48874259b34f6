"""A byte-level scripted model for engine tests: a real implementation of the Model protocol whose
next-token logits are known exactly, so expected outputs can be derived by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats


class ScriptedModel:
    """Tokens 0..255 are bytes, 256 is end-of-text. After ``len(ids) == i`` tokens the logit of
    ``script[i]`` (or of end-of-text past the script) is ``margin`` and every other logit is 0."""

    name = "scripted"

    def __init__(self, script: bytes, margin: float = 40.0, n_ctx: int = 64) -> None:
        self.script = script
        self.margin = margin
        self.n_ctx = n_ctx
        self.vocab_size = 257
        self.eos_token_id = 256

    def tokenize(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def token_bytes(self, token_id: int) -> bytes:
        return b"" if token_id == 256 else bytes([token_id])

    def logits(self, ids: list[int]) -> np.ndarray:
        z = np.zeros(self.vocab_size, np.float32)
        i = len(ids)
        z[self.script[i] if i < len(self.script) else self.eos_token_id] = self.margin
        return z

    def apply_chat_template(self, messages: list[dict[str, Any]]) -> str:
        return "".join(str(m["content"]) for m in messages)


def g_test(tokens: np.ndarray, q: np.ndarray, min_expected: float = 5.0) -> tuple[float, int, int]:
    """G-test of observed draws against distribution ``q``; returns ``(p_value, df, draws outside q)``.

    Categories with expected count < ``min_expected`` are pooled into one bin.
    """
    n = tokens.size
    counts = np.bincount(tokens, minlength=q.size).astype(np.float64)
    outside = int(counts[q == 0].sum())
    expected = n * q
    big = expected >= min_expected
    obs = list(counts[big])
    exp = list(expected[big])
    small_e = expected[~big & (q > 0)].sum()
    if small_e > 0:
        obs.append(counts[~big & (q > 0)].sum())
        exp.append(small_e)
    o = np.array(obs)
    e = np.array(exp)
    nz = o > 0
    g = 2.0 * float(np.sum(o[nz] * np.log(o[nz] / e[nz])))
    df = max(len(o) - 1, 1)
    return float(stats.chi2.sf(g, df)), df, outside


def power_against(q: np.ndarray, q_wrong: np.ndarray, n: int, alpha: float, min_expected: float = 5.0) -> float:
    """The probability that :func:`g_test` on ``n`` draws from ``q_wrong`` rejects ``q`` at ``alpha``, or
    that a draw lands outside ``q``'s support (the tests require none): Cohen's ``w`` over the same pooled
    bins, with the noncentral chi-square (``n w^2``), and ``1 - (1 - m)^n`` for the mass ``m`` that
    ``q_wrong`` puts outside the support. The stated power of a sampling test against a named wrong
    implementation (e.g. a temperature 20 % off)."""
    expected = n * q
    big = expected >= min_expected
    small = ~big & (q > 0)
    p0 = np.append(q[big], q[small].sum()) if small.any() else q[big]
    p1 = np.append(q_wrong[big], q_wrong[small].sum()) if small.any() else q_wrong[big]
    df = max(p0.size - 1, 1)
    w2 = float(np.sum((p1 - p0) ** 2 / p0))
    g_power = float(stats.ncx2.sf(stats.chi2.isf(alpha, df), df, n * w2))
    outside = float(q_wrong[q == 0].sum())
    return max(g_power, 1.0 - (1.0 - outside) ** n)
