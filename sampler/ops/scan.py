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


@njit(cache=True, inline="always")
def key_of(b: int, mag: int) -> int:
    """The integer key of the IEEE-754 bits ``b``: keys order like the floats (magnitude bits of a
    negative value flipped); an involution."""
    return b ^ mag if b < 0 else b


@njit(cache=True)
def scan(row: np.ndarray, lanes: np.ndarray, sample: np.ndarray) -> tuple[int, float]:
    """``(status, max)`` of the row as given (float32 or float64, never copied): NaN or ``+inf``
    anywhere, every entry ``-inf``, or no entry is an error status; ``-inf`` entries are allowed.
    One vectorised pass of integer maxima and minima per lane (a NaN's key lies above ``+inf``'s or
    below ``-inf``'s). ``lanes[:LANES]`` receives the lane maxima (float64) and ``sample`` lane 0
    (every ``LANES``-th entry, the head's estimate reads it)."""
    n = row.size
    if n == 0:
        return ST_EMPTY, 0.0
    bits = bits_of(row)
    mag = magnitude_mask(bits)
    hi = np.empty(LANES, bits.dtype)
    lo = np.empty(LANES, bits.dtype)
    hi[:] = ~mag
    lo[:] = mag
    q = n - n % LANES
    for i in range(0, q, LANES):
        blk = bits[i:i + LANES]
        sample[i // LANES] = row[i]
        for c in range(LANES):
            k = key_of(blk[c], mag)
            hi[c] = max(hi[c], k)
            lo[c] = min(lo[c], k)
    for j in range(q, n):
        k = key_of(bits[j], mag)
        hi[j - q] = max(hi[j - q], k)
        lo[j - q] = min(lo[j - q], k)
    one = row[:1].copy()
    one[0] = np.inf
    top = key_of(bits_of(one)[0], mag)
    one[0] = -np.inf
    bottom = key_of(bits_of(one)[0], mag)
    khi, klo = hi[0], lo[0]
    for c in range(LANES):
        khi, klo = max(khi, hi[c]), min(klo, lo[c])
        bits_of(one)[0] = key_of(hi[c], mag)
        lanes[c] = float(one[0]) if c < n else -np.inf  # a lane no entry reached (n < LANES) holds nothing
    if khi > top or klo < bottom:
        return ST_NAN, 0.0
    if khi == top:
        return ST_POSINF, 0.0
    if khi == bottom:
        return ST_ALLNEG, -np.inf
    bits_of(one)[0] = key_of(khi, mag)
    return OK, float(one[0])
