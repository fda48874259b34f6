"""Steps 1 and 2 of SEMANTICS.md, as a sparse patch of the row (the row itself is never copied).

Penalties touch only the ids in the generated history and ``logit_bias`` only its ids, so the
modified row ``z'`` is the raw row plus ``n`` patched entries (:class:`Patch`): ``ids[:n]`` (distinct,
in order of first appearance) with their modified values ``vals[:n]`` (float64). Every later op reads
an entry through the patch: ``vals[slot[j] - 1]`` when ``slot[j] != 0``, else ``row[j]``.

``slot`` (int32, length V) and ``gflag`` (uint8, one flag per :data:`GROUP` entries, set where a group
holds a patched id so that group-skipping passes still visit it) are all zero between steps:
:func:`clear_patch` restores them. Ids are checked before: ``params.check_logit_bias_ids`` (the caller)
and :func:`ids_in_vocabulary` (the kernel).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

#: entries per group of the vectorised pre-tests (and per flag of ``gflag``)
GROUP = 16
#: the most, in temperatures, :func:`softmax_shift` may lie above the maximum (``exp(-64)`` is a
#: normal float; the relative error of a weight grows as ``|x| * 2**-52``: 1.5e-14 at 64)
SHIFT_SLACK = 64.0


class Patch(NamedTuple):
    """The modified entries of one row: ``ids[:n]``/``vals[:n]`` (``counts`` for step 1), and the
    maps back from an id: ``slot[j]`` (index + 1, or 0) and ``gflag[j // GROUP]``."""

    slot: np.ndarray
    gflag: np.ndarray
    ids: np.ndarray
    vals: np.ndarray
    counts: np.ndarray


#: status of a row whose history holds an id outside the vocabulary (an argument error, not the model's)
ST_HISTORY = 5


@njit(cache=True)
def ids_in_vocabulary(hist: np.ndarray, V: int) -> bool:
    """Every generated id lies in ``[0, V)`` (step 1 counts them)."""
    ok = True
    for i in range(hist.size):
        ok &= 0 <= hist[i] < V
    return ok


@njit(cache=True)
def penalties(row: np.ndarray, hist: np.ndarray, presence: float, frequency: float, pt: Patch) -> int:
    """Step 1: ``z[j] -= c[j] * frequency + (c[j] > 0) * presence``, ``c`` counted over ``hist`` (the
    tokens generated so far, never the prompt). Returns the number of patched ids (0 when both
    penalties are 0: the row is unchanged)."""
    if hist.size == 0 or (presence == 0.0 and frequency == 0.0):
        return 0
    n = 0
    for i in range(hist.size):
        t = hist[i]
        s = pt.slot[t]
        if s == 0:
            pt.ids[n] = t
            pt.counts[n] = 1
            n += 1
            pt.slot[t] = n
            pt.gflag[t // GROUP] = 1
        else:
            pt.counts[s - 1] += 1
    for i in range(n):
        pt.vals[i] = float(row[pt.ids[i]]) - (float(pt.counts[i]) * frequency + presence)
    return n


@njit(cache=True)
def logit_bias(row: np.ndarray, bias_ids: np.ndarray, bias_vals: np.ndarray, pt: Patch, n: int) -> int:
    """Step 2: ``z[j] += bias[j]`` on the penalised row (steps 1 and 2 commute). Returns the new
    number of patched ids."""
    for i in range(bias_ids.size):
        t = bias_ids[i]
        s = pt.slot[t]
        if s == 0:
            pt.ids[n] = t
            pt.vals[n] = float(row[t]) + bias_vals[i]
            n += 1
            pt.slot[t] = n
            pt.gflag[t // GROUP] = 1
        else:
            pt.vals[s - 1] = pt.vals[s - 1] + bias_vals[i]
    return n


@njit(cache=True)
def patched_max(row: np.ndarray, rmax: float, pt: Patch, n: int) -> float:
    """The maximum of the patched row: the largest of the patched values and of the untouched
    entries. The untouched maximum is ``rmax`` unless a patched id held it; only then is the row read
    again (groups without a patched id as one vectorised max, the others entry by entry)."""
    pmax, held = _patched_top(row, rmax, pt, n)
    if not held:
        return max(rmax, pmax)
    return max(_untouched_max(row, pt), pmax)


@njit(cache=True)
def softmax_shift(row: np.ndarray, rmax: float, lanes: np.ndarray, inv_t: float, pt: Patch, n: int) -> float:
    """Step 3's shift ``c`` (``w = exp((z' - c) / T)``): the patched maximum, or, when finding it
    would read the row again (a penalty or bias pushed the raw maximum down), ``rmax`` itself — an
    upper bound at most :data:`SHIFT_SLACK` temperatures above the maximum (a scan lane whose maximum
    no patched id holds bounds it from below), so every weight that matters stays a normal float and
    only a common factor, which ``p = w / S`` cancels, changes."""
    pmax, held = _patched_top(row, rmax, pt, n)
    if not held or pmax >= rmax:
        return max(rmax, pmax)
    low = pmax
    for c in range(lanes.size):
        free = True
        for i in range(n):
            t = pt.ids[i]
            free &= not (t % lanes.size == c and float(row[t]) == lanes[c])
        if free:
            low = max(low, lanes[c])
    if (rmax - low) * inv_t <= SHIFT_SLACK:
        return rmax
    return max(_untouched_max(row, pt), pmax)


@njit(cache=True)
def _patched_top(row: np.ndarray, rmax: float, pt: Patch, n: int) -> tuple[float, bool]:
    """(largest patched value, whether a patched id held the raw maximum)."""
    pmax = -np.inf
    held = False
    for i in range(n):
        pmax = max(pmax, pt.vals[i])
        held |= float(row[pt.ids[i]]) == rmax
    return pmax, held


@njit(cache=True)
def _untouched_max(row: np.ndarray, pt: Patch) -> float:
    """The maximum over the ids without a patch: groups without a patched id as one vectorised
    maximum, the others entry by entry."""
    V = row.size
    acc = np.empty(GROUP, row.dtype)
    acc[:] = -np.inf
    umax = -np.inf
    q = V - V % GROUP
    for g in range(q // GROUP):
        i = g * GROUP
        if pt.gflag[g]:
            for j in range(i, i + GROUP):
                if pt.slot[j] == 0:
                    umax = max(umax, float(row[j]))
        else:
            for c in range(GROUP):
                x = row[i + c]
                acc[c] = x if x > acc[c] else acc[c]
    for j in range(q, V):
        if pt.slot[j] == 0:
            umax = max(umax, float(row[j]))
    for c in range(GROUP):
        umax = max(umax, float(acc[c]))
    return umax


@njit(cache=True)
def patched_value(row: np.ndarray, pt: Patch, j: int) -> float:
    """``z'[j]``: the patched value of entry ``j`` if it has one, else the raw logit (float64)."""
    s = pt.slot[j]
    return pt.vals[s - 1] if s else float(row[j])


@njit(cache=True)
def clear_patch(pt: Patch, n: int) -> None:
    """Restore the all-zero ``slot`` and ``gflag`` (cost O(n), never O(V))."""
    for i in range(n):
        t = pt.ids[i]
        pt.slot[t] = 0
        pt.gflag[t // GROUP] = 0
