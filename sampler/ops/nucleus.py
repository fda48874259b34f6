"""Steps 4 and 5 of SEMANTICS.md: the top_p cut and the inverse-CDF draw, without sorting V tokens.

Both are *weighted selections* in the order (``w`` desc, id asc): "the first token whose prefix mass
reaches a target" (``>= top_p * S`` for the cut; ``> u * Wk`` for the draw, ``Wk`` the kept mass).

1. :func:`head` collects, with exact weights, every token that either selection can reach: all tokens
   whose weight lies in the IEEE-754 exponent bins ``>= b`` of ``w`` (``w >= 0``, so bins order like
   values), for a ``b`` low enough that those bins hold the mass the selections need (and, when
   asked, at least ``k`` tokens). ``b`` is guessed from every 32nd token's weight, then checked on
   the exact masses; a short guess is extended by the band down to a bound that cannot be short
   (fewer than V tokens below bin ``b`` weigh less than ``V * 2**(b - 1023)``), and at worst to every
   positive token. On LLM-like rows the head is a few percent of V or less, found by one read of
   the row with a vectorised test per :data:`~sampler.ops.patch.GROUP` entries.
2. :func:`weighted_pick`: the mass per bin of the head gives the bin where the prefix mass crosses
   the target; that bin's tokens are refined 8 mantissa bits at a time (radix select) and at most
   :data:`SMALL` survivors are insertion-sorted by (``w`` desc, id asc). All decisions use the exact
   float64 ``w``; sums are accumulated in another order than numpy's, so the fast path may differ
   from the reference only when ``u`` or ``top_p`` lies within ~1e-12 of a cumulative boundary.

Unlike llama.cpp's bucket sort it never sorts the kept set, and unlike pivot bisection (FlashInfer)
it needs one read of the row instead of ~32 mass passes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .bits import f2i
from .exp import exp_weight
from .patch import GROUP, Patch, patched_value
from .scan import LANES, row_floor

#: exponent bins of a weight ``0 <= w <= 1`` (IEEE-754 exponent field; 0 holds the subnormals)
NBINS = 1024
#: bins below the estimated crossing that the first collection also takes
MARGIN = 1
#: bins a short head is extended by, before the bound that cannot be short
EXTEND = 4
#: survivors of the radix refinement that are insertion-sorted
SMALL = 32
_LN2 = math.log(2.0)


class Head(NamedTuple):
    """The head of one row: ``ids/w[:m]`` (ids ascending within a bin; ``z`` their patched logits
    while collecting), its mass per bin ``mass``; scratch for the estimate (``sample_mass``), the
    second walk and one bin's tokens (``sel_ids``, ``sel_w``) and the radix steps (``radix_*``)."""

    ids: np.ndarray
    z: np.ndarray
    w: np.ndarray
    mass: np.ndarray
    sample_mass: np.ndarray
    sel_ids: np.ndarray
    sel_w: np.ndarray
    radix_count: np.ndarray
    radix_mass: np.ndarray


@njit(cache=True)
def bin_of(w: float) -> int:
    """The exponent bin of a weight ``w >= 0``."""
    return f2i(w) >> 52


@njit(cache=True)
def floor_bound(q: float, S: float, V: int) -> int:
    """The highest bin ``b`` such that the tokens below it cannot hold ``(1 - q) * S / 2`` of mass
    (each weighs less than ``2**(b - 1023)``); 0 (every token) when ``q >= 1``."""
    if q >= 1.0:
        return 0
    b = 1023 + math.floor(math.log2((1.0 - q) * S / (2.0 * V)))
    return min(max(b, 0), NBINS - 1)


@njit(cache=True)
def guess_floor(row: np.ndarray, zmax: float, inv_t: float, q: float, lanes: np.ndarray, pt: Patch,
                hd: Head) -> int:
    """An estimate of the bin where the row's prefix mass reaches the fraction ``q``, from the
    scan's lane maxima (the heaviest tokens, counted once each) and lane 0's other tokens (every
    :data:`STRIDE`-th id, counted ``STRIDE`` times, as a sample of every lane's tokens below its
    maximum)."""
    buf, smass = hd.z, hd.sample_mass
    ns = 0
    skipped = False
    for j in range(0, row.size, LANES):
        v = patched_value(row, pt, j)
        if not skipped and float(row[j]) == lanes[0]:
            skipped = True
            continue
        buf[ns] = v
        ns += 1
    for c in range(LANES):
        buf[ns + c] = lanes[c]
    for i in range(ns + LANES):
        buf[i], _ = exp_weight(min((buf[i] - zmax) * inv_t, 0.0))
    smass[:] = 0.0
    total = 0.0
    for i in range(ns + LANES):
        x = buf[i] * (LANES if i < ns else 1.0)
        smass[bin_of(buf[i])] += x
        total += x
    cum = 0.0
    for b in range(NBINS - 1, 0, -1):
        cum += smass[b]
        if cum > 0.0 and cum >= q * total:
            return b
    return 0


@njit(cache=True)
def _walk_plain(row: np.ndarray, pre: float, z_lo: float, gflag: np.ndarray, ids: np.ndarray,
                zs: np.ndarray) -> int:
    """The full groups without a patched id: each group's maximum (vectorised) is tested against
    ``pre``, then the groups with a hit are walked, appending head candidates to ``ids/zs``
    (nothing else in this loop: a call, a second condition or a load from the patch each double
    or triple its cost)."""
    m = 0
    for g in range(row.size // GROUP):
        i = g * GROUP
        top = row[i]
        for c in range(1, GROUP):
            top = row[i + c] if row[i + c] > top else top
        if top < pre or gflag[g]:
            continue
        for j in range(i, i + GROUP):
            x = float(row[j])
            if x >= z_lo:
                ids[m] = j
                zs[m] = x
                m += 1
    return m


@njit(cache=True)
def _walk_patched(row: np.ndarray, z_lo: float, pt: Patch, ids: np.ndarray, zs: np.ndarray) -> int:
    """The groups holding a patched id, and the last partial group, entry by entry through the patch."""
    V = row.size
    m = 0
    last = V // GROUP
    for g in range(last + 1):
        if g < last and pt.gflag[g] == 0:
            continue
        i = g * GROUP
        e = min(i + GROUP, V)
        for j in range(i, e):
            z = patched_value(row, pt, j)
            if z >= z_lo:
                ids[m] = j
                zs[m] = z
                m += 1
    return m


@njit(cache=True)
def _merge_by_id(ids: np.ndarray, zs: np.ndarray, m: int, ids2: np.ndarray, zs2: np.ndarray, m2: int) -> int:
    """Merge ``ids2/zs2[:m2]`` into ``ids/zs[:m]`` (both ids ascending, disjoint), in place from the back."""
    a, b, k = m - 1, m2 - 1, m + m2 - 1
    while b >= 0:
        if a >= 0 and ids[a] > ids2[b]:
            ids[k], zs[k] = ids[a], zs[a]
            a -= 1
        else:
            ids[k], zs[k] = ids2[b], zs2[b]
            b -= 1
        k -= 1
    return m + m2


@njit(cache=True)
def collect(row: np.ndarray, zmax: float, t: float, inv_t: float, b_lo: int, pt: Patch, hd: Head) -> int:
    """Every token whose weight lies in bins ``>= b_lo``, ids ascending, into ``hd.ids/hd.w``; returns
    how many. One read of the row: each group of :data:`GROUP` entries is first tested (vectorised)
    against a value no candidate is below, and only groups with a hit are walked."""
    z_lo = -np.inf
    if b_lo > 0:
        x_lo = (b_lo - 1023) * _LN2 - 1e-9
        z_lo = zmax + t * x_lo * (1.0 + 1e-12) - 1e-12 * abs(zmax)
    pre = row_floor(row, z_lo)[0]
    ids, z, w = hd.ids, hd.z, hd.w
    m = _walk_plain(row, pre, z_lo, pt.gflag, ids, z)
    m2 = _walk_patched(row, z_lo, pt, hd.sel_ids, hd.sel_w)
    m = _merge_by_id(ids, z, m, hd.sel_ids, hd.sel_w, m2)
    for i in range(m):
        w[i], _ = exp_weight((z[i] - zmax) * inv_t)
    keep = 0
    for i in range(m):
        wi = w[i]
        if wi == 0.0 and b_lo == 0:  # subnormal weights, exactly as libm gives them
            wi = math.exp((z[i] - zmax) * inv_t)
        ids[keep] = ids[i]
        w[keep] = wi
        keep += wi > 0.0 and bin_of(wi) >= b_lo
    return keep


@njit(cache=True)
def bin_masses(hd: Head, m: int) -> float:
    """``hd.mass[b]``: the weight of the head's tokens in bin ``b``; returns the total, added from
    the top bin down as :func:`find_bin` adds it."""
    mass = hd.mass
    mass[:] = 0.0
    for i in range(m):
        mass[bin_of(hd.w[i])] += hd.w[i]
    total = 0.0
    for b in range(NBINS - 1, -1, -1):
        total += mass[b]
    return total


@njit(cache=True)
def head(row: np.ndarray, zmax: float, t: float, S: float, top_p: float, u: float, k_need: int,
         lanes: np.ndarray, pt: Patch, hd: Head) -> int:
    """Every token steps 4-5 can select, with exact weights, into ``hd.ids/hd.w[:m]`` (ids
    ascending within a bin) and their masses per bin into ``hd.mass``; returns ``m``. The tokens
    are those in bins ``>= b`` where the bins hold ``>= top_p * S`` (the cut is inside) or, with
    ``top_p == 1``, ``> u * S`` (the draw is inside), and at least ``k_need`` tokens."""
    inv_t = 1.0 / t
    q = top_p if top_p < 1.0 else u
    strict = top_p >= 1.0
    b_safe = floor_bound(q, S, row.size)
    b = b_safe
    if row.size >= 64 * LANES:
        b = max(guess_floor(row, zmax, inv_t, q, lanes, pt, hd) - MARGIN, b_safe)
    m = collect(row, zmax, t, inv_t, b, pt, hd)
    total = bin_masses(hd, m)
    while b > 0 and (((total <= q * S) if strict else (total < q * S)) or m < k_need):
        b = max(b - EXTEND, b_safe) if b > b_safe else 0
        m = collect(row, zmax, t, inv_t, b, pt, hd)
        total = bin_masses(hd, m)
    return m


@njit(cache=True)
def find_bin(mass: np.ndarray, target: float, strict: bool) -> tuple[int, float]:
    """The bin (from the largest) where the prefix mass reaches ``target`` (``>=``, or ``>`` when
    ``strict``) and the mass before it; the last non-empty bin if the total never reaches it
    (rounding)."""
    cum = 0.0
    last = -1
    for b in range(NBINS - 1, -1, -1):
        mb = mass[b]
        if mb > 0.0:
            last = b
            nxt = cum + mb
            if nxt > target or (not strict and nxt == target):
                return b, cum
            cum = nxt
    return last, cum - mass[last]


@njit(cache=True)
def _precedes(wa: float, a: int, wb: float, b: int) -> bool:
    """Token ``a`` (weight ``wa``) comes before ``b`` in the order (w desc, id asc)."""
    return wa > wb or (wa == wb and a < b)


@njit(cache=True)
def refine(
    ids: np.ndarray, w: np.ndarray, m: int, cum: float, target: float, strict: bool,
    rcnt: np.ndarray, rmass: np.ndarray,
) -> tuple[int, float, float]:
    """Among ``m`` tokens of one bin (``ids/w``, ids ascending; prefix mass ``cum`` before the bin),
    the first in (w desc, id asc) order whose prefix mass reaches ``target``; returns (token,
    prefix mass through it, its weight). Radix select over the mantissa, 8 bits at a time (stable,
    so ids stay ascending), then an insertion sort of at most :data:`SMALL` survivors."""
    shift = 44
    while m > SMALL and shift >= 0:
        rcnt[:] = 0
        rmass[:] = 0.0
        for i in range(m):
            d = (f2i(w[i]) >> shift) & 255
            rcnt[d] += 1
            rmass[d] += w[i]
        found = -1
        last = -1
        for d in range(255, -1, -1):
            if rcnt[d] > 0:
                last = d
                nxt = cum + rmass[d]
                if nxt > target or (not strict and nxt == target):
                    found = d
                    break
                cum = nxt
        if found < 0:
            found = last
            cum -= rmass[last]
        k = 0
        for i in range(m):
            if ((f2i(w[i]) >> shift) & 255) == found:
                ids[k] = ids[i]
                w[k] = w[i]
                k += 1
        m = k
        shift = shift - 8 if shift > 4 else (0 if shift == 4 else -1)
    for i in range(1, m):
        j, x = ids[i], w[i]
        p = i - 1
        while p >= 0 and _precedes(x, j, w[p], ids[p]):
            ids[p + 1] = ids[p]
            w[p + 1] = w[p]
            p -= 1
        ids[p + 1] = j
        w[p + 1] = x
    for i in range(m):
        nxt = cum + w[i]
        if nxt > target or (not strict and nxt == target):
            return ids[i], nxt, w[i]
        cum = nxt
    return ids[m - 1], cum, w[m - 1]


@njit(cache=True)
def weighted_pick(hd: Head, m: int, target: float, strict: bool) -> tuple[int, float, float]:
    """The first head token, in (w desc, id asc) order, whose prefix mass reaches ``target``
    (``>=``; ``>`` when ``strict``): (token, prefix mass through it, its weight)."""
    b, cum = find_bin(hd.mass, target, strict)
    mm = np.int64(0)
    for i in range(m):
        if bin_of(hd.w[i]) == b:
            hd.sel_ids[mm] = hd.ids[i]
            hd.sel_w[mm] = hd.w[i]
            mm += 1
    return refine(hd.sel_ids, hd.sel_w, mm, cum, target, strict, hd.radix_count, hd.radix_mass)


@njit(cache=True)
def top_p_cut(hd: Head, m: int, top_p: float, S: float) -> tuple[int, float, float]:
    """Step 4: the shortest prefix of the order whose mass reaches ``top_p * S`` (the crossing token
    is kept): ``(cut token, kept mass Wk, its weight)``; ``top_p == 1`` keeps every token with
    ``w > 0``: ``(-1, S, 0)``."""
    if top_p >= 1.0:
        return -1, S, 0.0
    return weighted_pick(hd, m, top_p * S, np.bool_(False))


@njit(cache=True)
def draw(hd: Head, m: int, u: float, Wk: float, cut: int, w_cut: float) -> tuple[int, float]:
    """Step 5: the first token of the kept prefix whose cumulative mass exceeds ``u * Wk`` (inverse
    CDF of the renormalised nucleus); never past the cut. Returns (token, its weight)."""
    tok, _, w = weighted_pick(hd, m, u * Wk, np.bool_(True))
    if cut >= 0 and _precedes(w_cut, cut, w, tok):
        return cut, w_cut
    return tok, w
