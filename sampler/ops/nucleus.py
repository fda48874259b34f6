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
from .topk import insert_top

#: exponent bins of a weight ``0 <= w <= 1`` (IEEE-754 exponent field; 0 holds the subnormals)
NBINS = 1024
#: every ``STRIDE``-th token's weight estimates the head's size
STRIDE = 32
#: bins below the estimated crossing that the first collection also takes
MARGIN = 2
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


@njit(cache=True, inline="always")
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
def guess_floor(row: np.ndarray, zmax: float, inv_t: float, q: float, pt: Patch, hd: Head) -> int:
    """The bin where the prefix mass of every :data:`STRIDE`-th token reaches the fraction ``q`` of
    their total: an estimate of where the whole row's does."""
    buf, smass = hd.z, hd.sample_mass
    ns = 0
    for j in range(0, row.size, STRIDE):
        buf[ns] = patched_value(row, pt, j)
        ns += 1
    for i in range(ns):
        buf[i], _ = exp_weight((buf[i] - zmax) * inv_t)
    smass[:] = 0.0
    total = 0.0
    for i in range(ns):
        smass[bin_of(buf[i])] += buf[i]
        total += buf[i]
    cum = 0.0
    for b in range(NBINS - 1, 0, -1):
        cum += smass[b]
        if cum > 0.0 and cum >= q * total:
            return b
    return 0


@njit(cache=True)
def _row_floor(row: np.ndarray, v: float) -> np.ndarray:
    """A one-entry array of the row's dtype holding a value ``<= v`` (lowered by 2**-20 relative
    first, so rounding to float32 cannot raise it above ``v``)."""
    out = np.empty(1, row.dtype)
    out[0] = v - abs(v) * 2.0**-20 if abs(v) < np.inf else v
    return out


@njit(cache=True)
def _raw_group(row: np.ndarray, i: int, e: int, thr_raw: float, k_raw: int, top_ids: np.ndarray,
               top_lps: np.ndarray, m_top: int) -> int:
    """Insert the group's raw logits ``>= thr_raw`` into the raw top ``k_raw``."""
    for j in range(i, e):
        x = float(row[j])
        if x >= thr_raw and x > -np.inf:
            m_top = insert_top(top_ids, top_lps, m_top, k_raw, j, x)
    return m_top


@njit(cache=True)
def _walk_plain(
    row: np.ndarray, pre: float, z_lo: float, gflag: np.ndarray, ids: np.ndarray, zs: np.ndarray,
    k_raw: int, thr_raw: float, top_ids: np.ndarray, top_lps: np.ndarray, m_top: int,
) -> tuple[int, int]:
    """The full groups without a patched id: a vectorised test against ``pre``, then the groups with
    a hit are walked (a call or a load from the patch in this loop would triple its cost)."""
    m = 0
    for g in range(row.size // GROUP):
        i = g * GROUP
        hit = 0
        for c in range(GROUP):
            hit += row[i + c] >= pre
        if hit == 0 or gflag[g]:
            continue
        for j in range(i, i + GROUP):
            x = float(row[j])
            if x >= z_lo:
                ids[m] = j
                zs[m] = x
                m += 1
        if k_raw > 0:
            raw_hits = 0
            for c in range(GROUP):
                raw_hits += row[i + c] >= thr_raw
            if raw_hits:
                m_top = _raw_group(row, i, i + GROUP, thr_raw, k_raw, top_ids, top_lps, m_top)
    return m, m_top


@njit(cache=True)
def _walk_patched(
    row: np.ndarray, z_lo: float, pt: Patch, ids: np.ndarray, zs: np.ndarray,
    k_raw: int, thr_raw: float, top_ids: np.ndarray, top_lps: np.ndarray, m_top: int,
) -> tuple[int, int]:
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
        if k_raw > 0:
            m_top = _raw_group(row, i, e, thr_raw, k_raw, top_ids, top_lps, m_top)
    return m, m_top


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
def collect(
    row: np.ndarray, zmax: float, t: float, inv_t: float, b_lo: int, pt: Patch, hd: Head,
    k_raw: int, thr_raw: float, top_ids: np.ndarray, top_lps: np.ndarray,
) -> tuple[int, int]:
    """Every token whose weight lies in bins ``>= b_lo``, ids ascending, into ``hd.ids/hd.w``; on
    the way, every raw logit ``>= thr_raw`` into the raw top ``k_raw``. One read of the row: each
    group of :data:`GROUP` entries is first tested (vectorised) against a value no candidate is
    below, and only groups with a hit are walked. Returns ``(m, m_top)``."""
    z_lo = -np.inf
    if b_lo > 0:
        x_lo = (b_lo - 1023) * _LN2 - 1e-9
        z_lo = zmax + t * x_lo * (1.0 + 1e-12) - 1e-12 * abs(zmax)
    if k_raw == 0:
        thr_raw = np.inf
    pre = _row_floor(row, min(z_lo, thr_raw))[0]
    ids, z, w = hd.ids, hd.z, hd.w
    m, m_top = _walk_plain(row, pre, z_lo, pt.gflag, ids, z, k_raw, thr_raw, top_ids, top_lps, 0)
    m2, m_top = _walk_patched(row, z_lo, pt, hd.sel_ids, hd.sel_w, k_raw, thr_raw, top_ids, top_lps, m_top)
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
    return keep, m_top


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
def head(
    row: np.ndarray, zmax: float, t: float, S: float, top_p: float, u: float, k_need: int, pt: Patch, hd: Head,
    k_raw: int, thr_raw: float, top_ids: np.ndarray, top_lps: np.ndarray,
) -> tuple[int, int]:
    """Every token steps 4-5 can select, with exact weights, into ``hd.ids/hd.w[:m]`` (ids
    ascending within a bin) and their masses per bin into ``hd.mass``: tokens in bins ``>= b`` where
    the bins hold ``>= top_p * S`` (the cut is inside) or, with ``top_p == 1``, ``> u * S`` (the
    draw is inside), and at least ``k_need`` tokens. The raw top ``k_raw`` is collected on the way.
    Returns ``(m, m_top)``."""
    inv_t = 1.0 / t
    q = top_p if top_p < 1.0 else u
    strict = top_p >= 1.0
    b_safe = floor_bound(q, S, row.size)
    b = b_safe
    if row.size >= 64 * STRIDE:
        b = max(guess_floor(row, zmax, inv_t, q, pt, hd) - MARGIN, b_safe)
    m, m_top = collect(row, zmax, t, inv_t, b, pt, hd, k_raw, thr_raw, top_ids, top_lps)
    total = bin_masses(hd, m)
    while b > 0 and (((total <= q * S) if strict else (total < q * S)) or m < k_need):
        b = b_safe if b_safe < b else 0
        m, _ = collect(row, zmax, t, inv_t, b, pt, hd, 0, 0.0, top_ids, top_lps)
        total = bin_masses(hd, m)
    return m, m_top


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
    mm = 0
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
    return weighted_pick(hd, m, top_p * S, False)


@njit(cache=True)
def draw(hd: Head, m: int, u: float, Wk: float, cut: int, w_cut: float) -> tuple[int, float]:
    """Step 5: the first token of the kept prefix whose cumulative mass exceeds ``u * Wk`` (inverse
    CDF of the renormalised nucleus); never past the cut. Returns (token, its weight)."""
    tok, _, w = weighted_pick(hd, m, u * Wk, True)
    if cut >= 0 and _precedes(w_cut, cut, w, tok):
        return cut, w_cut
    return tok, w
