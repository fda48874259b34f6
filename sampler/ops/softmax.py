"""Step 3 of SEMANTICS.md with ``T > 0``: ``p = softmax(z' / T)``, never materialised.

A token's probability is ``w / S`` with the numerator ``w = exp((z' - zmax) / T)`` (``zmax`` the
maximum of the patched row, so ``w <= 1`` and the maximum has ``w = 1``: :func:`~sampler.ops.exp.exp_weight`,
computed only for the tokens steps 4-5 can reach, bit-identical wherever recomputed) and the
normaliser ``S = sum(w)`` (:func:`softmax_sum`). No array of V weights is ever written.

:func:`raw_normaliser` is the denominator of the *reported* raw logprobs, ``sum(exp(z - max(z)))`` of
the unmodified row (SEMANTICS "Reported log-probabilities").
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .bits import radd
from .exp import exp_term
from .patch import Patch


@njit(cache=True)
def softmax_sum(row: np.ndarray, zmax: float, inv_t: float, pt: Patch, n: int) -> float:
    """``S = sum_j exp((z'_j - zmax) / T)``: one vectorised pass over the raw row, then each patched
    entry's raw term is replaced by its patched one (the raw term is clamped at ``w <= 1``, since a
    patched id's raw logit may exceed ``zmax``). A normaliser, never a decision: its terms come from
    :func:`~sampler.ops.exp.exp_term` (5e-16 relative; terms below ``exp(-700)`` count as that,
    nothing next to ``S >= 1``)."""
    s = 0.0
    if n == 0:
        for j in range(row.size):
            s = radd(s, exp_term((float(row[j]) - zmax) * inv_t))
        return s
    for j in range(row.size):
        s = radd(s, exp_term(min((float(row[j]) - zmax) * inv_t, 0.0)))
    corr = 0.0
    for i in range(n):
        old = exp_term(min((float(row[pt.ids[i]]) - zmax) * inv_t, 0.0))
        corr += exp_term((pt.vals[i] - zmax) * inv_t) - old
    return s + corr


@njit(cache=True)
def raw_normaliser(row: np.ndarray, rmax: float) -> float:
    """``sum_j exp(z_j - rmax)`` over the raw row (the reported raw logprob of ``j`` is
    ``z_j - rmax - log`` of this)."""
    s = 0.0
    for j in range(row.size):
        s = radd(s, exp_term(float(row[j]) - rmax))
    return s
