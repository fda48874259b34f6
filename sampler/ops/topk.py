"""The reported top-k log-probabilities (SEMANTICS "Reported log-probabilities"): the ``k`` most
likely tokens, ties by id, ``-inf`` omitted; ``raw`` (of the unmodified row) or ``processed`` (of
the step-5 distribution: the kept tokens by ``w``).

Selection is by insertion into a list of at most ``k`` (``k <= 20``). For ``raw``, only tokens at or
above the ``k``-th largest lane maximum of the scan can qualify (those ``k`` lane maxima already
reach it), so a vectorised test per group skips nearly the whole row; :func:`sampler.ops.nucleus.collect`
applies the same test while it reads the row, and :func:`top_raw` is the stand-alone pass (greedy).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .scan import LANES, row_floor

#: entries per pre-tested group when hits are rare (a handful per row)
SPARSE_GROUP = 64


@njit(cache=True)
def insert_top(ids: np.ndarray, vals: np.ndarray, m: int, k: int, j: int, v: float) -> int:
    """Insert ``(j, v)`` into the list ``ids/vals[:m]`` kept to the ``k`` best in (value desc, id asc)
    order, whatever order entries arrive in. Returns the new size."""
    if m == k and not (v > vals[m - 1] or (v == vals[m - 1] and j < ids[m - 1])):
        return m
    p = m - 1 if m < k else m - 2
    while p >= 0 and (vals[p] < v or (vals[p] == v and ids[p] > j)):
        ids[p + 1] = ids[p]
        vals[p + 1] = vals[p]
        p -= 1
    ids[p + 1] = j
    vals[p + 1] = v
    return m + 1 if m < k else m


@njit(cache=True)
def raw_threshold(lanes: np.ndarray, k: int) -> float:
    """The ``k``-th largest lane maximum of the scan (``-inf`` when ``k`` exceeds :data:`LANES`):
    at least ``k`` entries reach it, so the raw top-k lies at or above it."""
    if k > LANES or k <= 0:
        return -np.inf
    best = np.empty(LANES)
    for c in range(LANES):
        v = lanes[c]
        p = c - 1
        while p >= 0 and best[p] < v:
            best[p + 1] = best[p]
            p -= 1
        best[p + 1] = v
    return best[k - 1]


@njit(cache=True)
def top_of_groups(row: np.ndarray, groups: np.ndarray, ng: int, size: int, k: int, thr: float,
                  top_ids: np.ndarray, top_lps: np.ndarray) -> int:
    """The ``k`` largest finite raw logits ``>= thr`` among the listed groups of ``size`` entries
    (desc, ids asc within ties) into ``top_ids/top_lps``; returns how many."""
    m = np.int64(0)
    for i in range(ng if k > 0 else 0):
        lo = groups[i] * size
        for j in range(lo, min(lo + size, row.size)):
            v = float(row[j])
            if v >= thr and v > -np.inf:
                m = insert_top(top_ids, top_lps, m, k, j, v)
    return m


@njit(cache=True)
def top_raw(row: np.ndarray, k: int, thr: float, top_ids: np.ndarray, top_lps: np.ndarray,
            groups: np.ndarray) -> int:
    """The ``k`` largest finite raw logits (desc, ids asc within ties) into ``top_ids/top_lps``;
    returns how many. Groups of :data:`SPARSE_GROUP` entries holding one ``>= thr`` are listed in
    ``groups`` first (pre-tested, vectorised; no call in that loop), then read."""
    V = row.size
    pre = row_floor(row, thr)[0]
    ng = 0
    q = V - V % SPARSE_GROUP
    for g in range(q // SPARSE_GROUP):
        hit = 0
        for c in range(SPARSE_GROUP):
            hit += row[g * SPARSE_GROUP + c] >= pre
        if hit:
            groups[ng] = g
            ng += 1
    if q < V:
        groups[ng] = q // SPARSE_GROUP
        ng += 1
    return top_of_groups(row, groups, ng, np.int64(SPARSE_GROUP), k, thr, top_ids, top_lps)


@njit(cache=True)
def top_processed(
    cand_ids: np.ndarray, cand_w: np.ndarray, m: int, k: int, cut: int, w_cut: float,
    top_ids: np.ndarray, top_lps: np.ndarray,
) -> int:
    """The ``k`` largest weights among the kept head tokens (the cut and every token before it;
    all when ``cut < 0``), desc, ids asc within ties. Values are the weights ``w``. Returns how many."""
    mt = np.int64(0)
    if k == 0:
        return 0
    for i in range(m):
        j, v = cand_ids[i], cand_w[i]
        if cut < 0 or v > w_cut or (v == w_cut and j <= cut):
            mt = insert_top(top_ids, top_lps, mt, k, j, v)
    return mt
