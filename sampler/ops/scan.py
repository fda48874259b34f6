"""Before step 1 (SEMANTICS "-inf logits ... NaN logits are a model error"): one read of the row.

:func:`scan` rejects what no token can be drawn from and returns the raw maximum. The maximum is
kept in :data:`LANES` independent lanes (entry ``j`` in lane ``j % LANES``): a single running
maximum is a serial chain LLVM cannot vectorise, and the lane maxima are ``LANES`` distinct entries,
so the ``k``-th largest of them is a value at least ``k`` entries reach — the admission threshold of
the raw top-k (:mod:`sampler.ops.topk`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: independent running maxima of the scan (>= the largest top_logprobs, 20)
LANES = 32

OK, ST_NAN, ST_POSINF, ST_ALLNEG, ST_EMPTY = 0, 1, 2, 3, 4
#: the model error each non-OK status stands for
MESSAGES = {
    ST_NAN: "logits contain NaN",
    ST_POSINF: "logits contain +inf",
    ST_ALLNEG: "every logit is -inf: no token can be drawn",
    ST_EMPTY: "logits are empty",
}


@njit(cache=True)
def scan(row: np.ndarray, lanes: np.ndarray) -> tuple[int, float]:
    """``(status, max)`` of the row as given (float32 or float64, never copied): NaN or ``+inf``
    anywhere, every entry ``-inf``, or no entry is an error status; ``-inf`` entries are allowed.
    ``lanes[:LANES]`` receives the lane maxima (float64)."""
    n = row.size
    if n == 0:
        return ST_EMPTY, 0.0
    acc = np.empty(LANES, row.dtype)
    acc[:] = -np.inf
    bad = 0
    q = n - n % LANES
    for i in range(0, q, LANES):
        for c in range(LANES):
            x = row[i + c]
            bad += (x != x) | (x == np.inf)
            acc[c] = x if x > acc[c] else acc[c]
    for j in range(q, n):
        x = row[j]
        bad += (x != x) | (x == np.inf)
        c = j - q
        acc[c] = x if x > acc[c] else acc[c]
    if bad:
        for j in range(n):
            if row[j] != row[j]:
                return ST_NAN, 0.0
        return ST_POSINF, 0.0
    m = -np.inf
    for c in range(LANES):
        lanes[c] = acc[c]
        m = max(m, lanes[c])
    if m == -np.inf:
        return ST_ALLNEG, m
    return OK, m
