"""The fused passes of the fast path (``sampler/kernel_passes.py``) against first-principles numpy.

Each pass is checked on its own: the numerators and their exponent histogram (including ``-inf``,
subnormal and zero results, which take the exact fix-up pass), the bin search, the two-bin gather
(both bins, one bin, the same bin twice) and the within-bin refinement (many candidates, so the
radix steps run, and exact ties, which must come out in id order).
"""

from __future__ import annotations

import numpy as np
import pytest

from sampler import kernel_passes as kp


def _bins(w: np.ndarray) -> np.ndarray:
    return (w.view(np.int64) >> 52).astype(np.int64)


def _numerators(z: np.ndarray, shift: float, t: float) -> tuple[np.ndarray, np.ndarray, float]:
    w = np.empty(z.size)
    mass = np.empty(kp.NEXP)
    tmp = np.empty(kp.HCOPIES * 1024)
    s = kp.numerators(z, shift, t, w, mass, tmp)
    return w, mass, s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numerators_match_exp_and_histogram(dtype: type) -> None:
    rng = np.random.default_rng(3)
    z = (rng.standard_normal(10_007) * 4.0).astype(dtype)
    z[::97] = -np.inf
    z[5] = z.max() - 600.0  # exp(-750): 0 after rounding, through the exact fix-up
    z[6] = z.max() - 570.0  # exp(-712.5): subnormal, through the exact fix-up
    zmax = float(np.max(z))
    w, mass, s = _numerators(z, zmax, 0.8)
    x = (z.astype(np.float64) - zmax) / 0.8
    ref = np.exp(x)
    normal = ref > 1e-300
    # ~1 ulp of exp plus the rounding of x * (1 / T) (relative |x| * 2**-53): far inside 1e-12
    bound = (np.abs(x[normal]) + 2.0) * 2.3e-16 * ref[normal]
    assert np.all(np.abs(w[normal] - ref[normal]) <= bound)
    assert np.all(w[~normal] == ref[~normal])  # -inf -> 0; subnormal results exactly as libm
    assert w[6] > 0.0 and w[5] == 0.0
    expect = np.bincount(_bins(w), weights=w, minlength=kp.NEXP)
    assert np.allclose(mass, expect, rtol=1e-13, atol=0.0)
    assert abs(s - ref.sum()) <= 1e-13 * ref.sum()


def test_numerators_leave_no_empty_bin_with_mass() -> None:
    z = np.array([0.0, -1.0, -1.0, -np.inf, -2.0], np.float64)
    w, mass, _ = _numerators(z, 0.0, 1.0)
    for b in np.nonzero(mass)[0]:
        assert np.any((_bins(w) == b) & (w > 0.0))


def _brute(w: np.ndarray, target: float, strict: bool) -> int:
    order = np.lexsort((np.arange(w.size), -w))
    order = order[w[order] > 0.0]
    c = np.cumsum(w[order])
    hit = np.nonzero(c > target if strict else c >= target)[0]
    return int(order[hit[0]] if hit.size else order[-1])


@pytest.mark.parametrize("shape", ["spread", "flat", "ties"])
@pytest.mark.parametrize("strict", [False, True])
def test_find_bin_gather_refine_equal_a_sort(shape: str, strict: bool) -> None:
    rng = np.random.default_rng(11)
    V = 5_000
    if shape == "spread":
        z = rng.standard_normal(V) * 3.0
    elif shape == "flat":  # one bin holds everything: the radix refinement runs to the end
        z = rng.standard_normal(V) * 1e-3
    else:  # many exact ties: ids ascending must break them
        z = np.round(rng.standard_normal(V) * 2.0, 1)
    w, mass, s = _numerators(z, float(z.max()), 0.7)
    c1 = np.empty(V, np.int64)
    c2 = np.empty(V, np.int64)
    for frac in (0.0, 0.1, 0.37, 0.5, 0.9, 0.999):
        target = frac * s
        b, cum = kp.find_bin(mass, target, strict)
        m1, _ = kp.gather2(w, b, -1, c1, c2)
        assert list(c1[:m1]) == list(np.nonzero((_bins(w) == b) & (w > 0.0))[0])
        tok, _ = kp.refine(w, c1, m1, cum, target, strict)
        assert tok == _brute(w, target, strict), (shape, frac)


def test_gather2_two_bins_same_bin_and_none() -> None:
    rng = np.random.default_rng(5)
    z = rng.standard_normal(3_001) * 3.0
    w, _, _ = _numerators(z, float(z.max()), 1.0)
    bins = _bins(w)
    hi, lo = int(bins.max()), int(np.median(bins))
    c1 = np.empty(w.size, np.int64)
    c2 = np.empty(w.size, np.int64)
    for b1, b2 in ((hi, lo), (lo, hi), (lo, lo), (hi, -1)):
        m1, m2 = kp.gather2(w, b1, b2, c1, c2)
        assert list(c1[:m1]) == list(np.nonzero(bins == b1)[0])
        if b2 >= 0:
            assert list(c2[:m2]) == list(np.nonzero(bins == b2)[0])
        else:
            assert m2 == 0


def test_scan_reports_max_and_bad_entries() -> None:
    z = np.array([-np.inf, 3.0, -1.0, 2.5] * 9, np.float32)
    assert kp.scan(z) == (3.0, 0)
    z[17] = np.inf
    z[20] = np.nan
    assert kp.scan(z)[1] == 2
    assert kp.lanes_max(np.full(35, -np.inf)) == -np.inf
