"""Fused passes of the fast path (``kernels.py``): the row scan, the softmax numerators with their
exponent histogram, and the two weighted selections (top_p cut, inverse-CDF draw).

Rules kept here (see ``kernels.py`` for the whole step):

- the row is read in place (float32 or float64); every weight ``w`` is float64 and every decision
  (bin choice, within-bin refinement, prefix sums) is made on the exact float64 ``w``;
- ``x = (z - max) * (1 / T)`` (relative error of ``w`` up to ``(|x| + 2) * 2**-52``, ~1e-14 for the
  tokens that carry mass: far inside the contract's 1e-12);
- ``w = exp(x)`` is a Cody-Waite reduction + degree-13 polynomial (~1 ulp, as libm), scaled by
  ``2**k`` built from bits (vectorisable); ``x < -708`` (subnormal or zero results) is recomputed
  with ``math.exp`` in a rare fix-up pass, so ``-inf`` logits give exactly 0;
- the exponent histogram (mass per IEEE exponent of ``w``) is built block by block right after the
  block's exponentials, while they are in L1, into 4 interleaved copies (breaks the add chains on
  the few hot bins), then merged; the normaliser ``S`` is the sum of the bins.

numba's on-disk cache does not track calls across modules: after editing this module, also touch
``kernels.py`` (or clear ``sampler/__pycache__/kernels.*.nb*``), or the cached kernels keep the old code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

NEXP = 2048
SMALL = 32
BLOCK = 4096
#: entries per group of :func:`gather2`'s vectorised pre-test
GROUP = 16
#: interleaved histogram copies
HCOPIES = 8
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.4426950408889634
_C = tuple(1.0 / math.factorial(i) for i in range(14))
_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13 = _C[2:]


@intrinsic
def i2f(typingctx, x):  # type: ignore[no-untyped-def]
    """The float64 whose IEEE bits are the int64 ``x``."""
    if x != types.int64:
        return None
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@intrinsic
def f2i(typingctx, x):  # type: ignore[no-untyped-def]
    """The IEEE bits of the float64 ``x`` as int64."""
    if x != types.float64:
        return None
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


@njit(cache=True, inline="always")
def exp_nonpos(x: float) -> tuple[float, bool]:
    """``(exp(x), exact)`` for ``x <= 0`` (``x`` may be ``-inf``); ``exact`` is false when
    ``x < -708.39`` (result subnormal or 0), and then the returned value is 0."""
    x = max(x, -1000.0)
    kf = np.floor(x * _INV_LN2 + 0.5)
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = _C13
    p = p * r + _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + 1.0
    p = p * r + 1.0
    ki = np.int64(kf)
    ok = ki >= -1021
    kc = ki if ok else np.int64(-1021)
    v = p * i2f((kc + 1023) << 52)
    return (v if ok else 0.0), ok


@njit(cache=True)
def scan(row: np.ndarray) -> tuple[float, int]:
    """``(max, count of NaN or +inf)`` of the row, read in place (``-inf`` allowed; the max is
    meaningless when the count is not 0). Two vectorised loops: the count, then :func:`lanes_max`."""
    n = row.size
    bad = 0
    for j in range(n):
        x = row[j]
        bad += (x != x) | (x == np.inf)
    if bad:
        return np.nan, bad
    return lanes_max(row), bad


@njit(cache=True)
def lanes_max(a: np.ndarray) -> float:
    """The maximum of ``a`` (no NaN; ``-inf`` allowed) in 16 independent lanes: a single running
    max is a serial chain that LLVM does not vectorise without fast-math."""
    n = a.size
    acc = np.empty(16, a.dtype)
    acc[:] = -np.inf
    q = n - n % 16
    for i in range(0, q, 16):
        for lane in range(16):
            x = a[i + lane]
            acc[lane] = x if x > acc[lane] else acc[lane]
    m = -np.inf
    for lane in range(16):
        m = max(m, float(acc[lane]))
    for i in range(q, n):
        m = max(m, float(a[i]))
    return m


@njit(cache=True, fastmath={"reassoc"})
def fsum(a: np.ndarray) -> float:
    """A vectorised (reassociated) sum."""
    s = 0.0
    for j in range(a.size):
        s += a[j]
    return s


@njit(cache=True, fastmath={"nsz", "contract"})
def _exp_block(src: np.ndarray, shift: float, inv_t: float, out: np.ndarray) -> int:
    """``out[j] = exp((src[j] - shift) * inv_t)``; returns how many need the exact fix-up."""
    slow = 0
    for j in range(src.size):
        v, ok = exp_nonpos((float(src[j]) - shift) * inv_t)
        out[j] = v
        slow += 0 if ok else 1
    return slow


@njit(cache=True)
def numerators(
    src: np.ndarray, shift: float, temperature: float, w: np.ndarray, mass: np.ndarray, tmp: np.ndarray
) -> float:
    """``w = exp((src - shift) / T)`` (``src <= shift``, so ``w <= 1`` and its exponent field is at
    most 1023) and ``mass[b]`` = sum of ``w`` whose IEEE exponent field is ``b``; returns
    ``S = sum(w)`` (the sum of the bins, largest first).

    ``tmp`` is float64 scratch of length ``HCOPIES * 1024``: the histogram is accumulated into
    ``HCOPIES`` interleaved copies so that entries falling in the same hot bin do not form one
    serial chain of read-modify-writes.
    """
    n = src.size
    inv_t = 1.0 / temperature
    h = tmp[: HCOPIES * 1024]
    h[:] = 0.0
    slow = 0
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        wb = w[lo:hi]
        slow += _exp_block(src[lo:hi], shift, inv_t, wb)
        m = hi - lo
        q = m - (m % HCOPIES)
        for i in range(0, q, HCOPIES):
            for c in range(HCOPIES):
                x = wb[i + c]
                h[c * 1024 + (f2i(x) >> 52)] += x
        for i in range(q, m):
            x = wb[i]
            h[f2i(x) >> 52] += x
    if slow:
        for j in range(n):
            x = (float(src[j]) - shift) * inv_t
            _, ok = exp_nonpos(x)
            if not ok:  # w[j] is 0 and added nothing to the histogram
                v = math.exp(x)
                w[j] = v
                h[f2i(v) >> 52] += v
    S = 0.0
    mass[1024:] = 0.0
    for b in range(1023, -1, -1):
        t = 0.0
        for c in range(HCOPIES):
            t += h[c * 1024 + b]
        mass[b] = t
        S += t
    return S


@njit(cache=True)
def raw_sum(row: np.ndarray, rmax: float, tmp: np.ndarray) -> float:
    """``sum(exp(row - rmax))`` (the raw normaliser) in blocks through ``tmp`` (length >= BLOCK)."""
    n = row.size
    s = 0.0
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        _exp_block(row[lo:hi], rmax, 1.0, tmp[: hi - lo])
        s += fsum(tmp[: hi - lo])
    # entries below exp(-708) relative to the max are ignored: < 1e-300 of the sum
    return s


@njit(cache=True)
def find_bin(mass: np.ndarray, target: float, strict: bool) -> tuple[int, float]:
    """The exponent bin (scanning from the largest) where the prefix mass reaches ``target``
    (``>=``, or ``>`` when ``strict``) and the mass before it; the last non-empty bin if the
    total never reaches the target (rounding)."""
    cum = 0.0
    last = -1
    for b in range(NEXP - 1, -1, -1):
        mb = mass[b]
        if mb > 0.0:
            last = b
            nxt = cum + mb
            if nxt > target or (not strict and nxt == target):
                return b, cum
            cum = nxt
    return last, cum - mass[last]


@njit(cache=True)
def gather2(w: np.ndarray, b1: int, b2: int, c1: np.ndarray, c2: np.ndarray) -> tuple[int, int]:
    """Ids (ascending) of the positive ``w`` in exponent bin ``b1`` into ``c1`` and in ``b2`` into ``c2``
    (one pass; ``b2 < 0`` for none). Returns the two counts.

    The pass tests ``GROUP`` entries at a time with a vectorised count of bit patterns at or above
    the lower bin (``w >= 0``: bit patterns order like values) and only walks groups with a hit:
    the bins sought hold few entries, so most groups are skipped after the vectorised test."""
    n = w.size
    wi = w.view(np.int64)
    m1 = 0
    m2 = 0
    lo = (b1 if (b2 < 0 or b2 >= b1) else b2) << 52
    q = n - n % GROUP
    for i in range(0, q, GROUP):
        hit = 0
        for k in range(GROUP):
            hit += wi[i + k] >= lo
        if hit:
            for j in range(i, i + GROUP):
                b = wi[j] >> 52
                if w[j] > 0.0:
                    if b == b1:
                        c1[m1] = j
                        m1 += 1
                    elif b == b2:
                        c2[m2] = j
                        m2 += 1
    for j in range(q, n):
        b = wi[j] >> 52
        if w[j] > 0.0:
            if b == b1:
                c1[m1] = j
                m1 += 1
            elif b == b2:
                c2[m2] = j
                m2 += 1
    if b2 == b1:
        for i in range(m1):
            c2[i] = c1[i]
        m2 = m1
    return m1, m2


@njit(cache=True)
def refine(
    w: np.ndarray, cand: np.ndarray, m: int, cum: float, target: float, strict: bool
) -> tuple[int, float]:
    """Among the ``m`` candidates of one exponent bin (ids ascending, prefix mass ``cum`` before the
    bin), the first in (w desc, id asc) order whose prefix mass reaches ``target``; returns
    ``(token, prefix mass through it)``. Radix select over the mantissa, 8 bits at a time, then an
    insertion sort of at most ``SMALL`` survivors."""
    shift = 44
    c2 = np.zeros(256, np.int64)
    s2 = np.zeros(256, np.float64)
    while m > SMALL and shift >= 0:
        c2[:] = 0
        s2[:] = 0.0
        for i in range(m):
            j = cand[i]
            b = (f2i(w[j]) >> shift) & 255
            c2[b] += 1
            s2[b] += w[j]
        found = -1
        last = -1
        for b in range(255, -1, -1):
            if c2[b] > 0:
                last = b
                nxt = cum + s2[b]
                if nxt > target or (not strict and nxt == target):
                    found = b
                    break
                cum = nxt
        if found < 0:
            found = last
            cum -= s2[last]
        k = 0
        for i in range(m):
            j = cand[i]
            if ((f2i(w[j]) >> shift) & 255) == found:
                cand[k] = j
                k += 1
        m = k
        shift = shift - 8 if shift > 4 else (0 if shift == 4 else -1)
    for i in range(1, m):
        j = cand[i]
        x = w[j]
        p = i - 1
        while p >= 0 and w[cand[p]] < x:
            cand[p + 1] = cand[p]
            p -= 1
        cand[p + 1] = j
    for i in range(m):
        nxt = cum + w[cand[i]]
        if nxt > target or (not strict and nxt == target):
            return cand[i], nxt
        cum = nxt
    return cand[m - 1], cum
