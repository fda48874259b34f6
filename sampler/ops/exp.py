"""The exponential the fast path computes every weight with (a vectorisable polynomial; numba has no
SIMD ``exp`` on this machine and libm's is scalar).

``exp(x) = 2**k * P(r)``, ``k = round(x / ln 2)`` (the float add of ``1.5 * 2**52`` rounds and leaves
``k`` in the low bits, so no float-to-int conversion, which AVX2 lacks for float64), ``r = x - k ln 2``
(Cody-Waite: ``ln 2`` split in two so ``r`` is exact to ~1e-20), ``|r| <= ln(2) / 2``, ``2**k`` built
from bits. ``P`` is a near-minimax (Chebyshev) fit of ``exp`` on ``[-ln 2 / 2, ln 2 / 2]``:

- :func:`exp_weight`, degree 11, approximation error 4e-18 relative: the result is within ~1 ulp
  of ``exp(x)`` (Horner rounding), so every weight ``w`` the fast path decides with is within
  ``(|x| + 2) * 2**-52`` of numpy's — far inside the contract's 1e-12;
- :func:`exp_term`, degree 10, within 5e-16 relative (fit 3e-16 + rounding): for the raw normaliser ``sum(exp(z - max))`` only, a
  sum whose order is free anyway (raw logprobs within ~1e-15 of the reference's).

The coefficients were fitted with ``mpmath.chebyfit(mpmath.exp, [-ln2/2, ln2/2], n + 1)`` at 50
digits (``tests/sampler/test_sampler_kernel_ops.py`` checks the errors against ``math.exp``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .bits import f2i, fma, i2f

INV_LN2 = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
#: adding this rounds a float64 of magnitude < 2**51 to an integer, kept in the low mantissa bits
ROUND = 6755399441055744.0
ROUND_BITS = np.int64(0x4338000000000000)
#: degree-11 fit (``exp_weight``), constant term first
P11 = (1.0, 1.0, 0.5000000000000019, 0.1666666666666668, 0.0416666666664881, 0.008333333333319601,
       0.0013888888952314775, 0.00019841269890047113, 2.4801485482328494e-05, 2.755724091857897e-06,
       2.763263963904103e-07, 2.5110037605963777e-08)
#: degree-10 fit (``exp_term``), constant term first
P10 = (1.0, 1.0000000000000067, 0.5000000000000006, 0.16666666666554406, 0.04166666666657314,
       0.008333333385667782, 0.0013888888932488599, 0.00019841170270440067, 2.4801504346997686e-05,
       2.764018079620985e-06, 2.7626357241447223e-07)
_A0, _A1, _A2, _A3, _A4, _A5, _A6, _A7, _A8, _A9, _A10, _A11 = P11
_B0, _B1, _B2, _B3, _B4, _B5, _B6, _B7, _B8, _B9, _B10 = P10


@njit(cache=True)
def exp_weight(x: float) -> tuple[float, bool]:
    """``(exp(x), ok)`` for ``x <= 0`` (``-inf`` allowed), to ~1 ulp; ``ok`` is false when the
    result would be subnormal or 0 (``x < -708.4``), and the returned value is then 0."""
    x = max(x, -1000.0)
    t = fma(x, INV_LN2, ROUND)
    kf = t - ROUND
    k = f2i(t) - ROUND_BITS
    r = fma(-kf, LN2_LO, fma(-kf, LN2_HI, x))
    p = fma(_A11, r, _A10)
    p = fma(p, r, _A9)
    p = fma(p, r, _A8)
    p = fma(p, r, _A7)
    p = fma(p, r, _A6)
    p = fma(p, r, _A5)
    p = fma(p, r, _A4)
    p = fma(p, r, _A3)
    p = fma(p, r, _A2)
    p = fma(p, r, _A1)
    p = fma(p, r, _A0)
    ok = k >= -1021
    kc = k if ok else np.int64(-1021)
    v = p * i2f((kc + 1023) << 52)
    return (v if ok else 0.0), ok


@njit(cache=True)
def exp_exact(x: float) -> float:
    """:func:`exp_weight` for one token, with subnormal results from ``math.exp`` (so a token whose
    weight is tiny but positive stays positive, as in the reference)."""
    v, ok = exp_weight(x)
    return v if ok else math.exp(x)


@njit(cache=True)
def exp_term(x: float) -> float:
    """``exp(x)`` for ``x <= 0`` within 5e-16 relative, for sums only: ``x`` is clamped at -700, so a ``-inf``
    term adds ``exp(-700)`` (1e-304; the sum is >= 1, so nothing)."""
    x = max(x, -700.0)
    t = fma(x, INV_LN2, ROUND)
    kf = t - ROUND
    k = f2i(t) - ROUND_BITS
    r = fma(-kf, LN2_LO, fma(-kf, LN2_HI, x))
    p = fma(_B10, r, _B9)
    p = fma(p, r, _B8)
    p = fma(p, r, _B7)
    p = fma(p, r, _B6)
    p = fma(p, r, _B5)
    p = fma(p, r, _B4)
    p = fma(p, r, _B3)
    p = fma(p, r, _B2)
    p = fma(p, r, _B1)
    p = fma(p, r, _B0)
    return p * i2f((k + 1023) << 52)
