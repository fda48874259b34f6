"""Step 3 of SEMANTICS.md with ``T > 0``: ``p = softmax(z' / T)``, never materialised.

A token's probability is ``w / S`` with the numerator ``w = exp((z' - shift) / T)`` (``shift`` the
maximum of the patched row or a bound just above it, :func:`~sampler.ops.patch.softmax_shift`, so
``w <= 1``; :func:`~sampler.ops.exp.exp_weight`, computed only for the tokens steps 4-5 can reach,
bit-identical wherever recomputed) and the normaliser ``S = sum(w)`` (:func:`softmax_sum`). No array
of V weights is ever written.

:func:`raw_normaliser` is the denominator of the *reported* raw logprobs, ``sum(exp(z - max(z)))`` of
the unmodified row (SEMANTICS "Reported log-probabilities").
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .bits import radd
from .exp import exp_term
from .patch import GROUP, Patch

#: The largest finite double: ``1 / T`` is capped there (see :func:`inverse_temperature`).
DBL_MAX = float(np.finfo(np.float64).max)


@njit(cache=True, inline="always")
def inverse_temperature(t: float) -> float:
    """``1 / T`` for step 3's ``(z' - shift) / T``, at most :data:`DBL_MAX`: for a subnormal ``T``
    (below ~5.6e-309) it would be ``inf``, and ``inf x 0`` — the maximum's own gap — NaN. Capped, a
    tie still gets weight ``exp(0) = 1`` and every other gap of a float32 row (at least ~1.4e-45)
    weight 0, as the reference's division gives."""
    return min(1.0 / t, DBL_MAX)


@njit(cache=True)
def softmax_sum(row: np.ndarray, shift: float, inv_t: float, pt: Patch, n: int) -> float:
    """``S = sum_j exp((z'_j - shift) / T)``: one vectorised pass over the raw row, then each patched
    entry's raw term is replaced by its patched one (the raw term is clamped at ``w <= 1``, since a
    patched id's raw logit may exceed ``shift``). When the replaced terms outweigh the result 1024
    times (patched ids that held most of the mass, pushed far down) the subtraction would lose
    digits, and the untouched entries are summed on their own instead. A normaliser, never a
    decision: its terms come from :func:`~sampler.ops.exp.exp_term` (5e-16 relative; terms below
    ``exp(-700)`` count as that, nothing next to the heaviest)."""
    s = 0.0
    if n == 0:
        for j in range(row.size):
            s = radd(s, exp_term((float(row[j]) - shift) * inv_t))
        return s
    for j in range(row.size):
        s = radd(s, exp_term(min((float(row[j]) - shift) * inv_t, 0.0)))
    old = 0.0
    new = 0.0
    for i in range(n):
        old += exp_term(min((float(row[pt.ids[i]]) - shift) * inv_t, 0.0))
        new += exp_term((pt.vals[i] - shift) * inv_t)
    S = (s - old) + new
    if old <= 1024.0 * S:
        return S
    return _untouched_sum(row, shift, inv_t, pt) + new


@njit(cache=True)
def _untouched_sum(row: np.ndarray, shift: float, inv_t: float, pt: Patch) -> float:
    """``sum exp((z_j - shift) / T)`` over the ids without a patch: groups without a patched id
    vectorised, the others entry by entry."""
    V = row.size
    s = 0.0
    q = V - V % GROUP
    for g in range(q // GROUP):
        i = g * GROUP
        if pt.gflag[g]:
            for j in range(i, i + GROUP):
                if pt.slot[j] == 0:
                    s += exp_term(min((float(row[j]) - shift) * inv_t, 0.0))
        else:
            for j in range(i, i + GROUP):
                s = radd(s, exp_term((float(row[j]) - shift) * inv_t))
    for j in range(q, V):
        if pt.slot[j] == 0:
            s += exp_term(min((float(row[j]) - shift) * inv_t, 0.0))
    return s


@njit(cache=True)
def raw_normaliser(row: np.ndarray, rmax: float) -> float:
    """``sum_j exp(z_j - rmax)`` over the raw row (the reported raw logprob of ``j`` is
    ``z_j - rmax - log`` of this)."""
    s = 0.0
    for j in range(row.size):
        s = radd(s, exp_term(float(row[j]) - rmax))
    return s
