"""Steps 4 and 5 of SEMANTICS.md: the top_p cut and the inverse-CDF draw, without sorting V tokens.

Both are *weighted selections* in the order (``w`` desc, id asc): "the first token whose prefix mass
reaches a target" (``>= top_p * S`` for the cut; ``> u * Wk`` for the draw, ``Wk`` the kept mass).

1. :func:`head` collects, with exact weights, every token that either selection can reach: all tokens
   of weight ``>= w_lo`` (a prefix of the order, ties included), for a ``w_lo`` low enough that they
   hold the mass the selections need (and, when asked, at least ``k`` tokens). ``w_lo`` is estimated
   to a quarter octave from the scan's lane maxima and every 32nd token (:func:`guess_floor`) and
   halved, then checked on the exact masses; a short head is collected again 4x lighter, then down to
   a bound that cannot be short (fewer than V tokens lighter than ``w`` weigh less than ``V * w``),
   and at worst to every positive token. On LLM-like rows the head is a few percent of V or less,
   found by one read of the row with a vectorised test per :data:`~sampler.ops.patch.GROUP` entries;
   the raw top-k is collected on that read.
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

from .bits import f2i, i2f
from .exp import exp_exact, exp_weight
from .patch import GROUP, Patch, patched_value
from .scan import LANES, row_floor
from .softmax import inverse_temperature
from .topk import raw_threshold, top_of_groups

#: exponent bins of a weight ``0 <= w <= 1`` (IEEE-754 exponent field; 0 holds the subnormals)
NBINS = 1024
#: a weight's bits shifted by this give its quarter-octave (exponent and 2 mantissa bits) ...
QUARTER = 50
#: ... counted from this one (weights below 2**-127 share the lowest)
QUARTER_LO = (1023 - 127) * 4
#: quarter-octaves of the estimate's histogram
QUARTERS = 512
#: the first collection takes the weights down to the estimated crossing divided by this
MARGIN = 2.0
#: a short head is extended to weights this many times lighter, before the bound that cannot be short
EXTEND = 4.0
#: survivors of the radix refinement that are insertion-sorted
SMALL = 32


class Head(NamedTuple):
    """The head of one row: ``ids/w[:m]`` (ids ascending within a bin; ``z`` their patched logits
    while collecting), its mass per bin ``mass``; scratch for the groups holding raw top-k
    candidates (``groups``), the estimate (``sample_mass``, :data:`QUARTERS` long), the second
    walk and one bin's tokens (``sel_ids``, ``sel_w``) and the radix steps (``radix_*``)."""

    ids: np.ndarray
    z: np.ndarray
    w: np.ndarray
    groups: np.ndarray
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
def safe_floor(q: float, S: float, V: int) -> float:
    """A weight ``w_lo`` such that the tokens lighter than it cannot hold ``(1 - q) * S / 2`` of mass
    (fewer than V of them, each below ``w_lo``); 0 (every token) when ``q >= 1``."""
    return 0.0 if q >= 1.0 else (1.0 - q) * S / (2.0 * V)


@njit(cache=True)
def guess_floor(row: np.ndarray, shift: float, inv_t: float, q: float, lanes: np.ndarray, pt: Patch, n: int,
                hd: Head) -> float:
    """An estimate of the weight at which the row's prefix mass reaches the fraction ``q``, to a
    quarter octave, from the scan's lane maxima (the heaviest tokens, counted once each) and lane
    0's other tokens (every ``LANES``-th id, left in ``hd.z`` by the scan, counted ``LANES`` times,
    as a sample of every lane's tokens below its maximum). A lane whose maximum a penalty or bias
    moved counts that token as patched plus, for the lane's unknown next token, the smallest
    maximum of the lanes no patch moved."""
    buf, smass = hd.z, hd.sample_mass
    ns = row.size // LANES
    skip = ns
    for i in range(ns):
        if buf[i] == lanes[0]:
            skip = i
            break
    for i in range(n):
        j = pt.ids[i]
        if j % LANES == 0 and j // LANES < ns:
            buf[j // LANES] = pt.vals[i]
    buf[skip] = buf[ns - 1]
    ns -= skip < ns
    heavy = ns
    proxy = np.inf  # what a lane holds below its maximum: the smallest maximum no patch moved
    for c in range(LANES):
        buf[heavy] = lanes[c]
        heavy += 1
    for i in range(n):  # a lane whose maximum a patch moved: that token as patched, and the proxy
        j = pt.ids[i]
        if float(row[j]) == lanes[j % LANES]:
            buf[ns + j % LANES] = -np.inf
            buf[heavy] = pt.vals[i]
            heavy += 1
    for c in range(LANES):
        if buf[ns + c] > -np.inf:
            proxy = min(proxy, buf[ns + c])
    for c in range(LANES):
        if buf[ns + c] == -np.inf and proxy < np.inf:
            buf[ns + c] = proxy
    for i in range(heavy):
        buf[i], _ = exp_weight(min((buf[i] - shift) * inv_t, 0.0))
    smass[:QUARTERS] = 0.0
    total = 0.0
    for i in range(heavy):
        x = buf[i] * (LANES if i < ns else 1.0)
        smass[max((f2i(buf[i]) >> QUARTER) - QUARTER_LO, 0)] += x
        total += x
    cum = 0.0
    for b in range(QUARTERS - 1, 0, -1):
        cum += smass[b]
        if cum > 0.0 and cum >= q * total:
            return i2f(np.int64(b + QUARTER_LO) << QUARTER)
    return 0.0


@njit(cache=True)
def _walk_plain(row: np.ndarray, pre: float, pre_raw: float, z_lo: float, gflag: np.ndarray, ids: np.ndarray,
                zs: np.ndarray, groups: np.ndarray) -> tuple[int, int]:
    """The full groups without a patched id: each group's maximum (vectorised) is tested against
    ``pre`` (head) and ``pre_raw`` (raw top-k; the group is listed in ``groups``), then the groups
    with a head hit are walked, appending candidates to ``ids/zs`` (nothing else in that walk: a
    call, a second condition or a load from the patch each double or triple its cost)."""
    m = 0
    ng = 0
    for g in range(row.size // GROUP):
        i = g * GROUP
        top = row[i]
        for c in range(1, GROUP):
            top = row[i + c] if row[i + c] > top else top
        if gflag[g]:
            continue
        if top >= pre_raw:
            groups[ng] = g
            ng += 1
        if top < pre:
            continue
        for j in range(i, i + GROUP):
            x = float(row[j])
            if x >= z_lo:
                ids[m] = j
                zs[m] = x
                m += 1
    return m, ng


@njit(cache=True)
def _walk_patched(row: np.ndarray, z_lo: float, pt: Patch, n: int, ids: np.ndarray, zs: np.ndarray, raw: bool,
                  groups: np.ndarray, ng: int) -> tuple[int, int]:
    """The groups holding a patched id (their flags read 8 at a time; none when ``n == 0``), then the
    last partial group, entry by entry through the patch (listed in ``groups`` too when ``raw``)."""
    V = row.size
    m = np.int64(0)
    last = V // GROUP
    words = pt.gflag[:last - last % 8].view(np.uint64)
    for k in range(words.size if n > 0 else 0):
        if words[k] == 0:
            continue
        for g in range(8 * k, 8 * k + 8):
            if pt.gflag[g]:
                m, ng = _walk_group(row, g * GROUP, np.int64(GROUP), z_lo, pt, ids, zs, m, raw, groups, ng, g)
    for g in range(words.size * 8, last + 1):
        if g == last or (n > 0 and pt.gflag[g]):
            m, ng = _walk_group(row, g * GROUP, min(GROUP, V - g * GROUP), z_lo, pt, ids, zs, m, raw, groups, ng, g)
    return m, ng


@njit(cache=True)
def _walk_group(row: np.ndarray, i: int, size: int, z_lo: float, pt: Patch, ids: np.ndarray, zs: np.ndarray,
                m: int, raw: bool, groups: np.ndarray, ng: int, g: int) -> tuple[int, int]:
    """One group of :func:`_walk_patched`."""
    if raw:
        groups[ng] = g
        ng += 1
    for j in range(i, i + size):
        z = patched_value(row, pt, j)
        if z >= z_lo:
            ids[m] = j
            zs[m] = z
            m += 1
    return m, ng


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
    row: np.ndarray, shift: float, t: float, inv_t: float, w_lo: float, pt: Patch, n: int, hd: Head,
    k_raw: int, thr_raw: float, top_ids: np.ndarray, top_lps: np.ndarray,
) -> tuple[int, int]:
    """Every token of weight ``w >= w_lo`` (``w > 0`` when ``w_lo`` is 0), ids ascending, into
    ``hd.ids/hd.w`` — a prefix of the order (w desc, id asc), ties included — and
    (``k_raw > 0``) the raw top ``k_raw`` into ``top_ids/top_lps`` (raw logits; candidates are the
    logits ``>= thr_raw``); returns ``(m, m_top)``. One read of the row: each group of
    :data:`GROUP` entries is first tested (vectorised) against both thresholds, and only groups
    with a hit are walked."""
    z_lo = -np.inf
    if w_lo > 0.0:
        x_lo = math.log(w_lo) - 1e-9
        z_lo = shift + t * x_lo * (1.0 + 1e-12) - 1e-12 * abs(shift)
    pre = row_floor(row, z_lo)[0]
    pre_raw = row_floor(row, thr_raw if k_raw > 0 else np.inf)[0]
    ids, z, w = hd.ids, hd.z, hd.w
    m, ng = _walk_plain(row, pre, pre_raw, z_lo, pt.gflag, ids, z, hd.groups)
    m2, ng = _walk_patched(row, z_lo, pt, n, hd.sel_ids, hd.sel_w, k_raw > 0, hd.groups, ng)
    m = _merge_by_id(ids, z, m, hd.sel_ids, hd.sel_w, m2)
    m_top = top_of_groups(row, hd.groups, ng, np.int64(GROUP), k_raw, thr_raw, top_ids, top_lps)
    for i in range(m):
        w[i], _ = exp_weight((z[i] - shift) * inv_t)
    keep = 0
    for i in range(m):
        wi = w[i]
        if wi == 0.0 and w_lo == 0.0:  # subnormal weights, exactly as libm gives them
            wi = exp_exact((z[i] - shift) * inv_t)
        ids[keep] = ids[i]
        w[keep] = wi
        keep += wi > 0.0 and wi >= w_lo
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
    row: np.ndarray, shift: float, t: float, S: float, top_p: float, u: float, k_need: int, lanes: np.ndarray,
    pt: Patch, n: int, hd: Head, k_raw: int, top_ids: np.ndarray, top_lps: np.ndarray,
) -> tuple[int, int]:
    """Every token steps 4-5 can select, with exact weights, into ``hd.ids/hd.w[:m]`` (ids
    ascending within a bin) and their masses per bin into ``hd.mass``. The tokens are those of
    weight ``>= w_lo``, a prefix of the order, whose mass is ``>= top_p * S`` (the cut is inside) or,
    with ``top_p == 1``, ``> u * S`` (the draw is inside), and at least ``k_need`` tokens. The raw
    top ``k_raw`` is collected on the way (:func:`collect`). Returns ``(m, m_top)``."""
    inv_t = inverse_temperature(t)
    q = top_p if top_p < 1.0 else u
    strict = top_p >= 1.0
    w_safe = safe_floor(q, S, row.size)
    w_lo = w_safe
    if row.size >= 64 * LANES:
        w_lo = max(guess_floor(row, shift, inv_t, q, lanes, pt, n, hd) / MARGIN, w_safe)
    m, m_top = collect(row, shift, t, inv_t, w_lo, pt, n, hd, k_raw, raw_threshold(lanes, k_raw), top_ids, top_lps)
    total = bin_masses(hd, m)
    while w_lo > 0.0 and (((total <= q * S) if strict else (total < q * S)) or m < k_need):
        w_lo = max(w_lo / EXTEND, w_safe) if w_lo > w_safe else 0.0
        m, _ = collect(row, shift, t, inv_t, w_lo, pt, n, hd, np.int64(0), np.inf, top_ids, top_lps)
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
