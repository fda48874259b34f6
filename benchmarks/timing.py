"""Timing rules: warm up, then repeat; report the median and the inter-quartile range.

Each repeat times one whole batched step with ``time.perf_counter`` (wall) and
``time.process_time`` (CPU seconds of every thread of the process, so a step that uses two cores
shows about twice its wall time). The first call is timed on its own (it includes numba's
compilation or cache load, torch's lazy initialisation, ...) and is not a repeat; a second
warm-up call follows unless the first took more than half the budget (slow steps are warm by then). Repeats continue until ``budget_s`` of wall time is spent, with at least
``min_repeats`` and at most ``max_repeats``.

The roofline of a (B, V) float32 logit matrix is the fastest single pass that reads it and
exponentiates every entry — the least an exact sampler pays for its softmax normaliser: the
minimum of numpy's SIMD ``np.exp`` into a preallocated buffer and a numba ``fastmath`` loop that
sums ``exp(x)``, each single-threaded, each the median of its repeats.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Timing:
    """Seconds per call: first (warm-up) call, median, IQR, minimum, median CPU, repeats."""

    first_s: float
    median_s: float
    iqr_s: float
    min_s: float
    cpu_s: float
    repeats: int


def measure(
    fn: Callable[[], Any], *, budget_s: float, min_repeats: int = 3, max_repeats: int = 200
) -> Timing:
    """Time ``fn`` per the module rules."""
    if min_repeats < 1 or max_repeats < min_repeats:
        raise ValueError("need 1 <= min_repeats <= max_repeats")
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first <= budget_s / 2:
        fn()
    walls: list[float] = []
    cpus: list[float] = []
    start = time.perf_counter()
    while len(walls) < max_repeats and (len(walls) < min_repeats or time.perf_counter() - start < budget_s):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    w = np.asarray(walls)
    q1, med, q3 = np.percentile(w, [25, 50, 75])
    return Timing(first, float(med), float(q3 - q1), float(w.min()), float(np.median(cpus)), len(walls))


_EXP_SUM: Callable[[np.ndarray], float] | None = None


def _numba_exp_sum() -> Callable[[np.ndarray], float] | None:
    """A numba fastmath kernel summing exp over a flat float32 array (None without numba)."""
    global _EXP_SUM
    if _EXP_SUM is None:
        try:
            import numba
        except ImportError:
            return None

        @numba.njit(fastmath=True, cache=True, nogil=True)
        def exp_sum(x: np.ndarray) -> float:
            s = np.float32(0.0)
            for i in range(x.size):
                s += np.exp(x[i])
            return s

        _EXP_SUM = exp_sum
    return _EXP_SUM


def roofline(logits: np.ndarray, *, budget_s: float = 0.1) -> dict[str, float]:
    """Median seconds of each single-pass exp over ``logits`` and their minimum (``roofline_s``)."""
    flat = np.ascontiguousarray(logits, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat)
    res = {"np_exp_s": measure(lambda: np.exp(flat, out=out), budget_s=budget_s, min_repeats=5).median_s}
    kernel = _numba_exp_sum()
    if kernel is not None:
        res["numba_exp_sum_s"] = measure(lambda: kernel(flat), budget_s=budget_s, min_repeats=5).median_s
    res["roofline_s"] = min(res.values())
    return res
