"""Before step 1 (SEMANTICS "-inf logits ... NaN logits are a model error"): one read of the row.

:func:`scan` rejects what no token can be drawn from and returns the raw maximum. The maximum is
taken over integer keys (the IEEE-754 bits with the magnitude bits of negative values flipped, so
keys order like the floats): an integer maximum vectorises, a float one does not without fast-math.
It is kept in :data:`LANES` independent lanes (entry ``j`` in lane ``j % LANES``); the lane maxima
are ``LANES`` distinct entries, so the ``k``-th largest of them is a value at least ``k`` entries
reach — the admission threshold of the raw top-k (:mod:`sampler.ops.topk`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

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


def bits_of(row: np.ndarray) -> np.ndarray:
    """The row's IEEE-754 bits as signed integers of the same width (int32 or int64)."""
    return row.view(np.int32 if row.dtype == np.float32 else np.int64)


@overload(bits_of)
def _bits_of(row):  # type: ignore[no-untyped-def]
    if row.dtype == types.float32:
        return lambda row: row.view(np.int32)
    return lambda row: row.view(np.int64)


def magnitude_mask(bits: np.ndarray) -> int:
    """Every bit but the sign, in the dtype of ``bits``."""
    return np.iinfo(bits.dtype).max


@overload(magnitude_mask)
def _magnitude_mask(bits):  # type: ignore[no-untyped-def]
    if bits.dtype == types.int32:
        return lambda bits: np.int32(0x7FFFFFFF)
    return lambda bits: np.int64(0x7FFFFFFFFFFFFFFF)


@njit(cache=True)
def row_floor(row: np.ndarray, v: float) -> np.ndarray:
    """A one-entry array of the row's dtype holding a value ``<= v`` (``v`` lowered by 2**-20
    relative first, so rounding to float32 cannot raise it above ``v``): a vectorised pre-test
    threshold in the row's own dtype."""
    out = np.empty(1, row.dtype)
    out[0] = v - abs(v) * 2.0**-20 if abs(v) < np.inf else v
    return out


@njit(cache=True)
def scan(row: np.ndarray, lanes: np.ndarray) -> tuple[int, float]:
    """``(status, max)`` of the row as given (float32 or float64, never copied): NaN or ``+inf``
    anywhere, every entry ``-inf``, or no entry is an error status; ``-inf`` entries are allowed.
    ``lanes[:LANES]`` receives the lane maxima (float64)."""
    n = row.size
    if n == 0:
        return ST_EMPTY, 0.0
    nan = 0
    for j in range(n):
        nan += row[j] != row[j]
    if nan:
        return ST_NAN, 0.0
    bits = bits_of(row)
    mag = magnitude_mask(bits)
    acc = np.empty(LANES, bits.dtype)
    acc[:] = ~mag  # below every key
    q = n - n % LANES
    for i in range(0, q, LANES):
        blk = bits[i:i + LANES]
        for c in range(LANES):
            b = blk[c]
            acc[c] = max(acc[c], b ^ mag if b < 0 else b)
    for j in range(q, n):
        b = bits[j]
        acc[j - q] = max(acc[j - q], b ^ mag if b < 0 else b)
    one = row[:1].copy()
    m = -np.inf
    for c in range(LANES):
        key = acc[c]
        bits_of(one)[0] = key ^ mag if key < 0 else key
        lanes[c] = float(one[0])
        m = max(m, lanes[c])
    if m == np.inf:
        return ST_POSINF, 0.0
    if m == -np.inf:
        return ST_ALLNEG, m
    return OK, m
