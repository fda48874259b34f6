"""The sampling contract as readable numpy: one function per documented transform, in order.

This module *is* the executable statement of ``../shared/SEMANTICS.md``; the numba fast path
(``kernels.py``) is held equal to it by the tests. Speed work never changes this file.

Arithmetic is float64 throughout (float32 logits are widened first). One step:

1. :func:`apply_penalties`  ``z[j] -= c[j] * frequency_penalty + (c[j] > 0) * presence_penalty``
2. :func:`apply_logit_bias` ``z[j] += bias[j]``
3. :func:`greedy_token` when ``T == 0``, else :func:`apply_temperature` ``p = softmax(z / T)``
4. :func:`nucleus_order` + :func:`top_p_filter`  (order by ``p`` desc, ties by id asc; shortest prefix
   with mass ``>= top_p``, at least one token; ``top_p == 1`` keeps every ``p > 0``), renormalised
5. :func:`inverse_cdf_draw`  the first token in that order whose cumulative mass exceeds ``u``
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .errors import InvalidLogits
from .params import SamplingParams, check_logit_bias_ids


def check_logits(logits: np.ndarray) -> np.ndarray:
    """Widen to float64 and reject what no token can be drawn from.

    NaN or ``+inf`` anywhere, or every logit ``-inf`` (or an empty row), is a model error
    (:class:`InvalidLogits`); single ``-inf`` entries are allowed and have probability 0.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1:
        raise InvalidLogits(f"logits must be one-dimensional, got shape {z.shape}")
    if z.size == 0:
        raise InvalidLogits("logits are empty")
    if np.isnan(z).any():
        raise InvalidLogits("logits contain NaN")
    if np.isposinf(z).any():
        raise InvalidLogits("logits contain +inf")
    if np.isneginf(z).all():
        raise InvalidLogits("every logit is -inf: no token can be drawn")
    return z


def token_counts(generated_ids: Sequence[int], vocab_size: int) -> np.ndarray:
    """``c[j]``: how often token ``j`` occurs in the tokens generated so far (the prompt never counts)."""
    ids = np.asarray(generated_ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"generated ids must lie in [0, {vocab_size})")
    return np.bincount(ids, minlength=vocab_size).astype(np.float64)


def apply_penalties(
    z: np.ndarray, generated_ids: Sequence[int], presence_penalty: float, frequency_penalty: float
) -> np.ndarray:
    """Step 1: ``z[j] - (c[j] * frequency_penalty + (c[j] > 0) * presence_penalty)``, as the docs state.

    Counts come from generated tokens only ("sampled prior to the current position").
    """
    c = token_counts(generated_ids, z.size)
    penalty = c * frequency_penalty + (c > 0) * presence_penalty
    out = z.copy()
    touched = c > 0
    out[touched] = z[touched] - penalty[touched]
    return out


def apply_logit_bias(z: np.ndarray, logit_bias: Mapping[int, float]) -> np.ndarray:
    """Step 2: ``z[j] + bias[j]`` for every biased id; an id outside ``[0, V)`` names ``logit_bias``.

    -100 effectively bans a token and +100 effectively forces it; ``-inf`` stays ``-inf``.
    """
    check_logit_bias_ids(logit_bias, z.size)
    out = z.copy()
    for tid, b in logit_bias.items():
        out[int(tid)] = out[int(tid)] + float(b)
    return out


def greedy_token(z: np.ndarray) -> int:
    """Step 3, ``T == 0``: the argmax of the biased, penalised logits, ties to the lowest id."""
    return int(np.argmax(z))


def apply_temperature(z: np.ndarray, temperature: float) -> np.ndarray:
    """Step 3, ``T > 0``: ``p = softmax(z / T)``, computed stably as ``exp((z - max) / T) / sum``."""
    if temperature <= 0:
        raise ValueError("apply_temperature needs T > 0; T == 0 is greedy_token")
    with np.errstate(over="ignore"):  # -1e308 - 1e308 = -inf: probability 0, as intended
        w = np.exp((z - z.max()) / temperature)
    return w / w.sum()


def nucleus_order(p: np.ndarray) -> np.ndarray:
    """Step 4's order: token ids by probability descending, ties by id ascending **(choice)**."""
    return np.argsort(-p, kind="stable")


def top_p_filter(p: np.ndarray, top_p: float) -> np.ndarray:
    """Step 4: keep the shortest prefix of :func:`nucleus_order` with cumulative mass ``>= top_p``.

    At least one token is kept, so the token that crosses ``top_p`` is kept (as vLLM and HF do);
    ``top_p == 1`` keeps every token with ``p > 0``; tokens with ``p == 0`` are never kept.
    Returns the renormalised distribution (zeros outside the nucleus).
    """
    order = nucleus_order(p)
    positive = int(np.count_nonzero(p > 0))
    if top_p >= 1.0:
        keep = positive
    else:
        cum = np.cumsum(p[order])
        reached = np.nonzero(cum >= top_p)[0]
        keep = int(reached[0]) + 1 if reached.size else positive
        keep = max(1, min(keep, positive))
    q = np.zeros_like(p)
    kept = order[:keep]
    q[kept] = p[kept]
    return q / q.sum()


def inverse_cdf_draw(q: np.ndarray, u: float) -> int:
    """Step 5: the first token in :func:`nucleus_order` whose cumulative mass exceeds ``u`` in [0, 1).

    If rounding leaves the total just under ``u``, the last token with ``q > 0`` is drawn.
    """
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must lie in [0, 1), got {u}")
    order = nucleus_order(q)
    cum = np.cumsum(q[order])
    hit = np.nonzero(cum > u)[0]
    positive = int(np.count_nonzero(q > 0))
    pos = int(hit[0]) if hit.size else positive - 1
    return int(order[min(pos, positive - 1)])


def processed_logits(logits: np.ndarray, params: SamplingParams, generated_ids: Sequence[int]) -> np.ndarray:
    """Steps 1-2 on checked float64 logits: penalties, then logit_bias."""
    z = check_logits(logits)
    z = apply_penalties(z, generated_ids, params.presence_penalty, params.frequency_penalty)
    return apply_logit_bias(z, params.logit_bias)


def next_token_distribution(
    logits: np.ndarray, params: SamplingParams, generated_ids: Sequence[int] = ()
) -> np.ndarray:
    """The exact distribution (float64, sums to 1) the next token is drawn from, steps 1-4."""
    z = processed_logits(logits, params, generated_ids)
    if params.greedy:
        q = np.zeros_like(z)
        q[greedy_token(z)] = 1.0
        return q
    return top_p_filter(apply_temperature(z, params.temperature), params.top_p)


def sample_reference(logits: np.ndarray, params: SamplingParams, generated_ids: Sequence[int], u: float) -> int:
    """The token the contract draws for uniform ``u``: steps 1-5."""
    return inverse_cdf_draw(next_token_distribution(logits, params, generated_ids), u)


def raw_logprobs(logits: np.ndarray) -> np.ndarray:
    """Reported log-probabilities, mode ``raw``: ``log_softmax`` of the unmodified model logits."""
    z = check_logits(logits)
    m = z.max()
    return z - m - np.log(np.exp(z - m).sum())


def processed_logprobs(logits: np.ndarray, params: SamplingParams, generated_ids: Sequence[int] = ()) -> np.ndarray:
    """Mode ``processed``: the log of the step-5 distribution (``-inf`` outside the nucleus)."""
    q = next_token_distribution(logits, params, generated_ids)
    with np.errstate(divide="ignore"):
        return np.log(q)


def top_k_logprobs(logprobs: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` largest log-probabilities as ``(id, logprob)``, ties by id ascending; ``-inf`` omitted."""
    if k <= 0:
        return []
    order = np.argsort(-logprobs, kind="stable")[:k]
    return [(int(i), float(logprobs[i])) for i in order if np.isfinite(logprobs[i])]


def with_chosen(top: list[tuple[int, float]], chosen: int, chosen_logprob: float) -> list[tuple[int, float]]:
    """The reported ``top_logprobs``: the top ``k`` plus the chosen token when absent (at most ``k + 1``)."""
    if any(tid == chosen for tid, _ in top):
        return list(top)
    return [*top, (int(chosen), float(chosen_logprob))]
