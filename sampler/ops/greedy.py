"""Step 3 of SEMANTICS.md with ``T == 0``: greedy."""

from __future__ import annotations

import numpy as np
from numba import njit

from .patch import Patch
from .scan import row_floor
from .topk import SPARSE_GROUP


@njit(cache=True)
def greedy(row: np.ndarray, zmax: float, pt: Patch, n: int) -> int:
    """The argmax of the penalised, biased logits, ties to the lowest id: the first id whose patched
    value equals ``zmax`` (their maximum). Groups of :data:`SPARSE_GROUP` entries are skipped after
    one vectorised test; patched ids are read from the patch."""
    tok = row.size
    for i in range(n):
        if pt.vals[i] == zmax and pt.ids[i] < tok:
            tok = pt.ids[i]
    V = row.size
    pre = row_floor(row, zmax)[0]
    q = V - V % SPARSE_GROUP
    for i in range(0, q, SPARSE_GROUP):
        if i >= tok:
            return tok
        hit = 0
        for c in range(SPARSE_GROUP):
            hit += row[i + c] >= pre
        if hit:
            for j in range(i, i + SPARSE_GROUP):
                if pt.slot[j] == 0 and float(row[j]) == zmax:
                    return min(j, tok)
    for j in range(q, min(V, tok)):
        if pt.slot[j] == 0 and float(row[j]) == zmax:
            return j
    return tok
