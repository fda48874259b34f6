"""SEMANTICS "Reported log-probabilities": what a sampled token reports.

``raw`` (the default): ``log_softmax`` of the unmodified row, ``z_j - max - log(sum(exp(z - max)))``,
the top-k by raw logit. ``processed``: the log of the step-5 distribution, ``log(w_j / Wk)`` for the
kept tokens (``Wk`` their mass), the top-k among them; greedy reports the chosen token with 0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .nucleus import Head
from .topk import raw_threshold, top_processed, top_raw


class Pick(NamedTuple):
    """Steps 3-5's outcome: the token and its weight, the cut token and its weight (cut ``-1``
    when every token is kept), the kept mass ``Wk``."""

    token: int
    weight: float
    cut: int
    cut_weight: float
    kept_mass: float


@njit(cache=True)
def report(
    row: np.ndarray, rmax: float, raw_sum: float, pick: Pick, greedy: bool, processed: bool, k: int,
    lanes: np.ndarray, m_top: int, hd: Head, m: int, top_ids: np.ndarray, top_lps: np.ndarray,
) -> tuple[float, float]:
    """``(raw logprob, logprob in the mode)`` of the picked token, and the top ``k`` in the mode into
    ``top_ids/top_lps``: for ``raw``, the ``m_top`` raw logits the head collected there (greedy
    has no head: :func:`top_raw` reads the row, with the scan's ``lanes``); for ``processed``, the
    kept tokens of the head ``hd.ids/w[:m]``."""
    lrs = math.log(raw_sum)
    raw = float(row[pick.token]) - rmax - lrs
    if not processed:
        if k > 0 and greedy:
            m_top = top_raw(row, k, raw_threshold(lanes, k), top_ids, top_lps, hd.groups)
        for i in range(m_top if k > 0 else 0):
            top_lps[i] = top_lps[i] - rmax - lrs
        return raw, raw
    if greedy:
        if k > 0:
            top_ids[0], top_lps[0] = pick.token, 0.0
        return raw, 0.0
    lw = math.log(pick.kept_mass)
    for i in range(top_processed(hd.ids, hd.w, m, k, pick.cut, pick.cut_weight, top_ids, top_lps)):
        top_lps[i] = math.log(top_lps[i]) - lw
    return raw, math.log(pick.weight) - lw
